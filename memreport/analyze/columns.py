"""The sample columns (store names) the checks and charts read, and nothing else (issue 17).

A report of a long input reads these few dozen instead of the hundreds of meminfo/vmstat keys a
kernel writes: IngestOptions.sample_columns and store.read_host(sample_columns=) take this set.
The columns every store has (ts, segment, interval_s, the rates: schema.SAMPLE_FIXED) and those the
ingest itself needs (derive.INGEST_COLUMNS) are always kept. tests/test_long_period.py checks that
a report from these columns equals the one from every column.
"""

from __future__ import annotations

from memreport.ingest import schema

REPORT_SAMPLE_COLUMNS: frozenset[str] = frozenset(
    [f.name for f in schema.SAMPLE_FIXED]
    + [
        # active.py, oom.py, pressure.py, thrash.py, what_if.py, the memory chart, coverage
        "mem_MemTotal",
        "mem_MemFree",
        "mem_MemAvailable",
        "mem_Active",
        "mem_Inactive",
        "mem_Inactive_anon",
        # swap_sizing.py, oom.py, what_if.py, the memory chart
        "mem_SwapTotal",
        "mem_SwapFree",
        # oom.py: commit
        "mem_CommitLimit",
        "mem_Committed_AS",
        # hugepages.py: zswap, THP and the hugepage pool
        "mem_Zswap",
        "mem_Zswapped",
        "mem_AnonHugePages",
        "mem_HugePages_Total",
        "mem_HugePages_Free",
        "mem_HugePages_Rsvd",
        "mem_Hugepagesize",
        # ksm.py, what_if.py, the KSM chart
        "ksm_general_profit",
        "ksm_pages_shared_bytes",
        "ksm_pages_sharing_bytes",
        "ksm_pages_unshared_bytes",
        "ksm_run",
    ]
)
