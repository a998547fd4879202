"""Ingest: find inputs (sources), parse them (pure parsers), build the Parquet store.

Importing this package changes nothing process-wide; the memreport command and fleet workers call
use_system_allocator() and limit_threads() themselves, and a library user may too.
"""

import os

_threads: int | None = None


def use_system_allocator() -> None:
    """The system allocator for pyarrow, not its default jemalloc: jemalloc keeps the freed buffers
    of the parse (a host-week is ~150 MB of text) resident, so a fleet worker peaked ~190 MB higher
    for the same speed (measured on a host-week with 12 VMs). ARROW_DEFAULT_MEMORY_POOL still wins
    when set. Process-wide: called by the memreport command and fleet workers, not on import."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())


def threads() -> int:
    """How many threads one ingest uses: every core, or this process's share of them (limit_threads)."""
    return _threads or os.cpu_count() or 1


def limit_threads(n: int) -> None:
    """Use at most n threads here, pyarrow's pool included: a fleet worker gets its share of the
    cores, since N workers each running a thread per core fight over the same cores and hold that
    many days of a host in memory at once (issue 12: 2 workers were only 1.32× faster than 1)."""
    import pyarrow as pa

    global _threads
    _threads = max(1, n)
    pa.set_cpu_count(_threads)


def init_worker(share: int) -> None:
    """A fleet worker process: the system allocator and its share of the cores."""
    use_system_allocator()
    limit_threads(share)


# memreport.ingest(...) is the API call (memreport.api.ingest): see api_modules.py.
from memreport.api_modules import make_callable  # noqa: E402

make_callable(__name__, "ingest")
