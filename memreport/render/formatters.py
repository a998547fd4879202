"""Jinja filters: every number, byte count and time in the report is formatted here."""

from __future__ import annotations

from typing import Any

from memreport.analyze.answer import CAUSE_NAMES, RULE_NAMES
from memreport.analyze.wording import fmt_bytes, fmt_duration, fmt_num, fmt_pct, fmt_rate, fmt_time, iso, to_datetime
from memreport.model import Severity
from memreport.timebase import fmt_relative, is_relative

__all__ = ["FILTERS", "fmt_bytes", "fmt_duration", "fmt_num", "fmt_pct", "fmt_rate", "fmt_time", "iso"]


def fmt_share(value: float | None, decimals: int = 1) -> str:
    """A 0..1 share as percent."""
    return fmt_pct(None if value is None else value * 100, decimals)


def fmt_ratio(value: float | None, decimals: int = 2) -> str:
    return "–" if value is None else f"{value:.{decimals}f}×"


def fmt_signed_bytes(value: int | None) -> str:
    return "–" if value is None else ("+" if value > 0 else "") + fmt_bytes(value)


def fmt_window(start: Any, end: Any) -> str:
    """`21 Nov 02:00:00 – 02:12:00` (the end's date only when it differs)."""
    a, b = to_datetime(start), to_datetime(end)
    if a is None or b is None:
        return "–"
    if is_relative(a):
        return f"{fmt_relative(a)} – {fmt_relative(b)}"
    right = b.strftime("%H:%M:%S") if a.date() == b.date() else b.strftime("%d %b %H:%M:%S")
    return f"{a.strftime('%d %b %H:%M:%S')} – {right}"


def sev_class(value: Severity | str) -> str:
    name = value.name if isinstance(value, Severity) else str(value)
    return {"OK": "ok", "WARN": "warn", "CRIT": "crit"}.get(name, "ok")


def or_dash(value: Any) -> Any:
    return "–" if value is None else value


def rule_name(key: str | None) -> str:
    return "–" if key is None else RULE_NAMES.get(key, key)


def cause_name(key: str | None) -> str:
    return "–" if key is None else CAUSE_NAMES.get(key, key)


FILTERS = {
    "rule_name": rule_name,
    "cause_name": cause_name,
    "fmt_bytes": fmt_bytes,
    "fmt_rate": fmt_rate,
    "fmt_pct": fmt_pct,
    "fmt_share": fmt_share,
    "fmt_time": fmt_time,
    "fmt_duration": fmt_duration,
    "fmt_num": fmt_num,
    "fmt_ratio": fmt_ratio,
    "fmt_signed_bytes": fmt_signed_bytes,
    "iso": iso,
    "fmt_window": fmt_window,
    "sev_class": sev_class,
    "or_dash": or_dash,
}
