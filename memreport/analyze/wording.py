"""Plain-language formatting of numbers for finding sentences.

Findings carry their sentences (they are data the CLI prints too), so the few formatters they need
live here; render/formatters.py exposes the same functions as jinja filters.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from memreport.timebase import fmt_relative, is_relative

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def fmt_bytes(value: float | int | None, round_up: bool = False) -> str:
    """Binary units, 3 significant-ish digits: `512 MiB`, `6.5 GiB`, `16 GiB`, `0 B`; `–` for None.

    `round_up=True` rounds away from zero at the shown precision, for "add X of swap" (never too little).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = "−" if value < 0 else ""
    v = abs(float(value))
    unit = 0
    while v >= 1024 and unit < len(_UNITS) - 1:
        v /= 1024
        unit += 1
    if unit == 0:
        return f"{sign}{int(round(v))} B"
    decimals = 0 if v >= 100 else 1
    if round_up:
        scale = 10**decimals
        v = math.ceil(v * scale - 1e-9) / scale
        if v >= 1024 and unit < len(_UNITS) - 1:
            v /= 1024
            unit += 1
    text = f"{v:.{decimals}f}"
    if text.endswith(".0"):  # "16 GiB", not "16.0 GiB": a whole number reads as one
        text = text[:-2]
    return f"{sign}{text} {_UNITS[unit]}"


GIB = 1024**3


def round_up_gib(value: int | float) -> int:
    """A deficit as the whole GiB to add: never too little, and a size one can type (0 when none)."""
    if value <= 0:
        return 0
    return int(math.ceil(value / GIB - 1e-12)) * GIB


def fmt_rate(value: float | None) -> str:
    """Bytes per second: `20.0 MiB/s`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt_bytes(value) + "/s"


def fmt_pct(value: float | None, decimals: int = 0) -> str:
    """A percentage already in percent units: `3 %`, `97.5 %` (decimals=1)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if decimals == 0 and 0 < abs(value) < 1:
        return f"{value:.1f} %"
    return f"{value:.{decimals}f} %"


def to_datetime(ts: Any) -> datetime | None:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)) or ts is pd.NaT:
        return None
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return t.tz_convert("UTC").to_pydatetime()


def fmt_time(ts: Any, seconds: bool = True) -> str:
    """`2026-11-26 20:49:43 UTC`; a relative time (input without clock times, memreport/timebase.py)
    as `+00:01:10` from the start."""
    t = to_datetime(ts)
    if t is None:
        return "–"
    if is_relative(t):
        return fmt_relative(t, seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def iso(ts: Any) -> str | None:
    """ISO-8601 UTC with a Z; milliseconds only when there are some."""
    t = to_datetime(ts)
    if t is None:
        return None
    t = t.astimezone(UTC)
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_duration(seconds: float | None) -> str:
    """`45 s`, `5 min`, `2 h 05 min`, `3 d 4 h`."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    s = int(round(seconds))
    if s < 120:
        return f"{s} s"
    if s < 3600:
        m, r = divmod(s, 60)
        return f"{m} min" if r == 0 else f"{m} min {r:02d} s"
    if s < 86400:
        h, r = divmod(s, 3600)
        return f"{h} h {r // 60:02d} min"
    d, r = divmod(s, 86400)
    return f"{d} d {r // 3600} h"


THOUSANDS = ","  # the one thousands separator of every page, finding and table: 6,993 (issue 15)


def fmt_num(value: float | int | None, decimals: int = 0) -> str:
    """A plain count or rate: `6,993`, `1.5`; `–` for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{decimals}f}".replace(",", THOUSANDS)
