"""The fleet summary: fleet.json (data), fleet.html and fleet.pdf (the same data laid out).

Built from the markers only (state.py): the parent never reads a host's series. fleet.json is
deterministic for the same inputs and settings, whatever ran the tasks: hosts are ranked by a fixed
key, every number comes from report.json, and the one volatile part (timings, counts of this run,
the executor) sits under the `run` key.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from memreport import __version__
from memreport.atomic import json_bytes, write_set
from memreport.errors import RenderError
from memreport.fleet.tasks import verdict_rank

if TYPE_CHECKING:
    from memreport.analyze.what_if import Change

FLEET_JSON_FORMAT = 1
GIB = 1024**3
DEFAULT_VM_SIZE = 4 * GIB


def headroom(row: dict[str, Any]) -> tuple[int | None, int | None]:
    """(free bytes, VMs that still fit): the host report's answer (its recommended model: the fewer of the
    safe rule and the observed peak), so a host reads the same in its report and in the fleet."""
    frees = [f for f in (row["safe_free_bytes"], row["observed_free_bytes"]) if f is not None]
    return (min(frees) if frees else None), row["vms_that_fit"]


def risk_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Most at risk first: verdict, critical then warning findings, swap deficit, thrash time,
    then the least headroom; the host name breaks ties so the order never depends on timing."""
    deficit = row["swap_to_add_bytes"] or 0
    free = row["headroom_bytes"]
    return (
        -verdict_rank(row["verdict"]),
        -row["findings"]["CRIT"],
        -row["findings"]["WARN"],
        -max(0, deficit),
        -(row["thrash_seconds"] or 0.0),
        free if free is not None else float("inf"),
        row["host"],
    )


def what_if_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Best first for the fleet's change (--add-vms …): hosts that hold it, the most headroom left first; then
    hosts short only of swap (or of room by the observed peak), the least to add first; then hosts whose
    hugepage pool is short (swap cannot help), the least short first; hosts not known last; the name breaks ties."""
    w = row["what_if"]
    if w is None or w["fits"] is None:
        return (3, 0, row["host"])
    if w["fits"]:
        return (0, -(w["headroom_bytes"] or 0), row["host"])
    if w["blocker"] == "hugepage_pool":
        return (2, -(w["hugepages_unallocated_bytes"] or 0), row["host"])
    short = max(w["swap_to_add_bytes"] or 0, -(w["headroom_bytes"] or 0))
    return (1, short, row["host"])


def _what_if(rows: list[dict[str, Any]], change: Change) -> dict[str, Any]:
    """fleet.json's what_if: the change, and every host ranked by how well it takes it (what_if_key)."""
    from memreport.analyze import what_if_sentence

    ranked = sorted(rows, key=what_if_key)
    for i, r in enumerate(ranked, 1):
        if r["what_if"] is not None:
            r["what_if"]["rank"] = i
    return {
        "change": change.as_json(),
        "sentence": what_if_sentence(change),
        "hosts_that_fit": sum(1 for r in rows if r["what_if"] is not None and r["what_if"]["fits"]),
        "hosts_not_known": sum(1 for r in rows if r["what_if"] is None or r["what_if"]["fits"] is None),
        "ranking": [r["host"] for r in ranked],
    }


def _sum(rows: list[dict[str, Any]], key: str) -> int | float | None:
    vals = [r[key] for r in rows if r[key] is not None]
    return sum(vals) if vals else None


