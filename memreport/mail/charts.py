"""The report's charts as PNG for mail: the SVG charts of report.html rasterised with resvg.

Mail clients drop inline SVG (Gmail, Outlook), so the mail carries PNG parts. They are made from
the very SVG the report shows (no second drawing of the same chart to keep in step), which also
lets `memreport email` work from a report directory alone. resvg is deterministic: the same SVG
and fonts give the same pixels; fonts come from DejaVu when it is installed (tests/system_deps.sh),
otherwise from the system.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from pathlib import Path

import resvg_py
from PIL import Image

# The report's charts: <svg class="chart chart-NAME" …><title>…</title>…</svg> (render/charts.py).
_SVG = re.compile(r'<svg class="chart (chart-[a-z0-9-]+)"(.*?)</svg>', re.S)
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
ZOOM = 2.0  # crisp on high-DPI screens; shown at the SVG's own width in the mail
MAX_COLORS = 256  # palette PNG: a third of the bytes of RGB, no visible change for flat chart colours


@dataclass(frozen=True)
class ChartImage:
    """One chart as a PNG: `name` is e.g. "chart-memory", `width`/`height` the display size in CSS px."""

    name: str
    title: str
    png: bytes
    width: int
    height: int


def extract_svgs(report_html: str) -> list[tuple[str, str, str]]:
    """(name, title, standalone SVG document) for each chart in report.html, in report order."""
    out = []
    for m in _SVG.finditer(report_html):
        name, rest = m.group(1), m.group(2)
        t = _TITLE.search(rest)
        title = html.unescape(t.group(1)) if t else name
        svg = f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {name}"{rest}</svg>'
        out.append((name, title, svg))
    return out


def rasterise(svg: str) -> tuple[bytes, int, int]:
    """PNG bytes (at ZOOM × size, white background, palette) and the display width and height."""
    if _DEJAVU.is_dir():  # the fonts the report is drawn with; no dependence on what else is installed
        raw = resvg_py.svg_to_bytes(
            svg_string=svg,
            zoom=ZOOM,
            background="#ffffff",
            skip_system_fonts=True,
            font_dirs=[str(_DEJAVU)],
            font_family="DejaVu Sans",
            sans_serif_family="DejaVu Sans",
        )
    else:
        raw = resvg_py.svg_to_bytes(svg_string=svg, zoom=ZOOM, background="#ffffff")
    img = Image.open(io.BytesIO(bytes(raw))).convert("RGB")
    # Median cut without dithering is deterministic; optimize shrinks the palette to what is used.
    pal = img.quantize(colors=MAX_COLORS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    pal.save(buf, format="PNG", optimize=True)
    return buf.getvalue(), round(img.width / ZOOM), round(img.height / ZOOM)


def report_charts(report_html: str) -> list[ChartImage]:
    return [ChartImage(name, title, *rasterise(svg)) for name, title, svg in extract_svgs(report_html)]


__all__ = ["ChartImage", "extract_svgs", "rasterise", "report_charts"]
