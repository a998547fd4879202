"""write_report: analysis + report.html + report.pdf + report.json for one host, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from memreport.analyze import Analysis, analyze
from memreport.analyze.report_json import build
from memreport.config import Thresholds
from memreport.model import HostData
from memreport.render.html import render_html
from memreport.render.pdf import render_pdf


def _atomic_write(path: Path, data: bytes) -> None:
    """Temporary file in the same directory, fsync, then os.replace: never a half-written report."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


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
    outdir.mkdir(parents=True, exist_ok=True)
    a = analysis if analysis is not None else analyze(data, thresholds or Thresholds())
    doc = build(a)
    html = render_html(data, a, doc)
    paths = {"json": outdir / "report.json", "html": outdir / "report.html"}
    _atomic_write(paths["json"], (json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode())
    _atomic_write(paths["html"], html.encode("utf-8"))
    if pdf:
        paths["pdf"] = outdir / "report.pdf"
        _atomic_write(paths["pdf"], render_pdf(html))
    return paths
