"""Counter continuity and per-interval rates, computed once at ingest, on Arrow tables.

Counters in /proc/vmstat, PSI totals and ksmd ticks are cumulative since boot. A rate is only made
between two samples of one *segment*: a run of samples with no reboot and no counter going down.
Across a segment boundary the rate is null, so no rate is ever negative. A gap in the data (a
collector stopped, a missing sar day) is not a new segment, since the counters go on; only the
rates computed across it are null (an average over hours would smear a burst into nothing).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from memreport.ingest import pagesize, schema
from memreport.model import HostFacts, LogEntry

# Counters whose decrease means the kernel started counting again (a reboot the boot id missed,
# or a counter wrap); each is checked when present.
RESET_COUNTERS = (
    "vmstat_pswpin",
    "vmstat_pswpout",
    "vmstat_pgmajfault",
    "vmstat_pgfault",
    "vmstat_oom_kill",  # kernel >= 4.13
    "vmstat_workingset_refault",  # kernel < 5.9
    "vmstat_workingset_refault_anon",  # kernel >= 5.9
    "vmstat_workingset_refault_file",
    "vmstat_pgscan_direct",
    "psi_some_total_us",  # kernel >= 4.20
    "psi_full_total_us",
    "ksmd_ticks",
)

# Columns the ingest itself reads after parsing (segments, rates, page size evidence): kept
# whatever a caller's IngestOptions.sample_columns asks for.
RATE_INPUTS = (
    "vmstat_pswpin",
    "vmstat_pswpout",
    "vmstat_pgmajfault",
    "vmstat_pgscan_direct",
    "vmstat_oom_kill",
    "vmstat_workingset_refault",
    "vmstat_workingset_refault_anon",
    "vmstat_workingset_refault_file",
    "psi_some_total_us",
    "psi_full_total_us",
    "ksmd_ticks",
)
# What finalize reads besides the wanted columns (segments and rates); and, until a reader has decided
# its page size from the first meminfo/vmstat pair, those pairs too.
FINALIZE_COLUMNS = frozenset([f.name for f in schema.SAMPLE_FIXED] + list(RESET_COUNTERS) + list(RATE_INPUTS))
INGEST_COLUMNS = FINALIZE_COLUMNS | frozenset(c for pair in pagesize.PAGE_PAIRS for c in pair)


def keep_columns(t: pa.Table, wanted: frozenset[str] | None, finalised: bool = False) -> pa.Table:
    """t with only the wanted sample columns (all when wanted is None), and those the ingest still
    needs unless the samples are finalised (segments and rates made)."""
    if wanted is None:
        return t
    keep = [c for c in t.column_names if c in wanted or (not finalised and c in INGEST_COLUMNS)]
    return t if len(keep) == t.num_columns else t.select(keep)


# A gap this many times the typical interval (and at least GAP_MIN_S) gets no rate from counters:
# a rate over a collector outage would smear hours of traffic into one average.
GAP_FACTOR = 5.0
GAP_MIN_S = 300.0
# Uptime and the sample time advance together; when they part by more than this share of the
# typical interval (and at least CLOCK_STEP_MIN_S) the wall clock was stepped, and Δt no longer
# measures the time the counters counted over.
CLOCK_STEP_FACTOR = 0.25
CLOCK_STEP_MIN_S = 5.0


def to_table(samples: pd.DataFrame | pa.Table) -> pa.Table:
    """Samples as an Arrow table with ts as timestamp[ms, UTC]."""
    if isinstance(samples, pd.DataFrame):
        samples = pa.Table.from_pandas(samples, preserve_index=False)
    if "ts" not in samples.column_names:
        samples = samples.append_column("ts", pa.array([], type=schema.TS)) if samples.num_rows == 0 else samples
    i = samples.column_names.index("ts")
    ts = samples.column("ts")
    if ts.type != schema.TS:
        if pa.types.is_timestamp(ts.type):
            ts = pc.cast(ts if ts.type.tz else pc.assume_timezone(ts, "UTC"), schema.TS)
        else:
            raise TypeError(f"ts column has type {ts.type}")
        samples = samples.set_column(i, "ts", ts)
    return samples


def pairs_increase(t: np.ndarray, key: np.ndarray) -> bool:
    """Every (t, key) pair comes after the one before it: rows in time order and, within a time, in
    key order (a capture writes each sample's VMs by pid). Then no pair repeats, which is known
    without a sort. A NaN key compares as not after, so the caller's full check runs."""
    return bool(((t[1:] > t[:-1]) | ((t[1:] == t[:-1]) & (key[1:] > key[:-1]))).all())


def epoch_ms(table: pa.Table) -> np.ndarray:
    return table.column("ts").cast(pa.int64()).to_numpy()


def column(table: pa.Table, name: str) -> np.ndarray | None:
    """A numeric column as float64 with NaN for null, or None when absent."""
    if name not in table.column_names:
        return None
    col = table.column(name)
    if col.null_count == len(col) and len(col):
        return np.full(len(col), np.nan)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype="float64")


