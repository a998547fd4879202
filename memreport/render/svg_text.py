"""A label in an SVG chart drawn as one run of text, not letter by letter.

weasyprint draws an SVG <text> one letter at a time: each letter gets its own Pango layout, its own
line-breaking pass and its own text object in the PDF, so that it can honour per-letter x, y, dx,
dy and rotate lists. The report's charts use none of that: a label is a plain string at one point.
Drawn so, the sample's 139 labels took 0.15 s of its PDF's 0.54 s of drawing (0.39 s drawn as one
run each), all of it on the critical path of `memreport report` (issue 12; docs/PERFORMANCE.md).

install() makes weasyprint draw such a label as HTML text is drawn: one layout for the string, one
run of glyphs, placed where the letters would have started. Anything else (several coordinates,
dx/dy/rotate/textLength/letter-spacing, child elements, textPath) goes to weasyprint's own code.
The letters land where they did, give or take the string's kerning, which the letter-by-letter
drawing left out (tests/test_svg_text.py compares every word's box in both PDFs); and a name is
shaped as a whole, as a browser shapes it: a combining accent sits on its letter and a Hebrew or
Arabic VM name reads in its order, where letter by letter they came apart and reversed.

It replaces a function inside weasyprint, so it is installed only for the weasyprint version it was
checked against (the lock file pins it); another version draws labels its own way.
"""

from __future__ import annotations

from math import inf
from typing import Any

CHECKED_VERSION = "70.0"
# Attributes that ask for more than one run of text at one point: weasyprint's own drawing.
_PER_LETTER = ("dx", "dy", "rotate", "textLength", "lengthAdjust", "letter-spacing")
_stock: Any = None  # weasyprint's own text(), while install()'s is in place


def _one_value(node: Any, name: str) -> bool:
    v = node.attrib.get(name)
    return v is None or len(v.replace(",", " ").split()) == 1


def _simple(node: Any) -> bool:
    """A label drawable as one run: one string at one point (or at the cursor), no children."""
    return (
        node.tag == "text"
        and bool(node.text)
        and next(iter(node), None) is None  # no tspan (draw_node lists the children anyway: cached)
        and not any(a in node.attrib for a in _PER_LETTER)
        and _one_value(node, "x")
        and _one_value(node, "y")
    )


def install() -> bool:
    """Route simple SVG labels through the one-run drawing; False when weasyprint is not the
    version this was checked against (then nothing is changed)."""
    global _stock
    import weasyprint
    import weasyprint.svg as svg_module

    if _stock is not None:
        return True
    if weasyprint.__version__ != CHECKED_VERSION:
        return False
    original = svg_module.TAGS["text"]
    from weasyprint.css.properties import INITIAL_VALUES
    from weasyprint.draw.text import draw_emojis, draw_first_line
    from weasyprint.matrix import Matrix
    from weasyprint.svg.bounding_box import extend_bounding_box
    from weasyprint.svg.text import Style, TextBox
    from weasyprint.svg.utils import normalize, size
    from weasyprint.text.line_break import split_first_line

    def text(svg: Any, node: Any, font_size: float) -> None:
        if not _simple(node):
            return original(svg, node, font_size)  # type: ignore[no-any-return]
        # The style exactly as weasyprint's text() builds it.
        style = Style()
        style.update(INITIAL_VALUES)
        style.font_config = svg.font_config
        style["font_family"] = [font.strip("\"'") for font in node.get("font-family", "sans-serif").split(",")]
        style["font_style"] = node.get("font-style", "normal")
        weight = node.get("font-weight", 400)
        if node.get("direction") in ("ltr", "rtl"):
            style["direction"] = node.get("direction")
        style["font_size"] = font_size
        try:
            style["font_weight"] = {"normal": 400, "bold": 700}.get(weight) or int(weight)
        except ValueError:
            style["font_weight"] = 400
        layout, _, resume_at, width, height, baseline = split_first_line(node.text, style, svg.context, inf, 0)
        if resume_at is not None:  # a forced line break (a preserved newline, U+2028): more than one run
            return original(svg, node, font_size)  # type: ignore[no-any-return]
        # The first letter's place, as weasyprint's letter loop computes it.
        if "x" in node.attrib:
            svg.cursor_d_position[0] = 0
            x = size(normalize(node.attrib["x"]).strip(), font_size, svg.inner_width)
        else:
            x = svg.cursor_position[0]
        if "y" in node.attrib:
            svg.cursor_d_position[1] = 0
            y = size(normalize(node.attrib["y"]).strip(), font_size, svg.inner_height)
        else:
            y = svg.cursor_position[1]
        ascent, descent = font_size * 0.8, font_size * 0.2  # weasyprint's own stand-ins
        y_align = 0.0
        display_anchor = node.get("display-anchor")
        alignment = node.get("dominant-baseline", node.get("alignment-baseline"))
        if display_anchor == "middle":
            y_align = -height / 2
        elif display_anchor == "top":
            pass
        elif display_anchor == "bottom":
            y_align = -height
        elif alignment in ("central", "middle"):
            y_align = (ascent + descent) / 2 - descent
        elif alignment in ("text-before-edge", "before_edge", "top", "hanging", "text-top"):
            y_align = ascent
        elif alignment in ("text-after-edge", "after_edge", "bottom", "text-bottom"):
            y_align = -descent
        x_position = x + svg.cursor_d_position[0]
        y_position = y + svg.cursor_d_position[1] + y_align
        svg.cursor_position = x + width, y
        node.text_bounding_box = extend_bounding_box(
            node.text_bounding_box, ((x_position, y_position - baseline), (x_position + width, y_position - baseline + height))
        )
        svg.stream.push_state()
        fill, stroke = svg.set_graphical_state(node, font_size)
        svg.stream.begin_text()
        layout.reactivate(style)
        svg.fill_stroke(fill, stroke, text=True)
        box = TextBox(layout, style)
        box.baseline = baseline
        emojis = draw_first_line(svg.stream, box, "none", "none", Matrix(a=1, d=-1, e=x_position, f=y_position))
        svg.stream.end_text()
        svg.stream.pop_state()
        draw_emojis(svg.stream, style, x, y, emojis)
        return None

    _route(svg_module, original, text)
    _stock = original
    return True


def uninstall() -> None:
    """weasyprint draws every label its own way again (tests compare both drawings)."""
    global _stock
    if _stock is None:
        return
    import weasyprint.svg as svg_module

    _route(svg_module, svg_module.TAGS["text"], _stock)
    _stock = None


def _route(svg_module: Any, old: Any, new: Any) -> None:
    # draw_node tells text elements by `TAGS.get(tag) == text`, the module's own name for the
    # function: the table's entries (text, tspan, textPath, a) and that name change together.
    for tag, fn in list(svg_module.TAGS.items()):
        if fn is old:
            svg_module.TAGS[tag] = new
    svg_module.text = new
