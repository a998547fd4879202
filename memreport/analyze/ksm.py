"""KSM: memory saved against ksmd's CPU cost.

saved = pages_sharing × page size (kernel docs); sharing ratio = pages_sharing ÷ pages_shared (high is
good); waste = pages_unshared ÷ pages_sharing (high means scanning for little); general_profit
(kernel ≥ 6.1) where the kernel has it; ksmd CPU = Δ(utime+stime) ticks ÷ CLK_TCK ÷ Δt, as % of one CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memreport.analyze._util import column, last, peak, rate_values, valid_intervals, weighted_mean
from memreport.analyze.wording import fmt_bytes, fmt_pct, fmt_time
from memreport.config import Thresholds
from memreport.model import Finding, Severity

CHECK = "ksm"


@dataclass
class KsmResult:
    missing: list[str] = field(default_factory=list)
    collected: bool = False
    run: int | None = None  # last ksm run value: 0 off, 1 on, 2 unmerge
    saved_peak_bytes: int | None = None
    saved_peak_at: pd.Timestamp | None = None
    saved_last_bytes: int | None = None
    shared_last_bytes: int | None = None
    unshared_last_bytes: int | None = None
    sharing_ratio: float | None = None  # pages_sharing ÷ pages_shared, last sample
    unshared_ratio: float | None = None  # pages_unshared ÷ pages_sharing, last sample
    general_profit_bytes: int | None = None  # last
    general_profit_peak_bytes: int | None = None
    sharing_ratio_peak: float | None = None  # highest pages_sharing ÷ pages_shared of any sample
    stopped_at: pd.Timestamp | None = None  # first sample with run ≠ 1 after KSM had run, when it stayed stopped
    stopped_intervals: int = 0  # samples with run ≠ 1 after KSM had run (stopped for part of the period)
    action: str = "unknown"  # the answer: keep | slow_down | turn_off | off | unknown
    ksmd_cpu_percent: float | None = None  # interval-weighted mean, % of one CPU
    ksmd_cpu_peak_percent: float | None = None
    verdict: str = ""
    findings: list[Finding] = field(default_factory=list)


def check_ksm(samples: pd.DataFrame, t: Thresholds) -> KsmResult:
    r = KsmResult()
    sharing = column(samples, "ksm_pages_sharing_bytes")
    shared = column(samples, "ksm_pages_shared_bytes")
    unshared = column(samples, "ksm_pages_unshared_bytes")
    profit = column(samples, "ksm_general_profit")
    run = column(samples, "ksm_run")
    r.collected = sharing is not None or run is not None
    if not r.collected:
        r.missing.append("KSM not collected (/sys/kernel/mm/ksm/*: memreport's collector; not in sar or supportconfig)")
        r.verdict = "KSM not in the data."
        r.findings.append(
            _unknown(
                "The input has no /sys/kernel/mm/ksm counters, so whether KSM saves memory, and at what CPU cost, is not known."
            )
        )
        return r
    r.run = None if run is None else int(last(run))  # type: ignore[arg-type]
    if sharing is not None:
        r.saved_peak_bytes, r.saved_peak_at = peak(samples, sharing)
        r.saved_last_bytes = int(last(sharing))  # type: ignore[arg-type]
    if shared is not None:
        r.shared_last_bytes = int(last(shared))  # type: ignore[arg-type]
    if unshared is not None:
        r.unshared_last_bytes = int(last(unshared))  # type: ignore[arg-type]
    if r.saved_last_bytes is not None and r.shared_last_bytes:
        r.sharing_ratio = r.saved_last_bytes / r.shared_last_bytes
    if r.unshared_last_bytes is not None and r.saved_last_bytes:
        r.unshared_ratio = r.unshared_last_bytes / r.saved_last_bytes
    if profit is not None:
        r.general_profit_bytes = int(last(profit))  # type: ignore[arg-type]
        r.general_profit_peak_bytes = int(profit.max())
    if sharing is not None and shared is not None:
        ratio = (sharing / shared.where(shared > 0)).dropna()
        r.sharing_ratio_peak = None if ratio.empty else float(ratio.max())
    if run is not None:
        ran = (run == 1).cummax()  # from the first sample where KSM ran
        stopped = ran & run.notna() & (run != 1)
        r.stopped_intervals = int(stopped.sum())
        if r.run is not None and r.run != 1 and r.stopped_intervals:
            # Stopped and still stopped at the end: the first sample of the final stop.
            tail = stopped[::-1].cumprod()[::-1].astype(bool)
            r.stopped_at = samples["ts"][tail].iloc[0]
    mask = valid_intervals(samples, t.thrash_max_interval_s)
    cpu = rate_values(samples, "ksmd_cpu_share", mask)
    if cpu is not None and not np.isnan(cpu).all():
        iv = samples["interval_s"].to_numpy(dtype="float64", na_value=np.nan)
        mean = weighted_mean(cpu, iv)
        r.ksmd_cpu_percent = None if mean is None else mean * 100
        r.ksmd_cpu_peak_percent = float(np.nanmax(cpu)) * 100
    else:
        r.missing.append("ksmd CPU (utime+stime of ksmd from /proc/<pid>/stat at two or more times)")

    saved = r.saved_peak_bytes
    cpu_pct = r.ksmd_cpu_percent
    ev = {
        "saved_peak_bytes": saved,
        "ksmd_cpu_percent": cpu_pct,
        "sharing_ratio": r.sharing_ratio,
        "unshared_ratio": r.unshared_ratio,
        "general_profit_bytes": r.general_profit_bytes,
        "run": r.run,
    }
    if r.stopped_at is not None:
        r.verdict = f"KSM was stopped at {fmt_time(r.stopped_at)}"
        r.action = "off"
        before = f"; before that it saved up to {fmt_bytes(saved)}" if saved else ""
        r.findings.append(
            Finding(
                id="ksm.stopped",
                check=CHECK,
                severity=Severity.OK,
                title=r.verdict,
                detail=(
                    f"/sys/kernel/mm/ksm/run was {r.run} from {fmt_time(r.stopped_at)} to the end of the data{before}. "
                    "The saving and CPU figures describe the time KSM ran."
                ),
                recommendation=(
                    "If KSM was stopped on purpose, memory the merged pages shared is now used once per VM: check "
                    "the headroom. Otherwise start it again (echo 1 > /sys/kernel/mm/ksm/run)."
                ),
                evidence=ev,
            )
        )
        return r
    if r.run == 0 and not saved:
        r.action = "off"
        r.verdict = "KSM is off."
        r.findings.append(
            Finding(
                id="ksm.off",
                check=CHECK,
                severity=Severity.OK,
                title="KSM is off",
                detail="/sys/kernel/mm/ksm/run is 0 and no pages are merged.",
                recommendation="With many VMs of the same OS, try KSM (echo 1 > /sys/kernel/mm/ksm/run) and compare the saving with ksmd's CPU.",
                evidence=ev,
            )
        )
        return r
    if saved is None:
        r.verdict = "KSM saving not known (pages_sharing not collected)."
        r.findings.append(_unknown("The data has KSM's run state but not pages_sharing, so its saving is not known."))
        return r
    cost = "an unknown CPU cost" if cpu_pct is None else f"{fmt_pct(cpu_pct)} of one CPU"
    if cpu_pct is not None and cpu_pct >= t.ksm_cpu_warn_percent:
        sev, rec = (
            Severity.WARN,
            ("ksmd is expensive: raise /sys/kernel/mm/ksm/sleep_millisecs or lower pages_to_scan, then check the saving holds."),
        )
        r.verdict = f"KSM saves {fmt_bytes(saved)} for {cost}: too costly, slow ksmd down"
        r.action = "slow_down"
        if saved < t.ksm_min_saved_bytes:
            rec = "The saving is small for its cost: turn KSM off (echo 2 > /sys/kernel/mm/ksm/run unmerges)."
            r.verdict = f"KSM saves {fmt_bytes(saved)} for {cost}: turn it off"
            r.action = "turn_off"
    elif saved < t.ksm_min_saved_bytes and (cpu_pct is None or cpu_pct >= t.ksm_idle_cpu_percent):
        sev, rec = Severity.OK, "The saving is small: KSM could be turned off to give ksmd's CPU back."
        r.verdict = f"KSM saves only {fmt_bytes(saved)} for {cost}: not worth it"
        r.action = "turn_off"
    else:
        sev, rec = Severity.OK, "Keep KSM on."
        r.verdict = f"KSM saves {fmt_bytes(saved)} for {cost}: keep it"
        r.action = "keep"
    r.findings.append(
        Finding(
            id="ksm.value",
            check=CHECK,
            severity=sev,
            title=r.verdict,
            detail=(
                f"Peak saving {fmt_bytes(saved)} (pages_sharing); "
                + (
                    f"last {fmt_bytes(r.saved_last_bytes)}; "
                    if r.saved_last_bytes is not None and r.saved_last_bytes != saved
                    else ""
                )
                + (
                    f"sharing ratio {r.sharing_ratio:.1f} (peak {r.sharing_ratio_peak:.1f}); "
                    if r.sharing_ratio is not None and r.sharing_ratio_peak is not None
                    else ""
                )
                + (
                    f"general_profit {fmt_bytes(r.general_profit_bytes)} (peak {fmt_bytes(r.general_profit_peak_bytes)}); "
                    if r.general_profit_bytes is not None
                    else ""
                )
                + f"ksmd mean CPU {cost}."
            ),
            recommendation=rec,
            evidence=ev,
        )
    )
    if r.unshared_ratio is not None and r.unshared_ratio > t.ksm_unshared_warn_ratio:
        r.findings.append(
            Finding(
                id="ksm.waste",
                check=CHECK,
                severity=Severity.OK,
                title=f"KSM scans {r.unshared_ratio:.1f} unshared pages per shared one",
                detail=(
                    f"pages_unshared {fmt_bytes(r.unshared_last_bytes)} vs pages_sharing "
                    f"{fmt_bytes(r.saved_last_bytes)}: most scanned memory never merges."
                ),
                recommendation="Scanning is partly wasted: lower pages_to_scan, or mark fewer regions mergeable.",
                evidence=ev,
            )
        )
    return r


def _unknown(why: str) -> Finding:
    return Finding(
        id="ksm.unknown",
        check=CHECK,
        severity=Severity.WARN,
        title="KSM could not be checked",
        detail=why,
        recommendation=("Collect /sys/kernel/mm/ksm/* and ksmd's CPU time: memreport's collector (sh memsnap.sh) records both."),
    )
