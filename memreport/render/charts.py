"""Deterministic inline SVG charts, written by hand (no JS, no plotting library).

Long series are reduced to at most two points (min and max) per 1.5 px column, and flat stretches to
their ends, so a week at 10 s (60 000 samples) draws as at most ~800 points per line and renders fast
in weasyprint and browsers.
Lines break at reboots (a new segment) and at gaps in the data; they never bridge them.
Every piece of text that can come from data (VM names) is XML-escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from memreport.analyze import Analysis
from memreport.analyze._util import column, rate_values, valid_intervals
from memreport.analyze.wording import fmt_bytes, fmt_rate, fmt_time
from memreport.model import HostData
from memreport.render.formatters import fit_name
from memreport.timebase import fmt_relative, is_relative

W = 680  # viewBox width: 1 unit = 1 CSS px; fits A4 portrait content width at 1:1
# Min and max per bucket of this many CSS px: lines are 1.1–1.8 px wide, so a narrower bucket adds
# nothing a reader can see, while every point costs weasyprint time (issue 12). Means (noisy CPU
# shares) are drawn at one point per 2 px, as before.
PX_PER_BUCKET, PX_PER_MEAN_BUCKET = 1.5, 2
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
INK, GRID, MUTED = "#1f2933", "#e4e7eb", "#616e7c"
COLORS = {
    "active": "#c0392b",
    "inactive": "#2471a3",
    "inactive_anon": "#7fb3d5",
    "free": "#27ae60",
    "swap_used": "#d68910",
    "swap_total": "#6c3483",
    "swapin": "#2471a3",
    "swapout": "#d35400",
    "threshold": "#7b8794",
    "window": "#f5b7b1",
    "ksm": "#1e8449",
    "ksmd": "#7d3c98",
    "allocated": "#d5dbe1",
    "rss": "#2e86c1",
    "swap": "#e67e22",
    "psi": "#a93226",
    "refault": "#5d6d7e",
}
_UNITS = [(1024**4, "TiB"), (1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"), (1, "B")]


def _f(v: float) -> str:
    """Coordinates with one decimal, no trailing zeros: small, deterministic SVG."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _text(
    x: float,
    y: float,
    s: str,
    size: float = 11,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
    rotate: float | None = None,
    cls: str = "",
) -> str:
    rot = f' transform="rotate({_f(rotate)} {_f(x)} {_f(y)})"' if rotate is not None else ""
    bold = ' font-weight="bold"' if weight != "normal" else ""
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text{klass} x="{_f(x)}" y="{_f(y)}" font-size="{_f(size)}" text-anchor="{anchor}" fill="{fill}"'
        f"{bold}{rot}>{escape(s)}</text>"
    )