def sort_and_dedupe(t: pa.Table, host: str) -> tuple[pa.Table, list[LogEntry]]:
    """Rows sorted by ts; rows with the same ts collapse into one (first non-null value per column)."""
    log: list[LogEntry] = []
    ts = epoch_ms(t)
    if len(ts) > 1 and (np.diff(ts) < 0).any():
        n = int((np.diff(ts) < 0).sum())
        log.append(LogEntry("info", "reordered", f"{n} samples were out of time order and were sorted", host=host, count=n))
        t = t.take(pa.array(np.argsort(ts, kind="stable")))
        ts = epoch_ms(t)
    if len(ts) > 1 and (np.diff(ts) == 0).any():
        n = int((np.diff(ts) == 0).sum())
        # Same instant from two inputs (e.g. sar and a /proc snapshot): merge their columns.
        frame = t.to_pandas().groupby("ts", sort=True, as_index=False, dropna=False).first()
        t = pa.Table.from_pandas(frame, preserve_index=False)
        log.append(
            LogEntry("info", "duplicate", f"{n} samples repeated an earlier timestamp and were merged", host=host, count=n)
        )
    return t, log


def gap_rows(t: pa.Table) -> tuple[np.ndarray, float]:
    """Rows that follow a gap in the data (their interval is too long for a counter rate), and the limit."""
    n = t.num_rows
    gap = np.zeros(n, dtype=bool)
    if n <= 2:
        return gap, GAP_MIN_S
    dt = np.diff(epoch_ms(t) / 1000.0)
    limit = max(GAP_FACTOR * float(np.median(dt)), GAP_MIN_S)
    gap[1:] = dt > limit
    return gap, limit


def assign_segments(t: pa.Table, host: str) -> tuple[np.ndarray, list[LogEntry]]:
    """segment id per row (a reboot or a counter reset starts one), and a log entry per reason;
    gaps in the data are logged too but stay in their segment."""
    n = t.num_rows
    log: list[LogEntry] = []
    if n == 0:
        return np.zeros(0, dtype=np.int32), log
    new = np.zeros(n, dtype=bool)
    reasons: dict[str, int] = {}

    def mark(mask: np.ndarray, reason: str) -> None:
        mask = mask.copy()
        mask[0] = False
        fresh = mask & ~new
        if fresh.any():
            reasons[reason] = reasons.get(reason, 0) + int(fresh.sum())
        new[:] |= mask

    if "boot_id" in t.column_names:
        # As dictionary codes, not Python strings: a year is 0.5 M boot ids of a handful of values.
        ids = pc.dictionary_encode(t.column("boot_id").combine_chunks())
        b = ids.indices.to_numpy(zero_copy_only=False)  # nulls come out as garbage codes: masked by known
        valid = ids.is_valid().to_numpy(zero_copy_only=False)
        changed = np.zeros(n, dtype=bool)
        changed[1:] = valid[1:] & valid[:-1] & (b[1:] != b[:-1])
        mark(changed, "reboot (boot id changed)")
    up = column(t, "uptime_s")
    if up is not None:
        back = np.zeros(n, dtype=bool)
        back[1:] = np.diff(up) < 0
        mark(back, "reboot (uptime went back)")
    for col in RESET_COUNTERS:
        v = column(t, col)
        if v is not None:
            down = np.zeros(n, dtype=bool)
            down[1:] = np.diff(v) < 0
            mark(down, f"counter reset ({col} went down)")
    secs = epoch_ms(t) / 1000.0
    if up is not None and n > 1:
        dts = np.diff(secs)
        tolerance = max(CLOCK_STEP_MIN_S, CLOCK_STEP_FACTOR * float(np.median(dts)))
        step = np.zeros(n, dtype=bool)
        with np.errstate(invalid="ignore"):
            step[1:] = np.abs(np.diff(up) - dts) > tolerance
        mark(step, "clock step (the time and the uptime advanced differently)")
    for reason, count in reasons.items():
        event = "reboot" if reason.startswith("reboot") else ("clock_step" if reason.startswith("clock step") else "reset")
        log.append(LogEntry("info", event, f"{count} new counter segment(s): {reason}; no rate spans it", host=host, count=count))
    gap, limit = gap_rows(t)
    gaps = int((gap & ~new).sum())
    if gaps:
        log.append(
            LogEntry(
                "info",
                "gap",
                f"{gaps} gap(s) in the data longer than {limit:.0f} s: not a reboot or reset (the "
                "counters go on), but no rate is computed across them",
                host=host,
                count=gaps,
            )
        )
    return np.cumsum(new).astype(np.int32), log


