"""The warm PDF renderer (issue 12): `memreport report` forks the child that renders report.pdf before
it reads its inputs, so that weasyprint loads on the second core meanwhile. Taking the HTML later
changes nothing of what the PDF path promises: the PDF, the deadline, weasyprint's own errors, and
no child left behind (tests/test_long_names.py holds the same for a child forked at render time)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from memreport.errors import RenderError
from memreport.render import pdf


def _children() -> set[int]:
    me = os.getpid()
    return {int(pid) for task in Path(f"/proc/{me}/task").iterdir() for pid in (task / "children").read_text().split()}


def test_a_warm_renderer_renders_the_next_pdf_and_is_gone_after() -> None:
    before = _children()
    pdf.start_renderer()
    (child,) = _children() - before

    out = pdf.render_pdf("<p>warm</p>" * 200, 600)
    assert out.startswith(b"%PDF-") and b"%%EOF" in out[-32:]
    assert _children() == before and not Path(f"/proc/{child}").exists()


def test_a_warm_renderer_keeps_the_deadline_and_is_killed_at_it() -> None:
    before = _children()
    pdf.start_renderer()
    with pytest.raises(RenderError, match=r"^rendering took longer than its 0.01 s deadline \(setting render.pdf_timeout_s\)$"):
        pdf.render_pdf("<p>" + "word " * 20000 + "</p>", 0.01)
    assert _children() == before  # killed and reaped, no zombie


def test_a_warm_renderer_raises_what_weasyprint_raised() -> None:
    from weasyprint.urls import FatalURLFetchingError

    pdf.start_renderer()
    with pytest.raises(FatalURLFetchingError, match="only data: URLs"):
        pdf.render_pdf('<p>x<img src="http://127.0.0.1:9/x.png"></p>', 600)


@pytest.mark.parametrize("warm", [True, False], ids=["warm child", "in process"])
def test_a_part_weasyprint_cannot_draw_fails_the_pdf_with_its_reason(warm: bool) -> None:
    # weasyprint logs an image or inline SVG it cannot draw and leaves a blank: that PDF is not written.
    broken = '<p>chart:</p><img src="data:image/png;base64,AAAA"><svg width="10" height="10"><path d="M0 0 L10 10"/></svg>'
    if warm:
        pdf.start_renderer()
    with pytest.raises(RenderError, match=r"^weasyprint could not draw part of the PDF: Failed to load image at 'data:image/png"):
        pdf.render_pdf(broken, 600 if warm else None)
    assert pdf.render_pdf(broken.replace("AAAA", _ONE_PIXEL_PNG), None).startswith(b"%PDF-")


_ONE_PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_an_unused_warm_renderer_is_ended_and_reaped() -> None:
    before = _children()
    pdf.start_renderer()
    pdf.start_renderer()  # one waits already: no second child
    assert len(_children() - before) == 1
    pdf.stop_renderer()
    assert _children() == before


def test_a_warm_renderer_that_died_is_reported() -> None:
    import signal
    import time

    before = _children()
    pdf.start_renderer()
    (child,) = _children() - before
    os.kill(child, signal.SIGKILL)
    time.sleep(0.05)
    with pytest.raises(RenderError, match=r"^the process rendering the PDF ended before it was done \(killed by SIGKILL"):
        pdf.render_pdf("<p>x</p>", 600)
    assert _children() == before


def test_report_parent_does_not_import_weasyprint(tmp_path: Path) -> None:
    """The parent leaves weasyprint to its child: `memreport report` with a PDF, run in-process with
    the report command's code path, ends with report.pdf written and weasyprint never imported here."""
    import subprocess

    code = (
        "import sys, runpy; sys.argv=['memreport','report','sample_data/kvm-sample','-o',sys.argv[1]]\n"
        "try:\n    runpy.run_module('memreport', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('weasyprint' in sys.modules)"
    )
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=root, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "False"
    assert (tmp_path / "kvm-sample" / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_a_process_without_a_warm_renderer_imports_weasyprint_once_for_its_children() -> None:
    """Several PDFs through the API (no warm child): weasyprint is loaded in the process before its
    first child is forked, so that no later child loads it again."""
    import subprocess

    code = (
        "import os, sys\n"
        "from memreport.render import pdf\n"
        "print('weasyprint' in sys.modules)\n"
        "for n in range(2):\n"
        "    assert pdf.render_pdf(f'<html><body><p>page {n}</p></body></html>', 60).startswith(b'%PDF-')\n"
        "    print('weasyprint' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", "True"]


def _sample_report() -> tuple[str, object]:
    """The sample's report.html and the settings it was made with."""
    from memreport import api
    from memreport.analyze.report_json import build
    from memreport.render.html import render_html

    thresholds = api.thresholds()
    (data,) = api.load("sample_data/kvm-sample", columns="report")
    a = api.analyze(data, thresholds).analysis
    return render_html(data, a, build(a)), thresholds


def _pages(pdf_bytes: bytes, tmp: Path, name: str) -> tuple[list[str], list[bytes]]:
    """Each page's text and each page rasterised (60 dpi, as a reviewer looks at them)."""
    import subprocess

    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf_bytes)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(tmp / name)], check=True)
    return text.split("\f"), [p.read_bytes() for p in sorted(tmp.glob(f"{name}-*.png"))]


