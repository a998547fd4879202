"""Writers of one store (issue 11, defects 12 and 20). Two concurrent `ingest` runs into one store:
the second fails at once with one line and the first's store is whole (before: both exited 0 and
one run's data was lost). A killed ingest's `.STORE.tmp-*` is removed by the next run, unless its
process still runs (before: never removed)."""

from __future__ import annotations

import fcntl
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from memreport.ingest import store
from memreport.synthetic import HostSpec, write_capture

PATIENCE_S = 600  # a bound for a hung process only; nothing is timed


def cpu_bound() -> None:
    """In the child: a runaway ingest is killed by the kernel after PATIENCE_S seconds of CPU, so the
    waiting loops below (which end when the process does) never compare a clock and cannot spin forever."""
    resource.setrlimit(resource.RLIMIT_CPU, (PATIENCE_S, PATIENCE_S))


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("in")
    return {
        # big enough that a kill can find it writing its store
        "slow": write_capture(HostSpec(hostname="slow", days=2, interval_s=10), d / "slow"),
        "quick": write_capture(HostSpec(hostname="quick", days=0.01, interval_s=60, with_vms=False), d / "quick"),
    }


def lock_holders(lock_file: Path) -> set[int]:
    """Pids holding an flock on the file, from /proc/locks (looking takes no lock)."""
    if not lock_file.exists():
        return set()
    ino = lock_file.stat().st_ino
    pids = set()
    for line in Path("/proc/locks").read_text().splitlines():
        f = line.split()
        if len(f) >= 6 and f[1] == "FLOCK" and f[5].rsplit(":", 1)[-1] == str(ino):
            pids.add(int(f[4]))
    return pids


def test_second_concurrent_ingest_fails_in_one_line_and_the_first_store_is_whole(captures, tmp_path, cli):
    target = tmp_path / "store"
    first = subprocess.Popen(
        [sys.executable, "-m", "memreport", "ingest", str(captures["slow"]), "-o", str(target)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=cpu_bound,
    )
    lock_file = tmp_path / ".store.lock"
    while first.pid not in lock_holders(lock_file):
        assert first.poll() is None, f"the first ingest ended ({first.returncode}) without ever locking the store"
        time.sleep(0.01)
    first.send_signal(signal.SIGSTOP)  # paused mid-ingest, as a slow NFS read would hold it
    try:
        second = cli("ingest", captures["quick"], "-o", target)
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=PATIENCE_S)
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stderr
    assert second.stderr.strip().splitlines() == [
        f"memreport: error: {target}: another memreport ingest is writing it now (.store.lock is locked): "
        "run again when it has finished"
    ]
    assert store.list_hosts(target) == ["slow"]
    samples = pd.read_parquet(target / "samples")
    assert len(samples) == HostSpec(hostname="slow", days=2, interval_s=10).samples
    # and once the first has finished, the store takes the next ingest as usual
    assert cli("ingest", captures["quick"], "-o", target).returncode == 0
    assert store.list_hosts(target) == ["quick"]


def test_whoever_holds_the_store_lock_keeps_ingest_out(captures, tmp_path, cli):
    """The lock file is the contract: whoever holds it (here the test itself) keeps ingest out."""
    target = tmp_path / "store"
    with open(tmp_path / ".store.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        proc = cli("ingest", captures["quick"], "-o", target)
        assert proc.returncode == 2 and "another memreport ingest is writing it now" in proc.stderr
        assert not target.exists()
    assert cli("ingest", captures["quick"], "-o", target).returncode == 0


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_leftovers_of_a_killed_ingest_are_removed_by_the_next(captures, tmp_path, cli):
    target = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-m", "memreport", "ingest", str(captures["slow"]), "-o", str(target)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=cpu_bound,
    )
    while not list(tmp_path.glob(".store.tmp-*")):  # killed while it writes the new store
        assert proc.poll() is None, "the ingest never started writing"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = list(tmp_path.glob(".store.tmp-*"))
    assert killed  # what a kill -9 leaves
    legacy = tmp_path / ".store.tmp-k2j4h5"  # a leftover from before names carried the pid
    legacy.mkdir()
    live = subprocess.Popen(["sleep", "300"])
    try:
        busy = tmp_path / f".store.tmp-{live.pid}-abc"  # its owner is alive: not ours to remove
        busy.mkdir()
        gone = tmp_path / f".store.old-{dead_pid()}-def"
        gone.mkdir()
        assert cli("ingest", captures["quick"], "-o", target).returncode == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".store.lock", "store", busy.name])
    finally:
        live.kill()
        live.wait()
    assert store.list_hosts(target) == ["quick"]
    assert os.listdir(target / "samples") == ["host=quick"]