def build(
    markers: list[dict[str, Any]],
    host_rows: list[dict[str, Any]],
    failed_hosts: list[dict[str, Any]] | None = None,
    vm_size: int = DEFAULT_VM_SIZE,
    run: dict[str, Any] | None = None,
    change: Change | None = None,
) -> dict[str, Any]:
    """markers: one per input (status, error); host_rows: one per host, each with its `inputs`;
    failed_hosts: hosts whose inputs were read but could not be merged; change: the fleet's what-if."""
    rows: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = list(failed_hosts or [])
    for h in host_rows:
        row = {"pdf_error": None, **h, "input": h["inputs"][0]}  # pdf_error: rows of markers older than it
        row["what_if"] = dict(h["what_if"]) if h.get("what_if") else None  # gains its rank below: not the marker's dict
        row["headroom_bytes"], row["headroom_vms"] = headroom(row)
        rows.append(row)
    for m in markers:
        if m.get("status") != "ok":
            error = m.get("error") or "failed"
            # The error line names the input first (one line, as on the terminal); `reason` is the rest.
            reason = error.removeprefix(f"{m['input']}: ")
            failed.append({"input": m["input"], "error": error, "reason": reason})
    rows.sort(key=risk_key)
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    failed.sort(key=lambda f: f["input"])
    alloc_rows = [r for r in rows if r["vm_allocated_bytes"] is not None and r["memory_total_bytes"]]
    ram_with_vms = sum(r["memory_total_bytes"] for r in alloc_rows)
    deficits = [r["swap_to_add_bytes"] for r in rows if r["swap_to_add_bytes"] is not None]
    totals = {
        "inputs": len(markers),
        "hosts": len(rows),
        "failed_inputs": len(failed),
        "verdicts": {v: sum(1 for r in rows if r["verdict"] == v) for v in ("CRIT", "WARN", "OK")},
        "memory_total_bytes": _sum(rows, "memory_total_bytes"),
        "swap_total_bytes": _sum(rows, "swap_total_bytes"),
        "swap_short_bytes": sum(max(0, d) for d in deficits) if deficits else None,
        "hosts_short_of_swap": sum(1 for d in deficits if d > 0),
        "vm_count": _sum(rows, "vm_count"),
        "vm_allocated_bytes": _sum(rows, "vm_allocated_bytes"),
        "overcommit_ratio": round(sum(r["vm_allocated_bytes"] for r in alloc_rows) / ram_with_vms, 4) if ram_with_vms else None,
        "hosts_overcommitted": sum(1 for r in rows if (r["overcommit_ratio"] or 0) > 1.0),
        "vms_that_fit": _sum(rows, "headroom_vms"),
        "hosts_full": sum(1 for r in rows if r["headroom_vms"] == 0),
        "ksm_saved_bytes": _sum(rows, "ksm_saved_bytes"),
        "thrash_seconds": _sum(rows, "thrash_seconds"),
        "hosts_thrashing": sum(1 for r in rows if (r["thrash_windows"] or 0) > 0),
        "oom_kills": _sum(rows, "oom_kills"),
        "hosts_without_vm_data": sum(1 for r in rows if r["vm_count"] is None),
    }
    doc: dict[str, Any] = {
        "format": FLEET_JSON_FORMAT,
        "generator": f"memreport {__version__}",
        "vm_size_bytes": vm_size,
        "totals": totals,
        "hosts": rows,
        "failed": failed,
        "what_if": _what_if(rows, change) if change is not None else None,
    }
    if run is not None:
        doc["run"] = run
    return doc


def render_html(doc: dict[str, Any]) -> str:
    from memreport.fleet.charts import overcommit_chart, swap_deficit_chart
    from memreport.render.env import environment

    charts = {"deficit": swap_deficit_chart(doc["hosts"]), "overcommit": overcommit_chart(doc["hosts"])}
    periods = [(r["period_start"], r["period_end"]) for r in doc["hosts"] if r["period_start"] and r["period_end"]]
    period = (min(p[0] for p in periods), max(p[1] for p in periods)) if periods else (None, None)
    by_host = {r["host"]: r for r in doc["hosts"]}
    ranked = [by_host[h] for h in doc["what_if"]["ranking"]] if doc.get("what_if") else []
    return (
        environment()
        .get_template("fleet.html.j2")
        .render(doc=doc, t=doc["totals"], charts=charts, period=period, what_if_rows=ranked)
    )


SUMMARY_FILES = ("fleet.json", "fleet.html", "fleet.pdf")


def write(doc: dict[str, Any], outdir: Path, pdf: bool = True, pdf_timeout_s: float | None = None) -> dict[str, Path]:
    """fleet.json, fleet.html and (with `pdf`) fleet.pdf, as one set: a fleet.pdf of an earlier run
    never outlives this one (the digest mail would attach it).

    A fleet.pdf not rendered within `pdf_timeout_s` (render.pdf_timeout_s) is not written; the others
    are, and doc["run"]["fleet_pdf_error"] (in fleet.json too) says why."""
    html = render_html(doc)
    files = {"fleet.html": html.encode("utf-8")}
    if pdf:
        from memreport.render.pdf import render_pdf

        try:
            files["fleet.pdf"] = render_pdf(html, pdf_timeout_s)
        except RenderError as e:
            error = f"{outdir / 'fleet.pdf'} not written: {e}; fleet.json and fleet.html are written"
            doc.setdefault("run", {})["fleet_pdf_error"] = error
    files["fleet.json"] = json_bytes(doc)
    written = write_set(outdir, files, SUMMARY_FILES)
    return {name.removeprefix("fleet."): path for name, path in written.items()}
