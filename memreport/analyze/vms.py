"""Per VM: allocated vs resident (max, p95) vs swapped: the article's point that allocated and used
memory are not one-to-one. Merged KSM pages still count in every qemu's RSS, so RSS sums can exceed
what the host really uses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from memreport.analyze.wording import fmt_bytes, fmt_pct
from memreport.config import Thresholds
from memreport.model import Finding, Severity
from memreport.vm_digest import VmDigest

CHECK = "vms"


@dataclass
class VmRow:
    name: str
    uuid: str | None
    allocated_bytes: int | None  # last known
    maxmem_bytes: int | None
    rss_max_bytes: int | None
    rss_p95_bytes: int | None
    swap_max_bytes: int | None
    swap_last_bytes: int | None
    ksm_merged_max_bytes: int | None  # /proc/<pid>/ksm_stat, kernel >= 6.1: the only per-VM view of KSM
    samples: int
    first_seen: pd.Timestamp
    last_seen: pd.Timestamp
    backing: str | None = None  # anonymous | hugepages | file | memfd; None when the input does not say
    current_bytes: int | None = None  # the balloon, last known (libvirt)
    hugepages_max_bytes: int | None = None  # peak hugetlb pages of the qemu process (not in its RSS)
    resident_max_bytes: int | None = None  # peak of RSS + hugetlb pages in one sample: what the VM really holds
    hard_limit_bytes: int | None = None  # last known; libvirt <memtune>, else the VM cgroup's memory limit
    soft_limit_bytes: int | None = None
    swap_hard_limit_bytes: int | None = None

    @property
    def resident_percent(self) -> float | None:
        return _percent(self.resident_max_bytes, self.allocated_bytes)

    @property
    def hard_limit_percent(self) -> float | None:
        return _percent(self.resident_max_bytes, self.hard_limit_bytes)

    @property
    def balloon_percent(self) -> float | None:
        return _percent(self.current_bytes, self.allocated_bytes)

    @property
    def swap_percent(self) -> float | None:
        return _percent(self.swap_max_bytes, self.allocated_bytes)


def _percent(part: int | None, whole: int | None) -> float | None:
    """part ÷ whole in %, None when either is unknown or the whole is 0."""
    return None if part is None or not whole else part / whole * 100


@dataclass
class VmsResult:
    missing: list[str] = field(default_factory=list)
    rows: list[VmRow] = field(default_factory=list)
    allocated_total_bytes: int | None = None  # sum of the rows' allocations
    rss_max_total_bytes: int | None = None  # sum of each VM's own peak RSS
    resident_max_total_bytes: int | None = None  # sum of each VM's own peak RSS + hugetlb pages
    current_total_bytes: int | None = None  # sum of the balloons (VMs whose balloon is known); beside the allocations
    at_hard_limit: list[str] = field(default_factory=list)  # VMs resident at vms.hard_limit_percent of their hard limit
    ksm_merged_max_total_bytes: int | None = None  # sum of each VM's own peak KSM-merged memory
    findings: list[Finding] = field(default_factory=list)


def _int(v: float) -> int | None:
    return None if v is None or math.isnan(v) else int(round(v))


def check_vms(vms: VmDigest | pd.DataFrame | None, t: Thresholds) -> VmsResult:
    """vms: the per-VM rows reduced as they were read (memreport.vm_digest), or a frame of them."""
    r = VmsResult()
    digest = VmDigest.of(vms) if isinstance(vms, pd.DataFrame) else vms
    if digest is None or len(digest) == 0:
        r.missing.append("per-VM data (qemu processes' /proc/<pid>/status and cmdline: memreport's collector on the host)")
        return r
    for vm in digest.stats():  # per VM, in order of first appearance
        name = (
            vm.name
            if vm.name is not None
            else (vm.uuid if vm.uuid is not None else f"pid {vm.pid if vm.pid is not None else '?'}")
        )
        r.rows.append(
            VmRow(
                name=name,
                uuid=vm.uuid,
                allocated_bytes=_int(vm.lasts["alloc"]),
                maxmem_bytes=_int(vm.lasts["maxmem"]),
                rss_max_bytes=_int(vm.maxes["rss"]),
                rss_p95_bytes=_int(vm.rss_p95),
                swap_max_bytes=_int(vm.maxes["swap"]),
                swap_last_bytes=_int(vm.lasts["swap"]),
                ksm_merged_max_bytes=_int(vm.maxes["ksm"]),
                samples=vm.samples,
                first_seen=vm.first_ts,
                last_seen=vm.last_ts,
                backing=vm.backing,
                current_bytes=_int(vm.lasts["current"]),
                hugepages_max_bytes=_int(vm.maxes["huge"]),
                resident_max_bytes=_int(vm.maxes["resident"]),
                hard_limit_bytes=_int(vm.lasts["hard"]),
                soft_limit_bytes=_int(vm.lasts["soft"]),
                swap_hard_limit_bytes=_int(vm.lasts["swap_hard"]),
            )
        )
    r.rows.sort(key=lambda v: (-(v.allocated_bytes or 0), -(v.rss_max_bytes or 0), v.name))
    allocs = [v.allocated_bytes for v in r.rows if v.allocated_bytes is not None]
    rsss = [v.rss_max_bytes for v in r.rows if v.rss_max_bytes is not None]
    r.allocated_total_bytes = sum(allocs) if allocs else None
    r.rss_max_total_bytes = sum(rsss) if rsss else None
    merged = [v.ksm_merged_max_bytes for v in r.rows if v.ksm_merged_max_bytes is not None]
    r.ksm_merged_max_total_bytes = sum(merged) if merged else None
    held = [v.resident_max_bytes for v in r.rows if v.resident_max_bytes is not None]
    r.resident_max_total_bytes = sum(held) if held else None
    currents = [v.current_bytes for v in r.rows if v.current_bytes is not None]
    r.current_total_bytes = sum(currents) if currents else None
    huge_held = sum(v.hugepages_max_bytes or 0 for v in r.rows)
    if r.allocated_total_bytes and r.resident_max_total_bytes is not None:
        pct = r.resident_max_total_bytes / r.allocated_total_bytes * 100
        hugetlb = f" ({fmt_bytes(huge_held)} of it hugetlb pages, which VmRSS does not count)" if huge_held else ""
        r.findings.append(
            Finding(
                id="vms.usage",
                check=CHECK,
                severity=Severity.OK,
                title=f"VMs are resident at {fmt_pct(pct)} of what they are allocated",
                detail=(
                    f"{len(r.rows)} VMs: {fmt_bytes(r.allocated_total_bytes)} allocated, {fmt_bytes(r.resident_max_total_bytes)} "
                    f"resident (RSS + hugetlb pages) at each VM's own peak{hugetlb}. Allocated and used memory are not one-to-one."
                ),
                recommendation="Size by what VMs really use, within the safe rule (allocations ≤ RAM + swap).",
                evidence={
                    "allocated_bytes": r.allocated_total_bytes,
                    "resident_max_bytes": r.resident_max_total_bytes,
                    "rss_max_bytes": r.rss_max_total_bytes,
                    "hugepages_max_bytes": huge_held,
                },
            )
        )
    r.findings += _limit_findings(r, t)
    swapped = [v for v in r.rows if v.swap_percent is not None and v.swap_percent >= t.vms_swap_warn_percent]
    if swapped:
        listed = ", ".join(f"{v.name} ({fmt_bytes(v.swap_max_bytes)})" for v in swapped[:5]) + (" …" if len(swapped) > 5 else "")
        r.findings.append(
            Finding(
                id="vms.swapped",
                check=CHECK,
                severity=Severity.WARN,
                title=f"{len(swapped)} VM{'s' if len(swapped) != 1 else ''} had {fmt_pct(t.vms_swap_warn_percent)} or more of their memory in swap",
                detail=f"Peak VmSwap: {listed}.",
                recommendation="These VMs will be slow when they touch swapped memory: check the thrash windows, give them RAM or reduce their allocation.",
                evidence={"vms": [v.name for v in swapped]},
            )
        )
    return r


def _limit_findings(r: VmsResult, t: Thresholds) -> list[Finding]:
    """VMs at their hard limit, and balloons inflated far below <memory>."""
    out: list[Finding] = []
    tight = [v for v in r.rows if v.hard_limit_percent is not None and v.hard_limit_percent >= t.vms_hard_limit_percent]
    r.at_hard_limit = [v.name for v in tight]
    if tight:
        listed = ", ".join(
            f"{v.name} ({fmt_bytes(v.resident_max_bytes)} of {fmt_bytes(v.hard_limit_bytes)}, {fmt_pct(v.hard_limit_percent)})"
            for v in tight[:5]
        ) + (" …" if len(tight) > 5 else "")
        out.append(
            Finding(
                id="vms.hard_limit",
                check=CHECK,
                severity=Severity.WARN,
                title=f"{len(tight)} VM{'s' if len(tight) != 1 else ''} resident at {fmt_pct(t.vms_hard_limit_percent)} or more of "
                "their memory hard limit",
                detail=(
                    f"Peak resident memory (RSS + hugetlb pages) against the hard limit: {listed}. A VM past its hard limit "
                    "swaps or is OOM-killed inside its memory cgroup while the host has free memory: swap thrash with "
                    "memory available is this limit at work."
                ),
                recommendation="Raise the hard limit (virsh memtune DOM --hard-limit, libvirt <memtune><hard_limit>) above what "
                "the guest holds, or remove it: libvirt advises against setting it at all.",
                evidence={
                    "vms": [
                        {"name": v.name, "resident_max_bytes": v.resident_max_bytes, "hard_limit_bytes": v.hard_limit_bytes}
                        for v in tight
                    ]
                },
            )
        )
    low = [v for v in r.rows if v.balloon_percent is not None and v.balloon_percent <= t.vms_balloon_low_percent]
    if low:
        back = sum((v.allocated_bytes or 0) - (v.current_bytes or 0) for v in low)
        listed = ", ".join(f"{v.name} ({fmt_bytes(v.current_bytes)} of {fmt_bytes(v.allocated_bytes)})" for v in low[:5]) + (
            " …" if len(low) > 5 else ""
        )
        out.append(
            Finding(
                id="vms.balloon",
                check=CHECK,
                severity=Severity.WARN,
                title=f"{len(low)} VM{'s' if len(low) != 1 else ''} ballooned to {fmt_pct(t.vms_balloon_low_percent)} or less of "
                f"their memory: {fmt_bytes(back)} the host may be asked to give back",
                detail=(
                    f"Balloon (current memory) against <memory>: {listed}. The guest can deflate its balloon at any time "
                    "and take that memory back, so the OOM rule counts <memory>, not the ballooned size."
                ),
                recommendation="Keep RAM + swap above the allocations at <memory>; if the memory is not needed, lower <memory> "
                "instead of ballooning.",
                evidence={"vms": [v.name for v in low], "give_back_bytes": back},
            )
        )
    return out
