"""The mail body: a mail-safe HTML part and a plain-text summary, both from report.json.

Mail-safe means what Gmail, Outlook and Apple Mail all show: table layout, CSS inlined into
style="" attributes (css-inline, remote stylesheets off), no SVG, no scripts, no `data:` URIs,
images only as `cid:` parts, and the HTML under Gmail's clipping size (~102 KB, beyond which
Gmail hides the rest behind "[Message clipped]"). The report itself stays in the attached PDF.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import css_inline

from memreport import __version__
from memreport.analyze.wording import fmt_bytes, fmt_duration, fmt_num, fmt_pct, fmt_rate, fmt_time
from memreport.mail.charts import ChartImage
from memreport.render.env import environment

GMAIL_CLIP_BYTES = 102 * 1000  # Gmail clips HTML bodies above ~102 KB (measured on the encoded HTML)
HTML_BUDGET_BYTES = 95 * 1000  # what we allow ourselves: a margin under the clip for transfer encoding
MAX_FINDINGS = 12  # the mail lists the top findings; the PDF has all of them
SEVERITIES = ("CRIT", "WARN", "OK")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

_INLINER = css_inline.CSSInliner(
    load_remote_stylesheets=False,  # nothing is fetched while building a mail
    keep_at_rules=True,  # the @media rule for narrow screens stays in a <style> block
    minify_css=True,
)


def one_line(text: Any, limit: int = 200) -> str:
    """Text for a header or a one-line summary: control characters (CR, LF …) become one space."""
    s = _CONTROL.sub(" ", str(text)).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _findings(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc.get("findings") or [] if isinstance(f, dict)]


def short_form(finding: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    """The top finding in a few words for the Subject: `swap short by 6.5 GiB`.

    Known findings get a phrase built from their evidence; any other finding uses its title,
    with a lower-case first letter so it reads after the verdict.
    """
    ev = finding.get("evidence") or {}
    fid = finding.get("id")
    if fid == "swap.deficit" and ev.get("deficit_bytes") is not None:
        return f"swap short by {fmt_bytes(ev['deficit_bytes'], round_up=True)}"
    if fid == "oom.overallocated" and doc.get("oom_headroom_bytes") is not None:
        return f"VMs exceed RAM + swap by {fmt_bytes(-doc['oom_headroom_bytes'])}"
    if fid == "oom.kills" and doc.get("oom_kills"):
        n = doc["oom_kills"]
        return f"{n} OOM kill{'s' if n != 1 else ''}"
    if fid == "thrash.windows" and doc.get("thrash_windows"):
        w = doc["thrash_windows"]
        total = sum(x.get("duration_s") or 0 for x in w)
        return f"swap thrash {fmt_duration(total)} in {len(w)} window{'s' if len(w) != 1 else ''}"
    title = one_line(finding.get("title") or fid or "")
    return title[:1].lower() + title[1:] if title[:2] != title[:2].upper() else title


def subject(doc: Mapping[str, Any]) -> str:
    """`[memreport] kvm01: CRIT, swap short by 6.5 GiB`; `…: OK` when nothing needs attention."""
    host = one_line(doc.get("host") or "host", 80)
    verdict = str(doc.get("verdict") or "OK")
    top = next((f for f in _findings(doc) if f.get("severity") == verdict), None)
    if verdict == "OK" or top is None:
        return f"[memreport] {host}: {verdict}"
    return f"[memreport] {host}: {verdict}, {short_form(top, doc)}"


@dataclass(frozen=True)
class KeyNumber:
    label: str
    value: str
    note: str
    severity: str = ""  # "crit"/"warn" colours the value; "" = neutral


def key_numbers(doc: Mapping[str, Any]) -> list[KeyNumber]:
    """The six numbers a capacity planner looks at first, each with what it is measured against."""
    g = doc.get
    mem, swap, deficit = g("memory_total_bytes"), g("swap_total_bytes"), g("swap_deficit_bytes")
    head = g("oom_headroom_bytes")
    out = [
        KeyNumber(
            "RAM",
            fmt_bytes(mem),
            f"{fmt_num(g('vm_count'))} VMs, {fmt_bytes(g('vm_allocated_bytes'))} allocated"
            if g("vm_count") is not None
            else "no per-VM data",
        ),
        KeyNumber(
            "Swap",
            fmt_bytes(swap),
            "not checked" if deficit is None else (f"add {fmt_bytes(deficit, round_up=True)}" if deficit else "sufficient"),
            "warn" if deficit else "",
        ),
        KeyNumber("Peak Inactive", fmt_bytes(g("peak_inactive_bytes")), f"at {fmt_time(g('peak_inactive_at'), seconds=False)}"),
        KeyNumber(
            "OOM headroom", fmt_bytes(head), "RAM + swap − VM allocations", "crit" if head is not None and head < 0 else ""
        ),
        KeyNumber(
            "Peak swap-in",
            fmt_rate(g("peak_swapin_bytes_per_s")),
            _windows(g("thrash_windows")),
            "warn" if g("thrash_windows") else "",
        ),
        KeyNumber(
            "KSM saved",
            fmt_bytes(g("ksm_saved_bytes")),
            f"ksmd {fmt_pct(g('ksmd_cpu_percent'), 1)} of one CPU" if g("ksmd_cpu_percent") is not None else "no KSM data",
        ),
    ]
    return out


def _windows(windows: list[Any] | None) -> str:
    if windows is None:
        return "no swap rates"
    n = len(windows)
    return "no thrash windows" if n == 0 else f"{n} thrash window{'s' if n != 1 else ''}"


def _counts(findings: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {s: sum(1 for f in findings if f.get("severity") == s) for s in SEVERITIES}


def _period(doc: Mapping[str, Any]) -> str:
    p = doc.get("period") or {}
    return f"{fmt_time(p.get('start'), seconds=False)} – {fmt_time(p.get('end'), seconds=False)}"


def inline_css(html: str) -> str:
    """The HTML with its <style> rules inlined per element (mail clients drop <style> blocks)."""
    return str(_INLINER.inline(html))


def render_html(doc: Mapping[str, Any], charts: Sequence[ChartImage], cids: Mapping[str, str], pdf_name: str | None) -> str:
    """The HTML part for one host: templates/email.html.j2, CSS inlined, under HTML_BUDGET_BYTES.

    `cids` maps a chart name to its Content-ID (without <>). When the HTML would be too large
    (a report with very many findings), fewer findings are listed; the PDF still has them all.
    """
    findings = _findings(doc)
    limit = MAX_FINDINGS
    while True:
        html = inline_css(
            environment()
            .get_template("email.html.j2")
            .render(
                doc=doc,
                host=one_line(doc.get("host") or "host", 200),
                verdict=str(doc.get("verdict") or "OK"),
                subject=subject(doc),
                period=_period(doc),
                samples=(doc.get("coverage") or {}).get("samples"),
                counts=_counts(findings),
                findings=findings[:limit],
                more=max(0, len(findings) - limit),
                keys=key_numbers(doc),
                charts=[(c, cids[c.name]) for c in charts],
                pdf_name=pdf_name,
                missing=(doc.get("coverage") or {}).get("missing") or [],
                version=__version__,
                answer=answer_lines(doc),
            )
        )
        if len(html.encode()) <= HTML_BUDGET_BYTES or limit <= 1:
            return html
        limit = max(1, limit // 2)


def answer_lines(doc: Mapping[str, Any]) -> list[str]:
    """The host's answer, as report.json gives it (older report.json files have none)."""
    answer = doc.get("answer")
    lines = answer.get("lines") if isinstance(answer, Mapping) else None
    return [one_line(str(x), 1000) for x in lines] if isinstance(lines, list) else []


