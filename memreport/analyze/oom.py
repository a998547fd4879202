"""Rule 3 of the article: memory allocated to all VMs must stay below RAM + swap.

Also Committed_AS vs CommitLimit, the lowest MemAvailable and OOM kills counted from oom_kill.
"How many more VMs fit" under three models, side by side:

- naive: RAM only, allocations against MemTotal (the article's 16 GB ÷ 512 MB = 32 VMs);
- safe rule: allocations ≤ RAM + swap (the article's rule 3);
- observed: RAM + swap minus the peak memory really in use (MemTotal − MemAvailable + swap used).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from memreport.analyze._util import argmax, column, last, peak, trough
from memreport.analyze.wording import fmt_bytes, fmt_pct, fmt_time
from memreport.config import Thresholds
from memreport.model import Finding, Severity
from memreport.vm_digest import VmDigest

CHECK = "oom"


@dataclass
class CapacityModel:
    key: str  # naive | safe | observed
    name: str
    capacity_bytes: int | None  # what the model counts as available memory
    used_bytes: int | None  # what it counts as taken
    free_bytes: int | None
    more_vms: int | None  # how many more VMs of new_vm_bytes fit (never negative)
    total_vms: int | None = None  # naive model only: capacity ÷ VM size, the article's 32


@dataclass
class OomResult:
    missing: list[str] = field(default_factory=list)
    memory_total_bytes: int | None = None
    swap_total_bytes: int | None = None
    vm_count: int | None = None
    vm_allocated_bytes: int | None = None  # sum over the VMs of the last per-VM sample
    vm_allocated_at: pd.Timestamp | None = None
    vm_allocated_peak_bytes: int | None = None  # largest simultaneous sum over the period
    overcommit_ratio: float | None = None  # allocated ÷ MemTotal
    oom_headroom_bytes: int | None = None  # RAM − hugepage pool + swap (not zram) − allocated (not hugepage-backed)
    hugepage_pool_bytes: int = 0  # RAM reserved as hugepages: outside the safe rule's RAM
    vm_allocated_hugepages_bytes: int | None = None  # allocations of hugepage-backed VMs (fit the pool instead)
    vm_allocated_ram_bytes: int | None = None  # the allocations the safe rule counts
    zram_bytes: int = 0  # swap on /dev/zram*: lives in RAM, not counted as swap
    new_vm_bytes: int = 0
    models: list[CapacityModel] = field(default_factory=list)
    peak_used_bytes: int | None = None  # MemTotal − MemAvailable + SwapTotal − SwapFree (less swap used on zram) − pool, max
    peak_used_at: pd.Timestamp | None = None
    lowest_available_bytes: int | None = None
    lowest_available_at: pd.Timestamp | None = None
    peak_commit_percent: float | None = None
    peak_commit_at: pd.Timestamp | None = None
    committed_as_bytes: int | None = None  # at the peak commit sample
    commit_limit_bytes: int | None = None
    overcommit_memory: int | None = None
    oom_kills: int | None = None
    oom_kill_times: list[pd.Timestamp] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def headroom_basis(self) -> str:
        """What the OOM headroom counts, in words: the labels of the report say what a hugepage pool or zram changes."""
        ram = "RAM outside the hugepage pool" if self.hugepage_pool_bytes else "RAM"
        swap = "disk swap (zram not counted)" if self.zram_bytes else "swap"
        alloc = "allocations not backed by hugepages" if self.hugepage_pool_bytes else "allocated"
        return f"{ram} + {swap} − {alloc}"

    @property
    def observed_basis(self) -> str:
        """What the observed model counts as taken, in words."""
        swap = "disk swap used (zram's pages are already in RAM)" if self.zram_bytes else "swap used"
        pool = " − the hugepage pool" if self.hugepage_pool_bytes else ""
        return f"peak of MemTotal − MemAvailable + {swap}{pool}"


def vm_allocation(vms: VmDigest | None) -> tuple[int | None, int | None, pd.Timestamp | None, int | None]:
    """(VM count, allocated sum at the last per-VM sample, that time, peak simultaneous sum)."""
    # Sums per sample time from the digest (issue 17: a year is 15 M VM rows, never held as rows).
    # Allocations are whole bytes: float64 sums of them are exact.
    if vms is None:
        return None, None, None, None
    times, sums, counts = vms.allocation_by_time()
    if not len(times):
        return None, None, None, None
    return int(counts[-1]), int(sums[-1]), pd.Timestamp(int(times[-1]), unit="ms", tz="UTC"), int(sums.max())


def check_oom(
    samples: pd.DataFrame,
    vms: VmDigest | None,
    t: Thresholds,
    overcommit_memory: int | None,
    pool_bytes: int = 0,
    hugepage_alloc_bytes: int | None = None,
    zram_bytes: int = 0,
    zram_used: pd.Series | None = None,
) -> OomResult:
    """pool_bytes: RAM in hugepage pools; hugepage_alloc_bytes: what hugepage-backed VMs are allocated (they
    fit the pool, checked in hugepages.py); zram_bytes: swap that lives in RAM. All three leave the safe rule.
    zram_used: swap used on zram at each sample (SwapDevices.zram_used_at): not counted again as used."""
    r = OomResult(
        new_vm_bytes=t.oom_new_vm_bytes,
        overcommit_memory=overcommit_memory,
        hugepage_pool_bytes=pool_bytes,
        vm_allocated_hugepages_bytes=hugepage_alloc_bytes,
        zram_bytes=zram_bytes,
    )
    total = column(samples, "mem_MemTotal")
    swap_total = column(samples, "mem_SwapTotal")
    swap_free = column(samples, "mem_SwapFree")
    avail = column(samples, "mem_MemAvailable")
    r.memory_total_bytes = None if total is None else int(last(total))  # type: ignore[arg-type]
    r.swap_total_bytes = None if swap_total is None else int(last(swap_total))  # type: ignore[arg-type]
    if total is None:
        r.missing.append("MemTotal (/proc/meminfo)")
    if swap_total is None:
        r.missing.append("SwapTotal (/proc/meminfo)")
    r.vm_count, r.vm_allocated_bytes, r.vm_allocated_at, r.vm_allocated_peak_bytes = vm_allocation(vms)
    if r.vm_allocated_bytes is None:
        r.missing.append(
            "per-VM allocations (qemu command lines, libvirt XML or virsh dominfo: run the collector as root on the host)"
        )

    size = t.oom_new_vm_bytes
    ram = None if r.memory_total_bytes is None else r.memory_total_bytes - pool_bytes
    swap = None if r.swap_total_bytes is None else max(0, r.swap_total_bytes - zram_bytes)
    alloc = r.vm_allocated_bytes
    if alloc is not None:
        alloc = alloc - (hugepage_alloc_bytes or 0)
        r.vm_allocated_ram_bytes = alloc
    if ram is not None and swap is not None and alloc is not None:
        r.oom_headroom_bytes = ram + swap - alloc
    if ram and alloc is not None:
        r.overcommit_ratio = alloc / ram

    if avail is not None and total is not None:
        used = total - avail
        if swap_total is not None and swap_free is not None:
            swapped = swap_total - swap_free
            if zram_used is not None:  # zram's compressed pages are already in MemTotal − MemAvailable
                swapped = (swapped - zram_used).clip(lower=0)
            used = used + swapped
        else:
            r.missing.append("SwapFree (/proc/meminfo): observed usage counts RAM only")
        r.peak_used_bytes, r.peak_used_at = peak(samples, used - pool_bytes)  # MemAvailable never counts hugepages
    if avail is not None:  # the lowest MemAvailable needs no MemTotal (sar -r kbavail alone gives it)
        r.lowest_available_bytes, r.lowest_available_at = trough(samples, avail)
    else:
        r.missing.append("MemAvailable (/proc/meminfo, kernel ≥ 3.14; sar -r kbavail)")

    def more(free: int | None) -> int | None:
        return None if free is None else max(0, free) // size

    naive_free = None if ram is None or alloc is None else ram - alloc
    r.models.append(
        CapacityModel(
            "naive", "Naive: RAM only", ram, alloc, naive_free, more(naive_free), total_vms=None if ram is None else ram // size
        )
    )
    cap = None if ram is None or swap is None else ram + swap
    r.models.append(
        CapacityModel("safe", "Safe rule: allocations ≤ RAM + swap", cap, alloc, r.oom_headroom_bytes, more(r.oom_headroom_bytes))
    )
    obs_free = None if cap is None or r.peak_used_bytes is None else cap - r.peak_used_bytes
    r.models.append(CapacityModel("observed", "Observed peak usage", cap, r.peak_used_bytes, obs_free, more(obs_free)))

    committed, limit = column(samples, "mem_Committed_AS"), column(samples, "mem_CommitLimit")
    if committed is not None and limit is not None:
        share = committed / limit.where(limit > 0) * 100
        i = argmax(share)
        if i is not None:
            r.peak_commit_percent = float(share.iloc[i])
            r.peak_commit_at = samples["ts"].iloc[i]
            r.committed_as_bytes, r.commit_limit_bytes = int(committed.iloc[i]), int(limit.iloc[i])
    else:
        r.missing.append("Committed_AS and CommitLimit (/proc/meminfo; sar -r kbcommit)")

    kills = column(samples, "oom_kills")
    if kills is not None:
        r.oom_kills = int(kills.clip(lower=0).sum())
        r.oom_kill_times = list(samples.loc[kills > 0, "ts"])
    else:
        r.missing.append("oom_kill counter (/proc/vmstat, kernel ≥ 4.13)")

    _findings(r, t)
    return r


def _findings(r: OomResult, t: Thresholds) -> None:
    size = fmt_bytes(t.oom_new_vm_bytes)
    if r.oom_headroom_bytes is not None:
        cap = r.models[1].capacity_bytes or 0
        safe = r.models[1].more_vms
        ev: dict[str, Any] = {
            "vm_allocated_bytes": r.vm_allocated_bytes,
            "memory_total_bytes": r.memory_total_bytes,
            "swap_total_bytes": r.swap_total_bytes,
            "oom_headroom_bytes": r.oom_headroom_bytes,
            "overcommit_ratio": r.overcommit_ratio,
        }
        base = (
            f"{r.vm_count} VMs are allocated {fmt_bytes(r.vm_allocated_bytes)} against {fmt_bytes(r.memory_total_bytes)} RAM + "
            f"{fmt_bytes(r.swap_total_bytes)} swap (overcommit {r.overcommit_ratio:.2f}× RAM)"
        )
        if r.hugepage_pool_bytes:
            base = (
                f"{r.vm_count} VMs: those not backed by hugepages are allocated {fmt_bytes(r.vm_allocated_ram_bytes)} against "
                f"{fmt_bytes(cap - (r.swap_total_bytes or 0) + r.zram_bytes)} RAM outside the {fmt_bytes(r.hugepage_pool_bytes)} "
                f"hugepage pool + {fmt_bytes(max(0, (r.swap_total_bytes or 0) - r.zram_bytes))} swap "
                f"(overcommit {r.overcommit_ratio:.2f}× that RAM); hugepage-backed VMs are checked against the pool"
            )
        elif r.zram_bytes:
            base = (
                f"{r.vm_count} VMs are allocated {fmt_bytes(r.vm_allocated_bytes)} against {fmt_bytes(r.memory_total_bytes)} RAM + "
                f"{fmt_bytes(max(0, (r.swap_total_bytes or 0) - r.zram_bytes))} disk swap (overcommit {r.overcommit_ratio:.2f}× RAM)"
            )
        if r.zram_bytes:
            base += f"; the {fmt_bytes(r.zram_bytes)} of zram swap is not counted: its pages are compressed into the same RAM"
        if r.oom_headroom_bytes < 0:
            r.findings.append(
                Finding(
                    id="oom.overallocated",
                    check=CHECK,
                    severity=Severity.CRIT,
                    title=f"OOM risk: VMs allocated {fmt_bytes(-r.oom_headroom_bytes)} more than RAM + swap",
                    detail=base + ". Once the VMs get busy the OOM killer will kill VMs at random.",
                    recommendation=(
                        f"Add {fmt_bytes(-r.oom_headroom_bytes, round_up=True)} of swap or RAM, or move VMs off "
                        "this host, until allocations fit in RAM + swap."
                    ),
                    evidence=ev,
                )
            )
        elif cap and r.oom_headroom_bytes < cap * t.oom_headroom_warn_percent / 100:
            r.findings.append(
                Finding(
                    id="oom.low_headroom",
                    check=CHECK,
                    severity=Severity.WARN,
                    title=f"Little OOM headroom: {fmt_bytes(r.oom_headroom_bytes)} left",
                    detail=base
                    + f"; {fmt_bytes(r.oom_headroom_bytes)} headroom is under {fmt_pct(t.oom_headroom_warn_percent)} of RAM + swap.",
                    recommendation=f"Room for {safe} more {size} VM{'s' if safe != 1 else ''} by the safe rule; plan capacity before adding more.",
                    evidence=ev,
                )
            )
        else:
            r.findings.append(
                Finding(
                    id="oom.headroom",
                    check=CHECK,
                    severity=Severity.OK,
                    title=f"Allocations fit in RAM + swap with {fmt_bytes(r.oom_headroom_bytes)} headroom",
                    detail=base + ".",
                    recommendation=f"Room for {safe} more {size} VM{'s' if safe != 1 else ''} by the safe rule (allocations ≤ RAM + swap).",
                    evidence=ev,
                )
            )
    if r.oom_headroom_bytes is None and r.models[2].more_vms is None:
        r.findings.append(
            Finding(
                id="oom.unknown",
                check=CHECK,
                severity=Severity.WARN,
                title="OOM risk and VM fit could not be checked",
                detail="Missing: " + "; ".join(r.missing) + ".",
                recommendation=(
                    "Collect /proc/meminfo and the VMs' allocations (memreport's collector run as root on the host, "
                    "or a sosreport with the libvirt plugin)."
                ),
                evidence={"missing": list(r.missing)},
            )
        )
    if r.oom_kills:
        times = ", ".join(fmt_time(x) for x in r.oom_kill_times[:5]) + (" …" if len(r.oom_kill_times) > 5 else "")
        r.findings.append(
            Finding(
                id="oom.kills",
                check=CHECK,
                severity=Severity.CRIT,
                title=f"The OOM killer ran {r.oom_kills} time{'s' if r.oom_kills != 1 else ''}",
                detail=f"oom_kill counted {r.oom_kills} kill{'s' if r.oom_kills != 1 else ''}, in intervals ending {times}.",
                recommendation="Find the killed process in the kernel log (dmesg, journalctl -k) and restore headroom: more swap/RAM or fewer VMs.",
                evidence={"oom_kills": r.oom_kills, "times": r.oom_kill_times},
            )
        )
    if r.lowest_available_bytes is not None and r.memory_total_bytes:
        pct = r.lowest_available_bytes / r.memory_total_bytes * 100
        ev = {"lowest_available_bytes": r.lowest_available_bytes, "at": r.lowest_available_at, "percent": round(pct, 2)}
        if pct < t.oom_available_warn_percent:
            sev = Severity.CRIT if pct < t.oom_available_crit_percent else Severity.WARN
            r.findings.append(
                Finding(
                    id="oom.low_available",
                    check=CHECK,
                    severity=sev,
                    title=f"MemAvailable fell to {fmt_bytes(r.lowest_available_bytes)} ({fmt_pct(pct, 1)} of RAM)",
                    detail=f"Lowest MemAvailable {fmt_bytes(r.lowest_available_bytes)} at {fmt_time(r.lowest_available_at)}.",
                    recommendation="The host ran close to out of memory: reduce allocations or add RAM before adding VMs.",
                    evidence=ev,
                )
            )
    if r.peak_commit_percent is not None and r.peak_commit_percent >= t.oom_commit_warn_percent:
        strict = r.overcommit_memory == 2
        r.findings.append(
            Finding(
                id="oom.commit",
                check=CHECK,
                severity=Severity.WARN if strict else Severity.OK,
                title=f"Committed_AS reached {fmt_pct(r.peak_commit_percent)} of CommitLimit",
                detail=(
                    f"Committed_AS {fmt_bytes(r.committed_as_bytes)} vs CommitLimit {fmt_bytes(r.commit_limit_bytes)} at "
                    f"{fmt_time(r.peak_commit_at)}"
                    + (
                        " with vm.overcommit_memory=2: allocations beyond the limit fail."
                        if strict
                        else "; with heuristic overcommit this only shows how far memory is promised beyond RAM + swap."
                    )
                ),
                recommendation=(
                    "Raise swap or vm.overcommit_ratio, or reduce VM allocations."
                    if strict
                    else "No action by itself; the OOM headroom above is the figure to act on."
                ),
                evidence={
                    "committed_as_bytes": r.committed_as_bytes,
                    "commit_limit_bytes": r.commit_limit_bytes,
                    "percent": round(r.peak_commit_percent, 2),
                    "at": r.peak_commit_at,
                },
            )
        )
