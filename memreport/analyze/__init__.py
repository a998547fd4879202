"""Capacity analysis of one host: every check, the findings sorted by severity, and the verdict.

    analysis = analyze(data, thresholds)
    analysis.verdict          # Severity.OK / WARN / CRIT (the `memreport analyze` exit code)
    summary_lines(analysis)   # the terminal summary
    report_json.build(analysis)  # the report.json dict (docs/REPORT-JSON.md)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memreport.analyze._util import has
from memreport.analyze.active import ActiveResult, check_active
from memreport.analyze.ksm import KsmResult, check_ksm
from memreport.analyze.oom import OomResult, check_oom
from memreport.analyze.swap_sizing import SwapSizing, check_swap_sizing
from memreport.analyze.thrash import ThrashResult, check_thrash
from memreport.analyze.vms import VmsResult, check_vms
from memreport.analyze.wording import fmt_time
from memreport.config import Thresholds
from memreport.model import Contribution, Finding, HostData, HostFacts, Severity

__all__ = ["Analysis", "CoverageItem", "analyze", "summary_lines"]

CHECK_ORDER = ("swap_sizing", "oom", "thrash", "active", "ksm", "vms", "coverage")


@dataclass
class CoverageItem:
    name: str
    present: bool
    how_to_collect: str  # shown when missing


@dataclass
class Analysis:
    host: str
    facts: HostFacts
    thresholds: Thresholds
    period_start: pd.Timestamp | None
    period_end: pd.Timestamp | None
    sample_count: int
    segments: int  # continuity segments: 1 + reboots/resets seen
    median_interval_s: float | None
    swap: SwapSizing
    active: ActiveResult
    thrash: ThrashResult
    oom: OomResult
    ksm: KsmResult
    vms: VmsResult
    coverage: list[CoverageItem]
    contributions: list[Contribution]
    findings: list[Finding] = field(default_factory=list)  # sorted: most severe first

    @property
    def verdict(self) -> Severity:
        return max((f.severity for f in self.findings), default=Severity.OK)

    @property
    def missing(self) -> list[CoverageItem]:
        return [c for c in self.coverage if not c.present]


def _coverage(samples: pd.DataFrame, vms: pd.DataFrame | None) -> list[CoverageItem]:
    def item(name: str, cols: tuple[str, ...], how: str) -> CoverageItem:
        return CoverageItem(name, all(has(samples, c) for c in cols), how)

    return [
        item("Memory levels (meminfo)", ("mem_MemTotal", "mem_Inactive", "mem_Active"), "collect /proc/meminfo (memreport's collector, or sar -r ALL)"),
        item("Inactive(anon)", ("mem_Inactive_anon",), "/proc/meminfo (not in sar): use memreport's collector"),
        item("Swap configured (SwapTotal)", ("mem_SwapTotal",), "/proc/meminfo or sar -S"),
        item("Swap-in/out rates", ("swapin_Bps", "swapout_Bps"), "/proc/vmstat pswpin/pswpout at intervals, sar -W, or vmstat si/so"),
        item("PSI memory pressure", ("psi_full_share",), "/proc/pressure/memory (kernel ≥ 4.20; RHEL 8 boots with psi=1)"),
        item("Workingset refaults", ("refault_per_s",), "/proc/vmstat workingset_refault_* (kernel ≥ 5.9)"),
        item("Major faults", ("majfault_per_s",), "/proc/vmstat pgmajfault or sar -B"),
        item("OOM kill counter", ("oom_kills",), "/proc/vmstat oom_kill (kernel ≥ 4.13)"),
        item("Commit (Committed_AS, CommitLimit)", ("mem_Committed_AS", "mem_CommitLimit"), "/proc/meminfo"),
        item("KSM", ("ksm_pages_sharing_bytes",), "/sys/kernel/mm/ksm/* (memreport's collector)"),
        item("ksmd CPU", ("ksmd_cpu_share",), "ksmd's /proc/<pid>/stat ticks (memreport's collector)"),
        CoverageItem("Per-VM data", vms is not None and len(vms) > 0,
                     "qemu processes' /proc/<pid>/status + cmdline, or libvirt (memreport's collector as root)"),
    ]


def _sort_key(f: Finding) -> tuple[int, int, str]:
    order = CHECK_ORDER.index(f.check) if f.check in CHECK_ORDER else len(CHECK_ORDER)
    return (-int(f.severity), order, f.id)


def analyze(data: HostData, thresholds: Thresholds | None = None) -> Analysis:
    """Run every check on one host's data."""
    t = thresholds or Thresholds()
    samples = data.samples
    if "ts" in samples.columns:
        samples = samples.sort_values("ts", kind="stable")
    samples = samples.reset_index(drop=True)
    vms = data.vms.reset_index(drop=True) if data.vms is not None else None
    n = len(samples)
    start = samples["ts"].iloc[0] if n else None
    end = samples["ts"].iloc[-1] if n else None
    segments = int(pd.Series(samples["segment"]).nunique()) if n and "segment" in samples.columns else (1 if n else 0)
    med = None
    if n and "interval_s" in samples.columns and samples["interval_s"].notna().any():
        med = float(np.nanmedian(samples["interval_s"].to_numpy(dtype="float64", na_value=np.nan)))

    a = Analysis(
        host=data.facts.host,
        facts=data.facts,
        thresholds=t,
        period_start=start,
        period_end=end,
        sample_count=n,
        segments=segments,
        median_interval_s=med,
        swap=check_swap_sizing(samples, t),
        active=check_active(samples, t),
        thrash=check_thrash(samples, t),
        oom=check_oom(samples, vms, t, data.facts.overcommit_memory),
        ksm=check_ksm(samples, t),
        vms=check_vms(vms, t),
        coverage=_coverage(samples, vms),
        contributions=list(data.contributions),
    )
    findings: list[Finding] = []
    for part in (a.swap, a.oom, a.thrash, a.active, a.ksm, a.vms):
        findings.extend(part.findings)
    if n == 0:
        findings.append(Finding(id="coverage.empty", check="coverage", severity=Severity.WARN,
                                title="No samples for this host", detail="The input gave no memory samples.",
                                recommendation="Check the input: memreport needs /proc/meminfo at least once."))
    a.findings = sorted(findings, key=_sort_key)
    return a


def summary_lines(analysis: Analysis) -> list[str]:
    """The terminal summary of `memreport analyze`: a verdict line, then one block per finding."""
    a = analysis
    lines = [
        f"{a.host}: {a.verdict.name} ({fmt_time(a.period_start, seconds=False)} – {fmt_time(a.period_end, seconds=False)}, "
        f"{a.sample_count} samples)"
    ]
    for f in a.findings:
        lines.append(f"{f.severity.name:<4}  {f.title}")
        lines.append(f"      {f.detail}")
        lines.append(f"      → {f.recommendation}")
    if a.missing:
        lines.append("not in the data: " + ", ".join(c.name for c in a.missing))
    return lines
