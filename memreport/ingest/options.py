"""What a user tells the ingest about inputs that cannot tell it themselves.

One record, passed from the command line (ingest, report, analyze, fleet) through `run.load` and
`sources.read_input` to every reader. New options are new fields with a None default, so callers
that do not know them keep working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from memreport.errors import ConfigError
from memreport.units import parse_size

# Linux page sizes that exist: 4 KiB (every architecture) up to 256 KiB (hexagon, ppc44x).
MIN_PAGE = 4096
MAX_PAGE = 256 * 1024


@dataclass(frozen=True)
class IngestOptions:
    page_size: int | None = None  # --page-size, bytes: overrides every inference (not an assumption)
    start: datetime | None = None  # --start, UTC: first sample of an input without times (vmstat without -t)
    end: datetime | None = None  # --end, UTC: last sample of such an input
    # The sample columns (store names) the caller will read: the rest of meminfo/vmstat is dropped
    # as each stream file is parsed, so a long input costs the memory of the columns a report
    # needs, not of the hundreds the kernel writes (issue 17). None keeps every column (a store
    # keeps everything). The ingest adds what it needs itself (derive.INGEST_COLUMNS).
    sample_columns: frozenset[str] | None = None

    def describe(self) -> dict[str, str | int | None]:
        """The options as plain values (for a fleet's settings fingerprint)."""
        return {
            "page_size": self.page_size,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
        }


DEFAULT = IngestOptions()


def parse_page_size(text: str) -> int:
    """`4096`, `4KiB`, `4k`, `64KiB` → bytes; a power of two from 4 KiB to 256 KiB."""
    value = parse_size(text, bare=1)
    if value is None:
        raise ConfigError(f"--page-size {text!r}: expected a size such as 4096, 4KiB or 64KiB")
    if value < MIN_PAGE or value > MAX_PAGE or value & (value - 1):
        raise ConfigError(f"--page-size {text!r}: a page size is a power of two from 4 KiB to 256 KiB")
    return value


_EPOCH = re.compile(r"^@?\d{9,11}(?:\.\d+)?$")


def parse_time(text: str, option: str = "--start") -> datetime:
    """`2026-11-26T20:49:43Z`, `2026-11-26 20:49:43` (UTC), `…+01:00`, or epoch seconds (`@1764190183`)."""
    s = text.strip()
    if _EPOCH.match(s):
        return datetime.fromtimestamp(float(s.lstrip("@")), UTC)
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: expected a time such as 2026-11-26T20:49:43Z, '2026-11-26 20:49:43' (UTC) or epoch seconds"
        ) from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def make(page_size: str | None = None, start: str | None = None, end: str | None = None) -> IngestOptions:
    """The record from command-line strings; a bad value is one ConfigError line."""
    opts = IngestOptions(
        page_size=parse_page_size(page_size) if page_size else None,
        start=parse_time(start, "--start") if start else None,
        end=parse_time(end, "--end") if end else None,
    )
    if opts.start and opts.end and opts.end <= opts.start:
        raise ConfigError(f"--end {end!r} is not after --start {start!r}")
    return opts
