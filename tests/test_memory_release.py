"""When freed memory goes back to the system (issue 12): a fleet worker keeps freed pages for the next
phase or host while it is small, a single command gives them back between phases; a whole read of a
few weeks keeps its day chunks (the store is written from them), a report's read makes one buffer
per column (issue 17)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import memreport.ingest as ingest
from memreport.analyze.columns import REPORT_SAMPLE_COLUMNS
from memreport.ingest import derive, hosts
from memreport.ingest.options import IngestOptions
from memreport.synthetic import HostSpec, write_capture

MIB = 1024 * 1024


class _Libc:
    def __init__(self) -> None:
        self.trims = 0
        self.mallopts: list[tuple[int, int]] = []

    def malloc_trim(self, pad: int) -> int:
        self.trims += 1
        return 1

    def mallopt(self, param: int, value: int) -> int:
        self.mallopts.append((param, value))
        return 1


@pytest.fixture
def libc(monkeypatch: pytest.MonkeyPatch) -> _Libc:
    fake = _Libc()
    monkeypatch.setattr(ingest, "_trim", True)
    monkeypatch.setattr(ingest.ctypes, "CDLL", lambda name: fake)
    return fake


@pytest.mark.parametrize(("keep_mib", "resident_mib", "trims"), [(0, 50, 1), (0, 900, 1), (400, 390, 0), (400, 410, 1)])
def test_freed_pages_are_kept_only_by_a_worker_below_its_budget(
    libc: _Libc, monkeypatch: pytest.MonkeyPatch, keep_mib: int, resident_mib: int, trims: int
) -> None:
    monkeypatch.setattr(ingest, "_keep_bytes", keep_mib * MIB)
    monkeypatch.setattr(ingest, "_resident_bytes", lambda: resident_mib * MIB)
    ingest.release_freed_memory()
    assert libc.trims == trims


def test_resident_bytes_is_this_process_rss() -> None:
    statm = Path("/proc/self/statm")
    if not statm.exists():
        pytest.fail("this suite runs on Linux: /proc/self/statm is missing")
    rss = ingest._resident_bytes()  # noqa: SLF001
    status = {k: v for k, _, v in (line.partition(":") for line in Path("/proc/self/status").read_text().splitlines())}
    vm_rss = int(status["VmRSS"].split()[0]) * 1024
    assert 0.5 * vm_rss < rss < 2 * vm_rss


def test_a_fleet_worker_keeps_up_to_its_budget_and_a_command_nothing() -> None:
    code = "import memreport.ingest as i; print(i._keep_bytes); i.init_worker(1); print(i._keep_bytes == i.WORKER_KEEP_BYTES)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "True"]


def test_a_worker_keeps_its_freed_heap_top_up_to_its_budget(libc: _Libc, monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc's trim threshold is the worker's budget (what it frees at the top of its heap stays for
    the next host); a threshold the user set in the environment wins; a command sets none."""
    calls = libc.mallopts
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.setattr(ingest, "_keep_bytes", 0)
    monkeypatch.setattr(ingest, "use_system_allocator", lambda: None)  # the command's own settings, tested above
    monkeypatch.setattr(ingest, "limit_threads", lambda n: None)
    ingest.init_worker(1)
    assert (-1, ingest.WORKER_KEEP_BYTES) in calls  # M_TRIM_THRESHOLD
    calls.clear()
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    ingest.init_worker(1)
    assert calls == []


def test_a_whole_read_keeps_day_chunks_and_a_report_read_combines_them(tmp_path: Path) -> None:
    cap = write_capture(HostSpec(hostname="two-days", days=2, interval_s=300, with_vms=False), tmp_path / "cap")
    whole = hosts.read(cap, IngestOptions())[0].data
    lean = hosts.read(cap, IngestOptions(sample_columns=REPORT_SAMPLE_COLUMNS))[0].data
    whole_t, lean_t = derive.to_table(whole.samples), derive.to_table(lean.samples)
    assert whole_t.column("mem_MemTotal").num_chunks == 2  # one per day file
    assert lean_t.column("mem_MemTotal").num_chunks == 1
    assert whole_t.num_rows == lean_t.num_rows == 2 * 86400 // 300
    assert whole_t.column("mem_MemTotal").to_pylist() == lean_t.column("mem_MemTotal").to_pylist()
