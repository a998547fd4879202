"""write_report: analysis + report.html + report.pdf + report.json for one host, written atomically."""

from __future__ import annotations

from pathlib import Path

from memreport.analyze import Analysis, analyze
from memreport.analyze.report_json import build
from memreport.atomic import json_bytes, write_set
from memreport.config import Thresholds
from memreport.model import HostData
from memreport.render.html import render_html
from memreport.render.pdf import render_pdf


# Every file a host's report directory may hold: a new set replaces all of them (a report.eml
# or report.pdf of an earlier run must not outlive it: `memreport email` would attach it).
REPORT_FILES = ("report.json", "report.html", "report.pdf", "report.eml")


def write_report(
    data: HostData,
    outdir: Path,
    thresholds: Thresholds | None = None,
    analysis: Analysis | None = None,
    pdf: bool = True,
) -> dict[str, Path]:
    """Write report.html, report.pdf and report.json for one host into `outdir` (created if needed),
    as one set (atomic.write_set): everything is rendered first, then swapped in together.

    Returns {"html": path, "pdf": path, "json": path}. Pass `analysis` to reuse one already made.
    """
    outdir = Path(outdir)
    a = analysis if analysis is not None else analyze(data, thresholds or Thresholds())
    doc = build(a)
    html = render_html(data, a, doc)
    files = {"report.json": json_bytes(doc), "report.html": html.encode("utf-8")}
    if pdf:
        files["report.pdf"] = render_pdf(html)
    written = write_set(outdir, files, REPORT_FILES)
    return {name.removeprefix("report."): path for name, path in written.items()}
