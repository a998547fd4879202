"""The store's explicit Parquet schemas and column naming (documented in docs/STORE.md).

Sample columns are wide and open-ended: every meminfo key and every vmstat counter a kernel gives
becomes a column, so the samples schema is built from fixed typed columns plus one typed column per
key seen, never inferred by pandas.
"""

from __future__ import annotations

import re

import pyarrow as pa

STORE_FORMAT = 1
TS = pa.timestamp("ms", tz="UTC")

# KSM sysfs files that count pages; the store holds them in bytes as ksm_<file>_bytes.
KSM_PAGE_FILES = frozenset(
    {"pages_shared", "pages_sharing", "pages_unshared", "pages_volatile", "ksm_zero_pages", "pages_skipped"}
)
# meminfo keys that are counts, not kB.
MEMINFO_COUNT_KEYS = frozenset({"HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp"})

# Fixed sample columns: time, continuity, derived per-interval rates.
SAMPLE_FIXED: list[pa.Field] = [
    pa.field("ts", TS, nullable=False),
    pa.field("segment", pa.int32(), nullable=False),  # counters are continuous within a segment
    pa.field("boot_id", pa.string()),
    pa.field("uptime_s", pa.float64()),
    pa.field("interval_s", pa.float64()),  # seconds since the previous sample of the segment
    pa.field("source", pa.string()),  # capture | snapshot | sar | vmstat | sosreport ...
    pa.field("swapin_Bps", pa.float64()),
    pa.field("swapout_Bps", pa.float64()),
    pa.field("majfault_per_s", pa.float64()),
    pa.field("refault_per_s", pa.float64()),
    pa.field("pgscan_direct_per_s", pa.float64()),
    pa.field("oom_kills", pa.float64()),  # oom_kill events in the interval
    pa.field("psi_some_share", pa.float64()),  # share of wall time, 0..1
    pa.field("psi_full_share", pa.float64()),
    pa.field("ksmd_cpu_share", pa.float64()),  # share of one CPU, 0..1
]
RATE_COLUMNS = [f.name for f in SAMPLE_FIXED[6:]]

PSI_FLOAT = ("psi_some_avg10", "psi_some_avg60", "psi_some_avg300", "psi_full_avg10", "psi_full_avg60", "psi_full_avg300")
PSI_INT = ("psi_some_total_us", "psi_full_total_us")

_NON_WORD = re.compile(r"[^0-9A-Za-z_]+")


def meminfo_column(key: str) -> str:
    """`Inactive(anon)` -> `mem_Inactive_anon` (SQL-friendly, still recognisable)."""
    return "mem_" + _NON_WORD.sub("_", key).strip("_")


def vmstat_column(key: str) -> str:
    return "vmstat_" + _NON_WORD.sub("_", key)


def ksm_column(name: str) -> str:
    return f"ksm_{name}_bytes" if name in KSM_PAGE_FILES else f"ksm_{name}"


def sample_field(name: str) -> pa.Field:
    """The typed field for a sample column by its name's family."""
    for f in SAMPLE_FIXED:
        if f.name == name:
            return f
    if name in PSI_FLOAT:
        return pa.field(name, pa.float64())
    return pa.field(name, pa.int64())


def _family_rank(name: str) -> tuple[int, str]:
    for rank, prefix in enumerate(("mem_", "swap_", "vmstat_", "ksm_", "ksmd_", "psi_")):
        if name.startswith(prefix):
            return rank, ""
    return 9, name


def samples_schema(columns: list[str]) -> pa.Schema:
    """Fixed columns first, then the data columns grouped by family, in first-seen order within one."""
    fixed = [f.name for f in SAMPLE_FIXED]
    rest = [c for c in columns if c not in fixed]
    rest.sort(key=_family_rank)  # stable: keeps the kernel's key order inside a family
    return pa.schema(SAMPLE_FIXED + [sample_field(c) for c in rest])


VMS_SCHEMA = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        pa.field("name", pa.string()),  # libvirt domain / qemu -name guest=
        pa.field("uuid", pa.string()),
        pa.field("pid", pa.int64()),
        pa.field("allocated_bytes", pa.int64()),  # configured memory (-m size / dominfo max memory)
        pa.field("maxmem_bytes", pa.int64()),  # hotplug ceiling (-m maxmem=), null when none
        pa.field("rss_bytes", pa.int64()),  # VmRSS of the qemu process
        pa.field("swap_bytes", pa.int64()),  # VmSwap of the qemu process
        pa.field("ksm_merged_bytes", pa.int64()),  # ksm_stat ksm_merging_pages × page size (kernel >= 6.1)
        pa.field("ksm_profit_bytes", pa.int64()),  # ksm_stat ksm_process_profit, signed (kernel >= 6.4)
        pa.field(
            "hugepages_bytes", pa.int64()
        ),  # HugetlbPages of the qemu process (kernel >= 4.4) or its numa_maps: not in VmRSS
        pa.field("backing", pa.string()),  # anonymous | hugepages | file | memfd: where the guest RAM comes from
        # What libvirt says (domain XML, virsh): the balloon and <memtune>; null when the input does not say.
        pa.field("current_bytes", pa.int64()),  # the balloon: dommemstat actual, dominfo Used memory, <currentMemory>
        pa.field("hard_limit_bytes", pa.int64()),  # <memtune><hard_limit> / virsh memtune / the VM cgroup's limit
        pa.field("soft_limit_bytes", pa.int64()),  # <memtune><soft_limit>
        pa.field("swap_hard_limit_bytes", pa.int64()),  # <memtune><swap_hard_limit>: memory + swap
        # The VM's memory cgroup (snapshot trees): limits are null where unlimited or not read.
        pa.field("cgroup", pa.string()),  # the cgroup path read, e.g. /machine.slice/machine-qemu\x2d1\x2dweb01.scope
        pa.field("mem_limit_bytes", pa.int64()),  # v2 memory.max, v1 memory.limit_in_bytes
        pa.field("mem_high_bytes", pa.int64()),  # v2 memory.high (throttling, not OOM)
        pa.field("swap_limit_bytes", pa.int64()),  # v2 memory.swap.max
        pa.field("memsw_limit_bytes", pa.int64()),  # v1 memory.memsw.limit_in_bytes: memory + swap
        pa.field("cgroup_current_bytes", pa.int64()),  # v2 memory.current, v1 memory.usage_in_bytes
        pa.field("cgroup_swap_bytes", pa.int64()),  # v2 memory.swap.current
        pa.field("cgroup_anon_bytes", pa.int64()),  # memory.stat anon (v1 total_rss)
        pa.field("cgroup_file_bytes", pa.int64()),  # memory.stat file (v1 total_cache)
        pa.field("source", pa.string()),
    ]
)

