"""Capacity analysis of one host: every check, the findings sorted by severity, and the verdict.

analysis = analyze(data, thresholds)
analysis.verdict          # Severity.OK / WARN / CRIT (the `memreport analyze` exit code)
summary_lines(analysis)   # the terminal summary
report_json.build(analysis)  # the report.json dict (docs/REPORT-JSON.md)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memreport.analyze import answer as answer_mod, what_if as what_if_mod
from memreport.analyze._util import has
from memreport.analyze.active import ActiveResult, check_active
from memreport.analyze.answer import Answer
from memreport.analyze.confidence import Confidence, assess
from memreport.analyze.hugepages import HugepagesResult, SwapDevices, check_hugepages, swap_devices
from memreport.analyze.ksm import KsmResult, check_ksm
from memreport.analyze.numa import NumaResult, check_numa
from memreport.analyze.oom import OomResult, check_oom
from memreport.analyze.pressure import Pressure, measure
from memreport.analyze.swap_sizing import SwapSizing, check_swap_sizing
from memreport.analyze.thrash import ThrashResult, check_thrash
from memreport.analyze.vms import VmsResult, check_vms
from memreport.analyze.wording import fmt_bytes, fmt_num, fmt_time
from memreport.config import Thresholds
from memreport.model import Contribution, Finding, HostData, HostFacts, Severity
from memreport.vm_digest import VmDigest

__all__ = ["Analysis", "Answer", "CoverageItem", "analyze", "summary_lines"]

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
    pressure: Pressure
    confidence: Confidence
    answer: Answer
    hugepages: HugepagesResult = field(default_factory=HugepagesResult)
    swap_devices: SwapDevices = field(default_factory=SwapDevices)
    numa: NumaResult = field(default_factory=NumaResult)
    what_if: WhatIf | None = None  # the answer recomputed for --add-vms/--remove-vm/--swap/--ksm
    findings: list[Finding] = field(default_factory=list)  # sorted: most severe first

    @property
    def verdict(self) -> Severity:
        return max((f.severity for f in self.findings), default=Severity.OK)

    @property
    def missing(self) -> list[CoverageItem]:
        return [c for c in self.coverage if not c.present]


def _coverage(samples: pd.DataFrame, vms: VmDigest | None) -> list[CoverageItem]:
    def item(name: str, cols: tuple[str, ...], how: str) -> CoverageItem:
        return CoverageItem(name, all(has(samples, c) for c in cols), how)

    return [
        item("MemTotal", ("mem_MemTotal",), "/proc/meminfo (memreport's collector; sar -r gives it from sysstat 11 on)"),
        item("Inactive and Active", ("mem_Inactive", "mem_Active"), "/proc/meminfo, or sar -r ALL (kbinact, kbactive)"),
        item("MemAvailable", ("mem_MemAvailable",), "/proc/meminfo (kernel ≥ 3.14), or sar -r (kbavail)"),
        item("Inactive(anon)", ("mem_Inactive_anon",), "/proc/meminfo (not in sar): use memreport's collector"),
        item("Swap configured (SwapTotal)", ("mem_SwapTotal",), "/proc/meminfo or sar -S"),
        item(
            "Swap-in/out rates",
            ("swapin_Bps", "swapout_Bps"),
            "/proc/vmstat pswpin/pswpout at intervals, sar -W, or vmstat si/so",
        ),
        item("PSI memory pressure", ("psi_full_share",), "/proc/pressure/memory (kernel ≥ 4.20; RHEL 8 boots with psi=1)"),
        item("Workingset refaults", ("refault_per_s",), "/proc/vmstat workingset_refault_* (kernel ≥ 5.9)"),
        item("Major faults", ("majfault_per_s",), "/proc/vmstat pgmajfault or sar -B"),
        item("OOM kill counter", ("oom_kills",), "/proc/vmstat oom_kill (kernel ≥ 4.13)"),
        item("Committed_AS", ("mem_Committed_AS",), "/proc/meminfo, or sar -r (kbcommit)"),
        item("CommitLimit", ("mem_CommitLimit",), "/proc/meminfo (not in sar)"),
        item("KSM", ("ksm_pages_sharing_bytes",), "/sys/kernel/mm/ksm/* (memreport's collector)"),
        item("ksmd CPU", ("ksmd_cpu_share",), "ksmd's /proc/<pid>/stat ticks (memreport's collector)"),
        CoverageItem(
            "Per-VM data",
            vms is not None and len(vms) > 0,
            "qemu processes' /proc/<pid>/status + cmdline, or libvirt (memreport's collector as root)",
        ),
    ]


# Findings that rest on a peak: on low-confidence data they claim at most WARN (what was observed
# directly, an OOM kill or a thrash window, keeps its severity).
PEAK_BASED = frozenset({"swap.deficit"})


def _cap_low_confidence(findings: list[Finding], conf: Confidence) -> list[Finding]:
    if conf.level != "low":
        return findings
    out = []
    for f in findings:
        if f.id in PEAK_BASED and f.severity > Severity.WARN:
            f = dataclasses.replace(
                f,
                severity=Severity.WARN,
                detail=f"{f.detail} Only {conf.reason}: this peak may not be the host's, so it is not called critical.",
                recommendation=f"{f.recommendation} First {conf.needs}.",
                evidence={**f.evidence, "capped_by_confidence": conf.level},
            )
        out.append(f)
    return out


# Findings whose own figure would restate the answer: their advice points to the one answer instead.
_SWAP_ADVICE = frozenset({"swap.deficit", "oom.overallocated"})
_FIT_ADVICE = frozenset({"oom.headroom", "oom.low_headroom"})


def _one_answer(findings: list[Finding], ans: Answer, conf: Confidence) -> list[Finding]:
    out = []
    for f in findings:
        if f.id in _SWAP_ADVICE and ans.swap_to_add_bytes:
            capped = f" First {conf.needs}." if "capped_by_confidence" in f.evidence else ""
            f = dataclasses.replace(f, recommendation=ans.lines[0] + capped)
        elif f.id in _FIT_ADVICE and ans.vms_that_fit is not None:
            f = dataclasses.replace(f, recommendation=ans.lines[2])
        out.append(f)
    return out


def _sort_key(f: Finding) -> tuple[int, int, str]:
    order = CHECK_ORDER.index(f.check) if f.check in CHECK_ORDER else len(CHECK_ORDER)
    return (-int(f.severity), order, f.id)


@dataclass
class WhatIf:
    change: what_if_mod.Change
    method: list[str]  # how the change was applied, one sentence each
    after: Analysis

    @property
    def sentence(self) -> str:
        return what_if_sentence(self.change)

    @property
    def headroom_bytes(self) -> int | None:
        """Free memory after, by the answer's own rule: the fewer of the safe rule and the observed peak."""
        frees = [m.free_bytes for m in self.after.oom.models if m.key in ("safe", "observed") and m.free_bytes is not None]
        return min(frees) if frees else None

    @property
    def blocker(self) -> str | None:
        """Why the host does not hold the change: hugepage_pool (hugepage-backed VMs beyond the pool: swap cannot
        help), swap (a rule asks for swap, answer.swap_to_add_bytes), observed_peak (the observed peak use plus
        the added VMs exceeds RAM + swap); None when it holds it or nothing is known."""
        a = self.after
        pool = a.hugepages.unallocated_bytes
        if pool is not None and pool < 0:
            return "hugepage_pool"
        if a.answer.swap_to_add_bytes:
            return "swap"
        free = self.headroom_bytes
        if free is not None and free < 0:
            return "observed_peak"
        return None

    @property
    def fits(self) -> bool | None:
        """The host holds the change as it is: no swap to add, no negative headroom, the hugepage pool enough.
        None when the swap answer or the headroom is not known."""
        if self.blocker is not None:
            return False
        if self.after.answer.swap_to_add_bytes is None or self.headroom_bytes is None:
            return None
        return True

    def as_json(self) -> dict[str, object]:
        a = self.after
        return {
            "change": self.change.as_json(),
            "method": self.method,
            "answer": a.answer.as_json(),
            "vm_allocated_bytes": a.oom.vm_allocated_bytes,
            "oom_headroom_bytes": a.oom.oom_headroom_bytes,
            "swap_required_bytes": a.swap.required_bytes,
            "swap_total_bytes": a.swap.swap_total_bytes,
            "headroom_bytes": self.headroom_bytes,
            "hugepages_unallocated_bytes": a.hugepages.unallocated_bytes,
            "fits": self.fits,
            "blocker": self.blocker,
        }


