"""SIGTERM or SIGHUP while a bundle is unpacked (issue 11, defect 6) removes the private copy of the
customer data (`memreport-bundle-*` in TMPDIR) and still ends the process by that signal, in
`ingest` and in a fleet worker. Before the fix the copy stayed (SIGINT was fine).

Real processes and a real archive of thousands of members: the signal is sent the moment the
temporary directory appears (polled, no fixed sleep), while extraction is under way."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT

MEMBERS = 4000
PATIENCE_S = 300  # only a bound for a hung process; nothing is timed


@pytest.fixture(scope="module")
def big_bundle(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "big-bundle.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for i in range(MEMBERS):
            data = (f"line of member {i}\n" * 50).encode()
            info = tarfile.TarInfo(f"big-bundle/d{i // 500}/f{i}.txt")
            info.size, info.mtime = len(data), 1_795_000_000
            tar.addfile(info, io.BytesIO(data))
    return path


def start(args: list[str], tmpdir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "memreport", *args],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # The child takes each signal as a terminal or systemd would deliver it. A suite started in the
        # background of a shell without job control inherits SIGINT ignored, one started under `nohup`
        # SIGHUP ignored, and so would memreport: it would rightly leave an ignored signal ignored,
        # finish, and exit 2 (the bundle holds no host).
        preexec_fn=_default_signals,
    )


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def wait_for_unpacked(tmpdir: Path, proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        found = list(tmpdir.glob("memreport-bundle-*"))
        if found:
            return found[0]
        assert proc.poll() is None, f"exited {proc.returncode} before unpacking: {proc.communicate()}"
        time.sleep(0.002)
    raise AssertionError("the bundle was never unpacked")


def live_members(pgid: int) -> list[int]:
    """Processes of the group that have not exited (zombies left to a non-reaping init count as gone)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_ingest_removes_the_unpacked_bundle_when_terminated(sig, big_bundle, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = start(["ingest", str(big_bundle), "-o", str(tmp_path / "store")], tmpdir)
    unpacked = wait_for_unpacked(tmpdir, proc)
    proc.send_signal(sig)
    proc.communicate(timeout=PATIENCE_S)
    assert proc.returncode == -sig  # still ended by the signal (not by finishing first)
    assert not unpacked.exists() and list(tmpdir.iterdir()) == []


def test_sigint_still_removes_it_and_says_interrupted(big_bundle, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = start(["ingest", str(big_bundle), "-o", str(tmp_path / "store")], tmpdir)
    wait_for_unpacked(tmpdir, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=PATIENCE_S)
    assert proc.returncode == 130 and "interrupted" in err, (proc.returncode, err[-2000:])
    assert list(tmpdir.iterdir()) == []


@pytest.fixture
def request_cleanup():
    dirs: list[Path] = []
    yield dirs
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def test_fleet_worker_removes_the_unpacked_bundle_when_its_group_is_terminated(big_bundle, tmp_path, request_cleanup):
    """As `systemctl stop` or a closed terminal does: SIGTERM to every process of the run."""
    # A short TMPDIR: the fleet's fork server binds a Unix socket under it, and a socket path longer than
    # 107 bytes cannot be bound (pytest's tmp_path for this test's long name comes close to that).
    tmpdir = Path(tempfile.mkdtemp(prefix="mr-sig-", dir="/tmp"))
    request_cleanup.append(tmpdir)
    proc = start(["fleet", str(big_bundle), "-o", str(tmp_path / "out"), "-j", "1", "--no-fleet-pdf"], tmpdir)
    unpacked = wait_for_unpacked(tmpdir, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=PATIENCE_S)
    deadline = time.monotonic() + PATIENCE_S
    while live_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_members(proc.pid) == [], "fleet processes still running after SIGTERM"
    # (multiprocessing's own pymp-* socket directory of the killed pool may stay: no customer data)
    assert not unpacked.exists() and list(tmpdir.glob("memreport-bundle-*")) == []
