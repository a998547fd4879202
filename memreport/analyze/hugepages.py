"""Memory KVM cannot swap or share: hugepage pools, and compressed swap that lives in RAM.

Hugepages (kernel docs, admin-guide/mm/hugetlbpage.rst): pages reserved in a pool of their own at boot or
through nr_hugepages. They are never swapped, are not on the LRU lists (so not in Active/Inactive) and are
not in MemAvailable. A guest backed by them (qemu `-mem-path` on hugetlbfs, `memory-backend-file` on
hugetlbfs, `memory-backend-memfd,hugetlb=on`, libvirt `<memoryBacking><hugepages/>`) draws only from the
pool. So capacity has two parts: hugepage-backed allocations against the pool, and the rest against
RAM − pool + swap. Transparent hugepages (AnonHugePages) are ordinary anonymous memory: reported only.

zram (kernel docs, admin-guide/blockdev/zram.rst): a swap device whose pages are compressed into RAM. It
stretches RAM but adds no capacity beyond it, so it is not counted as swap in the sizing rule and the OOM
headroom. zswap (admin-guide/mm/zswap.rst) is a compressed cache in front of disk swap: meminfo's Zswapped
(pages stored) − Zswap (RAM they take) is the saving it gives, reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from memreport.analyze._util import column, last, peak
from memreport.analyze.wording import fmt_bytes
from memreport.model import Finding, Severity
from memreport.vm_digest import VmDigest

CHECK = "oom"
HUGEPAGES = "hugepages"


@dataclass
class HugepagePoolRow:
    page_size_bytes: int
    total_bytes: int | None
    free_bytes: int | None
    reserved_bytes: int | None


@dataclass
class HugepagesResult:
    page_size_bytes: int | None = None  # the default size (Hugepagesize)
    total_bytes: int | None = None  # every pool, at the last sample (meminfo Hugetlb, or the pools' sum)
    free_bytes: int | None = None
    reserved_bytes: int | None = None
    vm_allocated_bytes: int | None = None  # allocations of hugepage-backed VMs (None: no backing known)
    vm_count: int = 0
    backing_known: bool = False  # some VM's backing was read
    pools: list[HugepagePoolRow] = field(default_factory=list)
    source: str | None = None  # sysfs pools | meminfo
    anon_huge_peak_bytes: int | None = None  # AnonHugePages (transparent hugepages): reported, not subtracted
    anon_huge_peak_at: pd.Timestamp | None = None
    new_vm_bytes: int = 0
    more_vms: int | None = None  # hugepage-backed VMs of new_vm_bytes that still fit the pool
    findings: list[Finding] = field(default_factory=list)

    @property
    def pool_bytes(self) -> int:
        """RAM taken out of the ordinary pool (0 when no hugepages or not known)."""
        return self.total_bytes or 0

    @property
    def unallocated_bytes(self) -> int | None:
        if self.total_bytes is None or self.vm_allocated_bytes is None:
            return None
        return self.total_bytes - self.vm_allocated_bytes


@dataclass
class SwapDevices:
    zram_bytes: int = 0  # swap on /dev/zram*: compressed in RAM, not capacity beyond it
    zram_devices: list[str] = field(default_factory=list)
    disk_bytes: int | None = None  # the rest of /proc/swaps at the last sample
    zswap_saved_peak_bytes: int | None = None  # Zswapped − Zswap (kernel ≥ 5.19 meminfo)
    zswap_saved_peak_at: pd.Timestamp | None = None
    zram_used: pd.Series | None = None  # bytes of swap used on zram, indexed by ts (/proc/swaps Used)

    def zram_used_at(self, ts: pd.Series) -> pd.Series | None:
        """Swap used on zram at each of these times, for the observed model: zram's pages already sit in
        RAM (MemTotal − MemAvailable counts them), so only disk swap used is counted on top. None without zram.
        A time /proc/swaps was not read at takes the reading before it; before the first, none is known and
        the swap used counts whole (the higher figure) unless the host has no disk swap at all."""
        if not self.zram_bytes:
            return None
        if self.disk_bytes == 0:  # zram only: every page swapped out is on zram
            return pd.Series(float("inf"), index=ts.index)
        if self.zram_used is None:
            return None
        known = self.zram_used.sort_index()
        pos = known.index.searchsorted(pd.Index(ts), side="right") - 1
        vals = known.to_numpy(dtype="float64")
        return pd.Series([vals[i] if i >= 0 else 0.0 for i in pos], index=ts.index, dtype="float64")


def is_hugepage_backed(backing: object) -> bool:
    return isinstance(backing, str) and backing == HUGEPAGES


def hugepage_mask(backing: pd.Series) -> pd.Series:
    """True where a VM row is hugepage-backed (works on categorical columns too)."""
    return backing.astype("object").map(is_hugepage_backed).astype(bool)


def last_vm_rows(vms: VmDigest | None) -> pd.DataFrame | None:
    """The VMs at the last per-VM sample that knows an allocation (as oom.vm_allocation counts them)."""
    return None if vms is None else vms.last_rows()


def _pools_from_table(hp: pd.DataFrame | None) -> list[HugepagePoolRow]:
    if hp is None or not len(hp):
        return []
    host = hp[hp["node"].isna()] if "node" in hp.columns else hp
    if not len(host):
        return []
    at = host[host["ts"] == host["ts"].max()]

    def val(v: object) -> int | None:
        return None if v is None or pd.isna(v) else int(v)  # type: ignore[call-overload, arg-type]

    return [
        HugepagePoolRow(int(r["page_size_bytes"]), val(r["total_bytes"]), val(r["free_bytes"]), val(r["reserved_bytes"]))
        for _, r in at.sort_values("page_size_bytes").iterrows()
    ]


def check_hugepages(
    samples: pd.DataFrame, vms: VmDigest | None, hp_table: pd.DataFrame | None, new_vm_bytes: int
) -> HugepagesResult:
    r = HugepagesResult(new_vm_bytes=new_vm_bytes)
    size = column(samples, "mem_Hugepagesize")
    r.page_size_bytes = None if size is None else int(last(size))  # type: ignore[arg-type]
    r.pools = _pools_from_table(hp_table)
    if r.pools and all(p.total_bytes is not None for p in r.pools):
        r.source = "sysfs pools"
        r.total_bytes = sum(p.total_bytes or 0 for p in r.pools)
        frees = [p.free_bytes for p in r.pools]
        r.free_bytes = None if None in frees else sum(f or 0 for f in frees)
        resv = [p.reserved_bytes for p in r.pools]
        r.reserved_bytes = None if None in resv else sum(x or 0 for x in resv)
    else:
        total, free, rsvd = (column(samples, c) for c in ("mem_HugePages_Total", "mem_HugePages_Free", "mem_HugePages_Rsvd"))
        # The default size only: meminfo's Hugetlb (kernel ≥ 4.16) covers every size but cannot say which
        # pool a guest draws from; the other sizes come from the sysfs pools (collectors ≥ 1.2.0, sosreports).
        if r.page_size_bytes is not None and total is not None:
            r.source = "meminfo"
            pg = r.page_size_bytes
            r.total_bytes = int(last(total)) * pg  # type: ignore[arg-type]
            r.free_bytes = None if free is None else int(last(free)) * pg  # type: ignore[arg-type]
            r.reserved_bytes = None if rsvd is None else int(last(rsvd)) * pg  # type: ignore[arg-type]
    thp = column(samples, "mem_AnonHugePages")
    if thp is not None:
        r.anon_huge_peak_bytes, r.anon_huge_peak_at = peak(samples, thp)

    rows = last_vm_rows(vms)
    if rows is not None and "backing" in rows.columns:
        known = rows["backing"].notna()
        r.backing_known = bool(known.any())
        huge = rows[hugepage_mask(rows["backing"])]
        r.vm_count = len(huge)
        if r.backing_known:
            r.vm_allocated_bytes = int(pd.to_numeric(huge["allocated_bytes"]).sum()) if len(huge) else 0
    free_pool = r.unallocated_bytes
    if free_pool is not None and new_vm_bytes:
        r.more_vms = max(0, free_pool) // new_vm_bytes
    _findings(r)
    return r


def _findings(r: HugepagesResult) -> None:
    if not r.total_bytes and not r.vm_count:
        return
    ev = {
        "total_bytes": r.total_bytes,
        "free_bytes": r.free_bytes,
        "reserved_bytes": r.reserved_bytes,
        "vm_allocated_bytes": r.vm_allocated_bytes,
        "vm_count": r.vm_count,
    }
    pool = fmt_bytes(r.total_bytes)
    if r.vm_allocated_bytes is not None and r.total_bytes is not None and r.vm_allocated_bytes > r.total_bytes:
        short = r.vm_allocated_bytes - r.total_bytes
        r.findings.append(
            Finding(
                id="hugepages.overallocated",
                check=CHECK,
                severity=Severity.CRIT,
                title=f"Hugepage-backed VMs need {fmt_bytes(short, round_up=True)} more than the hugepage pool",
                detail=(
                    f"{r.vm_count} VM{'s' if r.vm_count != 1 else ''} backed by hugepages are allocated "
                    f"{fmt_bytes(r.vm_allocated_bytes)} against a pool of {pool}. Hugepages are never swapped: a guest "
                    "that does not fit fails to start, or is killed (SIGBUS) when it touches a page the pool cannot give."
                ),
                recommendation=f"Grow the pool by {fmt_bytes(short, round_up=True)} (nr_hugepages) or move a hugepage-backed VM.",
                evidence=ev,
            )
        )
    elif r.vm_allocated_bytes is not None and r.total_bytes:
        spare = r.total_bytes - r.vm_allocated_bytes
        idle = r.vm_count == 0
        r.findings.append(
            Finding(
                id="hugepages.pool",
                check=CHECK,
                severity=Severity.WARN if idle else Severity.OK,
                title=(
                    f"{pool} of RAM is reserved as hugepages and no VM is backed by them"
                    if idle
                    else f"Hugepage-backed VMs fit the {pool} pool with {fmt_bytes(spare)} to spare"
                ),
                detail=(
                    f"{r.vm_count} hugepage-backed VM{'s' if r.vm_count != 1 else ''} allocated "
                    f"{fmt_bytes(r.vm_allocated_bytes)} of the {pool} pool"
                    + (f" ({fmt_bytes(r.free_bytes)} free now)" if r.free_bytes is not None else "")
                    + ". The other VMs are counted against RAM − pool + swap."
                ),
                recommendation=(
                    "Shrink the pool (nr_hugepages) or back VMs by it: reserved hugepages are lost to every other use."
                    if idle
                    else f"Room for {r.more_vms} more {fmt_bytes(r.new_vm_bytes)} hugepage-backed VMs."
                ),
                evidence=ev,
            )
        )
    elif r.total_bytes:
        r.findings.append(
            Finding(
                id="hugepages.backing_unknown",
                check=CHECK,
                severity=Severity.WARN,
                title=f"{pool} of RAM is reserved as hugepages; which VMs use it is not known",
                detail=(
                    "The data has no VM backing (qemu command lines or libvirt XML): hugepage-backed allocations "
                    "cannot be checked against the pool, and every allocation is counted against RAM − pool + swap."
                ),
                recommendation="Collect the VMs' command lines (memreport's collector ≥ 1.2.0 as root, or a sosreport with libvirt XML).",
                evidence=ev,
            )
        )


def swap_devices(samples: pd.DataFrame, swaps: pd.DataFrame | None) -> SwapDevices:
    out = SwapDevices()
    if swaps is not None and len(swaps) and "filename" in swaps.columns:
        at = swaps[swaps["ts"] == swaps["ts"].max()]
        zram = at["filename"].astype(str).str.startswith("/dev/zram")
        sizes = pd.to_numeric(at["size_bytes"], errors="coerce")
        out.zram_bytes = int(sizes[zram].sum())
        out.zram_devices = sorted(at.loc[zram, "filename"].astype(str))
        out.disk_bytes = int(sizes[~zram].sum())
        if out.zram_bytes:
            every = swaps["filename"].astype(str).str.startswith("/dev/zram")
            zram_used = pd.to_numeric(swaps.loc[every, "used_bytes"], errors="coerce").astype("float64")
            out.zram_used = zram_used.groupby(swaps.loc[every, "ts"]).sum(min_count=1).dropna()
    stored, used = column(samples, "mem_Zswapped"), column(samples, "mem_Zswap")
    if stored is not None and used is not None:
        out.zswap_saved_peak_bytes, out.zswap_saved_peak_at = peak(samples, stored - used)
    return out
