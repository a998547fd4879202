"""report.html: the analysis laid out by templates/report.html.j2 (one self-contained file)."""

from __future__ import annotations

from typing import Any

from memreport.analyze import Analysis
from memreport.analyze.wording import fmt_bytes, fmt_duration, fmt_num, fmt_pct, fmt_rate
from memreport.config import Thresholds
from memreport.model import HostData, Severity
from memreport.render.charts import all_charts, chart_notes
from memreport.render.env import environment
from memreport.render.formatters import fit_name
from memreport.timebase import RELATIVE

MAX_WINDOW_ROWS = 40  # the HTML/PDF table; report.json has every window
MAX_VM_ROWS = 60


def _threshold_rows(t: Thresholds) -> list[dict[str, str]]:
    rows = []
    values = t.as_dict()
    for d in Thresholds.describe():
        v = values[d["name"]]
        unit = d["unit"]
        if unit == "B":
            text = f"{fmt_bytes(v)} ({fmt_num(v)} B)"
        elif unit == "B/s":
            text = fmt_rate(v)
        elif unit == "s":
            text = fmt_duration(v)
        elif unit == "%":
            text = fmt_pct(v, 1)
        elif isinstance(v, float):
            text = fmt_num(v, 1)
        else:
            text = str(v)
        default = "" if v == d["default"] else " (changed)"
        rows.append({"name": d["name"], "value": text + default, "doc": d["doc"]})
    return rows


def header_facts(f: Any) -> list[str]:
    """The host facts of the title block, only those known: an unknown one is left out rather than
    printed as "kernel – · – CPUs" (issue 15)."""
    out = []
    if f.kernel:
        out.append(f"kernel {fit_name(f.kernel)}")
    if f.cpus is not None:
        out.append(f"{f.cpus} CPUs")
    if f.page_size is not None:
        out.append(f"page size {fmt_bytes(f.page_size)}" + (" (assumed)" if f.page_size_source == "assumed" else ""))
    if f.swappiness is not None:
        out.append(f"vm.swappiness {f.swappiness}")
    if f.overcommit_memory is not None:
        out.append(f"vm.overcommit_memory {f.overcommit_memory}")
    return out


def context(data: HostData, a: Analysis, report_json: dict[str, Any]) -> dict[str, Any]:
    counts = {s: sum(1 for f in a.findings if f.severity == s) for s in Severity}
    top = [f for f in a.findings if f.severity > Severity.OK][:6]
    if len(top) < 3:
        top += [f for f in a.findings if f.severity == Severity.OK][: 3 - len(top)]
    duration = None
    if a.period_start is not None and a.period_end is not None:
        duration = (a.period_end - a.period_start).total_seconds()
    by_check: dict[str, list[Any]] = {}
    for f in a.findings:
        by_check.setdefault(f.check, []).append(f)
    charts = all_charts(data, a)
    return {
        "a": a,
        "facts": a.facts,
        "header_facts": header_facts(a.facts),
        "json": report_json,
        "charts": charts,
        "chart_notes": chart_notes(data, a, charts),
        "counts": {s.name: n for s, n in counts.items()},
        "top_findings": top,
        "by_check": by_check,
        "duration_s": duration,
        "windows": a.thrash.windows[:MAX_WINDOW_ROWS],
        "more_windows": max(0, len(a.thrash.windows) - MAX_WINDOW_ROWS),
        "vm_rows": a.vms.rows[:MAX_VM_ROWS],
        "vm_ksm": any(v.ksm_merged_max_bytes is not None for v in a.vms.rows),  # the column only where a kernel gave ksm_stat
        "more_vms": max(0, len(a.vms.rows) - MAX_VM_ROWS),
        "thresholds": a.thresholds,
        "threshold_rows": _threshold_rows(a.thresholds),
        # how times read: UTC, or offsets from the start for an input without clock times (timebase.py)
        "time_label": "time since the start" if a.facts.time_base == RELATIVE else "UTC",
        "Severity": Severity,
    }


def render_html(data: HostData, a: Analysis, report_json: dict[str, Any]) -> str:
    return environment().get_template("report.html.j2").render(**context(data, a, report_json))


def render_appendix(thresholds: Thresholds) -> str:
    """The report's appendix (method and thresholds) as a page of its own: it depends on the settings
    only, so the PDF's renderer can lay it out before the host is read (memreport.render.pdf.lay_out_ahead)."""
    return (
        environment()
        .get_template("report_appendix.html.j2")
        .render(thresholds=thresholds, threshold_rows=_threshold_rows(thresholds))
    )
