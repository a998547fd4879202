"""write_report: analysis + report.html + report.pdf + report.json for one host, written atomically."""

from __future__ import annotations

from pathlib import Path

from memreport.analyze import Analysis, analyze
from memreport.analyze.report_json import build
from memreport.atomic import output, write_bytes, write_json
from memreport.config import Thresholds
from memreport.model import HostData
from memreport.render.html import render_html
from memreport.render.pdf import render_pdf


def write_report(
    data: HostData,
    outdir: Path,
    thresholds: Thresholds | None = None,
    analysis: Analysis | None = None,
    pdf: bool = True,
) -> dict[str, Path]:
    """Write report.html, report.pdf and report.json for one host into `outdir` (created if needed).

    Returns {"html": path, "pdf": path, "json": path}. Pass `analysis` to reuse one already made.
    """
    outdir = Path(outdir)
    with output(outdir):
        outdir.mkdir(parents=True, exist_ok=True)
    a = analysis if analysis is not None else analyze(data, thresholds or Thresholds())
    doc = build(a)
    html = render_html(data, a, doc)
    paths = {"json": outdir / "report.json", "html": outdir / "report.html"}
    write_json(paths["json"], doc)
    write_bytes(paths["html"], html.encode("utf-8"))
    if pdf:
        paths["pdf"] = outdir / "report.pdf"
        write_bytes(paths["pdf"], render_pdf(html))
    return paths
