"""Fleet-wide inline SVG charts, in the style of render/charts.py (whose helpers they use)."""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape

from memreport.analyze.wording import fmt_bytes
from memreport.render.charts import FONT, GRID, INK, MUTED, byte_unit, fmt_coord, nice_step, svg_text, text_width
from memreport.render.formatters import fit_name

# Narrower than the host report's charts (680): two fleet charts sit side by side on an A4
# landscape page, and at this width their 10-unit text still prints at about 8 pt.
W = 440

DEFICIT, SURPLUS = "#c0392b", "#1e8449"
# oVirt/RHV's memory overcommit levels per cluster (docs/FLEET.md): 100 %, 150 %, 200 % of RAM.
OVERCOMMIT_LEVELS = (1.0, 1.5, 2.0)
BIN = 0.25


def _svg(height: float, body: list[str], title: str, cls: str) -> Markup:
    head = (
        f'<svg class="chart {cls}" viewBox="0 0 {W} {fmt_coord(height)}" width="{W}" height="{fmt_coord(height)}" role="img" '
        f'aria-label="{escape(title)}" font-family="{FONT}"><title>{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")


def swap_deficit_chart(rows: list[dict[str, Any]], limit: int = 30) -> Markup | None:
    """Diverging bars: swap each host lacks (right, red) or has to spare (left, green), worst first."""
    known = [r for r in rows if r["swap_deficit_bytes"] is not None]
    if not known:
        return None
    known.sort(key=lambda r: (-r["swap_deficit_bytes"], r["host"]))
    shown = known[:limit]
    row_h, top, bottom, label_w = 16.0, 30.0, 40.0, 118.0
    left, right = label_w + 10, W - 16
    height = top + row_h * len(shown) + bottom
    pos = max([r["swap_deficit_bytes"] for r in shown] + [0])
    neg = max([-r["swap_deficit_bytes"] for r in shown] + [0])
    vmax = max(pos, neg, 1)
    scale, unit = byte_unit(vmax)
    step = nice_step((pos + neg) / scale if pos + neg else vmax / scale, 6)
    hi = math.ceil(pos / scale / step) * step if pos else 0.0
    lo = -math.ceil(neg / scale / step) * step if neg else 0.0
    if hi == lo:
        hi = step
    x = lambda v: left + (v / scale - lo) / (hi - lo) * (right - left)  # noqa: E731
    body: list[str] = []
    base = top + row_h * len(shown)
    v = lo
    while v <= hi + 1e-9:
        xx = x(v * scale)
        body.append(
            f'<line x1="{fmt_coord(xx)}" y1="{fmt_coord(top)}" x2="{fmt_coord(xx)}" y2="{fmt_coord(base)}" stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(svg_text(xx, base + 14, f"{round(v, 6):g}", 10, "middle", MUTED))
        v += step
    for i, r in enumerate(shown):
        y0 = top + i * row_h
        d = r["swap_deficit_bytes"]
        name = fit_name(r["host"], 20)  # what the label column holds
        body.append(svg_text(label_w, y0 + 12, name, 9.5, "end"))
        x0, x1 = sorted((x(0), x(d)))
        color = DEFICIT if d > 0 else SURPLUS
        body.append(
            f'<rect x="{fmt_coord(x0)}" y="{fmt_coord(y0 + 3)}" width="{fmt_coord(max(1.0, x1 - x0))}" height="{fmt_coord(row_h - 6)}" fill="{color}"/>'
        )
        if d > 0:
            label = fmt_bytes(d)
            lx = x1 + 4
            anchor = "start"
            if lx + text_width(label, 9) > right:
                lx, anchor, fill = x1 - 4, "end", "white"
            else:
                fill = INK
            body.append(svg_text(lx, y0 + 12, label, 9, anchor, fill))
    body.append(
        f'<line x1="{fmt_coord(x(0))}" y1="{fmt_coord(top - 4)}" x2="{fmt_coord(x(0))}" y2="{fmt_coord(base)}" stroke="{INK}" stroke-width="1.2"/>'
    )
    body.append(svg_text((left + right) / 2, height - 10, f"Swap deficit ({unit})", 10.5, "middle", MUTED))
    lx = left
    for label, color in (("deficit (add swap)", DEFICIT), ("surplus", SURPLUS)):
        body.append(f'<rect x="{fmt_coord(lx)}" y="8" width="14" height="10" fill="{color}"/>')
        body.append(svg_text(lx + 20, 17, label, 10.5))
        lx += 20 + text_width(label, 10.5) + 14
    if len(known) > limit:
        body.append(svg_text(right, 17, f"worst {limit} of {len(known)} hosts", 10, "end", MUTED))
    return _svg(height, body, "Swap deficit per host (swap to add to cover peak Inactive)", "chart-fleet-deficit")


def overcommit_chart(rows: list[dict[str, Any]]) -> Markup | None:
    """Histogram of VM allocation ÷ RAM across hosts, with the 100/150/200 % levels marked."""
    ratios = [float(r["overcommit_ratio"]) for r in rows if r["overcommit_ratio"] is not None]
    if not ratios:
        return None
    top_edge = max(2.5, math.ceil(min(max(ratios), 4.0) / BIN) * BIN)
    nbins = int(round(top_edge / BIN))
    counts = [0] * (nbins + 1)  # the last bin holds everything from top_edge up
    for v in ratios:
        counts[min(nbins, int(v / BIN))] += 1
    height, top, bottom, left, right = 250.0, 40.0, 46.0, 40.0, W - 12.0
    base = height - bottom
    cmax = max(counts)
    step = max(1, int(nice_step(cmax * 1.15, 5)))
    ymax = max(math.ceil(cmax * 1.15 / step) * step, cmax + 1)  # room above the tallest bar for its count
    y = lambda c: base - c / ymax * (base - top)  # noqa: E731
    bw = (right - left) / (nbins + 1)
    body: list[str] = []
    c = 0
    while c <= ymax:
        yy = y(c)
        body.append(
            f'<line x1="{fmt_coord(left)}" y1="{fmt_coord(yy)}" x2="{fmt_coord(right)}" y2="{fmt_coord(yy)}" stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(svg_text(left - 6, yy + 4, str(c), 10, "end", MUTED))
        c += step
    for i, n in enumerate(counts):
        lo_edge = i * BIN
        color = "#7fb3d5" if lo_edge < 1.0 else "#2471a3" if lo_edge < 1.5 else "#d68910" if lo_edge < 2.0 else DEFICIT
        x0 = left + i * bw
        if n:
            body.append(
                f'<rect x="{fmt_coord(x0 + 1.5)}" y="{fmt_coord(y(n))}" width="{fmt_coord(bw - 3)}" height="{fmt_coord(base - y(n))}" fill="{color}"/>'
            )
            body.append(svg_text(x0 + bw / 2, y(n) - 4, str(n), 9.5, "middle", INK))
        if i % 2 == 0 or i == nbins:
            label = f"{lo_edge:g}" if i < nbins else f"≥{lo_edge:g}"
            body.append(svg_text(x0, base + 14, label, 9.5, "middle", MUTED))
    for level in OVERCOMMIT_LEVELS:
        xx = left + level / BIN * bw
        body.append(
            f'<line x1="{fmt_coord(xx)}" y1="{fmt_coord(top - 6)}" x2="{fmt_coord(xx)}" y2="{fmt_coord(base)}" stroke="{MUTED}" stroke-width="1.2" stroke-dasharray="5 3"/>'
        )
        body.append(svg_text(xx, top - 10, f"{level * 100:.0f} %", 9.5, "middle", MUTED))
    body.append(
        f'<line x1="{fmt_coord(left)}" y1="{fmt_coord(base)}" x2="{fmt_coord(right)}" y2="{fmt_coord(base)}" stroke="{MUTED}" stroke-width="1"/>'
    )
    body.append(svg_text((left + right) / 2, height - 10, "VM allocation ÷ RAM, bins of 0.25×", 10.5, "middle", MUTED))
    body.append(svg_text(14, (top + base) / 2, "hosts", 10.5, "middle", MUTED, rotate=-90))
    return _svg(height, body, "Distribution of VM overcommit ratios across the fleet", "chart-fleet-overcommit")
