"""Plain snapshot trees (`cp` in a loop) and single snapshots."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import FIXTURES

from memreport.ingest import store
from memreport.ingest.options import IngestOptions
from memreport.ingest.run import ingest
from memreport.ingest.snapshots import parse_snapshot_time

UTC = dt.UTC


@pytest.mark.parametrize(
    "name, expected",
    [
        ("2026-11-26T20:49:43Z", dt.datetime(2026, 11, 26, 20, 49, 43, tzinfo=UTC)),
        ("20261126T204943Z", dt.datetime(2026, 11, 26, 20, 49, 43, tzinfo=UTC)),
        ("2026-11-26T21:49:43.250+01:00", dt.datetime(2026, 11, 26, 20, 49, 43, 250000, tzinfo=UTC)),
        ("20261126T214943+0100", dt.datetime(2026, 11, 26, 20, 49, 43, tzinfo=UTC)),
        ("2026-11-26T20:49:43", dt.datetime(2026, 11, 26, 20, 49, 43, tzinfo=UTC)),
        ("1795898983", dt.datetime(2026, 11, 28, 20, 49, 43, tzinfo=UTC)),
        ("1795898983.5", dt.datetime(2026, 11, 28, 20, 49, 43, 500000, tzinfo=UTC)),
        ("proc", None),
        ("2026-13-01T00:00:00Z", None),
    ],
)
def test_snapshot_directory_names(name, expected):
    assert parse_snapshot_time(name) == expected


def make_tree(root: Path, layout: str, names: list[str]) -> Path:
    """Copies of one real 6.x snapshot, as `cp` in a loop would leave them, swap use growing."""
    src = FIXTURES / "linux-6.18"
    for i, name in enumerate(names):
        snap = root / name
        if layout == "real":
            shutil.copytree(src / "proc", snap / "proc")
            shutil.copytree(src / "sys", snap / "sys")
        else:
            snap.mkdir(parents=True)
            for f in ("meminfo", "vmstat", "swaps"):
                shutil.copy(src / "proc" / f, snap / f)
            shutil.copy(src / "proc" / "pressure" / "memory", snap / "pressure_memory")
            shutil.copytree(src / "sys" / "kernel" / "mm" / "ksm", snap / "ksm")
        vm = snap / ("proc/vmstat" if layout == "real" else "vmstat")
        text = vm.read_text().splitlines()
        text = [f"pswpout {1000 + i * 600}" if line.startswith("pswpout ") else line for line in text]
        vm.write_text("\n".join(text) + "\n")
    (root / names[0] / "hostname").write_text("tree-host\n")
    return root


@pytest.mark.parametrize("layout", ["real", "flat"])
def test_snapshot_tree_becomes_a_series(layout, tmp_path):
    names = ["2026-11-26T10:00:00Z", "2026-11-26T10:01:00Z", "20261126T100200Z", "1795687380"]  # last: 10:03:00
    tree = make_tree(tmp_path / "tree", layout, names)
    ingest([tree], tmp_path / "store")
    data = store.read_host(tmp_path / "store", "tree-host")
    s = data.samples
    assert len(s) == 4
    assert s["ts"].dt.strftime("%H:%M").tolist() == ["10:00", "10:01", "10:02", "10:03"]
    mem_total = int((FIXTURES / "linux-6.18/proc/meminfo").read_text().split()[1]) * 1024
    assert (s["mem_MemTotal"] == mem_total).all()
    page = int((FIXTURES / "linux-6.18/pagesize").read_text()) if layout == "real" else 4096
    assert s["swapout_Bps"].iloc[1:].tolist() == pytest.approx([600 * page / 60] * 3)
    assert s["psi_full_total_us"].notna().all()
    assert "ksm_pages_sharing_bytes" in s and s["ksm_pages_sharing_bytes"].notna().all()
    assert data.contributions[0].kind == "snapshot-tree"


def test_single_snapshot_time_from_date_file_then_mtime(tmp_path):
    snap = tmp_path / "snap"
    shutil.copytree(FIXTURES / "rhel9-5.14", snap)
    ingest([snap], tmp_path / "store")
    data = store.read_host(tmp_path / "store", "rhel9-5.14")
    assert data.samples["ts"].tolist() == [pd.Timestamp("2026-11-01T12:00:00Z")]
    assert any(e.event == "time_source" and "date file" in e.detail for e in data.log)
    assert data.samples["mem_MemAvailable"].iloc[0] == 4300000 * 1024
    assert data.samples["vmstat_workingset_refault_anon"].iloc[0] == 123344

    (snap / "date").unlink()
    when = dt.datetime(2026, 10, 5, 8, 30, tzinfo=UTC).timestamp()
    os.utime(snap / "proc" / "meminfo", (when, when))
    ingest([snap], tmp_path / "store2")
    data = store.read_host(tmp_path / "store2", "rhel9-5.14")
    assert data.samples["ts"].tolist() == [pd.Timestamp("2026-10-05T08:30:00Z")]
    (e,) = [e for e in data.log if e.event == "time_source"]
    assert "modification time" in e.detail and e.level == "warn"
    assert e.detail in data.facts.assumptions  # an assumption: in the store's facts, so in the report

    # issue 10: --start dates a snapshot that has no date file, and nothing is assumed then
    ingest([snap], tmp_path / "store3", opts=IngestOptions(start=dt.datetime(2026, 9, 1, 7, tzinfo=UTC)))
    data = store.read_host(tmp_path / "store3", "rhel9-5.14")
    assert data.samples["ts"].tolist() == [pd.Timestamp("2026-09-01T07:00:00Z")]
    assert not [a for a in data.facts.assumptions if "time" in a]


def test_old_kernel_snapshot_has_nulls_not_zeros(tmp_path):
    ingest([FIXTURES / "rhel6-2.6.32"], tmp_path / "store")
    s = pd.read_parquet(tmp_path / "store" / "samples")
    assert "mem_MemAvailable" not in s or s["mem_MemAvailable"].isna().all()
    assert s["oom_kills"].isna().all() and s["psi_full_share"].isna().all()