def _svg(height: float, body: list[str], title: str, cls: str) -> Markup:
    head = (
        f'<svg class="chart {cls}" viewBox="0 0 {W} {_f(height)}" '
        f'width="{W}" height="{_f(height)}" role="img" aria-label="{escape(title)}" '
        f'font-family="{FONT}"><title>{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _strokes(segments: list[str], color: str, cls: str) -> str:
    """Straight 1 px strokes of one colour (grid lines, tick marks) as one path: drawn the same as
    one <line> each, at a fraction of weasyprint's cost per element."""
    return f'<path class="{cls}" d="{"".join(segments)}" fill="none" stroke="{color}" stroke-width="1"/>'


def _text_width(s: str, size: float = 11) -> float:
    return len(s) * size * 0.6


@dataclass
class _Axis:
    lo: float
    hi: float
    p0: float  # pixel for lo
    p1: float  # pixel for hi

    def __call__(self, v: float | np.ndarray) -> float | np.ndarray:
        span = self.hi - self.lo or 1.0
        return self.p0 + (v - self.lo) / span * (self.p1 - self.p0)


def nice_step(span: float, target: int = 5) -> float:
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


AXIS_MAX_OVER_DATA = 1.25  # an axis runs at most 25 % above the largest value it shows (issue 15)


def axis_top(top_val: float) -> tuple[float, float]:
    """(top, step) of a value axis from 0 for data whose largest value is `top_val` (> 0): a little
    room above the data, never more than AXIS_MAX_OVER_DATA of it; finer steps until one fits."""
    want = top_val * 1.03
    for target in (5, 6, 7, 8, 10, 12):
        step = nice_step(top_val, target)
        hi = math.ceil(want / step) * step
        if hi <= top_val * AXIS_MAX_OVER_DATA:
            return hi, step
    step = nice_step(top_val, 5)
    return top_val * 1.1, step


def _byte_unit(vmax: float) -> tuple[float, str]:
    for size, name in _UNITS:
        if vmax >= size:
            return float(size), name
    return 1.0, "B"


# Tick steps in ms, from a fifth of a second to four weeks: the first that gives at most max_ticks.
_TIME_STEPS_MS = [
    200,
    500,
    1000,
    2000,
    5000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    2 * 86_400_000,
    7 * 86_400_000,
    14 * 86_400_000,
    28 * 86_400_000,
]
_DAY_MS = 86_400_000


def _tick_label(t_ms: int, step_ms: int, with_date: bool) -> str:
    d = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    if is_relative(d):  # an input without clock times: offsets from its start (memreport/timebase.py)
        return fmt_relative(d, seconds=step_ms < 60_000)
    if step_ms >= _DAY_MS:
        return d.strftime("%d %b")
    clock = d.strftime("%H:%M:%S" if step_ms < 60_000 else "%H:%M")
    if step_ms < 1000:
        clock = d.strftime("%H:%M:%S.") + f"{d.microsecond // 100_000}"
    return f"{d.strftime('%d %b')} {clock}" if with_date else clock


def time_ticks(t0_ms: int, t1_ms: int, max_ticks: int = 8, min_ticks: int = 3) -> list[tuple[int, str]]:
    """Ticks for [t0, t1] in UTC, the step chosen for the span (seconds to weeks): at most max_ticks,
    at least min_ticks where the span allows it. The first tick and any tick where the date changes
    carry the date."""
    span = max(1, t1_ms - t0_ms)
    i = next((k for k, s in enumerate(_TIME_STEPS_MS) if span / s <= max_ticks), len(_TIME_STEPS_MS) - 1)

    def at(step: int) -> list[int]:
        first = -(-t0_ms // step) * step
        return list(range(first, t1_ms + 1, step))

    while i > 0 and len(at(_TIME_STEPS_MS[i])) < min_ticks:
        i -= 1
    step = _TIME_STEPS_MS[i]
    out: list[tuple[int, str]] = []
    last_day = None
    for t in at(step):
        day = t // _DAY_MS
        out.append((t, _tick_label(t, step, with_date=day != last_day)))
        last_day = day
    return out


# A gap in the data longer than this share of the whole period, and many sample intervals, is drawn as
# a break in the time axis: the data on both sides keeps the width (a sosreport's 38 s of sar history
# and its /proc snapshot 12 minutes later, issue 15).
BREAK_MIN_SHARE, BREAK_MIN_INTERVALS, BREAK_PX, LONE_PIECE_PX = 0.2, 10, 16, 48


class _TimeAxis:
    """Time (ms) → x px, piecewise linear: the stretches with data share the width in proportion to
    their length, and each long gap between them takes BREAK_PX. One per host, so that every time
    chart of a report has the same x geometry."""

    def __init__(self, ts_ms: np.ndarray, p0: float, p1: float) -> None:
        t = np.unique(ts_ms.astype(np.int64))
        if len(t) == 0:
            t = np.array([0], dtype=np.int64)
        self.lo, self.hi = int(t[0]), int(t[-1])
        self.p0, self.p1 = p0, p1
        span = max(1, self.hi - self.lo)
        dt = np.diff(t)
        med = float(np.median(dt)) if len(dt) else 0.0
        cut = (
            np.flatnonzero((dt > BREAK_MIN_SHARE * span) & (dt > BREAK_MIN_INTERVALS * max(med, 1.0)))
            if len(dt)
            else np.array([], dtype=np.int64)
        )
        starts = np.concatenate(([0], cut + 1))
        ends = np.concatenate((cut, [len(t) - 1]))
        self.pieces = [(int(t[a]), int(t[b])) for a, b in zip(starts, ends)]
        width = (p1 - p0) - BREAK_PX * (len(self.pieces) - 1)
        lone = [b == a for a, b in self.pieces]
        long_ms = sum(b - a for a, b in self.pieces) or 1
        flex = width - LONE_PIECE_PX * sum(lone) if len(self.pieces) > 1 else width
        xs: list[float] = []
        ps: list[float] = []
        self.piece_px: list[tuple[float, float]] = []
        x = p0
        for (a, b), one in zip(self.pieces, lone):
            w = LONE_PIECE_PX if one and len(self.pieces) > 1 else flex * (b - a) / long_ms
            if one:  # a lone point sits in the middle of its stretch
                xs += [a - 0.5, a + 0.5]
                ps += [x + w / 2 - 0.01, x + w / 2 + 0.01]
            else:
                xs += [a, b]
                ps += [x, x + w]
            self.piece_px.append((x, x + w))
            x += w + BREAK_PX
        if len(self.pieces) == 1 and lone[0]:  # one point in all: the middle of the plot
            xs, ps = [self.lo - 0.5, self.lo + 0.5], [(p0 + p1) / 2 - 0.01, (p0 + p1) / 2 + 0.01]
        self._xs, self._ps = np.asarray(xs, dtype=float), np.asarray(ps, dtype=float)

    def __call__(self, v: float | np.ndarray) -> float | np.ndarray:
        return np.interp(v, self._xs, self._ps)

    @property
    def breaks(self) -> list[float]:
        """x of the middle of each break."""
        return [(self.piece_px[i][1] + self.piece_px[i + 1][0]) / 2 for i in range(len(self.pieces) - 1)]

    def ticks(self, px_per_tick: float = 80) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        for (a, b), (x0, x1) in zip(self.pieces, self.piece_px):
            if b == a:
                out.append((a, _tick_label(a, 1000, with_date=True)))
                continue
            n = max(1, int((x1 - x0) // px_per_tick))
            out += time_ticks(a, b, max_ticks=n, min_ticks=min(3, n + 1) if len(self.pieces) > 1 else 3)
        return out


# Every time chart has this plot area, whether it has a right-hand axis or not, so that charts stacked
# on one time axis (swap rates over pressure) put the same time at the same x (issue 15).
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP = 62.0, W - 58.0, 34.0


def time_axis_for(data: HostData) -> _TimeAxis:
    """The host's one time axis: every time chart of its report uses it."""
    return _TimeAxis(_ts_ms(data.samples), PLOT_LEFT, PLOT_RIGHT)


class _Frame:
    """A time-series chart: plot area, time axis (UTC) and one or two value axes."""

    def __init__(self, x: _TimeAxis, height: float = 250) -> None:
        self.height = height
        self.left, self.right = PLOT_LEFT, PLOT_RIGHT
        self.top, self.bottom = PLOT_TOP, height - 42
        self.x = x
        self.body: list[str] = []
        self.legend_x = self.left

    @property
    def width_px(self) -> int:
        return int(self.right - self.left)

    def y_axis(self, vmax: float, unit_name: str, scale: float, side: str = "left", fmt: str = "{:g}") -> _Axis:
        """A value axis from 0 to just above vmax (the largest value drawn; axis_top bounds the room)."""
        top_val = vmax / scale
        hi, step = axis_top(top_val) if top_val > 0 and math.isfinite(top_val) else (1.0, 0.25)
        ax = _Axis(0.0, hi * scale, self.bottom, self.top)
        v = 0.0
        grid: list[str] = []
        while v <= hi + 1e-9:
            y = float(ax(v * scale))
            label = fmt.format(round(v, 6))
            if side == "left":
                grid.append(f"M{_f(self.left)} {_f(y)}H{_f(self.right)}")
                self.body.append(_text(self.left - 6, y + 4, label, 10, "end", MUTED, cls="ytick"))
            else:
                self.body.append(_text(self.right + 6, y + 4, label, 10, "start", MUTED, cls="ytick2"))
            v += step
        if grid:  # one path of all grid lines: each SVG element costs weasyprint time (issue 12)
            self.body.insert(len(self.body) - len(grid), _strokes(grid, GRID, "grid"))
        self.body.append(f'<desc class="y-axis" data-side="{side}" data-max="{hi * scale!r}"></desc>')
        mid = (self.top + self.bottom) / 2
        if side == "left":
            self.body.append(_text(14, mid, unit_name, 10.5, "middle", MUTED, rotate=-90))
        else:
            self.body.append(_text(W - 8, mid, unit_name, 10.5, "middle", MUTED, rotate=-90))
        return ax

    def time_axis(self) -> None:
        b = self.bottom
        for x0, x1 in self.x.piece_px:
            self.body.append(
                f'<line class="x-axis" x1="{_f(x0)}" y1="{_f(b)}" x2="{_f(x1)}" y2="{_f(b)}" stroke="{MUTED}" stroke-width="1"/>'
            )
        for xb in self.x.breaks:  # a break: two slanted strokes across the axis and a thin band
            self.body.append(
                f'<rect class="x-break" x="{_f(xb - 3)}" y="{_f(self.top)}" width="6" height="{_f(b - self.top)}" fill="{GRID}" fill-opacity="0.6"/>'
            )
            for dx in (-3, 3):
                self.body.append(
                    f'<line x1="{_f(xb + dx - 2)}" y1="{_f(b + 4)}" x2="{_f(xb + dx + 2)}" y2="{_f(b - 4)}" stroke="{MUTED}" stroke-width="1.2"/>'
                )
        last_end = -1e9
        marks: list[str] = []
        for t, label in self.x.ticks():
            x = float(self.x(t))
            half = _text_width(label, 10) / 2
            if x - half < last_end + 4:  # labels never overlap: a crowded one is left out, its tick stays
                marks.append(f"M{_f(x)} {_f(b)}V{_f(b + 3)}")
                continue
            marks.append(f"M{_f(x)} {_f(b)}V{_f(b + 4)}")
            self.body.append(_text(x, b + 16, label, 10, "middle", MUTED, cls="xtick"))
            last_end = x + half
        if marks:
            self.body.append(_strokes(marks, MUTED, "x-ticks"))
        relative = is_relative(datetime.fromtimestamp(self.x.lo / 1000, tz=UTC))
        title = "Time since the start (the input has no clock times)" if relative else "Time (UTC)"
        if self.x.breaks:
            title += "; a break marks a gap without data"
        self.body.append(_text((self.left + self.right) / 2, self.height - 8, title, 10.5, "middle", MUTED))

    def legend(self, label: str, color: str, dashed: bool = False, box: bool = False) -> None:
        x, y = self.legend_x, 14
        if box:
            self.body.append(f'<rect x="{_f(x)}" y="{_f(y - 8)}" width="14" height="10" fill="{color}"/>')
        else:
            dash = ' stroke-dasharray="5 3"' if dashed else ""
            self.body.append(
                f'<line x1="{_f(x)}" y1="{_f(y - 3)}" x2="{_f(x + 16)}" y2="{_f(y - 3)}" stroke="{color}" stroke-width="2.2"{dash}/>'
            )
        self.body.append(_text(x + 20, y + 1, label, 10.5))
        self.legend_x += 20 + _text_width(label, 10.5) + 14

    def series(
        self, ts_ms: np.ndarray, seg: np.ndarray, values: np.ndarray, y: _Axis, color: str, width: float = 1.4, mean: bool = False
    ) -> None:
        px = PX_PER_MEAN_BUCKET if mean else PX_PER_BUCKET
        d = line_path(ts_ms, seg, values, self.x, y, int(self.width_px / px), mean=mean)
        if d:
            self.body.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{_f(width)}" stroke-linejoin="round"/>')
        lt, lv = lone_points(ts_ms, seg, values)
        for t, v in zip(lt.tolist(), lv.tolist()):  # a point alone is a marker, not an invisible move-to
            self.body.append(
                f'<circle class="lone" cx="{_f(float(self.x(t)))}" cy="{_f(float(y(v)))}" r="{_f(max(2.2, width + 1))}" fill="{color}"/>'
            )

    def hline(self, value: float, y: _Axis, color: str, dashed: bool = True) -> None:
        yy = float(y(value))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        self.body.append(
            f'<line x1="{_f(self.left)}" y1="{_f(yy)}" x2="{_f(self.right)}" y2="{_f(yy)}" stroke="{color}" stroke-width="1.6"{dash}/>'
        )

    def band(self, start_ms: int, end_ms: int, color: str) -> None:
        x0, x1 = float(self.x(start_ms)), float(self.x(end_ms))
        w = max(2.0, x1 - x0)  # a 5-minute window in a week is still visible
        self.body.append(
            f'<rect x="{_f(x0)}" y="{_f(self.top)}" width="{_f(w)}" height="{_f(self.bottom - self.top)}" fill="{color}" fill-opacity="0.7"/>'
        )

    def marker(self, t_ms: int, value: float, y: _Axis, label: str, color: str) -> None:
        cx, cy = float(self.x(t_ms)), float(y(value))
        self.body.append(f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="4" fill="white" stroke="{color}" stroke-width="2"/>')
        wtxt = _text_width(label, 10)
        anchor, tx = ("end", cx - 7) if cx + 7 + wtxt > self.right else ("start", cx + 7)
        if anchor == "end" and tx - wtxt < self.left:
            anchor, tx = "start", cx + 7
        ty = cy - 8 if cy - 8 > self.top + 10 else cy + 16
        bx = tx - wtxt if anchor == "end" else tx
        self.body.append(
            f'<rect x="{_f(bx - 2)}" y="{_f(ty - 10)}" width="{_f(wtxt + 4)}" height="13" fill="white" fill-opacity="0.85"/>'
        )
        self.body.append(
            f'<text x="{_f(tx)}" y="{_f(ty)}" font-size="10" text-anchor="{anchor}" fill="{color}" font-weight="bold">{escape(label)}</text>'
        )

    def svg(self, title: str, cls: str) -> Markup:
        return _svg(self.height, self.body, title, cls)


def _run_starts(ts_ms: np.ndarray, seg: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The valid points (times, values) and where a new run starts: at a segment change, after a NaN
    hole or after a time gap > 3 × the median step."""
    ok = ~np.isnan(values)
    t, v, s = ts_ms[ok], values[ok], seg[ok]
    idx_all = np.flatnonzero(ok)
    dt = np.diff(t)
    med = float(np.median(dt)) if len(dt) else 0.0
    brk = np.zeros(len(t), dtype=bool)
    if len(t):
        brk[0] = True
    if len(t) > 1:
        brk[1:] = (s[1:] != s[:-1]) | (np.diff(idx_all) > 1) | (dt > max(3 * med, 1.0))
    return t, v, brk


def lone_points(ts_ms: np.ndarray, seg: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points that are a run of their own (a line cannot show them): times and values."""
    t, v, brk = _run_starts(ts_ms, seg, values)
    if not len(t):
        return t, v
    alone = brk & np.concatenate((brk[1:], [True]))
    return t[alone], v[alone]


def line_path(
    ts_ms: np.ndarray, seg: np.ndarray, values: np.ndarray, x: _Axis | _TimeAxis, y: _Axis, buckets: int, mean: bool = False
) -> str:
    """SVG path data for one series: min/max per pixel column (or the mean, for noisy series such as
    CPU shares), broken at NaN, segments and gaps."""
    ok = ~np.isnan(values)
    if not ok.any():
        return ""
    t, v, brk = _run_starts(ts_ms, seg, values)
    run = np.cumsum(brk)
    # buckets by pixel column, not by time: the time axis can be broken (_TimeAxis)
    width = max(1.0, float(x.p1 - x.p0))
    bucket = np.clip(((np.asarray(x(t), dtype=float) - x.p0) / width * buckets).astype(np.int64), 0, buckets)
    key = run * (buckets + 2) + bucket
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    vmin = np.minimum.reduceat(v, starts)
    vmax = np.maximum.reduceat(v, starts)
    first = v[starts]
    ends = np.concatenate((starts[1:], [len(v)])) - 1
    lastv = v[ends]
    tmid = (t[starts] + t[ends]) / 2.0
    xs = np.asarray(x(tmid), dtype=float)
    single = starts == ends
    if mean:
        counts = (ends - starts + 1).astype(float)
        avg = np.add.reduceat(v, starts) / counts
        vmin = vmax = first = lastv = avg
        single = np.ones(len(starts), dtype=bool)
    rising = lastv >= first
    y_a = np.where(single, vmin if mean else v[starts], np.where(rising, vmin, vmax))
    y_b = np.where(single, np.nan, np.where(rising, vmax, vmin))
    ya = np.asarray(y(y_a), dtype=float)
    yb = np.asarray(y(np.nan_to_num(y_b)), dtype=float)
    # Two slots per bucket (its first and second point), then only the points a reader can see: the
    # second when it differs, no repeat of the point before, no interior point of a flat stretch.
    n = len(starts)
    px, py, prun = np.repeat(xs, 2), np.empty(2 * n), np.repeat(run[starts], 2)
    py[0::2], py[1::2] = ya, yb
    keep = np.ones(2 * n, dtype=bool)
    keep[1::2] = ~single & (y_b != y_a)
    px, py, prun = np.round(px[keep], 1), np.round(py[keep], 1), prun[keep]
    first_of_run = np.concatenate(([True], prun[1:] != prun[:-1]))
    last_of_run = np.concatenate((first_of_run[1:], [True]))
    same = np.concatenate(([False], (px[1:] == px[:-1]) & (py[1:] == py[:-1])))
    keep = first_of_run | ~same
    px, py, first_of_run, last_of_run = px[keep], py[keep], first_of_run[keep], last_of_run[keep]
    flat = np.zeros(len(py), dtype=bool)
    flat[1:-1] = (py[1:-1] == py[:-2]) & (py[1:-1] == py[2:])
    keep = first_of_run | last_of_run | ~flat
    px, py, first_of_run = px[keep], py[keep], first_of_run[keep]
    return " ".join(f"{'M' if m else 'L'}{_f(a)} {_f(b)}" for m, a, b in zip(first_of_run.tolist(), px.tolist(), py.tolist()))


def _ts_ms(df: pd.DataFrame) -> np.ndarray:
    return df["ts"].astype("datetime64[ms, UTC]").dt.tz_localize(None).to_numpy().astype("datetime64[ms]").astype(np.int64)


def _seg(df: pd.DataFrame) -> np.ndarray:
    return df["segment"].to_numpy(dtype=np.int64) if "segment" in df.columns else np.zeros(len(df), dtype=np.int64)


def _arr(s: pd.Series | None) -> np.ndarray | None:
    return None if s is None else s.to_numpy(dtype="float64", na_value=np.nan)


def _drawable(df: pd.DataFrame) -> bool:
    """A time chart needs two moments in time: one snapshot is a table row, not a chart."""
    return len(df) > 1 and int(_ts_ms(df)[-1]) > int(_ts_ms(df)[0])


def _nanmax(arrays: list[np.ndarray | None]) -> float:
    vals = [float(np.nanmax(arr)) for arr in arrays if arr is not None and not np.isnan(arr).all()]
    return max(vals) if vals else 0.0


def memory_chart(data: HostData, a: Analysis, x: _TimeAxis | None = None) -> Markup | None:
    df = data.samples
    if not _drawable(df) or column(df, "mem_Inactive") is None and column(df, "mem_Active") is None:
        return None
    ts, seg = _ts_ms(df), _seg(df)
    lines: list[tuple[str, str, np.ndarray]] = []
    for key, label, col in (
        ("active", "Active", "mem_Active"),
        ("inactive", "Inactive", "mem_Inactive"),
        ("inactive_anon", "Inactive(anon)", "mem_Inactive_anon"),
        ("free", "MemFree", "mem_MemFree"),
    ):
        arr = _arr(column(df, col))
        if arr is not None:
            lines.append((key, label, arr))
    st, sf = column(df, "mem_SwapTotal"), column(df, "mem_SwapFree")
    if st is not None and sf is not None:
        lines.append(("swap_used", "Swap used", _arr(st - sf)))  # type: ignore[arg-type]
    swap_total = a.swap.swap_total_bytes
    vmax = max(_nanmax([arr for _, _, arr in lines]), float(swap_total or 0))
    scale, unit = _byte_unit(vmax)
    fr = _Frame(x or time_axis_for(data), height=270)
    y = fr.y_axis(vmax, unit, scale)
    for key, label, arr in lines:
        fr.series(ts, seg, arr, y, COLORS[key])
        fr.legend(label, COLORS[key])
    if swap_total is not None:
        fr.hline(swap_total, y, COLORS["swap_total"])
        fr.legend("SwapTotal", COLORS["swap_total"], dashed=True)
    fr.time_axis()
    if a.swap.peak_inactive_bytes is not None and a.swap.peak_inactive_at is not None:
        pt = int(pd.Timestamp(a.swap.peak_inactive_at).value // 10**6)
        fr.marker(pt, a.swap.peak_inactive_bytes, y, f"peak Inactive {fmt_bytes(a.swap.peak_inactive_bytes)}", COLORS["inactive"])
    return fr.svg("Memory over time: Active, Inactive, Inactive(anon), MemFree and swap used, with SwapTotal", "chart-memory")


def swap_rate_chart(data: HostData, a: Analysis, x: _TimeAxis | None = None) -> Markup | None:
    df = data.samples
    if not a.thrash.available or not _drawable(df):
        return None
    ts, seg = _ts_ms(df), _seg(df)
    mask = valid_intervals(df, a.thresholds.thrash_max_interval_s)
    sin = rate_values(df, "swapin_Bps", mask)
    sout = rate_values(df, "swapout_Bps", mask)
    if _nanmax([sin, sout]) <= 0 and not a.thrash.windows:
        return None  # no swap traffic at all: chart_notes says so in a sentence
    vmax = max(_nanmax([sin, sout]), a.thresholds.thrash_rate_bytes_per_s)
    scale, unit = _byte_unit(vmax)
    fr = _Frame(x or time_axis_for(data), height=250)
    y = fr.y_axis(vmax, f"{unit}/s", scale)
    for w in a.thrash.windows:
        fr.band(int(w.start.value // 10**6), int(w.end.value // 10**6), COLORS["window"])
    if sin is not None:
        fr.series(ts, seg, sin, y, COLORS["swapin"])
        fr.legend("swap-in", COLORS["swapin"])
    if sout is not None:
        fr.series(ts, seg, sout, y, COLORS["swapout"])
        fr.legend("swap-out", COLORS["swapout"])
    fr.hline(a.thresholds.thrash_rate_bytes_per_s, y, COLORS["threshold"])
    fr.legend(f"threshold (in + out) {fmt_rate(a.thresholds.thrash_rate_bytes_per_s)}", COLORS["threshold"], dashed=True)
    if a.thrash.windows:
        fr.legend("thrash window", COLORS["window"], box=True)
    fr.time_axis()
    return fr.svg("Swap-in and swap-out rates with thrash windows shaded", "chart-swap-rates")


def pressure_chart(data: HostData, a: Analysis, x: _TimeAxis | None = None) -> Markup | None:
    """What the swap traffic did to the workload: PSI memory `full` (share of time every task
    stalled on memory) and workingset refaults, with the thrash windows shaded. None when the
    data has neither (sar, vmstat, kernels before 4.20 without refault counters)."""
    df = data.samples
    if not a.thrash.available or not _drawable(df):
        return None
    mask = valid_intervals(df, a.thresholds.thrash_max_interval_s)
    psi = rate_values(df, "psi_full_share", mask)
    ref = rate_values(df, "refault_per_s", mask)
    has_psi = psi is not None and not np.isnan(psi).all()
    has_ref = ref is not None and not np.isnan(ref).all()
    if not (has_psi or has_ref) or _nanmax([psi, ref]) <= 0:
        return None  # none, or 0 throughout: chart_notes says so in a sentence
    ts, seg = _ts_ms(df), _seg(df)
    fr = _Frame(x or time_axis_for(data), height=220)
    for w in a.thrash.windows:
        fr.band(int(w.start.value // 10**6), int(w.end.value // 10**6), COLORS["window"])
    if has_psi:
        assert psi is not None
        pct = np.clip(psi * 100, 0, 100)
        pmax = float(np.nanmax(pct))
        y = fr.y_axis(min(100.0, pmax) if pmax > 0 else 1.0, "PSI full (% of time)", 1.0)
        fr.series(ts, seg, pct, y, COLORS["psi"])
        fr.legend("PSI memory full", COLORS["psi"])
    if has_ref:
        assert ref is not None
        rmax = float(np.nanmax(ref))
        y2 = fr.y_axis(rmax if rmax > 0 else 1.0, "refaults/s", 1.0, side="right" if has_psi else "left")
        fr.series(ts, seg, ref, y2, COLORS["refault"], width=1.1)
        fr.legend("workingset refaults/s" + (" (right axis)" if has_psi else ""), COLORS["refault"])
    if a.thrash.windows:
        fr.legend("thrash window", COLORS["window"], box=True)
    fr.time_axis()
    return fr.svg("Memory pressure: PSI full and workingset refaults, thrash windows shaded", "chart-pressure")


def ksm_chart(data: HostData, a: Analysis, x: _TimeAxis | None = None) -> Markup | None:
    df = data.samples
    saved = _arr(column(df, "ksm_pages_sharing_bytes"))
    if saved is None or not _drawable(df) or _nanmax([saved]) <= 0:
        return None  # KSM off or never merged: chart_notes says so in a sentence
    ts, seg = _ts_ms(df), _seg(df)
    cpu = None
    if a.ksm.ksmd_cpu_percent is not None:
        c = rate_values(df, "ksmd_cpu_share", valid_intervals(df, a.thresholds.thrash_max_interval_s))
        cpu = None if c is None else c * 100
    vmax = _nanmax([saved])
    scale, unit = _byte_unit(vmax)
    fr = _Frame(x or time_axis_for(data), height=240)
    y = fr.y_axis(vmax, f"saved ({unit})", scale)
    fr.series(ts, seg, saved, y, COLORS["ksm"], width=1.8)
    fr.legend("KSM saved (pages_sharing)", COLORS["ksm"])
    if cpu is not None and not np.isnan(cpu).all():
        cmax = float(np.nanmax(cpu))
        y2 = fr.y_axis(cmax if cmax > 0 else 1.0, "ksmd CPU (% of one CPU)", 1.0, side="right")
        fr.series(ts, seg, cpu, y2, COLORS["ksmd"], width=1.2, mean=True)
        fr.legend("ksmd CPU (right axis)", COLORS["ksmd"])
    fr.time_axis()
    return fr.svg("KSM memory saved and ksmd CPU over time", "chart-ksm")


def vm_chart(a: Analysis, limit: int = 30) -> Markup | None:
    rows = [v for v in a.vms.rows if v.allocated_bytes is not None or v.rss_max_bytes is not None][:limit]
    if not rows:
        return None
    row_h, top, bottom, left, right = 20.0, 34.0, 40.0, 170.0, W - 20.0
    height = top + row_h * len(rows) + bottom
    # the bars drawn (allocated, resident, swapped); a hotplug maximum is in the table, not a bar
    vmax = max(max(v.allocated_bytes or 0, v.rss_max_bytes or 0, v.swap_max_bytes or 0) for v in rows) or 1
    scale, unit = _byte_unit(vmax)
    hi, step = axis_top(vmax / scale)
    x = _Axis(0.0, hi * scale, left, right)
    body: list[str] = []
    v = 0.0
    base = top + row_h * len(rows)
    grid: list[str] = []
    while v <= hi + 1e-9:
        xx = float(x(v * scale))
        grid.append(f"M{_f(xx)} {_f(top)}V{_f(base)}")
        body.append(_text(xx, base + 15, f"{round(v, 6):g}", 10, "middle", MUTED, cls="vtick"))
        v += step
    body.insert(0, _strokes(grid, GRID, "grid"))
    body.append(f'<desc class="v-axis" data-max="{hi * scale!r}"></desc>')
    body.append(_text((left + right) / 2, height - 8, f"Memory per VM ({unit})", 10.5, "middle", MUTED))
    for i, vm in enumerate(rows):
        y0 = top + i * row_h
        name = fit_name(vm.name, 26)  # what the label column holds
        body.append(_text(left - 6, y0 + 13, name, 10, "end"))
        if vm.allocated_bytes:
            body.append(
                f'<rect x="{_f(left)}" y="{_f(y0 + 2)}" width="{_f(float(x(vm.allocated_bytes)) - left)}" height="15" fill="{COLORS["allocated"]}"/>'
            )
        if vm.rss_max_bytes:
            body.append(
                f'<rect x="{_f(left)}" y="{_f(y0 + 5)}" width="{_f(max(1.0, float(x(vm.rss_max_bytes)) - left))}" height="9" fill="{COLORS["rss"]}"/>'
            )
        if vm.swap_max_bytes:
            body.append(
                f'<rect x="{_f(left)}" y="{_f(y0 + 14)}" width="{_f(max(1.0, float(x(vm.swap_max_bytes)) - left))}" height="3" fill="{COLORS["swap"]}"/>'
            )
    body.append(f'<line x1="{_f(left)}" y1="{_f(top)}" x2="{_f(left)}" y2="{_f(base)}" stroke="{MUTED}" stroke-width="1"/>')
    lx = left
    for label, color in (
        ("allocated", COLORS["allocated"]),
        ("resident (peak RSS)", COLORS["rss"]),
        ("swapped (peak VmSwap)", COLORS["swap"]),
    ):
        body.append(f'<rect x="{_f(lx)}" y="6" width="14" height="10" fill="{color}"/>')
        body.append(_text(lx + 20, 15, label, 10.5))
        lx += 20 + _text_width(label, 10.5) + 14
    return _svg(height, body, "Per-VM memory: allocated vs resident vs swapped", "chart-vms")


def all_charts(data: HostData, a: Analysis) -> dict[str, Markup | None]:
    x = time_axis_for(data)  # one time axis: every time chart has the same x geometry
    return {
        "memory": memory_chart(data, a, x),
        "swap_rates": swap_rate_chart(data, a, x),
        "pressure": pressure_chart(data, a, x),
        "ksm": ksm_chart(data, a, x),
        "vms": vm_chart(a),
    }


def chart_notes(data: HostData, a: Analysis, charts: dict[str, Markup | None]) -> dict[str, str]:
    """One sentence for each chart that has nothing to show, in place of an empty plot (issue 15).
    A chart whose whole section is missing (the section's "not in the data" list says why) has none."""
    df = data.samples
    notes: dict[str, str] = {}
    one = not _drawable(df)
    when = fmt_time(df["ts"].iloc[0]) if len(df) else "–"
    if one:
        notes["memory"] = f"One sample ({when}): its values are in the table below; a chart needs samples at two times or more."
    if charts.get("swap_rates") is None and a.thrash.available and not one:
        notes["swap_rates"] = "No chart: there was no swap traffic in any interval (swap-in and swap-out were 0 throughout)."
    psi, ref = column(df, "psi_full_share"), column(df, "refault_per_s")
    if charts.get("pressure") is None and a.thrash.available and not one and (psi is not None or ref is not None):
        notes["pressure"] = (
            "No pressure chart: PSI memory full and workingset refaults stayed 0 in every interval (no task waited for memory)."
        )
    if charts.get("ksm") is None and a.ksm.collected:
        if one:
            notes["ksm"] = f"One sample ({when}): the figures are in the table below; a chart needs samples at two times or more."
        else:
            notes["ksm"] = "No chart: KSM merged no pages over the period (pages_sharing stayed 0)."
    return notes


# The drawing helpers the fleet's charts share (memreport/fleet/charts.py), by public names. Aliases
# rather than a rename, to keep this change small while render/ is edited elsewhere (issue 13).
byte_unit = _byte_unit  # (largest value in bytes) -> (divisor, unit label) for an axis
fmt_coord = _f  # an SVG coordinate, short
svg_text = _text  # one escaped <text> element
text_width = _text_width  # the estimated width of a text at a font size, in px

__all__ = [
    "byte_unit",
    "fmt_coord",
    "svg_text",
    "text_width",
    "all_charts",
    "chart_notes",
    "time_axis_for",
    "axis_top",
    "memory_chart",
    "swap_rate_chart",
    "pressure_chart",
    "ksm_chart",
    "vm_chart",
    "time_ticks",
    "nice_step",
    "line_path",
]
