"""report.pdf: weasyprint from the same HTML, print CSS in the template. Fetches nothing."""

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


def render_pdf(html: str) -> bytes:
    doc = weasyprint.HTML(string=html, base_url=None, url_fetcher=DataOnlyFetcher(), media_type="print")
    return doc.write_pdf()  # type: ignore[no-any-return]
