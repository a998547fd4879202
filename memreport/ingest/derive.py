"""Counter continuity and per-interval rates, computed once at ingest.

Counters in /proc/vmstat, PSI totals and ksmd ticks are cumulative since boot. A rate is only made
between two samples of one *segment*: a run of samples with no reboot, no counter going down and
no gap. Across a segment boundary the rate is null, so no rate is ever negative or absurdly large.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from memreport.model import HostFacts, LogEntry

# Counters whose decrease means the kernel started counting again (a reboot the boot id missed,
# or a counter wrap); each is checked when present.
RESET_COUNTERS = (
    "vmstat_pswpin",
    "vmstat_pswpout",
    "vmstat_pgmajfault",
    "vmstat_pgfault",
    "vmstat_oom_kill",
    "vmstat_workingset_refault",
    "vmstat_workingset_refault_anon",
    "vmstat_workingset_refault_file",
    "vmstat_pgscan_direct",
    "psi_some_total_us",
    "psi_full_total_us",
    "ksmd_ticks",
)

# A gap this many times the typical interval (and at least GAP_MIN_S) ends a segment: a rate over
# a collector outage would smear hours of traffic into one average.
GAP_FACTOR = 5.0
GAP_MIN_S = 300.0


def epoch_ms(ts: pd.Series) -> np.ndarray:
    """A tz-aware timestamp column as int64 epoch milliseconds."""
    return ts.dt.tz_convert("UTC").dt.as_unit("ms").astype("int64").to_numpy()


def sort_and_dedupe(samples: pd.DataFrame, host: str) -> tuple[pd.DataFrame, list[LogEntry]]:
    """Rows sorted by ts; rows with the same ts collapse into one (first non-null value per column)."""
    log: list[LogEntry] = []
    ts = epoch_ms(samples["ts"])
    if len(ts) > 1 and (np.diff(ts) < 0).any():
        n = int((np.diff(ts) < 0).sum())
        log.append(LogEntry("info", "reordered", f"{n} samples were out of time order and were sorted", host=host, count=n))
        samples = samples.sort_values("ts", kind="stable", ignore_index=True)
    dup = samples["ts"].duplicated(keep="first")
    if dup.any():
        n = int(dup.sum())
        # Same instant from two inputs (e.g. sar and a /proc snapshot): merge their columns.
        samples = samples.groupby("ts", sort=True, as_index=False, dropna=False).first()
        log.append(
            LogEntry("info", "duplicate", f"{n} samples repeated an earlier timestamp and were merged", host=host, count=n)
        )
    return samples.reset_index(drop=True), log


def assign_segments(samples: pd.DataFrame, host: str) -> tuple[np.ndarray, list[LogEntry]]:
    """segment id per row, and a log entry per reason a new segment started."""
    n = len(samples)
    log: list[LogEntry] = []
    if n == 0:
        return np.zeros(0, dtype=np.int32), log
    new = np.zeros(n, dtype=bool)
    reasons: dict[str, int] = {}

    def mark(mask: np.ndarray, reason: str) -> None:
        fresh = mask & ~new
        if fresh.any():
            reasons[reason] = reasons.get(reason, 0) + int(fresh.sum())
        new[:] |= mask

    if "boot_id" in samples:
        b = samples["boot_id"].astype("object").to_numpy()
        prev = np.roll(b, 1)
        known = pd.notna(b) & pd.notna(prev)
        changed = np.zeros(n, dtype=bool)
        changed[1:] = (known & (b != prev))[1:]
        mark(changed, "reboot (boot id changed)")
    if "uptime_s" in samples:
        up = samples["uptime_s"].to_numpy(dtype="float64", na_value=np.nan)
        back = np.zeros(n, dtype=bool)
        back[1:] = np.diff(up) < 0
        mark(back, "reboot (uptime went back)")
    for col in RESET_COUNTERS:
        if col in samples:
            v = samples[col].to_numpy(dtype="float64", na_value=np.nan)
            down = np.zeros(n, dtype=bool)
            down[1:] = np.diff(v) < 0
            mark(down, f"counter reset ({col} went down)")
    t = epoch_ms(samples["ts"]) / 1000.0
    if n > 2:
        dt = np.diff(t)
        typical = float(np.median(dt))
        limit = max(GAP_FACTOR * typical, GAP_MIN_S)
        gap = np.zeros(n, dtype=bool)
        gap[1:] = dt > limit
        mark(gap, f"gap longer than {limit:.0f} s")
    new[0] = False
    for reason, count in reasons.items():
        event = "reboot" if reason.startswith("reboot") else ("gap" if reason.startswith("gap") else "reset")
        log.append(LogEntry("info", event, f"{count} new counter segment(s): {reason}; no rate spans it", host=host, count=count))
    return np.cumsum(new).astype(np.int32), log


def _delta(samples: pd.DataFrame, col: str, first: np.ndarray) -> np.ndarray | None:
    if col not in samples:
        return None
    v = samples[col].to_numpy(dtype="float64", na_value=np.nan)
    d = np.empty_like(v)
    d[0] = np.nan
    d[1:] = np.diff(v)
    d[first] = np.nan
    return d


def add_rates(samples: pd.DataFrame, facts: HostFacts) -> pd.DataFrame:
    """Fill interval_s and the rate columns from counters; rates a source gave directly are kept."""
    seg = samples["segment"].to_numpy()
    n = len(samples)
    first = np.ones(n, dtype=bool)
    first[1:] = seg[1:] != seg[:-1]
    t = epoch_ms(samples["ts"]) / 1000.0
    dt = np.empty(n)
    dt[0] = np.nan
    dt[1:] = np.diff(t)
    dt[first] = np.nan
    out: dict[str, np.ndarray] = {"interval_s": dt}

    def rate(*cols: str, scale: float = 1.0) -> np.ndarray | None:
        parts = [d for c in cols if (d := _delta(samples, c, first)) is not None]
        if not parts:
            return None
        total = parts[0] if len(parts) == 1 else np.sum(parts, axis=0)
        return total * scale / dt

    page = float(facts.page_size) if facts.page_size else np.nan
    out["swapin_Bps"] = rate("vmstat_pswpin", scale=page)
    out["swapout_Bps"] = rate("vmstat_pswpout", scale=page)
    out["majfault_per_s"] = rate("vmstat_pgmajfault")
    if "vmstat_workingset_refault_anon" in samples:  # kernel >= 5.9 splits anon and file
        out["refault_per_s"] = rate("vmstat_workingset_refault_anon", "vmstat_workingset_refault_file")
    else:
        out["refault_per_s"] = rate("vmstat_workingset_refault")
    out["pgscan_direct_per_s"] = rate("vmstat_pgscan_direct")
    oom = _delta(samples, "vmstat_oom_kill", first)
    out["oom_kills"] = oom
    out["psi_some_share"] = rate("psi_some_total_us", scale=1e-6)
    out["psi_full_share"] = rate("psi_full_total_us", scale=1e-6)
    ticks = float(facts.clock_ticks) if facts.clock_ticks else np.nan
    out["ksmd_cpu_share"] = rate("ksmd_ticks", scale=1.0 / ticks)

    cols = {}
    for name, values in out.items():
        if values is None:
            if name not in samples:
                cols[name] = np.full(n, np.nan)
            continue
        if name in samples and name != "interval_s":
            given = samples[name].to_numpy(dtype="float64", na_value=np.nan)
            values = np.where(np.isnan(given), values, given)
        elif name == "interval_s" and name in samples:
            given = samples[name].to_numpy(dtype="float64", na_value=np.nan)
            values = np.where(np.isnan(values), given, values)
        cols[name] = values
    return samples.assign(**cols)
