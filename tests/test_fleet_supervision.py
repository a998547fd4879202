"""Fleet workers under supervision (issue 11, defects 13–15): an input that never finishes times out,
a worker killed by SIGKILL (as the OOM killer does) fails only the input it was running, and
workers end when the fleet process is killed. Real FIFOs, real signals, real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from memreport.fleet import FleetOptions, run_fleet, state
from memreport.synthetic import HostSpec, write_capture

POLL_S = 0.05
BOUND_S = 240.0
# Long enough for a small capture on a fresh worker of a machine loaded tenfold; the stuck inputs
# wait this long.
TIMEOUT_S = 30  # a bound for waiting loops on a loaded machine, never a timing assertion


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("captures")
    return [
        write_capture(HostSpec(hostname=f"h{i}", seed=i, days=0.1, interval_s=60, thrash=()), root / f"h{i}", gz=True)
        for i in range(3)
    ]


def _inputs(tmp_path: Path, captures: list[Path], *fifos: str) -> Path:
    """A directory of inputs: FIFOs (sorted first, so the run meets them before the captures) and the captures."""
    d = tmp_path / "in"
    d.mkdir()
    for name in fifos:
        os.mkfifo(d / name)
    for c in captures:
        os.symlink(c, d / c.name)
    return d


def _readers(path: Path) -> list[int]:
    """Processes that have `path` open for reading only: the workers reading a FIFO. This test holds
    it read-write, and so does a copy of this process between fork and exec: those are not counted."""
    target, out = str(path), []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry.name}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{entry.name}/fd/{fd}") != target:
                    continue
                with open(f"/proc/{entry.name}/fdinfo/{fd}") as fh:
                    flags = next(int(line.split()[1], 8) for line in fh if line.startswith("flags:"))
            except (OSError, StopIteration, ValueError):
                continue
            if flags & os.O_ACCMODE == os.O_RDONLY:
                out.append(int(entry.name))
                break
    return out


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a reaper (in a container PID 1 may never reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _failed(out: Path) -> dict[str, str]:
    doc = json.loads((out / "fleet.json").read_text())
    return {Path(f["input"]).name: f["reason"] for f in doc["failed"]}


def _marker(out: Path, path: Path) -> dict:
    m = state.read_marker(out, state.input_key(path.absolute()))
    assert m is not None
    return m


def _hosts(out: Path) -> list[str]:
    return sorted(r["host"] for r in json.loads((out / "fleet.json").read_text())["hosts"])


def _in_thread(fn):  # type: ignore[no-untyped-def]
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


def _kill_holders_until_done(fifo: Path, thread: threading.Thread) -> list[int]:
    """SIGKILL every process that opens `fifo` (the worker reading it) until the run ends."""
    killed: list[int] = []
    end = time.monotonic() + BOUND_S
    while thread.is_alive() and time.monotonic() < end:
        for pid in _readers(fifo):
            if pid not in killed:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(POLL_S)
    thread.join(5)
    assert not thread.is_alive(), "the fleet run did not end"
    return killed


def test_an_input_that_never_delivers_times_out_and_the_run_goes_on(tmp_path: Path, captures: list[Path]) -> None:
    # Defect 13: a FIFO with no writer blocks its reader in open() for ever. Before, the run stalled
    # and no fleet.json was written.
    inputs = _inputs(tmp_path, captures, "a-never.fifo")
    out = tmp_path / "out"
    result = run_fleet([inputs], out, FleetOptions(jobs=2, fleet_pdf=False, input_timeout_s=TIMEOUT_S))
    assert _failed(out) == {"a-never.fifo": f"timed out after {TIMEOUT_S} s (fleet input timeout)"}
    assert _hosts(out) == ["h0", "h1", "h2"]
    assert result.processed == 3 and len(result.failed) == 1
    assert json.loads((out / "fleet.json").read_text())["run"]["input_timeout_s"] == TIMEOUT_S
    assert not (out / ".work").exists() or not any((out / ".work").iterdir())
    assert _marker(out, inputs / "a-never.fifo")["retry"] is True  # a hung read may be gone next time


def test_input_timeout_option_and_fleet_setting(tmp_path: Path, captures: list[Path]) -> None:
    config = tmp_path / "memreport.toml"
    config.write_text("[fleet]\ninput_timeout = 45\n\n[thrash]\nmin_duration_s = 60\n")

    def used(*args: object) -> object:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        proc = run_cli("fleet", captures[0], "-o", out, "--jobs", "1", "--no-fleet-pdf", *args)
        assert proc.returncode == 0, proc.stderr
        return json.loads((out / "fleet.json").read_text())["run"]["input_timeout_s"]

    assert used() == 3600  # the documented default
    assert used("--config", config) == 45
    assert used("--config", config, "--input-timeout", "7.5") == 7.5  # the option wins
    assert used("--input-timeout", "0") is None  # no limit
    for bad in ("-1", "nan", "inf"):
        wrong = run_cli("fleet", captures[0], "-o", tmp_path / "bad", "--input-timeout", bad)
        assert wrong.returncode == 2 and "--input-timeout" in wrong.stderr and "Traceback" not in wrong.stderr
    for bad in ('"soon"', "true", "-3"):
        config.write_text(f"[fleet]\ninput_timeout = {bad}\n")
        wrong = run_cli("fleet", captures[0], "-o", tmp_path / "bad", "--config", config)
        assert wrong.returncode == 2 and "fleet.input_timeout" in wrong.stderr and "Traceback" not in wrong.stderr
    config.write_text("[fleet]\ninput_timout = 5\n")
    wrong = run_cli("fleet", captures[0], "-o", tmp_path / "bad", "--config", config)
    assert wrong.returncode == 2 and "unknown fleet setting 'input_timout'" in wrong.stderr


def test_a_killed_worker_fails_only_its_input(tmp_path: Path, captures: list[Path]) -> None:
    # Defect 14: before, one SIGKILLed worker broke the ProcessPoolExecutor and every queued input
    # failed with it. The test holds the FIFO open for writing, so its reader blocks in read() with
    # the FIFO open, which names the worker to kill. One worker: the rest must run on a fresh one.
    inputs = _inputs(tmp_path, captures, "a-held.fifo")
    fifo = inputs / "a-held.fifo"
    keep = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        out = tmp_path / "out"
        thread, box = _in_thread(lambda: run_fleet([inputs], out, FleetOptions(jobs=1, fleet_pdf=False, input_timeout_s=None)))
        killed = _kill_holders_until_done(fifo, thread)
    finally:
        os.close(keep)
    assert "error" not in box, box.get("error")
    assert len(killed) == 1
    reason = _failed(out)["a-held.fifo"]
    assert reason.startswith("worker killed: out of memory?"), reason
    assert _hosts(out) == ["h0", "h1", "h2"]
    assert _marker(out, fifo)["retry"] is True  # the next run tries again: the memory may be there by then


@pytest.mark.slow
def test_dask_killed_worker_fails_only_its_input_after_bounded_retries(tmp_path: Path, captures: list[Path]) -> None:
    # Defect 14 on dask: the nanny restarts a killed worker and the scheduler retries its task; after
    # allowed-failures + 1 deaths the input fails with the same reason as on the local pool.
    import dask
    import dask.distributed  # noqa: F401 - its defaults loaded before config.set, which would drop them on exit

    inputs = _inputs(tmp_path, captures[:2], "a-held.fifo")
    fifo = inputs / "a-held.fifo"
    keep = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        out = tmp_path / "out"
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            thread, box = _in_thread(lambda: run_fleet([inputs], out, FleetOptions(dask_local=2, fleet_pdf=False)))
            killed = _kill_holders_until_done(fifo, thread)
    finally:
        os.close(keep)
    assert "error" not in box, box.get("error")
    assert len(killed) == 2  # the first run and one retry
    assert _failed(out)["a-held.fifo"].startswith("worker killed: out of memory?")
    assert _hosts(out) == ["h0", "h1"]


@pytest.mark.slow
def test_dask_input_timeout_ends_the_stuck_worker_and_goes_on(tmp_path: Path, captures: list[Path]) -> None:
    # Two stuck inputs in a row on one worker: the second must not hang the run either.
    inputs = _inputs(tmp_path, captures[:2], "a-never.fifo", "b-never.fifo")
    out = tmp_path / "out"
    result = run_fleet([inputs], out, FleetOptions(dask_local=1, fleet_pdf=False, input_timeout_s=TIMEOUT_S))
    why = f"timed out after {TIMEOUT_S} s (fleet input timeout)"
    assert _failed(out) == {"a-never.fifo": why, "b-never.fifo": why}
    assert _hosts(out) == ["h0", "h1"] and result.processed == 2


def test_workers_die_with_a_killed_fleet_process(tmp_path: Path, captures: list[Path]) -> None:
    # Defect 15: after `kill -9` of the fleet process its workers lived on (≈95 MB each). Two workers
    # block reading held FIFOs; the fleet process alone gets SIGKILL (not its process group).
    inputs = _inputs(tmp_path, [], "a-held.fifo", "b-held.fifo")
    keeps = [os.open(inputs / n, os.O_RDWR | os.O_NONBLOCK) for n in ("a-held.fifo", "b-held.fifo")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "memreport", "fleet", str(inputs), "-o", str(tmp_path / "out"), "--jobs", "2", "--no-fleet-pdf"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tree: set[int] = set()
    try:
        end = time.monotonic() + BOUND_S
        while time.monotonic() < end and not (_readers(inputs / "a-held.fifo") and _readers(inputs / "b-held.fifo")):
            assert proc.poll() is None, "the fleet ended before its workers blocked"
            time.sleep(POLL_S)
        workers = set(_readers(inputs / "a-held.fifo") + _readers(inputs / "b-held.fifo"))
        tree = _descendants(proc.pid)  # the fork server and the workers
        assert len(workers) == 2 and workers <= tree
        proc.kill()
        proc.wait()
        end = time.monotonic() + BOUND_S
        while time.monotonic() < end and any(_alive(p) for p in tree):
            time.sleep(POLL_S)
        assert [p for p in tree if _alive(p)] == []
    finally:
        for fd in keeps:
            os.close(fd)
        proc.kill()
        for p in tree:  # only after a failure: do not leave them behind
            if _alive(p):
                os.kill(p, signal.SIGKILL)
