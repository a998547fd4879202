"""Rule 2, first half: active memory stays in RAM.

Flags Active approaching MemTotal, and intervals where pages are swapped out and read back in
within the same interval (a round trip: memory that was still in use went to swap).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memreport.analyze._util import argmax, column, peak, rate_values, valid_intervals
from memreport.analyze.wording import fmt_bytes, fmt_duration, fmt_pct, fmt_rate, fmt_time
from memreport.config import Thresholds
from memreport.model import Finding, Severity

CHECK = "active"


@dataclass
class ActiveResult:
    missing: list[str] = field(default_factory=list)
    peak_active_bytes: int | None = None
    peak_active_at: pd.Timestamp | None = None
    peak_active_percent: float | None = None  # max over samples of Active ÷ MemTotal × 100
    peak_active_percent_at: pd.Timestamp | None = None
    memory_total_bytes: int | None = None
    roundtrip_seconds: float | None = None  # None = swap rates unknown
    roundtrip_intervals: int | None = None
    roundtrip_swapin_bytes: int | None = None
    first_roundtrip_at: pd.Timestamp | None = None
    last_roundtrip_at: pd.Timestamp | None = None
    findings: list[Finding] = field(default_factory=list)


def check_active(samples: pd.DataFrame, t: Thresholds) -> ActiveResult:
    r = ActiveResult()
    active = column(samples, "mem_Active")
    total = column(samples, "mem_MemTotal")
    if active is None or total is None:
        r.missing.append("Active and MemTotal (/proc/meminfo; sar -r ALL kbactive)")
    else:
        r.peak_active_bytes, r.peak_active_at = peak(samples, active)
        r.memory_total_bytes = int(total.dropna().iloc[-1])
        share = (active / total * 100).replace([np.inf, -np.inf], np.nan)
        i = argmax(share)
        if i is not None:
            r.peak_active_percent = float(share.iloc[i])
            r.peak_active_percent_at = samples["ts"].iloc[i]

    mask = valid_intervals(samples, t.thrash_max_interval_s)
    sin = rate_values(samples, "swapin_Bps", mask)
    sout = rate_values(samples, "swapout_Bps", mask)
    if sin is None or sout is None:
        r.missing.append("swap-in and swap-out rates (/proc/vmstat pswpin/pswpout twice or more; sar -W; vmstat si/so)")
    else:
        iv = samples["interval_s"].to_numpy(dtype="float64", na_value=np.nan)
        trip = (sin >= t.active_roundtrip_bytes_per_s) & (sout >= t.active_roundtrip_bytes_per_s)
        r.roundtrip_intervals = int(trip.sum())
        r.roundtrip_seconds = float(iv[trip].sum()) if trip.any() else 0.0
        r.roundtrip_swapin_bytes = int(round(float((sin[trip] * iv[trip]).sum()))) if trip.any() else 0
        if trip.any():
            trip_ts = samples["ts"][trip]
            r.first_roundtrip_at = trip_ts.iloc[0]
            r.last_roundtrip_at = trip_ts.iloc[-1]

    if r.peak_active_percent is not None:
        pct = r.peak_active_percent
        ev = {
            "peak_active_bytes": r.peak_active_bytes,
            "peak_active_percent": round(pct, 2),
            "at": r.peak_active_percent_at,
            "memory_total_bytes": r.memory_total_bytes,
        }
        if pct >= t.active_warn_percent:
            sev = Severity.CRIT if pct >= t.active_crit_percent else Severity.WARN
            r.findings.append(
                Finding(
                    id="active.near_total",
                    check=CHECK,
                    severity=sev,
                    title=f"Active memory reached {fmt_pct(pct, 1)} of RAM",
                    detail=(
                        f"Active was {fmt_bytes(r.peak_active_bytes)} of {fmt_bytes(r.memory_total_bytes)} MemTotal "
                        f"at {fmt_time(r.peak_active_percent_at)}: memory in use no longer fits in RAM with room to spare."
                    ),
                    recommendation="Move a VM to another host or add RAM; more swap does not help memory that is in active use.",
                    evidence=ev,
                )
            )
        else:
            r.findings.append(
                Finding(
                    id="active.fits",
                    check=CHECK,
                    severity=Severity.OK,
                    title=f"Active memory stays in RAM (peak {fmt_pct(pct, 1)} of RAM)",
                    detail=f"Active peaked at {fmt_bytes(r.peak_active_bytes)} of {fmt_bytes(r.memory_total_bytes)} at {fmt_time(r.peak_active_percent_at)}.",
                    recommendation="Nothing to do.",
                    evidence=ev,
                )
            )
    if r.roundtrip_seconds is not None and r.roundtrip_seconds >= t.active_roundtrip_warn_s:
        r.findings.append(
            Finding(
                id="active.roundtrip",
                check=CHECK,
                severity=Severity.WARN,
                title=f"Pages swapped out and back in for {fmt_duration(r.roundtrip_seconds)}",
                detail=(
                    f"In {r.roundtrip_intervals} intervals between {fmt_time(r.first_roundtrip_at)} and {fmt_time(r.last_roundtrip_at)} "
                    f"swap-in and swap-out both reached {fmt_rate(t.active_roundtrip_bytes_per_s)}; "
                    f"{fmt_bytes(r.roundtrip_swapin_bytes)} were read back from swap."
                ),
                recommendation="Memory still in use is going to swap: reduce the memory allocated on this host or add RAM.",
                evidence={
                    "roundtrip_seconds": r.roundtrip_seconds,
                    "intervals": r.roundtrip_intervals,
                    "swapin_bytes": r.roundtrip_swapin_bytes,
                    "first_at": r.first_roundtrip_at,
                    "last_at": r.last_roundtrip_at,
                },
            )
        )
    return r
