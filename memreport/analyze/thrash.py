"""Rule 2, second half: swap-thrash windows.

A sample's rates describe the interval before it, (ts − interval_s, ts]. A window is a run of
consecutive samples whose swap traffic (swap-in + swap-out) is at or above `thrash.rate_bytes_per_s`;
runs closer than `thrash.merge_gap_s` (inside one segment) are merged; a merged window shorter than
`thrash.min_duration_s` is a burst, not a window. A window starts where the interval of its first
sample starts and ends at its last sample. Rates never cross a reboot or a gap: ingest leaves them
null on a segment's first sample, and an interval longer than `thrash.max_interval_s` is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memreport.analyze._util import rate_values, valid_intervals, weighted_mean
from memreport.analyze.wording import fmt_bytes, fmt_duration, fmt_pct, fmt_rate, fmt_time
from memreport.config import Thresholds
from memreport.model import Finding, Severity

CHECK = "thrash"


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
                psi_full_peak_percent=_pct(float(np.nanmax(psi[sl]))) if psi is not None and not np.isnan(psi[sl]).all() else None,
                refaults_per_s_mean=weighted_mean(refault[sl], iv[sl]) if refault is not None else None,
                majfaults_per_s_mean=weighted_mean(majflt[sl], iv[sl]) if majflt is not None else None,
            )
        )
    stats["has_psi"], stats["has_refaults"], stats["has_majfaults"] = psi is not None, refault is not None, majflt is not None
    return windows, stats


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100.0


def check_thrash(samples: pd.DataFrame, t: Thresholds) -> ThrashResult:
    r = ThrashResult()
    windows, stats = find_windows(samples, t)
    if not stats:
        r.missing.append("swap-in/swap-out rates (/proc/vmstat pswpin/pswpout at two or more times; sar -W; vmstat si/so)")
        r.findings.append(Finding(
            id="thrash.unknown", check=CHECK, severity=Severity.OK,
            title="Swap thrash not checked: no swap rates",
            detail="The input has no swap-in/swap-out counters or rates.",
            recommendation="Run memreport's collector (or sar -W) over a representative period."))
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
        r.missing.append("usable swap rates (every interval was a gap or a reboot)")
    r.total_window_seconds = float(sum(w.duration_s for w in windows))
    limit = (f"swap traffic never stayed at or above {fmt_rate(t.thrash_rate_bytes_per_s)} "
             f"for {fmt_duration(t.thrash_min_duration_s)}")
    if not windows:
        r.findings.append(Finding(
            id="thrash.none", check=CHECK, severity=Severity.OK,
            title="No swap thrash",
            detail=(f"{limit[0].upper()}{limit[1:]}; peak swap-in {fmt_rate(r.peak_swapin_bytes_per_s)}, "
                    f"peak swap-out {fmt_rate(r.peak_swapout_bytes_per_s)}."),
            recommendation="Nothing to do.",
            evidence={"peak_swapin_bytes_per_s": r.peak_swapin_bytes_per_s, "peak_swapout_bytes_per_s": r.peak_swapout_bytes_per_s}))
        return r
    worst = max(windows, key=lambda w: (w.swapped_bytes or 0, w.duration_s))
    psi_hot = [w for w in windows if w.psi_full_mean_percent is not None and w.psi_full_mean_percent >= t.thrash_psi_full_crit_percent]
    sev = Severity.CRIT if (r.total_window_seconds >= t.thrash_crit_total_s or psi_hot) else Severity.WARN
    corro = []
    if worst.psi_full_mean_percent is not None:
        corro.append(f"PSI memory full {fmt_pct(worst.psi_full_mean_percent, 1)} of the time")
    if worst.refaults_per_s_mean is not None:
        corro.append(f"{worst.refaults_per_s_mean:,.0f} refaults/s")
    if worst.majfaults_per_s_mean is not None:
        corro.append(f"{worst.majfaults_per_s_mean:,.0f} major faults/s")
    corro_text = f" During it: {', '.join(corro)}." if corro else ""
    r.findings.append(Finding(
        id="thrash.windows", check=CHECK, severity=sev,
        title=f"Swap thrash: {len(windows)} window{'s' if len(windows) != 1 else ''}, {fmt_duration(r.total_window_seconds)} in total",
        detail=(f"Worst window {fmt_time(worst.start)} – {fmt_time(worst.end)} ({fmt_duration(worst.duration_s)}): "
                f"peak in {fmt_rate(worst.peak_swapin_bytes_per_s)}, out {fmt_rate(worst.peak_swapout_bytes_per_s)}, "
                f"{fmt_bytes(worst.swapped_bytes)} moved.{corro_text}"),
        recommendation=("VMs are paging through swap: memory in use exceeds RAM. Reduce allocations or move a VM "
                        "off this host; check which VMs swap in the per-VM table."),
        evidence={"windows": len(windows), "total_seconds": r.total_window_seconds, "worst_start": worst.start,
                  "worst_end": worst.end, "worst_swapped_bytes": worst.swapped_bytes}))
    return r
