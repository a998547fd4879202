"""Relative time: samples of an input that carries no clock times (vmstat without `-t`).

Such samples are stored as offsets from RELATIVE_ORIGIN (the Unix epoch), so they keep the store's
one time type; everything that prints a time shows them as `+HH:MM:SS` from the start instead of a
date that was never measured. The host's facts say `time_base = "relative"` as well, and the
ingest log, the report and report.json name the assumption.

Any time before RELATIVE_LIMIT is read as relative: no real capture is dated 1970.
"""

from __future__ import annotations

from datetime import UTC, datetime

RELATIVE_ORIGIN = datetime(1970, 1, 1, tzinfo=UTC)
RELATIVE_LIMIT = datetime(1971, 1, 1, tzinfo=UTC)

ABSOLUTE = "absolute"
RELATIVE = "relative"


def is_relative(t: datetime) -> bool:
    """t (timezone-aware) lies in the relative range."""
    return t < RELATIVE_LIMIT


def fmt_relative(t: datetime, seconds: bool = True) -> str:
    """`+00:01:10`, `+26:03:00` (hours past 24 keep counting), `+00:01` without seconds."""
    total = int(round((t - RELATIVE_ORIGIN).total_seconds()))
    sign = "+" if total >= 0 else "−"
    total = abs(total)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}" if seconds else f"{sign}{h:02d}:{m:02d}"