def analyze(data: HostData, thresholds: Thresholds | None = None, change: what_if_mod.Change | None = None) -> Analysis:
    """Run every check on one host's data; with a change, also as if it were made (Analysis.what_if)."""
    t = thresholds or Thresholds()
    samples = data.samples
    if "ts" in samples.columns:
        samples = samples.sort_values("ts", kind="stable")
    samples = samples.reset_index(drop=True)
    vms = data.vm_digest if data.vm_digest is not None else VmDigest.of(data.vms)
    n = len(samples)
    start = samples["ts"].iloc[0] if n else None
    end = samples["ts"].iloc[-1] if n else None
    segments = int(pd.Series(samples["segment"]).nunique()) if n and "segment" in samples.columns else (1 if n else 0)
    med = None
    if n and "interval_s" in samples.columns and samples["interval_s"].notna().any():
        med = float(np.nanmedian(samples["interval_s"].to_numpy(dtype="float64", na_value=np.nan)))

    hp = check_hugepages(samples, vms, data.hugepages, t.oom_new_vm_bytes)
    devices = swap_devices(samples, data.swaps)
    oom = check_oom(
        samples,
        vms,
        t,
        data.facts.overcommit_memory,
        pool_bytes=hp.pool_bytes,
        hugepage_alloc_bytes=hp.vm_allocated_bytes,
        zram_bytes=devices.zram_bytes,
        zram_used=devices.zram_used_at(samples["ts"]) if "ts" in samples.columns else None,
    )
    pressure = measure(samples, oom.vm_allocated_bytes, t)
    vms_result = check_vms(vms, t)
    swap = check_swap_sizing(samples, t, pressure, zram_bytes=devices.zram_bytes)
    numa = check_numa(data.numa, t, data.hugepages, hp.page_size_bytes)
    thrash = check_thrash(samples, t, has_vm_table=bool(vms_result.rows), at_hard_limit=vms_result.at_hard_limit)
    ksm = check_ksm(samples, t)
    confidence = assess(samples, med, t)
    active = check_active(samples, t)
    findings: list[Finding] = []
    for part in (swap, oom, hp, thrash, active, ksm, vms_result, numa):
        findings.extend(part.findings)
    if n == 0:
        findings.append(
            Finding(
                id="coverage.empty",
                check="coverage",
                severity=Severity.WARN,
                title="No samples for this host",
                detail="The input gave no memory samples.",
                recommendation="Check the input: memreport needs /proc/meminfo at least once.",
            )
        )
    findings = _cap_low_confidence(findings, confidence)
    answer = answer_mod.build(swap, thrash, oom, ksm, confidence, t.oom_new_vm_bytes, findings, hp)
    a = Analysis(
        host=data.facts.host,
        facts=data.facts,
        thresholds=t,
        period_start=start,
        period_end=end,
        sample_count=n,
        segments=segments,
        median_interval_s=med,
        swap=swap,
        active=active,
        thrash=thrash,
        oom=oom,
        ksm=ksm,
        vms=vms_result,
        coverage=_coverage(samples, vms),
        contributions=list(data.contributions),
        pressure=pressure,
        confidence=confidence,
        answer=answer,
        hugepages=hp,
        swap_devices=devices,
        numa=numa,
    )
    findings = _one_answer(findings, answer, confidence)
    a.findings = sorted(findings, key=_sort_key)
    if change is not None and not change.empty:
        applied = what_if_mod.apply(data, change)
        after = analyze(applied.data, t)
        if change.ksm_off:
            i = next(n for n, item in enumerate(after.answer.items) if item.key == "ksm")
            saved = ksm.saved_peak_bytes
            text = (
                "KSM off: nothing comes back (it saved nothing)."
                if not saved
                else f"KSM off: its peak saving of {fmt_bytes(saved)} comes back as demand."
            )
            after.answer.items[i] = dataclasses.replace(after.answer.items[i], text=text, tone="ok" if not saved else "warn")
            after.answer = dataclasses.replace(after.answer, ksm="off")
        a.what_if = WhatIf(change, applied.notes, after)
    return a


