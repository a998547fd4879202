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
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from memreport.analyze import Analysis
from memreport.analyze._util import column, rate_values, valid_intervals
from memreport.analyze.wording import fmt_bytes, fmt_rate
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


def _text(x: float, y: float, s: str, size: float = 11, anchor: str = "start", fill: str = INK,
          weight: str = "normal", rotate: float | None = None) -> str:
    rot = f' transform="rotate({_f(rotate)} {_f(x)} {_f(y)})"' if rotate is not None else ""
    bold = ' font-weight="bold"' if weight != "normal" else ""
    return (f'<text x="{_f(x)}" y="{_f(y)}" font-size="{_f(size)}" text-anchor="{anchor}" fill="{fill}"'
            f'{bold}{rot}>{escape(s)}</text>')


def _svg(height: float, body: list[str], title: str, cls: str) -> Markup:
    head = (f'<svg class="chart {cls}" viewBox="0 0 {W} {_f(height)}" '
            f'width="{W}" height="{_f(height)}" role="img" aria-label="{escape(title)}" '
            f'font-family="{FONT}"><title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


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


def _byte_unit(vmax: float) -> tuple[float, str]:
    for size, name in _UNITS:
        if vmax >= size:
            return float(size), name
    return 1.0, "B"


_TIME_STEPS = [60, 300, 600, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400]


def time_ticks(t0_ms: int, t1_ms: int, max_ticks: int = 8) -> list[tuple[int, str]]:
    span = max(1, (t1_ms - t0_ms) // 1000)
    step = next((s for s in _TIME_STEPS if span / s <= max_ticks), _TIME_STEPS[-1])
    first = math.ceil(t0_ms / 1000 / step) * step
    out = []
    t = first
    relative = is_relative(datetime.fromtimestamp(t0_ms / 1000, tz=timezone.utc))
    while t * 1000 <= t1_ms:
        d = datetime.fromtimestamp(t, tz=timezone.utc)
        if relative:  # an input without clock times: offsets from its start (memreport/timebase.py)
            label = fmt_relative(d, seconds=False)
        elif step >= 86400 or (d.hour == 0 and d.minute == 0):
            label = d.strftime("%d %b")
        else:
            label = d.strftime("%H:%M")
        out.append((t * 1000, label))
        t += step
    return out


class _Frame:
    """A time-series chart: plot area, time axis (UTC) and one or two value axes."""

    def __init__(self, t0_ms: int, t1_ms: int, height: float = 250, right_axis: bool = False, left: float = 62) -> None:
        self.height = height
        self.left, self.right = left, (W - 58 if right_axis else W - 16)
        self.top, self.bottom = 34, height - 42
        if t1_ms <= t0_ms:
            t1_ms = t0_ms + 1000
        self.t0, self.t1 = t0_ms, t1_ms
        self.x = _Axis(t0_ms, t1_ms, self.left, self.right)
        self.body: list[str] = []
        self.legend_x = self.left

    @property
    def width_px(self) -> int:
        return int(self.right - self.left)

    def y_axis(self, vmax: float, unit_name: str, scale: float, side: str = "left", fmt: str = "{:g}") -> _Axis:
        top_val = vmax / scale if vmax > 0 else 1.0
        step = nice_step(top_val)
        hi = math.ceil(top_val / step * 1.0001) * step if top_val > 0 else step
        hi = max(hi, step)
        ax = _Axis(0.0, hi * scale, self.bottom, self.top)
        v = 0.0
        while v <= hi + 1e-9:
            y = float(ax(v * scale))
            label = fmt.format(round(v, 6))
            if side == "left":
                self.body.append(f'<line x1="{_f(self.left)}" y1="{_f(y)}" x2="{_f(self.right)}" y2="{_f(y)}" stroke="{GRID}" stroke-width="1"/>')
                self.body.append(_text(self.left - 6, y + 4, label, 10, "end", MUTED))
            else:
                self.body.append(_text(self.right + 6, y + 4, label, 10, "start", MUTED))
            v += step
        mid = (self.top + self.bottom) / 2
        if side == "left":
            self.body.append(_text(14, mid, unit_name, 10.5, "middle", MUTED, rotate=-90))
        else:
            self.body.append(_text(W - 8, mid, unit_name, 10.5, "middle", MUTED, rotate=-90))
        return ax

    def time_axis(self) -> None:
        b = self.bottom
        self.body.append(f'<line x1="{_f(self.left)}" y1="{_f(b)}" x2="{_f(self.right)}" y2="{_f(b)}" stroke="{MUTED}" stroke-width="1"/>')
        for t, label in time_ticks(self.t0, self.t1, max_ticks=max(3, self.width_px // 75)):
            x = float(self.x(t))
            self.body.append(f'<line x1="{_f(x)}" y1="{_f(b)}" x2="{_f(x)}" y2="{_f(b + 4)}" stroke="{MUTED}" stroke-width="1"/>')
            self.body.append(_text(x, b + 16, label, 10, "middle", MUTED))
        relative = is_relative(datetime.fromtimestamp(self.t0 / 1000, tz=timezone.utc))
        title = "Time since the start (hh:mm; the input has no clock times)" if relative else "Time (UTC)"
        self.body.append(_text((self.left + self.right) / 2, self.height - 8, title, 10.5, "middle", MUTED))

    def legend(self, label: str, color: str, dashed: bool = False, box: bool = False) -> None:
        x, y = self.legend_x, 14
        if box:
            self.body.append(f'<rect x="{_f(x)}" y="{_f(y - 8)}" width="14" height="10" fill="{color}"/>')
        else:
            dash = ' stroke-dasharray="5 3"' if dashed else ""
            self.body.append(f'<line x1="{_f(x)}" y1="{_f(y - 3)}" x2="{_f(x + 16)}" y2="{_f(y - 3)}" stroke="{color}" stroke-width="2.2"{dash}/>')
        self.body.append(_text(x + 20, y + 1, label, 10.5))
        self.legend_x += 20 + _text_width(label, 10.5) + 14

    def series(self, ts_ms: np.ndarray, seg: np.ndarray, values: np.ndarray, y: _Axis, color: str, width: float = 1.4,
               mean: bool = False) -> None:
        px = PX_PER_MEAN_BUCKET if mean else PX_PER_BUCKET
        d = line_path(ts_ms, seg, values, self.x, y, int(self.width_px / px), mean=mean)
        if d:
            self.body.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{_f(width)}" stroke-linejoin="round"/>')

    def hline(self, value: float, y: _Axis, color: str, dashed: bool = True) -> None:
        yy = float(y(value))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        self.body.append(f'<line x1="{_f(self.left)}" y1="{_f(yy)}" x2="{_f(self.right)}" y2="{_f(yy)}" stroke="{color}" stroke-width="1.6"{dash}/>')

    def band(self, start_ms: int, end_ms: int, color: str) -> None:
        x0, x1 = float(self.x(start_ms)), float(self.x(end_ms))
        w = max(2.0, x1 - x0)  # a 5-minute window in a week is still visible
        self.body.append(f'<rect x="{_f(x0)}" y="{_f(self.top)}" width="{_f(w)}" height="{_f(self.bottom - self.top)}" fill="{color}" fill-opacity="0.7"/>')

    def marker(self, t_ms: int, value: float, y: _Axis, label: str, color: str) -> None:
        cx, cy = float(self.x(t_ms)), float(y(value))
        self.body.append(f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="4" fill="white" stroke="{color}" stroke-width="2"/>')
        wtxt = _text_width(label, 10)
        anchor, tx = ("end", cx - 7) if cx + 7 + wtxt > self.right else ("start", cx + 7)
        if anchor == "end" and tx - wtxt < self.left:
            anchor, tx = "start", cx + 7
        ty = cy - 8 if cy - 8 > self.top + 10 else cy + 16
        bx = tx - wtxt if anchor == "end" else tx
        self.body.append(f'<rect x="{_f(bx - 2)}" y="{_f(ty - 10)}" width="{_f(wtxt + 4)}" height="13" fill="white" fill-opacity="0.85"/>')
        self.body.append(f'<text x="{_f(tx)}" y="{_f(ty)}" font-size="10" text-anchor="{anchor}" fill="{color}" font-weight="bold">{escape(label)}</text>')

    def svg(self, title: str, cls: str) -> Markup:
        return _svg(self.height, self.body, title, cls)


def line_path(ts_ms: np.ndarray, seg: np.ndarray, values: np.ndarray, x: _Axis, y: _Axis, buckets: int,
              mean: bool = False) -> str:
    """SVG path data for one series: min/max per pixel column (or the mean, for noisy series such as
    CPU shares), broken at NaN, segments and gaps."""
    ok = ~np.isnan(values)
    if not ok.any():
        return ""
    t = ts_ms[ok]
    v = values[ok]
    s = seg[ok]
    idx_all = np.flatnonzero(ok)
    # A new run starts at a segment change, after a NaN hole or after a time gap > 3 × median step.
    dt = np.diff(t)
    med = float(np.median(dt)) if len(dt) else 0.0
    brk = np.zeros(len(t), dtype=bool)
    brk[0] = True
    if len(t) > 1:
        brk[1:] = (s[1:] != s[:-1]) | (np.diff(idx_all) > 1) | (dt > max(3 * med, 1.0))
    run = np.cumsum(brk)
    span = max(1.0, float(x.hi - x.lo))
    bucket = np.clip(((t - x.lo) / span * buckets).astype(np.int64), 0, buckets)
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


def _period(a: Analysis, df: pd.DataFrame) -> tuple[int, int]:
    ts = _ts_ms(df)
    return int(ts[0]), int(ts[-1])


def memory_chart(data: HostData, a: Analysis) -> Markup | None:
    df = data.samples
    if len(df) == 0 or column(df, "mem_Inactive") is None and column(df, "mem_Active") is None:
        return None
    t0, t1 = _period(a, df)
    ts, seg = _ts_ms(df), _seg(df)
    lines: list[tuple[str, str, np.ndarray]] = []
    for key, label, col in (("active", "Active", "mem_Active"), ("inactive", "Inactive", "mem_Inactive"),
                            ("inactive_anon", "Inactive(anon)", "mem_Inactive_anon"), ("free", "MemFree", "mem_MemFree")):
        arr = _arr(column(df, col))
        if arr is not None:
            lines.append((key, label, arr))
    st, sf = column(df, "mem_SwapTotal"), column(df, "mem_SwapFree")
    if st is not None and sf is not None:
        lines.append(("swap_used", "Swap used", _arr(st - sf)))  # type: ignore[arg-type]
    swap_total = a.swap.swap_total_bytes
    vmax = max([float(np.nanmax(arr)) for _, _, arr in lines if not np.isnan(arr).all()] + [float(swap_total or 0)])
    scale, unit = _byte_unit(vmax)
    fr = _Frame(t0, t1, height=270)
    y = fr.y_axis(vmax * 1.08, unit, scale)
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


def swap_rate_chart(data: HostData, a: Analysis) -> Markup | None:
    df = data.samples
    if not a.thrash.available:
        return None
    t0, t1 = _period(a, df)
    ts, seg = _ts_ms(df), _seg(df)
    mask = valid_intervals(df, a.thresholds.thrash_max_interval_s)
    sin = rate_values(df, "swapin_Bps", mask)
    sout = rate_values(df, "swapout_Bps", mask)
    arrays = [arr for arr in (sin, sout) if arr is not None and not np.isnan(arr).all()]
    vmax = max([float(np.nanmax(arr)) for arr in arrays] + [a.thresholds.thrash_rate_bytes_per_s])
    scale, unit = _byte_unit(vmax)
    fr = _Frame(t0, t1, height=250)
    y = fr.y_axis(vmax * 1.08, f"{unit}/s", scale)
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


def pressure_chart(data: HostData, a: Analysis) -> Markup | None:
    """What the swap traffic did to the workload: PSI memory `full` (share of time every task
    stalled on memory) and workingset refaults, with the thrash windows shaded. None when the
    data has neither (sar, vmstat, kernels before 4.20 without refault counters)."""
    df = data.samples
    if not a.thrash.available:
        return None
    mask = valid_intervals(df, a.thresholds.thrash_max_interval_s)
    psi = rate_values(df, "psi_full_share", mask)
    ref = rate_values(df, "refault_per_s", mask)
    has_psi = psi is not None and not np.isnan(psi).all()
    has_ref = ref is not None and not np.isnan(ref).all()
    if not (has_psi or has_ref):
        return None
    t0, t1 = _period(a, df)
    ts, seg = _ts_ms(df), _seg(df)
    fr = _Frame(t0, t1, height=220, right_axis=has_psi and has_ref)
    for w in a.thrash.windows:
        fr.band(int(w.start.value // 10**6), int(w.end.value // 10**6), COLORS["window"])
    if has_psi:
        assert psi is not None
        pct = np.clip(psi * 100, 0, 100)
        y = fr.y_axis(min(100.0, max(float(np.nanmax(pct)) * 1.1, 5.0)), "PSI full (% of time)", 1.0)
        fr.series(ts, seg, pct, y, COLORS["psi"])
        fr.legend("PSI memory full", COLORS["psi"])
    if has_ref:
        assert ref is not None
        rmax = max(float(np.nanmax(ref)) * 1.1, 1.0)
        y2 = fr.y_axis(rmax, "refaults/s", 1.0, side="right" if has_psi else "left")
        fr.series(ts, seg, ref, y2, COLORS["refault"], width=1.1)
        fr.legend("workingset refaults/s" + (" (right axis)" if has_psi else ""), COLORS["refault"])
    if a.thrash.windows:
        fr.legend("thrash window", COLORS["window"], box=True)
    fr.time_axis()
    return fr.svg("Memory pressure: PSI full and workingset refaults, thrash windows shaded", "chart-pressure")


def ksm_chart(data: HostData, a: Analysis) -> Markup | None:
    df = data.samples
    saved = _arr(column(df, "ksm_pages_sharing_bytes"))
    if saved is None:
        return None
    t0, t1 = _period(a, df)
    ts, seg = _ts_ms(df), _seg(df)
    cpu = None
    if a.ksm.ksmd_cpu_percent is not None:
        c = rate_values(df, "ksmd_cpu_share", valid_intervals(df, a.thresholds.thrash_max_interval_s))
        cpu = None if c is None else c * 100
    vmax = float(np.nanmax(saved))
    scale, unit = _byte_unit(vmax if vmax > 0 else 1024**3)
    fr = _Frame(t0, t1, height=240, right_axis=cpu is not None)
    y = fr.y_axis(vmax * 1.1 if vmax > 0 else 1024**3, f"saved ({unit})", scale)
    fr.series(ts, seg, saved, y, COLORS["ksm"], width=1.8)
    fr.legend("KSM saved (pages_sharing)", COLORS["ksm"])
    if cpu is not None and not np.isnan(cpu).all():
        cmax = float(np.nanmax(cpu))
        y2 = fr.y_axis(max(cmax * 1.1, 1.0), "ksmd CPU (% of one CPU)", 1.0, side="right")
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
    vmax = max(max(v.allocated_bytes or 0, v.rss_max_bytes or 0, v.maxmem_bytes or 0) for v in rows) or 1
    scale, unit = _byte_unit(vmax)
    top_val = vmax / scale
    step = nice_step(top_val, 6)
    hi = math.ceil(top_val / step * 1.0001) * step
    x = _Axis(0.0, hi * scale, left, right)
    body: list[str] = []
    v = 0.0
    base = top + row_h * len(rows)
    while v <= hi + 1e-9:
        xx = float(x(v * scale))
        body.append(f'<line x1="{_f(xx)}" y1="{_f(top)}" x2="{_f(xx)}" y2="{_f(base)}" stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(xx, base + 15, f"{round(v, 6):g}", 10, "middle", MUTED))
        v += step
    body.append(_text((left + right) / 2, height - 8, f"Memory per VM ({unit})", 10.5, "middle", MUTED))
    for i, vm in enumerate(rows):
        y0 = top + i * row_h
        name = fit_name(vm.name, 26)  # what the label column holds
        body.append(_text(left - 6, y0 + 13, name, 10, "end"))
        if vm.allocated_bytes:
            body.append(f'<rect x="{_f(left)}" y="{_f(y0 + 2)}" width="{_f(float(x(vm.allocated_bytes)) - left)}" height="15" fill="{COLORS["allocated"]}"/>')
        if vm.rss_max_bytes:
            body.append(f'<rect x="{_f(left)}" y="{_f(y0 + 5)}" width="{_f(max(1.0, float(x(vm.rss_max_bytes)) - left))}" height="9" fill="{COLORS["rss"]}"/>')
        if vm.swap_max_bytes:
            body.append(f'<rect x="{_f(left)}" y="{_f(y0 + 14)}" width="{_f(max(1.0, float(x(vm.swap_max_bytes)) - left))}" height="3" fill="{COLORS["swap"]}"/>')
    body.append(f'<line x1="{_f(left)}" y1="{_f(top)}" x2="{_f(left)}" y2="{_f(base)}" stroke="{MUTED}" stroke-width="1"/>')
    lx = left
    for label, color in (("allocated", COLORS["allocated"]), ("resident (peak RSS)", COLORS["rss"]), ("swapped (peak VmSwap)", COLORS["swap"])):
        body.append(f'<rect x="{_f(lx)}" y="6" width="14" height="10" fill="{color}"/>')
        body.append(_text(lx + 20, 15, label, 10.5))
        lx += 20 + _text_width(label, 10.5) + 14
    return _svg(height, body, "Per-VM memory: allocated vs resident vs swapped", "chart-vms")


def all_charts(data: HostData, a: Analysis) -> dict[str, Markup | None]:
    return {
        "memory": memory_chart(data, a),
        "swap_rates": swap_rate_chart(data, a),
        "pressure": pressure_chart(data, a),
        "ksm": ksm_chart(data, a),
        "vms": vm_chart(a),
    }


# The drawing helpers the fleet's charts share (memreport/fleet/charts.py), by public names. Aliases
# rather than a rename, to keep this change small while render/ is edited elsewhere (issue 13).
byte_unit = _byte_unit  # (largest value in bytes) -> (divisor, unit label) for an axis
fmt_coord = _f  # an SVG coordinate, short
svg_text = _text  # one escaped <text> element
text_width = _text_width  # the estimated width of a text at a font size, in px

__all__ = ["byte_unit", "fmt_coord", "svg_text", "text_width", "all_charts", "memory_chart", "swap_rate_chart", "pressure_chart", "ksm_chart", "vm_chart", "time_ticks", "nice_step", "line_path"]
