"""Seeded synthetic KVM hosts written in the collector's capture format (docs/FORMAT.md).

Used by sample_data/generate.py (the sample host), the benchmarks (host-weeks) and tests (fleets
with known answers). The key sets are those of a real 6.x kernel, so the ingest sees what it sees
on real hosts. Everything derives from a seed: the same spec always writes the same bytes.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

KIB, MIB, GIB = 1024, 1024**2, 1024**3

MEMINFO_KEYS = (
    "MemTotal MemFree MemAvailable Buffers Cached SwapCached Active Inactive Active(anon) Inactive(anon) "
    "Active(file) Inactive(file) Unevictable Mlocked SwapTotal SwapFree Zswap Zswapped Dirty Writeback "
    "AnonPages Mapped Shmem KReclaimable Slab SReclaimable SUnreclaim KernelStack PageTables SecPageTables "
    "NFS_Unstable Bounce WritebackTmp CommitLimit Committed_AS VmallocTotal VmallocUsed VmallocChunk Percpu "
    "AnonHugePages ShmemHugePages ShmemPmdMapped FileHugePages FilePmdMapped Balloon HugePages_Total "
    "HugePages_Free HugePages_Rsvd HugePages_Surp Hugepagesize Hugetlb DirectMap4k DirectMap2M DirectMap1G"
).split()

# /proc/vmstat of a 6.x kernel, in its order (192 keys).
VMSTAT_KEYS = (
    "nr_free_pages nr_free_pages_blocks nr_zone_inactive_anon nr_zone_active_anon nr_zone_inactive_file "
    "nr_zone_active_file nr_zone_unevictable nr_zone_write_pending nr_mlock nr_zspages nr_free_cma numa_hit "
    "numa_miss numa_foreign numa_interleave numa_local numa_other nr_inactive_anon nr_active_anon "
    "nr_inactive_file nr_active_file nr_unevictable nr_slab_reclaimable nr_slab_unreclaimable nr_isolated_anon "
    "nr_isolated_file workingset_nodes workingset_refault_anon workingset_refault_file workingset_activate_anon "
    "workingset_activate_file workingset_restore_anon workingset_restore_file workingset_nodereclaim "
    "nr_anon_pages nr_mapped nr_file_pages nr_dirty nr_writeback nr_shmem nr_shmem_hugepages nr_shmem_pmdmapped "
    "nr_file_hugepages nr_file_pmdmapped nr_anon_transparent_hugepages nr_vmscan_write "
    "nr_vmscan_immediate_reclaim nr_dirtied nr_written nr_throttled_written nr_kernel_misc_reclaimable "
    "nr_foll_pin_acquired nr_foll_pin_released nr_kernel_stack nr_page_table_pages nr_sec_page_table_pages "
    "nr_iommu_pages nr_swapcached pgpromote_success pgpromote_candidate pgpromote_candidate_nrl pgdemote_kswapd "
    "pgdemote_direct pgdemote_khugepaged pgdemote_proactive nr_hugetlb nr_balloon_pages nr_kernel_file_pages "
    "nr_dirty_threshold nr_dirty_background_threshold nr_memmap_pages nr_memmap_boot_pages pgpgin pgpgout "
    "pswpin pswpout pgalloc_dma pgalloc_dma32 pgalloc_normal pgalloc_movable pgalloc_device allocstall_dma "
    "allocstall_dma32 allocstall_normal allocstall_movable allocstall_device pgskip_dma pgskip_dma32 "
    "pgskip_normal pgskip_movable pgskip_device pgfree pgactivate pgdeactivate pglazyfree pgfault pgmajfault "
    "pglazyfreed pgrefill pgreuse pgsteal_kswapd pgsteal_direct pgsteal_khugepaged pgsteal_proactive "
    "pgscan_kswapd pgscan_direct pgscan_khugepaged pgscan_proactive pgscan_direct_throttle pgscan_anon "
    "pgscan_file pgsteal_anon pgsteal_file zone_reclaim_success zone_reclaim_failed pginodesteal slabs_scanned "
    "kswapd_inodesteal kswapd_low_wmark_hit_quickly kswapd_high_wmark_hit_quickly pageoutrun pgrotated "
    "drop_pagecache drop_slab oom_kill numa_pte_updates numa_huge_pte_updates numa_hint_faults "
    "numa_hint_faults_local numa_pages_migrated pgmigrate_success pgmigrate_fail thp_migration_success "
    "thp_migration_fail thp_migration_split compact_migrate_scanned compact_free_scanned compact_isolated "
    "compact_stall compact_fail compact_success compact_daemon_wake compact_daemon_migrate_scanned "
    "compact_daemon_free_scanned htlb_buddy_alloc_success htlb_buddy_alloc_fail unevictable_pgs_culled "
    "unevictable_pgs_scanned unevictable_pgs_rescued unevictable_pgs_mlocked unevictable_pgs_munlocked "
    "unevictable_pgs_cleared unevictable_pgs_stranded thp_fault_alloc thp_fault_fallback "
    "thp_fault_fallback_charge thp_collapse_alloc thp_collapse_alloc_failed thp_file_alloc thp_file_fallback "
    "thp_file_fallback_charge thp_file_mapped thp_split_page thp_split_page_failed thp_deferred_split_page "
    "thp_underused_split_page thp_split_pmd thp_scan_exceed_none_pte thp_scan_exceed_swap_pte "
    "thp_scan_exceed_share_pte thp_split_pud thp_zero_page_alloc thp_zero_page_alloc_failed thp_swpout "
    "thp_swpout_fallback balloon_inflate balloon_deflate balloon_migrate swap_ra swap_ra_hit swpin_zero "
    "swpout_zero ksm_swpin_copy cow_ksm zswpin zswpout zswpwb direct_map_level2_splits "
    "direct_map_level3_splits direct_map_level2_collapses direct_map_level3_collapses nr_unstable"
).split()

KSM_KEYS = (
    "advisor_max_cpu advisor_max_pages_to_scan advisor_min_pages_to_scan advisor_target_scan_time full_scans "
    "general_profit ksm_zero_pages max_page_sharing merge_across_nodes pages_scanned pages_shared pages_sharing "
    "pages_skipped pages_to_scan pages_unshared pages_volatile run sleep_millisecs smart_scan "
    "stable_node_chains stable_node_chains_prune_millisecs stable_node_dups use_zero_pages"
).split()


@dataclass(frozen=True)
class Thrash:
    """A planted swap storm: from start_s (since capture start) for duration_s at rate bytes/s."""

    start_s: float
    duration_s: float
    out_Bps: float
    in_Bps: float


@dataclass(frozen=True)
class HostSpec:
    hostname: str = "kvm-sample"
    seed: int = 7
    start_epoch: float = 1_763_337_600.0  # 2025-11-17 00:00 UTC, a Monday
    days: float = 7.0
    interval_s: float = 60.0
    ram_bytes: int = 128 * GIB
    swap_bytes: int = 16 * GIB
    page_size: int = 4096
    vm_sizes_gib: tuple[float, ...] = (16, 16, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2)
    inactive_peak_bytes: int = int(19.5 * GIB)
    inactive_base_bytes: int = 9 * GIB
    active_base_bytes: int = 72 * GIB
    ksm_sharing_bytes: int = int(11.2 * GIB)
    ksmd_cpu_share: float = 0.03
    thrash: tuple[Thrash, ...] = (
        Thrash(1.5 * 86400 + 14 * 3600, 25 * 60, 40 * MIB, 18 * MIB),
        Thrash(3.5 * 86400 + 10 * 3600, 12 * 60, 22 * MIB, 9 * MIB),
        Thrash(5.5 * 86400 + 15 * 3600, 40 * 60, 55 * MIB, 30 * MIB),
    )
    with_ksm: bool = True
    with_psi: bool = True
    with_vms: bool = True
    kernel: str = "6.1.0-28-amd64"
    cpus: int = 32
    jitter_s: float = 0.0  # the collector's timer slips a little under load
    vm_names: tuple[str, ...] = field(default=())
    # During a thrash the host runs short: free memory falls to the low watermark and the page cache is
    # squeezed out (global reclaim only swaps then). False: a memory limit forces the swapping while the
    # host keeps memory free (a cgroup's memory.max, libvirt <memtune>).
    thrash_host_short: bool = True
    hugepages_bytes: int = 0  # RAM reserved as 2 MiB hugepages (a hugepages stream and meminfo HugePages_*)
    hugepage_vms: int = 0  # the first N VMs are backed by hugepages (memory-backend-file on /dev/hugepages)
    swap_device: str = "/dev/dm-1"  # "/dev/zram0": the swap is zram
    numa_nodes: int = 0  # > 0: a numa stream with this many nodes sharing memory evenly
    numa_short_node: int | None = None  # this node's MemFree falls to 0.5 % in the middle third of the capture

    @property
    def samples(self) -> int:
        return int(round(self.days * 86400 / self.interval_s))


def _ts(spec: HostSpec, rng: np.random.Generator) -> np.ndarray:
    t = spec.start_epoch + np.arange(spec.samples) * spec.interval_s
    if spec.jitter_s:
        t = t + rng.uniform(0, spec.jitter_s, len(t))
    return np.round(t, 3)


def _daily(t: np.ndarray, start: float, peak_hour: float) -> np.ndarray:
    """0..1 with a peak each day at peak_hour (UTC)."""
    hours = ((t - start) / 3600.0) % 24.0
    return 0.5 + 0.5 * np.cos((hours - peak_hour) / 24.0 * 2 * np.pi)


def series(spec: HostSpec) -> dict[str, np.ndarray]:
    """The host's true behaviour: the levels and rates every file below is written from."""
    rng = np.random.default_rng(spec.seed)
    t = _ts(spec, rng)
    n = len(t)
    rel = t - spec.start_epoch
    day = _daily(t, spec.start_epoch, 14.0)
    # Inactive grows through the week's business days; the week's peak is planted exactly once.
    week = np.clip(rel / (spec.days * 86400), 0, 1)
    span = spec.inactive_peak_bytes - spec.inactive_base_bytes
    inactive = spec.inactive_base_bytes + span * (0.55 * day + 0.25 * week) + rng.normal(0, 64 * MIB, n)
    inactive = np.minimum(inactive, spec.inactive_peak_bytes - 256 * MIB)
    peak_i = min(n - 1, int(n * 0.71))  # Saturday afternoon of the sample week
    inactive[peak_i] = spec.inactive_peak_bytes
    active = spec.active_base_bytes + 8 * GIB * day + rng.normal(0, 128 * MIB, n)
    swapout = np.zeros(n)
    swapin = np.zeros(n)
    pressure = np.zeros(n)
    for th in spec.thrash:
        inside = (rel >= th.start_s) & (rel < th.start_s + th.duration_s)
        if spec.thrash_host_short:  # ramps in over 10 min before the storm and out over 10 min after
            ramp = np.clip(1 - np.maximum(th.start_s - rel, rel - (th.start_s + th.duration_s)) / 600.0, 0, 1)
            pressure = np.maximum(pressure, ramp)
        swapout[inside] = th.out_Bps * rng.uniform(0.85, 1.15, int(inside.sum()))
        swapin[inside] = th.in_Bps * rng.uniform(0.85, 1.15, int(inside.sum()))
    # Background trickle of swap traffic, mostly zero.
    trickle = rng.random(n) < 0.05
    swapout[trickle & (swapout == 0)] = rng.uniform(4 * KIB, 256 * KIB, int((trickle & (swapout == 0)).sum()))
    # Under pressure the VMs' working sets grow into the free memory (slab ≈ 3 GiB, 2 GiB kernel, see
    # write_capture), leaving free memory at about 0.5 % of RAM.
    room = np.clip(spec.ram_bytes - (active + inactive + 5 * GIB) - spec.ram_bytes * 0.005, 0, None)
    active = active + pressure * room
    dt = np.diff(t, prepend=t[0] - spec.interval_s)
    pg = spec.page_size
    pswpout = np.cumsum(np.floor(swapout * dt / pg)).astype(np.int64) + 1_000_000
    pswpin = np.cumsum(np.floor(swapin * dt / pg)).astype(np.int64) + 400_000
    swap_used = np.clip(2 * GIB + np.cumsum((swapout - swapin) * dt) * 0.02, 0, spec.swap_bytes * 0.97)
    ksm_sharing = spec.ksm_sharing_bytes * (0.8 + 0.2 * np.clip(rel / 86400, 0, 1)) if spec.with_ksm else np.zeros(n)
    return {
        "t": t,
        "inactive": inactive,
        "active": active,
        "swapout_Bps": swapout,
        "swapin_Bps": swapin,
        "pswpout": pswpout,
        "pswpin": pswpin,
        "swap_used": swap_used,
        "ksm_sharing": ksm_sharing,
        "pressure": pressure,
        "peak_index": np.array([peak_i]),
    }