SWAPS_SCHEMA = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        pa.field("filename", pa.string()),
        pa.field("type", pa.string()),
        pa.field("size_bytes", pa.int64()),
        pa.field("used_bytes", pa.int64()),
        pa.field("priority", pa.int64()),
    ]
)

# One row per hugepage pool per sample: /sys/kernel/mm/hugepages/hugepages-<size>kB (node null, the
# host's pool) and /sys/devices/system/node/node<N>/hugepages/… (that node's share; no resv there).
HUGEPAGES_SCHEMA = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        pa.field("node", pa.int32()),  # NUMA node, null for the host-wide pool
        pa.field("page_size_bytes", pa.int64()),
        pa.field("total_bytes", pa.int64()),  # nr_hugepages × size
        pa.field("free_bytes", pa.int64()),  # free_hugepages × size
        pa.field("reserved_bytes", pa.int64()),  # resv_hugepages × size: promised, not yet faulted in
        pa.field("surplus_bytes", pa.int64()),  # surplus_hugepages × size (overcommitted beyond nr_hugepages)
    ]
)

# One row per NUMA node per sample: /sys/devices/system/node/node<N>/meminfo (bytes; HugePages_* counts
# of the default hugepage size, as in /proc/meminfo).
NUMA_SCHEMA = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        pa.field("node", pa.int32(), nullable=False),
        pa.field("memory_total_bytes", pa.int64()),  # MemTotal
        pa.field("memory_free_bytes", pa.int64()),  # MemFree
        pa.field("memory_used_bytes", pa.int64()),  # MemUsed
        pa.field("active_bytes", pa.int64()),
        pa.field("inactive_bytes", pa.int64()),
        pa.field("inactive_anon_bytes", pa.int64()),
        pa.field("file_pages_bytes", pa.int64()),  # FilePages (page cache: mostly reclaimable)
        pa.field("anon_pages_bytes", pa.int64()),
        pa.field("anon_huge_bytes", pa.int64()),  # AnonHugePages (transparent hugepages)
        pa.field("hugepages_total", pa.int64()),  # HugePages_Total (count)
        pa.field("hugepages_free", pa.int64()),  # HugePages_Free (count)
    ]
)
# node meminfo key -> NUMA_SCHEMA column
NUMA_KEYS = {
    "MemTotal": "memory_total_bytes",
    "MemFree": "memory_free_bytes",
    "MemUsed": "memory_used_bytes",
    "Active": "active_bytes",
    "Inactive": "inactive_bytes",
    "Inactive(anon)": "inactive_anon_bytes",
    "FilePages": "file_pages_bytes",
    "AnonPages": "anon_pages_bytes",
    "AnonHugePages": "anon_huge_bytes",
    "HugePages_Total": "hugepages_total",
    "HugePages_Free": "hugepages_free",
}

VIRSH_SCHEMA = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        pa.field("domain", pa.string()),
        pa.field("key", pa.string()),
        pa.field("value", pa.int64()),  # bytes for memory keys (kB converted), raw otherwise
    ]
)

FACTS_SCHEMA = pa.schema(
    [
        pa.field("hostname", pa.string()),  # as the input gives it; null when it names no host
        pa.field("machine_id", pa.string()),  # /etc/machine-id, null when the input lacks it
        pa.field("kernel", pa.string()),
        pa.field("page_size", pa.int64()),
        pa.field("page_size_source", pa.string()),  # option | stated | architecture | inferred | assumed
        pa.field("clock_ticks", pa.int64()),
        pa.field("cpus", pa.int64()),
        pa.field("interval_s", pa.float64()),
        pa.field("swappiness", pa.int64()),
        pa.field("overcommit_memory", pa.int64()),
        pa.field("overcommit_ratio", pa.int64()),
        pa.field("collector", pa.string()),
        pa.field("collector_version", pa.string()),
        pa.field("capture_format", pa.string()),
        pa.field("time_base", pa.string()),  # absolute | relative (memreport/timebase.py)
        pa.field("assumptions", pa.list_(pa.string())),  # what ingest assumed, one sentence each
        pa.field("first_ts", TS),
        pa.field("last_ts", TS),
        pa.field("samples", pa.int64()),
        pa.field("extra", pa.map_(pa.string(), pa.string())),
        pa.field(
            "contributions",
            pa.list_(pa.struct([("input", pa.string()), ("kind", pa.string()), ("summary", pa.string())])),
        ),
    ]
)

# No host column: the hive partition (log/host=<host>/) carries it, as for every table.
LOG_SCHEMA = pa.schema(
    [
        pa.field("input", pa.string()),
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("level", pa.string()),
        pa.field("event", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("count", pa.int64()),
    ]
)
