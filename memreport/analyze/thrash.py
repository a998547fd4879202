"""Rule 2, second half: swap-thrash windows.

A sample's rates describe the interval before it, (ts − interval_s, ts]. A window is a run of
consecutive samples whose swap traffic (swap-in + swap-out) is at or above `thrash.rate_bytes_per_s`;
runs closer than `thrash.merge_gap_s` (inside one segment) are merged; a merged window shorter than
`thrash.min_duration_s` is a burst, not a window. A window starts where the interval of its first
sample starts and ends at its last sample. Rates never cross a reboot or a gap: ingest leaves them
null on a segment's first sample, and an interval longer than `thrash.max_interval_s` is ignored.

Each window gets a cause from what the host showed during it. Global reclaim (kswapd, direct reclaim)
only swaps when free memory runs low, so swapping while MemAvailable stayed at or above
`thrash.limit_available_percent` of MemTotal was forced by a memory limit (a cgroup's memory.max or
memory.high, libvirt `<memtune>`); swapping while MemAvailable was low is the host running short.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memreport.analyze._util import column, rate_values, valid_intervals, weighted_mean
from memreport.analyze.wording import fmt_bytes, fmt_duration, fmt_num, fmt_pct, fmt_rate, fmt_time
from memreport.config import Thresholds
from memreport.model import Finding, Severity

CHECK = "thrash"

CAUSE_SHORT = "host_memory_short"
CAUSE_LIMIT = "memory_limit"
CAUSE_NONE = "none"
CAUSE_UNKNOWN = "unknown"


@dataclass
class ThrashWindow:
    start: pd.Timestamp
    end: pd.Timestamp
    duration_s: float
    peak_swapin_bytes_per_s: float | None
    peak_swapout_bytes_per_s: float | None
    mean_swapin_bytes_per_s: float | None
    mean_swapout_bytes_per_s: float | None
    swapin_bytes: int | None
    swapout_bytes: int | None
    psi_full_mean_percent: float | None = None  # corroboration, where the data has it
    psi_full_peak_percent: float | None = None
    refaults_per_s_mean: float | None = None
    majfaults_per_s_mean: float | None = None
    min_available_bytes: int | None = None  # lowest MemAvailable during the window
    min_available_percent: float | None = None  # the same ÷ MemTotal × 100
    peak_active_percent: float | None = None  # highest Active ÷ MemTotal × 100 during the window
    cause: str = CAUSE_UNKNOWN  # host_memory_short | memory_limit | unknown

    @property
    def swapped_bytes(self) -> int | None:
        parts = [b for b in (self.swapin_bytes, self.swapout_bytes) if b is not None]
        return sum(parts) if parts else None


@dataclass
class ThrashResult:
    missing: list[str] = field(default_factory=list)
    windows: list[ThrashWindow] = field(default_factory=list)
    rated_intervals: int = 0  # intervals with a usable swap rate
    ignored_intervals: int = 0  # rate values dropped: over a gap, negative or non-finite
    peak_swapin_bytes_per_s: float | None = None
    peak_swapin_at: pd.Timestamp | None = None
    peak_swapout_bytes_per_s: float | None = None
    peak_swapout_at: pd.Timestamp | None = None
    total_swapin_bytes: int | None = None
    total_swapout_bytes: int | None = None
    total_window_seconds: float = 0.0
    cause: str = CAUSE_UNKNOWN  # of the whole: host_memory_short if any window is, else memory_limit, none, unknown
    has_psi: bool = False
    has_refaults: bool = False
    has_majfaults: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.rated_intervals > 0


def _runs(flag: np.ndarray) -> list[tuple[int, int]]:
    """[first, last] row index of each run of True."""
    if not flag.any():
        return []
    d = np.diff(np.concatenate(([0], flag.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist()))


def find_windows(samples: pd.DataFrame, t: Thresholds) -> tuple[list[ThrashWindow], dict[str, object]]:
    """The thrash windows and the series stats the result needs."""
    n = len(samples)
    mask = valid_intervals(samples, t.thrash_max_interval_s)
    sin = rate_values(samples, "swapin_Bps", mask)
    sout = rate_values(samples, "swapout_Bps", mask)
    stats: dict[str, object] = {}
    if sin is None and sout is None:
        return [], stats
    nan = np.full(n, np.nan)
    a_in = sin if sin is not None else nan
    a_out = sout if sout is not None else nan
    # An interval counts only when every swap column the input has is usable there (no fake 0).
    known = np.ones(n, dtype=bool)
    bad_values = 0
    for name, arr in (("swapin_Bps", sin), ("swapout_Bps", sout)):
        if arr is not None:
            known &= ~np.isnan(arr)
            bad_values += int((samples[name].notna().to_numpy() & np.isnan(arr)).sum())
    traffic = np.where(known, np.nan_to_num(a_in) + np.nan_to_num(a_out), np.nan)
    iv = samples["interval_s"].to_numpy(dtype="float64", na_value=np.nan)
    ts_ms = samples["ts"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    seg = samples["segment"].to_numpy() if "segment" in samples.columns else np.zeros(n, dtype=np.int64)
    stats["rated"] = int(known.sum())
    stats["ignored"] = bad_values
    stats["in"], stats["out"], stats["iv"] = a_in, a_out, iv

    above = known & (traffic >= t.thrash_rate_bytes_per_s)
    runs = _runs(above)
    # Merge runs inside one segment whose gap is shorter than merge_gap_s.
    merged: list[list[int]] = []
    for first, lastrow in runs:
        start_ms = ts_ms[first] - iv[first] * 1000.0
        if merged:
            pf, pl = merged[-1]
            if seg[pf] == seg[first] and start_ms - ts_ms[pl] < t.thrash_merge_gap_s * 1000.0:
                merged[-1][1] = lastrow
                continue
        merged.append([first, lastrow])

    windows: list[ThrashWindow] = []
    psi = rate_values(samples, "psi_full_share", mask)
    refault = rate_values(samples, "refault_per_s", mask)
    majflt = rate_values(samples, "majfault_per_s", mask)
    avail, total, active = (column(samples, c) for c in ("mem_MemAvailable", "mem_MemTotal", "mem_Active"))
    for first, lastrow in merged:
        start_ms = int(round(ts_ms[first] - iv[first] * 1000.0))
        end_ms = int(ts_ms[lastrow])
        duration = (end_ms - start_ms) / 1000.0
        if duration < t.thrash_min_duration_s:
            continue
        sl = slice(first, lastrow + 1)
        w_iv = np.where(known[sl], iv[sl], np.nan)

        def peak_of(a: np.ndarray) -> float | None:
            part = a[sl]
            return None if np.isnan(part).all() else float(np.nanmax(part))

        def moved(a: np.ndarray) -> int | None:
            part = a[sl]
            return None if np.isnan(part).all() else int(round(float(np.nansum(part * iv[sl]))))

        bin_, bout = (moved(a_in) if sin is not None else None), (moved(a_out) if sout is not None else None)
        covered = float(np.nansum(w_iv))
        windows.append(
            ThrashWindow(
                start=pd.Timestamp(start_ms, unit="ms", tz="UTC"),
                end=pd.Timestamp(end_ms, unit="ms", tz="UTC"),
                duration_s=duration,
                peak_swapin_bytes_per_s=peak_of(a_in) if sin is not None else None,
                peak_swapout_bytes_per_s=peak_of(a_out) if sout is not None else None,
                mean_swapin_bytes_per_s=bin_ / covered if bin_ is not None and covered > 0 else None,
                mean_swapout_bytes_per_s=bout / covered if bout is not None and covered > 0 else None,
                swapin_bytes=bin_,
                swapout_bytes=bout,
                psi_full_mean_percent=_pct(weighted_mean(psi[sl], iv[sl])) if psi is not None else None,
                psi_full_peak_percent=_pct(float(np.nanmax(psi[sl])))
                if psi is not None and not np.isnan(psi[sl]).all()
                else None,
                refaults_per_s_mean=weighted_mean(refault[sl], iv[sl]) if refault is not None else None,
                majfaults_per_s_mean=weighted_mean(majflt[sl], iv[sl]) if majflt is not None else None,
            )
        )
        _classify(windows[-1], avail, total, active, sl, t)
    stats["has_psi"], stats["has_refaults"], stats["has_majfaults"] = psi is not None, refault is not None, majflt is not None
    return windows, stats


def _classify(
    w: ThrashWindow, avail: pd.Series | None, total: pd.Series | None, active: pd.Series | None, sl: slice, t: Thresholds
) -> None:
    """The window's memory levels and its cause (see the module doc)."""
    if avail is None or total is None:
        return
    a = avail.iloc[sl].to_numpy(dtype="float64", na_value=np.nan)
    m = total.iloc[sl].to_numpy(dtype="float64", na_value=np.nan)
    share = np.where(m > 0, a / np.where(m > 0, m, 1.0) * 100, np.nan)
    if np.isnan(share).all():
        return
    i = int(np.nanargmin(share))
    w.min_available_bytes, w.min_available_percent = int(a[i]), float(share[i])
    if active is not None:
        act = active.iloc[sl].to_numpy(dtype="float64", na_value=np.nan) / np.where(m > 0, m, np.nan) * 100
        w.peak_active_percent = None if np.isnan(act).all() else float(np.nanmax(act))
    w.cause = CAUSE_LIMIT if w.min_available_percent >= t.thrash_limit_available_percent else CAUSE_SHORT