def summary_lines(analysis: Analysis) -> list[str]:
    """The terminal summary of `memreport analyze`: a verdict line, the answer, then one block per finding."""
    a = analysis
    lines = [
        f"{a.host}: {a.verdict.name} ({fmt_time(a.period_start, seconds=False)} – {fmt_time(a.period_end, seconds=False)}, "
        f"{fmt_num(a.sample_count)} samples)"
    ]
    lines += [f"  {line}" for line in a.answer.lines]
    lines.append("")
    for f in a.findings:
        lines.append(f"{f.severity.name:<4}  {f.title}")
        lines.append(f"      {f.detail}")
        lines.append(f"      → {f.recommendation}")
    if a.what_if is not None:
        lines.append("")
        lines.append("What if: " + what_if_sentence(a.what_if.change))
        lines += [f"  {line}" for line in a.what_if.after.answer.lines]
    if a.missing:
        lines.append("not in the data: " + ", ".join(c.name for c in a.missing))
    return lines


def what_if_sentence(c: what_if_mod.Change) -> str:
    parts = [
        f"add {x.count} × {fmt_bytes(x.size_bytes)} VM{'s' if x.count != 1 else ''}"
        + (" backed by hugepages" if x.backing == "hugepages" else "")
        for x in c.add
    ]
    parts += [f"remove {name}" for name in c.remove]
    if c.swap_bytes is not None:
        parts.append(f"swap {fmt_bytes(c.swap_bytes)}")
    if c.ksm_off:
        parts.append("KSM off")
    return ", ".join(parts)


# memreport.analyze(...) is the API call (memreport.api.analyze): see api_modules.py.
from memreport.api_modules import make_callable  # noqa: E402

make_callable(__name__, "analyze")
