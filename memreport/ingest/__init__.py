"""Ingest: find inputs (sources), parse them (pure parsers), build the Parquet store."""

import os

import pyarrow as pa

# The system allocator, not pyarrow's default jemalloc: jemalloc keeps the freed buffers of the
# parse (a host-week is ~150 MB of text) resident, so a fleet worker peaked ~190 MB higher for the
# same speed (measured on a host-week with 12 VMs). ARROW_DEFAULT_MEMORY_POOL still wins when set.
if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    pa.set_memory_pool(pa.system_memory_pool())

_threads: int | None = None


def threads() -> int:
    """How many threads one ingest uses: every core, or this process's share of them (limit_threads)."""
    return _threads or os.cpu_count() or 1


def limit_threads(n: int) -> None:
    """Use at most n threads here, pyarrow's pool included: a fleet worker gets its share of the
    cores, since N workers each running a thread per core fight over the same cores and hold that
    many days of a host in memory at once (issue 12: 2 workers were only 1.32× faster than 1)."""
    global _threads
    _threads = max(1, n)
    pa.set_cpu_count(_threads)
