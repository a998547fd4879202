"""write_report: analysis + report.html + report.pdf + report.json for one host, written atomically."""

from __future__ import annotations

from pathlib import Path

from memreport.analyze import Analysis, analyze
from memreport.analyze.report_json import build
from memreport.atomic import json_bytes, write_set
from memreport.config import Thresholds
from memreport.errors import RenderError
from memreport.model import HostData
from memreport.render.formatters import fit_name
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

    A PDF not rendered within the analysis' render.pdf_timeout_s is not written: report.html and
    report.json are (a set without report.pdf), then RenderError names the host, the deadline and
    the files written (its `written` holds their paths).
    """
    outdir = Path(outdir)
    a = analysis if analysis is not None else analyze(data, thresholds or Thresholds())
    doc = build(a)
    html = render_html(data, a, doc)
    files = {"report.json": json_bytes(doc), "report.html": html.encode("utf-8")}
    failed: RenderError | None = None
    if pdf:
        try:
            files["report.pdf"] = render_pdf(html, a.thresholds.render_pdf_timeout_s or None)
        except RenderError as e:
            failed = e
    written = {name.removeprefix("report."): path for name, path in write_set(outdir, files, REPORT_FILES).items()}
    if failed is not None:
        raise RenderError(
            f"{fit_name(a.host)}: {outdir / 'report.pdf'} not written: {failed}; "
            f"{' and '.join(sorted(p.name for p in written.values()))} are written",
            written,
            str(failed),
        ) from failed
    return written
