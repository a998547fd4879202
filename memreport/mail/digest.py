"""One digest mail for a fleet: the summary table of every host and the worst hosts in detail.

Reads OUTDIR/fleet.json (written by `memreport fleet`, docs/FLEET.md), the worst hosts'
report.json (and their memory chart from report.html), and attaches fleet.pdf when there is one.
The reader is tolerant: a host row needs only `host` and `verdict`; numbers it lacks show as –.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from memreport import __version__
from memreport.errors import InputError, MemreportError
from memreport.mail.charts import ChartImage, report_charts
from memreport.mail.html_mail import HTML_BUDGET_BYTES, inline_css, one_line, short_form
from memreport.mail.message import Recipients, assemble, content_id
from memreport.render.env import environment

WORST_HOSTS = 5  # hosts shown in detail (findings + memory chart)
MAX_ROWS = 60  # rows of the summary table; fleet.pdf / fleet.json have every host
MAX_FAILED = 20  # failed inputs listed in the mail; fleet.json lists every one
_RANK = {"CRIT": 2, "WARN": 1, "OK": 0}


def _rows(fleet: Mapping[str, Any]) -> list[dict[str, Any]]:
    hosts = fleet.get("hosts")
    if isinstance(hosts, dict):  # {name: row}
        hosts = [{"host": k, **v} for k, v in hosts.items() if isinstance(v, dict)]
    rows = [dict(r) for r in hosts or [] if isinstance(r, dict) and (r.get("host") or r.get("name"))]
    for r in rows:
        r.setdefault("host", r.get("name"))
        r["verdict"] = str(r.get("verdict") or "UNKNOWN")
        for key in ("top_finding", "memory_total_bytes", "swap_to_add_bytes", "vms_that_fit"):  # what the table shows
            r.setdefault(key, None)
    # fleet.json is ranked by risk already; a stable sort by verdict keeps that order within each verdict
    return sorted(rows, key=lambda r: -_RANK.get(r["verdict"], -1))


def _failed(fleet: Mapping[str, Any]) -> list[dict[str, str]]:
    """Inputs the fleet run could not read: a digest that hid them would report a smaller fleet."""
    out = []
    for f in fleet.get("failed") or []:
        if isinstance(f, dict) and f.get("input"):
            error = str(f.get("reason") or f.get("error") or "failed")
            out.append({"input": str(f["input"]), "error": error.removeprefix(f"{f['input']}: ")})
    return out


def _report_dir(fleet_dir: Path, row: Mapping[str, Any]) -> Path | None:
    candidates = []
    for key in ("report", "report_dir", "dir"):
        if isinstance(row.get(key), str):
            p = Path(row[key])
            candidates.append(p if p.is_absolute() else fleet_dir / p)
    name = str(row["host"])
    if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", name):  # a plain name may be its own directory
        candidates += [fleet_dir / "hosts" / name, fleet_dir / name]
    for c in candidates:
        if (c / "report.json").is_file():
            return c
    return None


def _worst(fleet_dir: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in rows:
        if len(out) >= WORST_HOSTS or r["verdict"] not in ("CRIT", "WARN"):
            break
        d = _report_dir(fleet_dir, r)
        if d is None:
            continue
        try:
            doc = json.loads((d / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        charts: list[ChartImage] = []
        if (d / "report.html").is_file():
            try:
                charts = [c for c in report_charts((d / "report.html").read_text(encoding="utf-8")) if c.name == "chart-memory"]
            except (OSError, ValueError):
                charts = []
        findings = [f for f in doc.get("findings") or [] if f.get("severity") in ("CRIT", "WARN")][:3]
        out.append({"row": r, "doc": doc, "findings": findings, "chart": charts[0] if charts else None})
    return out


def digest_subject(rows: list[dict[str, Any]], worst: list[dict[str, Any]], failed: int = 0) -> str:
    n = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("CRIT", "WARN")}
    head = f"[memreport] fleet of {len(rows)} host{'s' if len(rows) != 1 else ''}: {n['CRIT']} CRIT, {n['WARN']} WARN"
    if failed:
        head += f", {failed} input{'s' if failed != 1 else ''} unreadable"
    if worst:
        w = worst[0]
        top = next((f for f in w["doc"].get("findings") or [] if f.get("severity") in ("CRIT", "WARN")), None)
        if top:
            head += f"; worst {one_line(w['row']['host'], 60)}: {short_form(top, w['doc'])}"
    return head


def build_fleet_digest(fleet_dir: Path, who: Recipients | None = None) -> EmailMessage:
    """The fleet digest as an EmailMessage (same MIME structure as one host's mail)."""
    fleet_dir = Path(fleet_dir)
    try:
        fleet = json.loads((fleet_dir / "fleet.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(fleet_dir, "no fleet.json (write one with `memreport fleet`)") from None
    except (OSError, ValueError) as e:
        raise InputError(fleet_dir / "fleet.json", f"cannot read: {e}") from None
    if not isinstance(fleet, dict):
        raise InputError(fleet_dir / "fleet.json", "not a memreport fleet.json")
    rows = _rows(fleet)
    failed = _failed(fleet)
    if not rows:
        raise MemreportError(f"{fleet_dir / 'fleet.json'}: no hosts to report")
    worst = _worst(fleet_dir, rows)
    images = [(w["chart"], content_id(f"{w['chart'].name}-{i}", w["chart"].png)) for i, w in enumerate(worst) if w["chart"]]
    cid_of = {id(c): cid for c, cid in images}
    for w in worst:
        w["cid"] = cid_of.get(id(w["chart"])) if w["chart"] else None
    pdf = fleet_dir / "fleet.pdf"
    pdf_name = "fleet-memory-report.pdf" if pdf.is_file() else None
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("CRIT", "WARN", "OK")}
    subject_line = digest_subject(rows, worst, len(failed))
    limit = MAX_ROWS
    while True:
        html = inline_css(
            environment()
            .get_template("email_digest.html.j2")
            .render(
                subject=subject_line,
                rows=rows[:limit],
                more=max(0, len(rows) - limit),
                total=len(rows),
                counts=counts,
                worst=worst,
                pdf_name=pdf_name,
                version=__version__,
                failed=failed,
                max_failed=MAX_FAILED,
            )
        )
        if len(html.encode()) <= HTML_BUDGET_BYTES or limit <= 5:
            break
        limit //= 2
    text = [f"Fleet memory capacity: {len(rows)} hosts, {counts['CRIT']} CRIT, {counts['WARN']} WARN, {counts['OK']} OK", ""]
    for r in rows[:MAX_ROWS]:
        text.append(f"{r['verdict']:<4}  {one_line(r['host'], 60):<30} {one_line(r.get('top_finding') or '', 120)}")
    if len(rows) > MAX_ROWS:
        text.append(f"… and {len(rows) - MAX_ROWS} more hosts in fleet.json")
    if failed:
        text += ["", f"Inputs that could not be read ({len(failed)}):"]
        text += [f"  {one_line(f['input'], 200)}: {one_line(f['error'], 400)}" for f in failed[:MAX_FAILED]]
        if len(failed) > MAX_FAILED:
            text.append(f"  … and {len(failed) - MAX_FAILED} more in fleet.json")
    for w in worst:
        text += ["", f"{one_line(w['row']['host'], 100)}: {w['row']['verdict']}"]
        for f in w["findings"]:
            text.append(f"  {f.get('severity')}  {one_line(f.get('title', ''), 300)}")
            text.append(f"        -> {one_line(f.get('recommendation', ''), 600)}")
    text += [
        "",
        f"Attached: {pdf_name}" if pdf_name else "Every host's report is in the fleet directory.",
        f"-- memreport {__version__}",
    ]
    attachments = [(pdf_name, "application/pdf", pdf.read_bytes())] if pdf_name else []
    return assemble(
        subject_line,
        "\n".join(text) + "\n",
        html,
        [(c, cid) for c, cid in images],
        attachments,
        who or Recipients(),
        {"X-Memreport-Fleet": str(len(rows))},
    )


__all__ = ["MAX_ROWS", "WORST_HOSTS", "build_fleet_digest", "digest_subject"]
