from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
ARTIFACTS = ROOT / "test-artifacts"
# Seconds a test waits for a command (or a collector, a browser) before calling it hung: a guard,
# never a speed limit. The suite must pass on a busy machine (issue 11): 2 cores shared with other
# work, where a fleet run that takes 10 s alone took over 120 s.
HANG = 900


def unpack_own(tar: tarfile.TarFile, into: Path) -> None:
    """Unpack an archive a test made itself (a real sosreport): with tarfile's 'data' filter where
    this Python has it (3.11.4 and later; Debian 12's python3 is 3.11.2)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(into, filter="data")
    else:
        tar.extractall(into)


def sos_argv(*args: str) -> list[str]:
    """`sos report …` as this user can run it: sos refuses to run without root, so an unprivileged
    user runs it in a user namespace in which it is root (`unshare --map-root-user`). It is the same
    real sos; what the user cannot read on the host stays out of the report, as it would for root
    where a file is unreadable."""
    argv = [shutil.which("sos") or "sos", *args]
    if os.geteuid() != 0 and shutil.which("unshare"):
        argv = [shutil.which("unshare") or "unshare", "--map-root-user", *argv]
    return argv


def run_on_terminal(cmd: list[str], columns: int = 120, timeout: float = HANG) -> tuple[int, str]:
    """Run cmd with stdin, stdout and stderr on a pseudo-terminal, as a user at a shell would;
    return its exit code and everything it wrote there."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env={**os.environ, "COLUMNS": str(columns)})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=timeout), b"".join(chunks).decode("utf-8", "replace")


def run_cli(
    *args: str, check: bool | None = None, cwd: Path | None = None, timeout: float = HANG
) -> subprocess.CompletedProcess[str]:
    """The real command line, as a user runs it (a separate process)."""
    proc = subprocess.run(
        [sys.executable, "-m", "memreport", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"memreport {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
