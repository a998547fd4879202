"""Ingest: find inputs (sources), parse them (pure parsers), build the Parquet store.

Importing this package changes nothing process-wide; the memreport command and fleet workers call
use_system_allocator() and limit_threads() themselves, and a library user may too.
"""

import ctypes
import os
import sys

_threads: int | None = None


def use_system_allocator() -> None:
    """The system allocator for pyarrow, not its default jemalloc: jemalloc keeps the freed buffers
    of the parse (a host-week is ~150 MB of text) resident, so a fleet worker peaked ~190 MB higher
    for the same speed (measured on a host-week with 12 VMs). ARROW_DEFAULT_MEMORY_POOL still wins
    when set. Process-wide: called by the memreport command and fleet workers, not on import."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    _return_freed_memory()
    global _trim
    _trim = sys.platform.startswith("linux")


def _return_freed_memory() -> None:
    """glibc: big buffers (≥ MMAP_THRESHOLD_BYTES) from mmap, always. By default glibc raises its
    mmap threshold each time such a buffer is freed (up to 32 MiB), after which big buffers come from
    the heap and stay resident when freed; a long input's columns then leave hundreds of MB behind
    (issue 17: a report of 12 weeks peaked 1.1 GB with the default). A fixed threshold stops the
    raising. It was 256 KiB; but every mmap'd buffer is zeroed page by page by the kernel when first
    touched and unmapped when freed, and Parquet encoding and the CSV parse allocate buffers of
    0.3–4 MB by the thousand: a fleet worker spent 28 % more CPU (8 host-weeks: 23.7 s, 17.1 s with
    4 MiB), a year's report 28 s instead of 21 s, for 7 MiB less peak (567 against 574 MiB; issue 12).
    MALLOC_MMAP_THRESHOLD_ set by the user wins."""
    _mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES, "MALLOC_MMAP_THRESHOLD_")  # a fixed value also stops the raising


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>


def _mallopt(param: int, value: int, user_setting: str) -> None:
    """glibc's mallopt(param, value), unless the user set it in the environment (`user_setting`, read
    by glibc at start-up). Elsewhere (musl, no glibc) the allocator's own policy stays."""
    if user_setting in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(param, value)
    except (OSError, AttributeError):
        pass


MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024


def release_freed_memory() -> None:
    """glibc: give the pages of freed small allocations back to the system (malloc_trim). A long input
    is read a day at a time by several threads; the freed days leave the heaps full of holes that
    glibc keeps resident (a year's report held ≈ 340 MB of them, issue 17). Called between the phases
    of a read; a no-op where glibc is not the allocator, or when use_system_allocator was not called.

    A fleet worker (init_worker) gives back only while it holds more than WORKER_KEEP_BYTES: it
    reads host after host, and pages given back between the phases of one host were zeroed again by
    the kernel as the next phase or host took them, a third of its system time (host-weeks of 0–12
    VMs: 0.34 → 0.21 s a host, peak 470 → 481 MiB; issue 12). A single report gives back always:
    its peak is what counts (a 28-day report peaked 80 MiB higher keeping its pages)."""
    if not _trim or (_keep_bytes and _resident_bytes() <= _keep_bytes):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


_trim = False
_keep_bytes = 0  # release_freed_memory keeps freed pages while the process holds at most this
WORKER_KEEP_BYTES = 400 * 1024 * 1024


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return _keep_bytes + 1  # unknown: give back


def threads() -> int:
    """How many threads one ingest uses: every core, or this process's share of them (limit_threads)."""
    from memreport import cpus

    return _threads or cpus.usable()


def limit_threads(n: int) -> None:
    """Use at most n threads here, pyarrow's pool included: a fleet worker gets its share of the
    cores, since N workers each running a thread per core fight over the same cores and hold that
    many days of a host in memory at once (issue 12: 2 workers were only 1.32× faster than 1)."""
    import pyarrow as pa

    global _threads
    _threads = max(1, n)
    pa.set_cpu_count(_threads)


def init_worker(share: int) -> None:
    """A fleet worker process: the system allocator, its share of the cores, and freed pages kept for
    the next phase or host up to WORKER_KEEP_BYTES (release_freed_memory)."""
    global _keep_bytes
    use_system_allocator()
    limit_threads(share)
    _keep_bytes = WORKER_KEEP_BYTES
    _keep_heap_top(WORKER_KEEP_BYTES)


def _keep_heap_top(limit: int) -> None:
    """glibc: keep up to `limit` bytes freed at the top of a heap instead of returning them at once.
    glibc's own threshold is 128 KiB (fixed, once the mmap threshold is set): a worker's heap top was
    given back and faulted in again within every host. With the worker's budget as the threshold, a
    host-week of 0–16 VMs takes 20 % less system time (2.1 → 1.7 s for 8 of them, 41,000 page faults
    a host instead of 60,000) and peaks 11 MiB lower; release_freed_memory still gives back above the
    budget (malloc_trim ignores the threshold). MALLOC_TRIM_THRESHOLD_ set by the user wins."""
    _mallopt(_M_TRIM_THRESHOLD, limit, "MALLOC_TRIM_THRESHOLD_")


# memreport.ingest(...) is the API call (memreport.api.ingest): see api_modules.py.
from memreport.api_modules import make_callable  # noqa: E402

make_callable(__name__, "ingest")
