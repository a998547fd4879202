"""Jinja filters: every number, byte count and time in the report is formatted here, and every
string from customer data is bounded here before it reaches a page."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from memreport.analyze.answer import CAUSE_NAMES, RULE_NAMES
from memreport.analyze.wording import fmt_bytes, fmt_duration, fmt_num, fmt_pct, fmt_rate, fmt_time, iso, to_datetime
from memreport.model import Severity
from memreport.timebase import fmt_relative, is_relative

__all__ = [
    "FILTERS",
    "NAME_MAX_CHARS",
    "PATH_MAX_CHARS",
    "TEXT_MAX_CHARS",
    "WORD_MAX_CHARS",
    "fit_name",
    "fit_path",
    "fit_text",
    "fmt_bytes",
    "fmt_duration",
    "fmt_num",
    "fmt_pct",
    "fmt_rate",
    "fmt_time",
    "iso",
    "name_html",
]

# Display bounds for strings from customer data (host, VM and file names, and the sentences that quote
# them). weasyprint lays out a long unbroken word in a table cell in time quadratic in its length: a
# 5000-character VM name took > 80 s, 300 characters were still fast (issue 11). Pages show at most
# these many characters, with "…"; report.json and fleet.json keep every name whole.
NAME_MAX_CHARS = 80  # a host or VM name: DNS names are ≤ 253, real libvirt names far shorter
PATH_MAX_CHARS = 120  # an input or file label: cut in the middle, so that the file name stays
WORD_MAX_CHARS = 80  # one unbroken word inside a sentence (a finding quoting a VM name, an error naming a path)
TEXT_MAX_CHARS = 2000  # a whole sentence or two (a finding's detail is a few hundred characters)
ELLIPSIS = "…"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")  # no control characters on a page (tab and newline stay)
_LONG_WORD = re.compile(rf"\S{{{WORD_MAX_CHARS + 1},}}")


def _clean(value: Any) -> str:
    return _CONTROL.sub(" ", "" if value is None else str(value))


def fit_name(value: Any, limit: int = NAME_MAX_CHARS) -> str:
    """A name as a page shows it: at most `limit` characters, the cut marked with "…"."""
    s = _clean(value)
    return s if len(s) <= limit else s[: limit - 1] + ELLIPSIS


def fit_path(value: Any, limit: int = PATH_MAX_CHARS) -> str:
    """An input or file label: at most `limit` characters, cut in the middle (`/srv/…/bundle.tar.xz`)."""
    s = _clean(value)
    if len(s) <= limit:
        return s
    head = (limit - 1) // 3
    return s[:head] + ELLIPSIS + s[len(s) - (limit - 1 - head) :]


def fit_text(value: Any, limit: int = TEXT_MAX_CHARS) -> str:
    """A sentence that may quote customer names: every unbroken word longer than WORD_MAX_CHARS is
    cut, and the whole text is at most `limit` characters."""
    s = _LONG_WORD.sub(lambda m: m.group(0)[: WORD_MAX_CHARS - 1] + ELLIPSIS, _clean(value))
    return s if len(s) <= limit else s[: limit - 1] + ELLIPSIS


def name_html(value: Any, limit: int = NAME_MAX_CHARS, path: bool = False) -> Markup:
    """fit_name (or fit_path) for HTML: a cut name keeps its full text in a title attribute (a tooltip
    in a browser; weasyprint does not lay attributes out, so the PDF costs nothing for it)."""
    full = _clean(value)
    shown = fit_path(full, limit) if path else fit_name(full, limit)
    if shown == full:
        return escape(full)
    return Markup('<span class="cut" title="{}">{}</span>').format(full, shown)


def fmt_signed_room(value: int | float | None) -> str:
    """Room that may be negative (OOM headroom, a swap surplus): a shortfall, below 0, rounds away from
    zero like every deficit in the report ("add 3.9 GiB" beside "−3.9 GiB", never "−3.8 GiB")."""
    return fmt_bytes(value, round_up=value is not None and value < 0)


def fmt_deficit(value: int | float | None) -> str:
    """A shortfall: rounded up at the shown precision, as the findings and the answer print it."""
    return fmt_bytes(value, round_up=True)


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
    "fit_name": fit_name,
    "fit_path": fit_path,
    "fit_text": fit_text,
    "name_html": name_html,
    "path_html": lambda value, limit=PATH_MAX_CHARS: name_html(value, limit, path=True),
    "rule_name": rule_name,
    "cause_name": cause_name,
    "fmt_bytes": fmt_bytes,
    "fmt_rate": fmt_rate,
    "fmt_deficit": fmt_deficit,
    "fmt_signed_room": fmt_signed_room,
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
