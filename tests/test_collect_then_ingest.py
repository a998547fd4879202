"""Issue 2's done-when: collect for 5 s at 1 s on this machine, ingest, and MemTotal is the real one."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import HANG, ROOT


def mem_total_bytes() -> int:
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def samples_taken(capture: Path) -> int:
    """Rows in the capture's clock stream (one per sample), over a UTC midnight too."""
    rows = 0
    for f in capture.glob("clock.*"):
        text = gzip.decompress(f.read_bytes()).decode() if f.name.endswith(".gz") else f.read_text()
        rows += sum(1 for line in text.splitlines() if not line.startswith("#"))
    return rows


def check_store(cli, capture, tmp_path):
    proc = cli("ingest", capture, "-o", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    s = pd.read_parquet(tmp_path / "store" / "samples")
    # every sample taken (how many the 5 s held depends on how busy the machine was)
    assert len(s) == samples_taken(capture) >= 2
    assert (s["mem_MemTotal"] == mem_total_bytes()).all()
    assert s["swapout_Bps"].iloc[1:].notna().all()  # real counters made real rates
    facts = pd.read_parquet(tmp_path / "store" / "facts")
    machine_id = Path("/etc/machine-id")
    assert facts["machine_id"].tolist() == [machine_id.read_text().strip() if machine_id.is_file() else None]


@pytest.mark.slow
def test_memreport_collect_then_ingest(cli, tmp_path):
    proc = cli("collect", "--interval", "1", "--duration", "5", "--output", tmp_path / "cap", timeout=HANG)
    assert proc.returncode == 0, proc.stderr
    check_store(cli, tmp_path / "cap", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("shell", ["dash", "busybox"])
def test_memsnap_sh_then_ingest(shell, cli, tmp_path):
    assert shutil.which(shell), f"{shell} missing: tests/system_deps.sh installs it"
    argv = [shell, "sh"] if shell == "busybox" else [shell]
    subprocess.run(
        [*argv, str(ROOT / "collectors" / "memsnap.sh"), "--interval", "1", "--duration", "5", "--output", str(tmp_path / "cap")],
        check=True,
        timeout=HANG,
        capture_output=True,
    )
    check_store(cli, tmp_path / "cap", tmp_path)
