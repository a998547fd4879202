"""Impossible meminfo values (issue 11, defects 1 and 3): a value of 2^63 or more, or a negative
size, is one warning naming the file and one ingest-log row; that value is null, the sample stays.
Before the fix: an OverflowError traceback (a fleet "internal error"), and MemFree −5 GB stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from conftest import FIXTURES

from memreport.synthetic import HostSpec, write_capture

SPEC = HostSpec(hostname="odd", days=0.01, interval_s=60, with_vms=False)  # 14 samples
HUGE = str(2**63)


def set_meminfo(cap: Path, line: int, key: str, value: str) -> Path:
    f = next(cap.glob("meminfo.*.tsv"))
    lines = f.read_text().split("\n")
    col = lines[0].split("\t").index(key)
    row = lines[line - 1].split("\t")
    row[col] = value
    lines[line - 1] = "\t".join(row)
    f.write_text("\n".join(lines))
    return f


def store_log(store: Path) -> pd.DataFrame:
    return pd.read_parquet(store / "log")


def test_capture_value_of_2_to_the_63_is_null_and_logged(tmp_path, cli):
    cap = write_capture(SPEC, tmp_path / "cap")
    f = set_meminfo(cap, 4, "MemFree", HUGE)
    proc = cli("ingest", cap, "-o", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "OverflowError" not in proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if f"{f}:4" in ln] == [
        f"memreport: warning: {f}:4: MemFree: {HUGE} is too large for 64 bits: left null"
    ]
    s = pd.read_parquet(tmp_path / "store" / "samples")
    assert len(s) == SPEC.samples  # the sample stays
    assert s["mem_MemFree"].isna().sum() == 1 and s["mem_MemTotal"].notna().all()
    log = store_log(tmp_path / "store")
    row = log[(log["file"] == str(f)) & (log["line"] == 4)]
    assert row["event"].tolist() == ["bad_value"] and row["level"].tolist() == ["warn"]


def test_capture_kib_value_that_overflows_as_bytes_is_null(tmp_path, cli):
    cap = write_capture(SPEC, tmp_path / "cap")
    f = set_meminfo(cap, 5, "Cached", str(2**62))  # fits int64 as kB, not as bytes (x 1024)
    proc = cli("ingest", cap, "-o", tmp_path / "store")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    s = pd.read_parquet(tmp_path / "store" / "samples")
    assert s["mem_Cached"].isna().sum() == 1 and (s["mem_Cached"].dropna() > 0).all()  # no wrapped value
    assert any(str(f) in ln and "Cached: 1 impossible value(s)" in ln and "too large" in ln for ln in proc.stderr.splitlines())


def test_capture_negative_meminfo_is_null_and_a_warning(tmp_path, cli):
    cap = write_capture(SPEC, tmp_path / "cap")
    f = set_meminfo(cap, 6, "MemFree", "-5000000")  # MemFree −5 GB
    proc = cli("ingest", cap, "-o", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if str(f) in ln]
    assert len(warned) == 1 and "MemFree: 1 impossible value(s), the first -5000000 (negative)" in warned[0], proc.stderr
    s = pd.read_parquet(tmp_path / "store" / "samples")
    assert len(s) == SPEC.samples and s["mem_MemFree"].isna().sum() == 1 and (s["mem_MemFree"].dropna() >= 0).all()
    log = store_log(tmp_path / "store")
    assert log[log["file"] == str(f)]["event"].tolist() == ["bad_value"]


def snapshot_tree(root: Path, values: dict[str, str]) -> Path:
    """Two snapshots of a real 6.18 host; the second's meminfo gets `values`."""
    src = FIXTURES / "linux-6.18"
    for name in ("2026-11-26T10:00:00Z", "2026-11-26T10:01:00Z"):
        shutil.copytree(src / "proc", root / name / "proc")
    (root / "2026-11-26T10:00:00Z" / "hostname").write_text("tree-host\n")
    mem = root / "2026-11-26T10:01:00Z" / "proc" / "meminfo"
    lines = mem.read_text().splitlines()
    for i, line in enumerate(lines):
        key = line.split(":")[0]
        if key in values:
            lines[i] = f"{key}:{values[key]:>16} kB"
    mem.write_text("\n".join(lines) + "\n")
    return mem


def test_snapshot_tree_huge_and_negative_values_are_null_and_logged(tmp_path, cli):
    mem = snapshot_tree(tmp_path / "tree", {"MemFree": HUGE, "Cached": "-5000000"})
    proc = cli("ingest", tmp_path / "tree", "-o", tmp_path / "store")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    lines = mem.read_text().splitlines()
    free_line = next(i for i, ln in enumerate(lines, 1) if ln.startswith("MemFree:"))
    cached_line = next(i for i, ln in enumerate(lines, 1) if ln.startswith("Cached:"))
    warned = sorted(ln for ln in proc.stderr.splitlines() if str(mem) in ln)
    assert warned == sorted(
        [
            f"memreport: warning: {mem}:{free_line}: MemFree: {HUGE} kB is too large for 64 bits: left null",
            f"memreport: warning: {mem}:{cached_line}: Cached: -5000000 kB is negative: left null",
        ]
    ), proc.stderr
    s = pd.read_parquet(tmp_path / "store" / "samples")
    assert len(s) == 2  # the snapshot is kept, only the impossible values are null
    assert s["mem_MemFree"].isna().tolist() == [False, True] and s["mem_Cached"].isna().tolist() == [False, True]
    log = store_log(tmp_path / "store")
    assert sorted(log[log["file"] == str(mem)]["line"].tolist()) == sorted([free_line, cached_line])


def test_fleet_reads_a_capture_with_a_huge_value_instead_of_an_internal_error(tmp_path, cli):
    cap = write_capture(SPEC, tmp_path / "in" / "cap")
    set_meminfo(cap, 4, "MemFree", str(2**64 + 5))
    proc = cli("fleet", tmp_path / "in" / "cap", "-o", tmp_path / "out", "--no-fleet-pdf", "-j", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out" / "fleet.json").read_text())
    assert doc["failed"] == [] and [h["host"] for h in doc["hosts"]] == ["odd"]
    assert doc["hosts"][0]["samples"] == SPEC.samples


def test_stray_directory_in_a_snapshot_tree_is_a_warning(tmp_path, cli):
    snapshot_tree(tmp_path / "tree", {})
    stray = tmp_path / "tree" / "not-a-time"
    shutil.copytree(FIXTURES / "linux-6.18" / "proc", stray / "proc")  # a snapshot, but of when?
    (tmp_path / "tree" / "proc" / "sys" / "kernel").mkdir(parents=True)  # host facts at the root: not stray
    proc = cli("ingest", tmp_path / "tree", "-o", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if "not-a-time" in ln or "tree/proc" in ln] == [
        f"memreport: warning: {stray}: directory name is not a snapshot time: ignored"
    ]
    log = store_log(tmp_path / "store")
    assert log[log["file"] == str(stray)][["level", "event"]].values.tolist() == [["warn", "skipped_file"]]
    assert len(pd.read_parquet(tmp_path / "store" / "samples")) == 2