def overall_cause(windows: list[ThrashWindow]) -> str:
    """One cause for the host: a shortage anywhere outweighs limits; unknown only when no window is known."""
    causes = {w.cause for w in windows}
    if not windows:
        return CAUSE_NONE
    for c in (CAUSE_SHORT, CAUSE_LIMIT):
        if c in causes:
            return c
    return CAUSE_UNKNOWN


_HOW_TO_COLLECT = (
    "Collect swap counters at intervals: memreport's collector (sh memsnap.sh --interval 60), "
    "sar -W (sysstat), or vmstat 60 with its si/so columns."
)


def check_thrash(
    samples: pd.DataFrame, t: Thresholds, has_vm_table: bool = False, at_hard_limit: list[str] | None = None
) -> ThrashResult:
    """Thrash windows and their cause. `has_vm_table`: the report lists per-VM swap, so advice may point there;
    `at_hard_limit`: VMs resident at their hard limit (vms.py), named when a limit forced the swapping."""
    r = ThrashResult()
    windows, stats = find_windows(samples, t)
    if not stats:
        r.missing.append("swap-in/swap-out rates (/proc/vmstat pswpin/pswpout at two or more times; sar -W; vmstat si/so)")
        r.findings.append(_unknown("The input has no swap-in/swap-out counters or rates."))
        return r
    r.windows = windows
    r.rated_intervals = int(stats["rated"])  # type: ignore[call-overload]
    r.ignored_intervals = int(stats["ignored"])  # type: ignore[call-overload]
    r.has_psi, r.has_refaults, r.has_majfaults = bool(stats["has_psi"]), bool(stats["has_refaults"]), bool(stats["has_majfaults"])
    a_in: np.ndarray = stats["in"]  # type: ignore[assignment]
    a_out: np.ndarray = stats["out"]  # type: ignore[assignment]
    iv: np.ndarray = stats["iv"]  # type: ignore[assignment]
    for name, a in (("swapin", a_in), ("swapout", a_out)):
        if not np.isnan(a).all():
            i = int(np.nanargmax(a))
            setattr(r, f"peak_{name}_bytes_per_s", float(a[i]))
            setattr(r, f"peak_{name}_at", samples["ts"].iloc[i])
            setattr(r, f"total_{name}_bytes", int(round(float(np.nansum(a * iv)))))
    if r.rated_intervals == 0:
        # Counters were there, but no interval gave a rate (one sample, or every interval a gap/reboot):
        # that is not "no thrash".
        r.missing.append("usable swap rates (every interval was a gap or a reboot)")
        r.findings.append(
            _unknown(
                "The swap counters never gave a rate: one sample only, or every interval was a gap "
                f"longer than {fmt_duration(t.thrash_max_interval_s)} or crossed a reboot."
            )
        )
        return r
    r.total_window_seconds = float(sum(w.duration_s for w in windows))
    r.cause = overall_cause(windows)
    limit = (
        f"swap traffic never stayed at or above {fmt_rate(t.thrash_rate_bytes_per_s)} for {fmt_duration(t.thrash_min_duration_s)}"
    )
    if not windows:
        r.findings.append(
            Finding(
                id="thrash.none",
                check=CHECK,
                severity=Severity.OK,
                title="No swap thrash",
                detail=(
                    f"{limit[0].upper()}{limit[1:]}; peak swap-in {fmt_rate(r.peak_swapin_bytes_per_s)}, "
                    f"peak swap-out {fmt_rate(r.peak_swapout_bytes_per_s)}."
                ),
                recommendation="Nothing to do.",
                evidence={
                    "peak_swapin_bytes_per_s": r.peak_swapin_bytes_per_s,
                    "peak_swapout_bytes_per_s": r.peak_swapout_bytes_per_s,
                    "cause": r.cause,
                },
            )
        )
        return r
    worst = max(windows, key=lambda w: (w.swapped_bytes or 0, w.duration_s))
    psi_hot = [
        w for w in windows if w.psi_full_mean_percent is not None and w.psi_full_mean_percent >= t.thrash_psi_full_crit_percent
    ]
    sev = Severity.CRIT if (r.total_window_seconds >= t.thrash_crit_total_s or psi_hot) else Severity.WARN
    corro = []
    if worst.psi_full_mean_percent is not None:
        corro.append(f"PSI memory full {fmt_pct(worst.psi_full_mean_percent, 1)} of the time")
    if worst.refaults_per_s_mean is not None:
        corro.append(f"{fmt_num(worst.refaults_per_s_mean)} refaults/s")
    if worst.majfaults_per_s_mean is not None:
        corro.append(f"{fmt_num(worst.majfaults_per_s_mean)} major faults/s")
    corro_text = f" During it: {', '.join(corro)}." if corro else ""
    n = len(windows)
    count = f"{n} window{'s' if n != 1 else ''}, {fmt_duration(r.total_window_seconds)} in total"
    title, cause_text, rec = _cause_words(r, windows, count, has_vm_table, at_hard_limit or [])
    r.findings.append(
        Finding(
            id="thrash.windows",
            check=CHECK,
            severity=sev,
            title=title,
            detail=(
                f"Worst window {fmt_time(worst.start)} – {fmt_time(worst.end)} ({fmt_duration(worst.duration_s)}): "
                f"peak in {fmt_rate(worst.peak_swapin_bytes_per_s)}, out {fmt_rate(worst.peak_swapout_bytes_per_s)}, "
                f"{fmt_bytes(worst.swapped_bytes)} moved.{corro_text} {cause_text}"
            ),
            recommendation=rec,
            evidence={
                "windows": n,
                "total_seconds": r.total_window_seconds,
                "worst_start": worst.start,
                "worst_end": worst.end,
                "worst_swapped_bytes": worst.swapped_bytes,
                "cause": r.cause,
                "causes": [w.cause for w in windows],
            },
        )
    )
    return r


