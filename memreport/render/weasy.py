"""weasyprint itself, behind memreport.render.pdf: importing this module imports weasyprint (≈ 1 s),
so pdf.py imports it only where a PDF is rendered: in the renderer child, which can load it while
the command still reads its inputs.

A part of the report that depends on the settings only (the appendix, report_appendix.html.j2) can
be laid out ahead (lay_out), while the host is still being read: render() then lays out the rest of
the report with one empty page in place of each of the part's pages and puts the part's pages there,
each with the margin boxes (running header, "Page n of N") of the page it replaces. The PDF is the
one the whole HTML gives (tests/test_pdf_renderer.py compares them); the layout on the critical path
is ≈ 0.27 s shorter for the sample (docs/PERFORMANCE.md)."""

from __future__ import annotations

import base64
import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from memreport.errors import RenderError
from memreport.render.libfind import quick_find_library

with quick_find_library():  # its libraries found with one `ldconfig -p`, not 22 programs (libfind.py)
    import weasyprint
    from weasyprint.formatting_structure.boxes import MarginBox
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from memreport.render import svg_text

svg_text.install()  # the charts' labels drawn as one run each, not letter by letter (svg_text.py)

# One empty page per page of a part laid out ahead: a forced break before an empty block.
STAND_IN = '<div style="break-before: page"></div>'


class DataOnlyFetcher(URLFetcher):
    """Allows `data:` URLs only; anything else (http, file, …) stops the rendering with an error.

    The report is self-contained by construction, so any other fetch is a bug or hostile input.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"}, fail_on_errors=True)

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        if not url.lower().startswith("data:"):
            raise FatalURLFetchingError(f"report.pdf must not fetch {url!r}: only data: URLs are allowed")
        return super().fetch(url, headers)


@dataclass
class LaidOut:
    """A part laid out ahead: its markup as the whole report holds it (the body of the part's page),
    the <style> element it was laid out with, and its pages."""

    section: str
    style: str
    document: weasyprint.Document
    font_config: FontConfiguration


# A chart as render/charts.py and fleet/charts.py write it: every text in it is escaped, so the first
# </svg> after its start is its end.
_CHART = re.compile(r'<svg class="chart ([^"]*)"(.*?)</svg>', re.S)
_LABEL = re.compile(r'aria-label="([^"]*)"')


def _charts_as_images(html: str) -> str:
    """The charts' inline SVG as images (data: URLs) of the same SVG. Inline, every element of a chart
    is also an element of the page: the HTML parser tokenizes its path data and the page's CSS is
    matched against each of its ≈ 300 elements before weasyprint parses the SVG again on its own. As
    an image it is parsed once, by ElementTree, and drawn the same (tests/test_pdf_renderer.py
    compares the pages' pixels): 0.1–0.2 s less layout for the sample's five charts."""

    def image(m: re.Match[str]) -> str:
        svg = m.group(0).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
        label = _LABEL.search(m.group(2))
        alt = label.group(1) if label else ""  # escaped as the chart wrote it
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        return f'<img class="chart {m.group(1)}" alt="{alt}" src="data:image/svg+xml;base64,{data}">'

    return _CHART.sub(image, html)


def _html(html: str) -> weasyprint.HTML:
    return weasyprint.HTML(string=_charts_as_images(html), base_url=None, url_fetcher=DataOnlyFetcher(), media_type="print")


def lay_out(part_html: str) -> LaidOut:
    """Lay out `part_html`, a page of its own whose <body> holds a section that ends the report."""
    body = part_html[part_html.index("<body>") + len("<body>") : part_html.rindex("</body>")].strip()
    style = part_html[part_html.index("<style>") : part_html.index("</style>") + len("</style>")]
    font_config = FontConfiguration()  # shared with the rest of the report: one set of fonts in the PDF
    with _failures_raise():  # a part that failed is not used: the whole HTML is laid out, and fails there
        return LaidOut(body, style, _html(part_html).render(font_config=font_config), font_config)


def _fits(html: str, part: LaidOut) -> bool:
    """The part is in `html` once, as its last content, with the same stylesheet: its pages are the
    ones the whole HTML would give."""
    at = html.find(part.section)
    return (
        at >= 0
        and html.find(part.section, at + 1) < 0
        and html[at + len(part.section) :].lstrip().startswith("</body>")
        and part.style in html
        and len(part.document.pages) > 0
    )


class _Failures(logging.Handler):
    """weasyprint's ERROR records (an image or inline SVG it could not draw, a stylesheet it could not
    load): it logs them and goes on, leaving a blank where a chart was."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split())[:300])


@contextlib.contextmanager
def _failures_raise() -> Iterator[None]:
    """A PDF with a part weasyprint could not draw is not written: RenderError names the first part
    (report.html and report.json are written as usual). Nothing of the report is left out silently."""
    handler = _Failures()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.messages:
        more = f" (and {len(handler.messages) - 1} more)" if len(handler.messages) > 1 else ""
        raise RenderError(f"weasyprint could not draw part of the PDF: {handler.messages[0]}{more}")


def render(html: str, ahead: LaidOut | None = None) -> bytes:
    """The PDF of `html`; with `ahead`, a part of it laid out before (lay_out), when it fits.
    RenderError when weasyprint could not draw a part of it (_failures_raise)."""
    with _failures_raise():
        return _render(html, ahead)


def _render(html: str, ahead: LaidOut | None) -> bytes:
    if ahead is None or not _fits(html, ahead):
        return _html(html).render().write_pdf()  # type: ignore[no-any-return]
    n = len(ahead.document.pages)
    doc = _html(html.replace(ahead.section, STAND_IN * n, 1)).render(font_config=ahead.font_config)
    if len(doc.pages) <= n:  # the stand-ins are not the report's last pages: lay it out whole
        return _html(html).render().write_pdf()  # type: ignore[no-any-return]
    rest, stand_ins = doc.pages[:-n], doc.pages[-n:]
    for page, stand_in in zip(ahead.document.pages, stand_ins, strict=True):
        box, margins = page._page_box, stand_in._page_box  # noqa: SLF001 - no public way to swap margin boxes
        box.children = tuple(c for c in box.children if not isinstance(c, MarginBox)) + tuple(
            c for c in margins.children if isinstance(c, MarginBox)
        )
    return doc.copy(rest + ahead.document.pages).write_pdf()  # type: ignore[no-any-return]


__all__ = ["DataOnlyFetcher", "LaidOut", "lay_out", "render"]