def add_rates(t: pa.Table, segments: np.ndarray, facts: HostFacts) -> pa.Table:
    """Set segment, interval_s and the rate columns from counters; rates a source gave directly are kept."""
    n = t.num_rows
    first = np.ones(n, dtype=bool)
    first[1:] = segments[1:] != segments[:-1]
    secs = epoch_ms(t) / 1000.0
    dt = np.full(n, np.nan)
    dt[1:] = np.diff(secs)
    dt[first] = np.nan
    gap, _ = gap_rows(t)  # interval_s keeps the gap's length; counter deltas across it give no rate

    def delta(col: str, across_gaps: bool = False) -> np.ndarray | None:
        v = column(t, col)
        if v is None:
            return None
        d = np.full(n, np.nan)
        d[1:] = np.diff(v)
        d[first if across_gaps else first | gap] = np.nan
        return d

    def rate(*cols: str, scale: float = 1.0) -> np.ndarray | None:
        parts = [d for c in cols if (d := delta(c)) is not None]
        if not parts:
            return None
        total = parts[0] if len(parts) == 1 else np.sum(parts, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total * scale / dt

    page = float(facts.page_size) if facts.page_size else np.nan
    ticks = float(facts.clock_ticks) if facts.clock_ticks else np.nan

    def refault() -> np.ndarray | None:
        if "vmstat_workingset_refault_anon" in t.column_names:  # kernel >= 5.9 splits anon and file
            return rate("vmstat_workingset_refault_anon", "vmstat_workingset_refault_file")
        return rate("vmstat_workingset_refault")

    # Made one at a time and converted at once: a year's rates are 4 MB each, not all held twice.
    out: dict[str, Callable[[], np.ndarray | None]] = {
        "interval_s": lambda: dt,
        "swapin_Bps": lambda: rate("vmstat_pswpin", scale=page),
        "swapout_Bps": lambda: rate("vmstat_pswpout", scale=page),
        "majfault_per_s": lambda: rate("vmstat_pgmajfault"),
        "refault_per_s": refault,
        "pgscan_direct_per_s": lambda: rate("vmstat_pgscan_direct"),
        "oom_kills": lambda: delta("vmstat_oom_kill", across_gaps=True),  # a count, not a rate: kills in a gap still happened
        "psi_some_share": lambda: rate("psi_some_total_us", scale=1e-6),
        "psi_full_share": lambda: rate("psi_full_total_us", scale=1e-6),
        "ksmd_cpu_share": lambda: rate("ksmd_ticks", scale=1.0 / ticks),
    }
    t = _set(t, "segment", pa.array(segments, type=pa.int32()))
    for name, make in out.items():
        values = make()
        given = column(t, name)
        if values is None:
            values = given if given is not None else np.full(n, np.nan)
        elif given is not None:
            # A source's own figure (sar's pswpin/s, vmstat's si) wins; counters fill the rest.
            values = np.where(np.isnan(given), values, given)
        t = _set(t, name, pa.array(values, type=pa.float64(), from_pandas=True))
        del values, given
    return t


def _set(t: pa.Table, name: str, arr: pa.Array) -> pa.Table:
    if name in t.column_names:
        return t.set_column(t.column_names.index(name), name, arr)
    return t.append_column(name, arr)