def _unknown(why: str) -> Finding:
    return Finding(
        id="thrash.unknown",
        check=CHECK,
        severity=Severity.WARN,
        title="Swap thrash could not be checked: no swap rates",
        detail=why + " A host that thrashes would read the same as one that does not.",
        recommendation=_HOW_TO_COLLECT,
    )


def _cause_words(
    r: ThrashResult, windows: list[ThrashWindow], count: str, has_vm_table: bool, at_hard_limit: list[str]
) -> tuple[str, str, str]:
    """(title, the sentence on the cause, the recommendation) for the cause the windows showed."""
    short = [w for w in windows if w.cause == CAUSE_SHORT]
    limited = [w for w in windows if w.cause == CAUSE_LIMIT]
    vm_hint = " The per-VM table shows which VMs hold swap." if has_vm_table else ""
    if r.cause == CAUSE_SHORT:
        low = min(short, key=lambda w: w.min_available_percent or 0.0)
        active = f", Active up to {fmt_pct(low.peak_active_percent)} of RAM" if low.peak_active_percent is not None else ""
        also = (
            f" {len(limited)} other window{'s' if len(limited) != 1 else ''} swapped while memory stayed available "
            "(a memory limit)."
            if limited
            else ""
        )
        return (
            f"Swap thrash, host memory short: {count}",
            f"MemAvailable fell to {fmt_bytes(low.min_available_bytes)} ({fmt_pct(low.min_available_percent, 1)} of RAM)"
            f"{active}: the VMs need more memory than the host has.{also}",
            "Reduce the memory allocated on this host or move a VM off it; more swap does not help memory in active use."
            + vm_hint,
        )
    if r.cause == CAUSE_LIMIT:
        low = min(limited, key=lambda w: w.min_available_percent or 0.0)
        active = f" and Active at most {fmt_pct(low.peak_active_percent)} of RAM" if low.peak_active_percent is not None else ""
        return (
            f"Swap thrash forced by a memory limit: {count}",
            f"The host was not short: MemAvailable stayed at or above {fmt_bytes(low.min_available_bytes)} "
            f"({fmt_pct(low.min_available_percent, 1)} of RAM){active} while it swapped, so a memory limit forced the "
            "swapping.",
            (
                f"Raise the hard limit of {', '.join(at_hard_limit)}: resident at its hard limit (libvirt <memtune>); "
                if at_hard_limit
                else ""
            )
            + "Check the VMs' memory limits (libvirt <memtune> hard_limit / soft_limit, the cgroup's memory.max and "
            "memory.high under machine.slice) and raise the one that is too tight; the host itself has room." + vm_hint,
        )
    return (
        f"Swap thrash: {count}",
        "Whether the host was short or a memory limit forced it is not known: the data has no MemAvailable and "
        "MemTotal during the windows.",
        "Collect /proc/meminfo with the swap counters (memreport's collector) to tell a host shortage from a "
        "memory limit; until then treat it as a shortage: reduce allocations or move a VM." + vm_hint,
    )


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100.0
