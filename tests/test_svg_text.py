"""Chart labels drawn as one run of text (render/svg_text.py, issue 12): the same words on the same
pages at the same places as weasyprint's letter-by-letter drawing, give or take the kerning the
letters lose when drawn one by one; labels the fast drawing does not take are drawn exactly as
weasyprint draws them."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from memreport.render import svg_text, weasy

Word = tuple[str, float, float, float, float]  # text, xMin, yMin, xMax, yMax (pt)


@pytest.fixture
def stock() -> Iterator[None]:
    """weasyprint's own drawing for the test's body; the fast one again after it."""
    svg_text.uninstall()
    try:
        yield
    finally:
        assert svg_text.install()


def _words(pdf: bytes, tmp: Path, name: str) -> list[list[Word]]:
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True).stdout
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [
        [(w[4], float(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in re.findall(pattern, page)]
        for page in out.split("<page ")[1:]
    ]


def _same_places(stock_pages: list[list[Word]], fast_pages: list[list[Word]]) -> float:
    """Every word of every page is in both drawings, within kerning of its place (< 3 pt); returns
    the largest difference (pt) of a word's left or right edge."""
    assert len(stock_pages) == len(fast_pages)
    worst = 0.0
    for page, (a, b) in enumerate(zip(stock_pages, fast_pages, strict=True), 1):
        assert sorted(w[0] for w in a) == sorted(w[0] for w in b), f"page {page}"
        for text, x0, y0, x1, y1 in a:
            twin = min((w for w in b if w[0] == text), key=lambda w: abs(w[1] - x0) + abs(w[2] - y0) + abs(w[3] - x1))
            assert abs(twin[2] - y0) < 0.3 and abs(twin[4] - y1) < 0.3, (page, text)
            # A start-anchored label keeps its start and moves its later letters, an end-anchored one
            # the reverse, by the kerning of the letter pairs before them (AVAWAY in DejaVu Sans at 9
            # px: 2.1 pt): less than half a letter.
            slack = 3.0
            assert abs(twin[1] - x0) <= slack and abs(twin[3] - x1) <= slack, (page, text, (x0, x1), twin[1:4:2])
            worst = max(worst, abs(twin[1] - x0), abs(twin[3] - x1))
    return worst


def _page(svg: str) -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{svg}</body></html>'


LABELS = _page(
    '<svg viewBox="0 0 400 200" width="400" height="200">'
    '<text x="10" y="20" font-size="11" text-anchor="start" fill="#000">Swap used 12.5 GiB</text>'
    '<text x="390" y="40" font-size="10" text-anchor="end" fill="#333">MemAvailable (right axis)</text>'
    '<text x="200" y="60" font-size="12" text-anchor="middle" font-weight="bold" fill="#a00">peak Inactive 19.5 GiB</text>'
    '<text x="20" y="150" font-size="10" text-anchor="middle" transform="rotate(-90 20 150)">Memory per VM (GiB)</text>'
    '<text x="60" y="190" font-size="9">AVAWAY</text>'
    "</svg>"
)
# Labels only weasyprint's own drawing takes: per-letter shifts, coordinate lists, rotation of the
# letters, a forced length, child elements, a forced line break.
OTHERS = _page(
    '<svg viewBox="0 0 400 200" width="400" height="200">'
    '<text x="10" y="20" font-size="11" dx="0 2 4">shifted</text>'
    '<text x="10 30 50" y="40" font-size="11">lst</text>'
    '<text x="10" y="60" font-size="11" rotate="15">turned</text>'
    '<text x="10" y="80" font-size="11" textLength="120">stretched label</text>'
    '<text x="10" y="100" font-size="11">with <tspan font-weight="bold">a span</tspan> inside</text>'
    '<text x="10" y="120" font-size="11">a forced&#x2028;break</text>'
    "</svg>"
)


def test_labels_land_where_weasyprint_puts_them(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    fast = _words(weasy.render(LABELS), tmp_path, "fast")
    request.getfixturevalue("stock")
    slow = _words(weasy.render(LABELS), tmp_path, "stock")
    assert [w[0] for w in fast[0]].count("Swap") == 1 and len(fast[0]) == 16
    assert 1 < _same_places(slow, fast) < 3  # the kerned pairs moved, the rest did not


def test_labels_it_does_not_take_are_drawn_by_weasyprint(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    fast = weasy.render(OTHERS)
    request.getfixturevalue("stock")
    slow = weasy.render(OTHERS)

    def png(pdf: bytes, name: str) -> bytes:
        (tmp_path / f"{name}.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "100", "-png", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)], check=True)
        return next(tmp_path.glob(f"{name}-*.png")).read_bytes()

    assert png(fast, "fast") == png(slow, "stock")
    words = [w[0] for w in _words(fast, tmp_path, "words")[0]]
    assert "stretched" in words and "span" in words


def test_the_sample_report_has_every_word_in_place(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The report's own charts (axis ticks, legends, VM names, the marked peak) on every page."""
    from tests.test_pdf_renderer import _sample_report

    html, _ = _sample_report()
    fast = weasy.render(html)
    request.getfixturevalue("stock")
    slow = weasy.render(html)
    assert len(fast) < len(slow)  # one text object per label, not one per letter
    fast_pages, slow_pages = _words(fast, tmp_path, "fast"), _words(slow, tmp_path, "stock")
    assert len(fast_pages) >= 8
    assert _same_places(slow_pages, fast_pages) < 3


def test_another_weasyprint_keeps_its_own_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint
    import weasyprint.svg as svg_module

    svg_text.uninstall()
    try:
        stock_text = svg_module.TAGS["text"]
        monkeypatch.setattr(weasyprint, "__version__", "71.0")
        assert svg_text.install() is False
        assert svg_module.TAGS["text"] is stock_text and svg_module.TAGS["tspan"] is stock_text
        monkeypatch.setattr(weasyprint, "__version__", svg_text.CHECKED_VERSION)
    finally:
        assert svg_text.install()
    assert svg_module.TAGS["text"] is not stock_text
    assert svg_module.TAGS["tspan"] is svg_module.TAGS["text"] is svg_module.text  # type: ignore[attr-defined]


def test_names_in_other_scripts_are_shaped_as_one_string(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A VM name with a combining accent or in a right-to-left script: drawn as one run it is shaped
    as a whole (the accent on its letter, Hebrew in reading order); letter by letter it was not."""
    names = _page(
        '<svg viewBox="0 0 300 80" width="300" height="80">'
        '<text x="10" y="20" font-size="12">e\u0301cole-vm</text>'
        '<text x="290" y="50" font-size="12" text-anchor="end">\u05e9\u05dc\u05d5\u05dd-vm</text>'
        "</svg>"
    )

    def text(pdf: bytes, name: str) -> str:
        (tmp_path / f"{name}.pdf").write_bytes(pdf)
        out = subprocess.run(["pdftotext", str(tmp_path / f"{name}.pdf"), "-"], check=True, capture_output=True, text=True)
        return unicodedata.normalize("NFC", out.stdout)

    fast = text(weasy.render(names), "fast")
    assert "école-vm" in fast and "\u05e9\u05dc\u05d5\u05dd" in fast
    request.getfixturevalue("stock")
    stock = text(weasy.render(names), "stock")
    assert "école-vm" not in stock and "\u05e9\u05dc\u05d5\u05dd" not in stock  # what the one-run drawing fixed