def test_the_appendix_laid_out_ahead_gives_the_pdf_of_the_whole_report(tmp_path: Path) -> None:
    """Issue 12: the warm child lays the appendix out while the host is read and puts its pages in
    place of stand-ins; the PDF is the one the whole HTML gives, page by page (text and pixels: the
    running header and "Page n of N" of the stand-ins are on the appendix's pages)."""
    from memreport.render import weasy
    from memreport.render.html import render_appendix

    html, thresholds = _sample_report()
    part = render_appendix(thresholds)  # type: ignore[arg-type]
    assert weasy._fits(html, weasy.lay_out(part))  # noqa: SLF001 - the part is taken, not ignored

    whole_text, whole_png = _pages(weasy.render(html), tmp_path, "whole")
    pdf.start_renderer()
    pdf.lay_out_ahead(part)
    ahead_text, ahead_png = _pages(pdf.render_pdf(html, 600), tmp_path, "ahead")
    pdf.stop_renderer()

    assert len(whole_png) == len(ahead_png) >= 3
    assert "Appendix: method and thresholds" in ahead_text[-2] + ahead_text[-3]
    assert f"Page {len(ahead_png)} of {len(ahead_png)}" in ahead_text[-2]
    assert ahead_text == whole_text
    assert ahead_png == whole_png


def test_a_part_the_report_does_not_hold_is_not_used(tmp_path: Path) -> None:
    """An appendix made with other settings than the report's is laid out, then left: the PDF shows
    the report's own thresholds."""
    from memreport.config import Thresholds
    from memreport.render.html import render_appendix

    html, _ = _sample_report()
    pdf.start_renderer()
    pdf.lay_out_ahead(render_appendix(Thresholds(swap_basis="inactive_anon")))
    text, _ = _pages(pdf.render_pdf(html, 600), tmp_path, "other")
    pdf.stop_renderer()
    assert "swap.basis" in "".join(text)
    assert "(changed)" not in "".join(text)


def test_charts_laid_out_as_images_give_the_same_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: weasyprint gets each chart as an image of the same SVG (weasy._charts_as_images), not
    as elements of the page; every page is the same to the pixel and every chart label is still text."""
    from memreport.render import weasy

    html, _ = _sample_report()
    charts = html.count('<svg class="chart ')
    assert charts >= 5
    as_images = weasy._charts_as_images(html)  # noqa: SLF001
    assert "<svg" not in as_images and as_images.count('<img class="chart ') == charts
    images_text, images_png = _pages(weasy.render(html), tmp_path, "images")
    monkeypatch.setattr(weasy, "_charts_as_images", lambda h: h)
    inline_text, inline_png = _pages(weasy.render(html), tmp_path, "inline")
    assert len(images_png) == len(inline_png) >= 8
    assert images_png == inline_png
    assert images_text == inline_text
    assert "peak Inactive" in "".join(images_text) and "Time (UTC)" in "".join(images_text)