def render_text(doc: Mapping[str, Any], pdf_name: str | None) -> str:
    """The text/plain alternative: verdict, findings with their recommendations, key numbers."""
    findings = _findings(doc)
    c = _counts(findings)
    host = one_line(doc.get("host") or "host", 200)
    lines = [
        f"{host}: {doc.get('verdict') or 'OK'} (memory capacity report)",
        f"Period: {_period(doc)}, {fmt_num((doc.get('coverage') or {}).get('samples'))} samples",
        "",
    ]
    answer = answer_lines(doc)
    if answer:
        lines += ["The answer"] + [f"  {x}" for x in answer] + [""]
    lines += [f"Findings: {c['CRIT']} CRIT, {c['WARN']} WARN, {c['OK']} OK", ""]
    for f in findings[:MAX_FINDINGS]:
        lines.append(f"{f.get('severity', ''):<4}  {one_line(f.get('title', ''), 300)}")
        if f.get("severity") != "OK":
            lines.append(f"      {one_line(f.get('detail', ''), 1000)}")
            lines.append(f"      -> {one_line(f.get('recommendation', ''), 1000)}")
    if len(findings) > MAX_FINDINGS:
        lines.append(f"… and {len(findings) - MAX_FINDINGS} more in the attached report")
    lines += ["", "Key numbers"]
    for k in key_numbers(doc):
        lines.append(f"  {k.label + ':':<15} {k.value:<12} {k.note}")
    missing = (doc.get("coverage") or {}).get("missing") or []
    if missing:
        lines += ["", "Not in the data: " + ", ".join(one_line(m) for m in missing)]
    lines += [
        "",
        f"The full report with charts and every finding is attached ({pdf_name})."
        if pdf_name
        else "The full report (report.html) is in the report directory.",
        f"-- memreport {__version__}",
    ]
    return "\n".join(lines) + "\n"


__all__ = [
    "GMAIL_CLIP_BYTES",
    "HTML_BUDGET_BYTES",
    "KeyNumber",
    "inline_css",
    "key_numbers",
    "one_line",
    "render_html",
    "render_text",
    "short_form",
    "subject",
]
