"""weasyprint itself, behind memreport.render.pdf: importing this module imports weasyprint (≈ 1 s),
so pdf.py imports it only where a PDF is rendered: in the renderer child, which can load it while
the command still reads its inputs."""

from __future__ import annotations

import weasyprint
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse


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


def render(html: str) -> bytes:
    doc = weasyprint.HTML(string=html, base_url=None, url_fetcher=DataOnlyFetcher(), media_type="print")
    return doc.write_pdf()  # type: ignore[no-any-return]


__all__ = ["DataOnlyFetcher", "render"]