def _write_tsv(path: Path, header: list[str], columns: list[np.ndarray], gz: bool, level: int = 6) -> None:
    table = pa.table({h: c for h, c in zip(header, columns)})
    buf = io.BytesIO()
    buf.write(("#" + "\t".join(header) + "\n").encode())
    pacsv.write_csv(table, buf, write_options=pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"))
    data = buf.getvalue()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, compresslevel=level, mtime=0)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def vm_names(spec: HostSpec) -> list[str]:
    if spec.vm_names:
        return list(spec.vm_names)
    roles = ("web", "db", "app", "cache", "ci", "mail", "ldap", "mon")
    return [f"{roles[i % len(roles)]}{i // len(roles) + 1:02d}" for i in range(len(spec.vm_sizes_gib))]


def write_capture(spec: HostSpec, out: Path, gz: bool = False) -> Path:
    """Write the capture (one stream file per source per day) into out; returns out."""
    out.mkdir(parents=True, exist_ok=True)
    s = series(spec)
    rng = np.random.default_rng(spec.seed + 1)
    t = s["t"]
    n = len(t)
    pg = spec.page_size
    kib = lambda b: (np.asarray(b) // KIB).astype(np.int64)  # noqa: E731
    ones = np.ones(n, dtype=np.int64)

    facts = {
        "format": "1",
        "collector": "memsnap.py",
        "collector_version": "synthetic",
        "hostname": spec.hostname,
        "kernel": spec.kernel,
        "page_size": str(pg),
        "clock_ticks": "100",
        "cpus": str(spec.cpus),
        "interval": f"{spec.interval_s:g}",
        "started": f"{spec.start_epoch:.3f}",
        "boot_id": "8f2c6a1e-4b7d-4e55-9a0b-3c9d7e1f2a40",
        "vm.swappiness": "60",
        "vm.overcommit_memory": "0",
        "vm.overcommit_ratio": "50",
    }
    if spec.with_ksm:
        facts["ksm_advisor_mode"] = "[none] scan-time"
    (out / "facts.txt").write_text("".join(f"{k}={v}\n" for k, v in facts.items()))

    ram = spec.ram_bytes
    active, inactive = s["active"], s["inactive"]
    inactive_anon = inactive * 0.78
    active_anon = active * 0.88
    anon = active_anon + inactive_anon
    cached = (active - active_anon) + (inactive - inactive_anon) + 1 * GIB
    buffers = 256 * MIB + rng.normal(0, 4 * MIB, n)
    slab = 3 * GIB + rng.normal(0, 16 * MIB, n)
    used = active + inactive + slab + 2 * GIB
    pool = spec.hugepages_bytes
    free = np.clip(ram - used - pool, 256 * MIB, None)
    swap_free = spec.swap_bytes - s["swap_used"]
    commit_limit = spec.swap_bytes + ram // 2
    committed = anon * 1.35 + 6 * GIB
    mem = {
        "MemTotal": ones * (ram // KIB),
        "MemFree": kib(free),
        "MemAvailable": kib(free + cached * 0.8 * (1 - 0.85 * s["pressure"]) + slab * 0.4),
        "Buffers": kib(buffers),
        "Cached": kib(cached),
        "SwapCached": kib(96 * MIB + s["swapin_Bps"] * 2),
        "Active": kib(active),
        "Inactive": kib(inactive),
        "Active(anon)": kib(active_anon),
        "Inactive(anon)": kib(inactive_anon),
        "Active(file)": kib(active - active_anon),
        "Inactive(file)": kib(inactive - inactive_anon),
        "SwapTotal": ones * (spec.swap_bytes // KIB),
        "SwapFree": kib(swap_free),
        "AnonPages": kib(anon),
        "Slab": kib(slab),
        "SReclaimable": kib(slab * 0.4),
        "SUnreclaim": kib(slab * 0.6),
        "KReclaimable": kib(slab * 0.4),
        "CommitLimit": ones * (commit_limit // KIB),
        "Committed_AS": kib(committed),
        "VmallocTotal": ones * 34359738367,
        "Hugepagesize": ones * 2048,
        "HugePages_Total": ones * (pool // (2 * MIB)),
        "HugePages_Free": ones * (max(0, pool - _hugepage_alloc(spec)) // (2 * MIB)),
        "Hugetlb": ones * (pool // KIB),
        "DirectMap1G": ones * (ram // KIB - 4 * 1024 * 1024),
    }
    mem_cols = [
        mem.get(k, ones * (rng.integers(0, 50_000) if k not in ("HugePages_Rsvd", "HugePages_Surp") else 0)) for k in MEMINFO_KEYS
    ]
    vm = {
        "nr_free_pages": (free // pg).astype(np.int64),
        "nr_inactive_anon": (inactive_anon // pg).astype(np.int64),
        "nr_active_anon": (active_anon // pg).astype(np.int64),
        "pswpin": s["pswpin"],
        "pswpout": s["pswpout"],
        "pgmajfault": np.cumsum(rng.poisson(20, n) + (s["swapin_Bps"] / pg * spec.interval_s).astype(np.int64)),
        "workingset_refault_anon": np.cumsum((s["swapin_Bps"] / pg * spec.interval_s * 0.9).astype(np.int64)),
        "workingset_refault_file": np.cumsum(rng.poisson(200, n)),
        "pgscan_direct": np.cumsum((s["swapout_Bps"] / pg * spec.interval_s * 1.2).astype(np.int64)),
        "oom_kill": np.zeros(n, dtype=np.int64),
        "pgfault": np.cumsum(rng.poisson(50_000, n)),
    }
    counters = rng.integers(0, 10**9, len(VMSTAT_KEYS))
    vm_cols = [vm.get(k, ones * int(counters[i])) for i, k in enumerate(VMSTAT_KEYS)]

    # Cumulative counters run across day files: a day boundary is not a reset.
    stall_all = np.clip(s["swapout_Bps"] / (100 * MIB), 0, 0.6)  # share of time fully stalled
    psi_full_total = np.cumsum(stall_all * spec.interval_s * 1e6).astype(np.int64) + 5_000_000
    full_scans = np.arange(n, dtype=np.int64) // 10 + 1000
    days = np.floor((t) / 86400).astype(np.int64)
    for d in np.unique(days):
        sel = days == d
        name = np.datetime_as_string(np.datetime64(int(d), "D")).replace("-", "")
        ts = t[sel]
        boot = np.full(int(sel.sum()), facts["boot_id"], dtype=object)
        uptime = np.round(3_600_000.0 + (ts - spec.start_epoch), 2)
        _write_tsv(out / f"clock.{name}.tsv", ["ts", "boot_id", "uptime"], [ts, boot, uptime], gz)
        _write_tsv(out / f"meminfo.{name}.tsv", ["ts", *MEMINFO_KEYS], [ts, *[c[sel] for c in mem_cols]], gz)
        _write_tsv(out / f"vmstat.{name}.tsv", ["ts", *VMSTAT_KEYS], [ts, *[c[sel] for c in vm_cols]], gz)
        if spec.with_ksm:
            m = int(sel.sum())
            sharing = (s["ksm_sharing"][sel] // pg).astype(np.int64)
            shared = (sharing // 7).astype(np.int64)
            ticks = np.cumsum(np.full(m, spec.ksmd_cpu_share * 100 * spec.interval_s)).astype(np.int64) + int(
                (ts[0] - spec.start_epoch) * spec.ksmd_cpu_share * 100
            )
            ksm = {
                "full_scans": full_scans[sel],
                "general_profit": sharing * pg - (sharing + shared) * 64,
                "pages_shared": shared,
                "pages_sharing": sharing,
                "pages_unshared": (sharing // 3).astype(np.int64),
                "pages_volatile": np.full(m, 12_000, dtype=np.int64),
                "pages_to_scan": np.full(m, 100, dtype=np.int64),
                "run": np.ones(m, dtype=np.int64),
                "sleep_millisecs": np.full(m, 20, dtype=np.int64),
                "max_page_sharing": np.full(m, 256, dtype=np.int64),
                "merge_across_nodes": np.ones(m, dtype=np.int64),
                "ksm_zero_pages": np.zeros(m, dtype=np.int64),
                "ksmd_ticks": ticks,
            }
            _write_tsv(out / f"ksm.{name}.tsv", ["ts", *ksm], [ts, *ksm.values()], gz)
        if spec.with_psi:
            stall = stall_all[sel]
            full_total = psi_full_total[sel]
            some_total = (full_total * 1.6).astype(np.int64)
            avg = np.round(stall * 100, 2)
            _write_tsv(
                out / f"psi.{name}.tsv",
                [
                    "ts",
                    "some_avg10",
                    "some_avg60",
                    "some_avg300",
                    "some_total",
                    "full_avg10",
                    "full_avg60",
                    "full_avg300",
                    "full_total",
                ],
                [ts, avg * 1.6, avg * 1.5, avg * 1.2, some_total, avg, avg * 0.9, avg * 0.7, full_total],
                gz,
            )
        m = int(sel.sum())
        _write_tsv(
            out / f"swaps.{name}.tsv",
            ["ts", "filename", "type", "size_kb", "used_kb", "priority"],
            [
                ts,
                np.full(m, spec.swap_device, dtype=object),
                np.full(m, "partition", dtype=object),
                np.full(m, spec.swap_bytes // KIB, dtype=np.int64),
                kib(s["swap_used"][sel]),
                np.full(m, -2, dtype=np.int64),
            ],
            gz,
        )
        if pool:
            hp_free = max(0, pool - _hugepage_alloc(spec))
            _write_tsv(
                out / f"hugepages.{name}.tsv",
                ["ts", "node", "size_kb", "nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages"],
                [
                    np.repeat(ts, 2),
                    np.tile(np.array(["-", "-"], dtype=object), m),
                    np.tile(np.array([1048576, 2048], dtype=np.int64), m),
                    np.tile(np.array([0, pool // (2 * MIB)], dtype=np.int64), m),
                    np.tile(np.array([0, hp_free // (2 * MIB)], dtype=np.int64), m),
                    np.zeros(2 * m, dtype=np.int64),
                    np.zeros(2 * m, dtype=np.int64),
                ],
                gz,
            )
        if spec.numa_nodes:
            _write_numa(spec, out, name, ts, free[sel], t[sel], gz)
        if spec.with_vms:
            _write_vms(spec, out, name, ts, s, sel, gz, first_day=bool(d == days[0]))
    return out


def _hugepage_alloc(spec: HostSpec) -> int:
    return int(sum(spec.vm_sizes_gib[: spec.hugepage_vms]) * GIB) if spec.with_vms else 0


def _write_numa(spec: HostSpec, out: Path, day: str, ts: np.ndarray, free: np.ndarray, t: np.ndarray, gz: bool) -> None:
    """Nodes share RAM and free memory evenly, except numa_short_node, which in the middle third of the capture
    keeps 0.5 % of its memory free while the other nodes hold the rest."""
    k = spec.numa_nodes
    node_total = spec.ram_bytes // k
    rel = (t - spec.start_epoch) / (spec.days * 86400)
    short = (rel >= 1 / 3) & (rel < 2 / 3)
    frees = np.outer(free / k, np.ones(k))
    if spec.numa_short_node is not None:
        low = node_total * 0.005
        moved = np.where(short, frees[:, spec.numa_short_node] - low, 0.0)
        frees[:, spec.numa_short_node] -= moved
        for j in range(k):
            if j != spec.numa_short_node:
                frees[:, j] += moved / (k - 1)
    m = len(ts)
    pages = spec.hugepages_bytes // (2 * MIB) // k
    cols = [
        np.repeat(ts, k),
        np.tile(np.arange(k, dtype=np.int64), m),
        np.full(m * k, node_total // KIB, dtype=np.int64),
        (frees.ravel() // KIB).astype(np.int64),
        ((node_total - frees.ravel()) // KIB).astype(np.int64),
        np.full(m * k, pages, dtype=np.int64),
        np.full(m * k, pages, dtype=np.int64),
    ]
    _write_tsv(
        out / f"numa.{day}.tsv", ["ts", "node", "MemTotal", "MemFree", "MemUsed", "HugePages_Total", "HugePages_Free"], cols, gz
    )


def _write_vms(spec: HostSpec, out: Path, day: str, ts: np.ndarray, s: dict, sel: np.ndarray, gz: bool, first_day: bool) -> None:
    rng = np.random.default_rng(spec.seed + 2)
    names = vm_names(spec)
    sizes = np.array(spec.vm_sizes_gib) * GIB
    k = len(names)
    m = len(ts)
    # Each VM's resident share of its allocation: guests touch most of their RAM over time.
    resident = rng.uniform(0.45, 0.97, k)
    pids = 4000 + np.arange(k) * 37
    wobble = 1 + 0.03 * np.sin(np.outer((ts - spec.start_epoch) / 3600.0, np.ones(k)) + np.arange(k))
    rss = np.outer(np.ones(m), sizes * resident) * wobble
    swap_share = np.clip(s["swap_used"][sel] / max(1, sizes.sum()), 0, 1)
    swap = np.outer(swap_share, sizes) * rng.uniform(0.5, 1.5, k)
    header = ["ts", "pid", "rss_kb", "swap_kb"]
    columns = [
        np.repeat(ts, k),
        np.tile(pids, m).astype(np.int64),
        (rss.ravel() // KIB).astype(np.int64),
        (swap.ravel() // KIB).astype(np.int64),
    ]
    if spec.with_ksm:
        # /proc/<pid>/ksm_stat: each VM's share of the merged pages, by size (same-OS guests merge
        # alike); its profit is the merged memory less 64 bytes of rmap item per page.
        pg = spec.page_size
        merging = np.floor(np.outer(s["ksm_sharing"][sel] / pg, sizes / sizes.sum())).astype(np.int64)
        header += ["ksm_merging_pages", "ksm_profit"]
        columns += [merging.ravel(), (merging * (pg - 64)).ravel()]
    _write_tsv(out / f"vms.{day}.tsv", header, columns, gz)
    if first_day:
        args = []
        for i, size in enumerate(spec.vm_sizes_gib):
            gib = int(size) if float(size).is_integer() else None
            # All of qemu's -m syntaxes appear, as they do on real hosts.
            if i % 3 == 0 and gib:
                args.append(f"size={gib}G,slots=4,maxmem={gib * 2}G")
            elif i % 3 == 1 and gib:
                args.append(f"{gib}G")
            else:
                args.append(str(int(size * 1024)))
        uuids = [f"5f1c{i:04x}-0d4e-4c6a-9e7b-{spec.seed:04x}{i:08x}" for i in range(k)]
        backends = [
            f"-object memory-backend-file,id=pc.ram,mem-path=/dev/hugepages/libvirt/qemu/{i + 1}-{names[i]},prealloc=on"
            if i < spec.hugepage_vms
            else "-"
            for i in range(k)
        ]
        _write_tsv(
            out / f"vmdefs.{day}.tsv",
            ["ts", "pid", "name", "uuid", "mem_arg", "cmd", "mem_backend"],
            [
                np.full(k, ts[0]),
                pids.astype(np.int64),
                np.array(names, dtype=object),
                np.array(uuids, dtype=object),
                np.array(args, dtype=object),
                np.full(k, "qemu-system-x86_64", dtype=object),
                np.array(backends, dtype=object),
            ],
            gz,
        )


# Cumulative columns per stream: repeated weeks carry them on (no reset at a week boundary), as a
# host that ran for a year would. Every other column repeats as it was.
_REPEAT_COUNTERS = {
    "clock": ("uptime",),
    "vmstat": (
        "pswpin",
        "pswpout",
        "pgmajfault",
        "pgfault",
        "oom_kill",
        "workingset_refault",
        "workingset_refault_anon",
        "workingset_refault_file",
        "pgscan_direct",
    ),
    "psi": ("some_total", "full_total"),
    "ksm": ("full_scans", "ksmd_ticks"),
}
WEEK_S = 7 * 86400


def _read_stream_tsv(path: Path) -> pa.Table:
    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    head, _, body = raw.partition(b"\n")
    names = head.decode().lstrip("#").split("\t")
    return pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(column_names=names),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=False),
    )


def repeat_capture(src: Path, out: Path, weeks: int, gz: bool = True) -> Path:
    """src (a capture of one week or less, e.g. sample_data/kvm-sample) repeated `weeks` times,
    each repeat shifted by a week: timestamps, uptime and the cumulative counters run on, so the
    result reads as one long capture of a host that never rebooted. One stream is held at a time,
    so a year is written in the memory of a week. vmdefs is written once (the pids stay)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "facts.txt").write_bytes((src / "facts.txt").read_bytes())
    streams = sorted({p.name.split(".")[0] for p in src.glob("*.*.tsv*")})
    for stream in streams:
        files = sorted(src.glob(f"{stream}.*.tsv*"), key=lambda p: p.name.split(".")[1])
        days = [(p.name.split(".")[1], _read_stream_tsv(p)) for p in files]
        whole = pa.concat_tables([t for _, t in days])
        ts_all = whole.column("ts").to_numpy()
        step = {}  # a counter's increase over one repeat: first to last, plus the last interval's step
        for name in _REPEAT_COUNTERS.get(stream, ()):
            if name in whole.column_names and whole.num_rows > 1:
                v = whole.column(name).to_numpy()
                step[name] = v[-1] - v[0] + (v[-1] - v[-2])
        for w in range(1 if stream == "vmdefs" else weeks):
            for _day, table in days:
                t = table
                for name, inc in step.items():
                    i = t.column_names.index(name)
                    t = t.set_column(i, name, pa.array(t.column(name).to_numpy() + inc * w))
                t = t.set_column(0, "ts", pa.array(t.column("ts").to_numpy() + WEEK_S * w))
                name = np.datetime_as_string(np.datetime64(int(t.column("ts")[0].as_py() // 86400), "D")).replace("-", "")
                _write_tsv(out / f"{stream}.{name}.tsv", t.column_names, [c.to_numpy() for c in t.columns], gz, level=1)
        del whole, ts_all
    return out
