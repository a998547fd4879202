"""Long periods in bounded memory (issue 17): a report reads only the columns its checks use and
builds per-VM results column by column, and still gives exactly the numbers it gave before.

"Before" is tests/fixtures/golden/two-weeks-report.json: the report.json that main's code at
a4ba519 (the branch point, before issue 17) wrote for the sample repeated over two weeks (synthetic.repeat_capture,
deterministic). report.json holds no timing or version field; only the input's path differs
between runs, and it is replaced by "<input>" on both sides.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import HANG, ROOT

from memreport.analyze.columns import REPORT_SAMPLE_COLUMNS
from memreport.ingest.options import IngestOptions
from memreport.ingest.run import load
from memreport.synthetic import repeat_capture
from memreport.vm_digest import VmDigest

SAMPLE = ROOT / "sample_data" / "kvm-sample"
GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "two-weeks-report.json"
MEMREPORT = str(ROOT / ".venv" / "bin" / "memreport")


@pytest.fixture(scope="module")
def two_weeks(tmp_path_factory) -> Path:
    return repeat_capture(SAMPLE, tmp_path_factory.mktemp("long") / "two-weeks", 2)


def _report_json(inputs: Path, out: Path) -> dict:
    proc = subprocess.run(
        [MEMREPORT, "report", str(inputs), "-o", str(out), "--no-pdf"], capture_output=True, text=True, timeout=HANG
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "kvm-sample" / "report.json").read_text())
    for i in doc["coverage"]["inputs"]:
        i["input"] = "<input>"
    return doc


def test_repeated_capture_runs_on(two_weeks):
    """The generator's second week follows the first: times a week later, counters and uptime go on."""

    def rows(name: str) -> list[list[str]]:
        p = two_weeks / name
        return [line.split("\t") for line in gzip.decompress(p.read_bytes()).decode().splitlines()[1:]]

    last_week1, first_week2 = rows("clock.20251123.tsv.gz")[-1], rows("clock.20251124.tsv.gz")[0]
    assert int(first_week2[0]) - int(last_week1[0]) == 60
    assert float(first_week2[2]) - float(last_week1[2]) == 60
    psi1, psi2 = rows("psi.20251123.tsv.gz")[-1], rows("psi.20251124.tsv.gz")[0]
    assert int(psi2[8]) >= int(psi1[8])  # full_total: no counter reset at the week boundary
    assert len(list(two_weeks.glob("meminfo.*.tsv.gz"))) == 14
    assert len(list(two_weeks.glob("vmdefs.*"))) == 1


def test_two_weeks_report_equals_the_one_before_issue_17(two_weeks, tmp_path):
    golden = json.loads(GOLDEN.read_text())
    got = _report_json(two_weeks, tmp_path / "out")
    assert got["coverage"]["samples"] == 20160
    assert got == golden


def test_report_from_a_store_reads_fewer_columns_and_says_the_same(two_weeks, tmp_path):
    store = tmp_path / "store"
    proc = subprocess.run([MEMREPORT, "ingest", str(two_weeks), "-o", str(store)], capture_output=True, text=True, timeout=HANG)
    assert proc.returncode == 0, proc.stderr
    # The store keeps every column the kernel gave, used by a report or not.
    names = pq.read_schema(next((store / "samples").rglob("part-0.parquet"))).names
    assert "vmstat_nr_dirty" in names and "mem_DirectMap1G" in names and len(names) > 250
    got = _report_json(store, tmp_path / "out")
    golden = json.loads(GOLDEN.read_text())
    got["coverage"]["inputs"] = golden["coverage"]["inputs"]  # a store names the capture it was made from
    assert got == golden


def test_report_ingest_keeps_the_checks_columns_and_the_same_vm_rows():
    full = load([SAMPLE]).hosts[0]
    lean = load([SAMPLE], opts=IngestOptions(sample_columns=REPORT_SAMPLE_COLUMNS)).hosts[0]
    assert full.samples.num_columns > 250
    assert set(lean.samples.column_names) < set(full.samples.column_names)
    assert "vmstat_nr_dirty" not in lean.samples.column_names
    for name in lean.samples.column_names:
        assert lean.samples.column(name).equals(full.samples.column(name)), name
    # A report holds no per-VM rows: it reduces each vms day as it reads it. The reductions are those
    # of the rows a full ingest makes (the store's vms table).
    assert lean.vms is None and len(lean.vm_digest) == len(full.vms) == 30 * 10080
    assert lean.vm_digest.chunks == 7  # one a day, merged into one part per VM
    assert all(len(parts) == 1 for parts in lean.vm_digest.parts.values())
    got, want = lean.vm_digest.stats(), VmDigest.of(full.vms).stats()
    assert [s.key for s in got] == [s.key for s in want]
    for a, b in zip(got, want):
        assert a.samples == b.samples and a.first_ts == b.first_ts and a.last_ts == b.last_ts
        assert (a.name, a.uuid, a.pid, a.backing) == (b.name, b.uuid, b.pid, b.backing)
        assert a.rss_p95 == b.rss_p95
        for m in a.maxes:
            assert _same(a.maxes[m], b.maxes[m]), m
        for m in a.lasts:
            assert _same(a.lasts[m], b.lasts[m]), m
    assert all(
        np.array_equal(x, y) for x, y in zip(lean.vm_digest.allocation_by_time(), VmDigest.of(full.vms).allocation_by_time())
    )


def test_vm_allocation_sums_equal_a_groupby_on_shuffled_rows_with_gaps():
    """oom.vm_allocation from the per-VM digest (issue 17) against a pandas groupby of the rows, on the
    sample's VM rows out of time order, some allocations unknown and some changed, read in one frame
    and in uneven chunks."""
    from memreport.analyze.oom import vm_allocation

    vms = load([SAMPLE]).hosts[0].vms
    for seed in range(3):
        rows = vms.sample(frac=1, random_state=seed).reset_index(drop=True)
        rows.loc[rows.index[:5000], "allocated_bytes"] = pd.NA
        rows.loc[rows.index[5000:5100], "allocated_bytes"] = 10**11
        alloc = pd.to_numeric(rows["allocated_bytes"], errors="coerce").astype("float64")
        ok = alloc.notna()
        sums = alloc[ok].groupby(rows.loc[ok, "ts"], sort=True).sum()
        want = (int((rows.loc[ok, "ts"] == sums.index[-1]).sum()), int(sums.iloc[-1]), sums.index[-1], int(sums.max()))
        assert vm_allocation(VmDigest.of(rows)) == want
        assert vm_allocation(_chunked(rows, seed)) == want
        assert want[3] > 176093659136  # the planted 100 GB allocations made a new peak


def _chunked(rows: pd.DataFrame, seed: int) -> VmDigest:
    """rows read as a digest in uneven chunks (as the capture reader reads day files)."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, len(rows)), size=7, replace=False))
    digest = VmDigest()
    for i, part in enumerate(np.split(np.arange(len(rows)), cuts)):
        digest.add(rows.iloc[part])
        if i in (2, 5):  # merged as the capture reader merges its days, some chunks left apart
            digest.compact()
    return digest


def test_per_vm_reductions_equal_pandas_groupby():
    """The digest's max, last non-null and p95 per VM (issue 17) equal groupby's on the rows in time
    order, nulls included, read in one frame and in chunks that split VMs and times anywhere."""
    rng = np.random.default_rng(17)
    for trial in range(60):
        n = int(rng.integers(1, 400))
        rows = pd.DataFrame(
            {
                "ts": pd.to_datetime(rng.integers(0, 50, n) * 60_000, unit="ms", utc=True),
                "name": pd.Categorical([f"vm{c}" for c in rng.integers(0, 6, n)]),
                "rss_bytes": pd.array(rng.integers(0, 10**9, n) * 1024, dtype="Int64"),
                "swap_bytes": pd.array(rng.integers(0, 10**12, n), dtype="Int64"),
                "allocated_bytes": pd.array(rng.integers(1, 4, n) * 2**30, dtype="Int64"),
            }
        )
        for c in ("rss_bytes", "swap_bytes", "allocated_bytes"):
            rows.loc[rng.random(n) < 0.2, c] = pd.NA
        order = rows.sort_values("ts", kind="stable")
        by = order.groupby("name", observed=True, sort=False)
        want = {
            "rss_max": by["rss_bytes"].max(),
            "swap_last": by["swap_bytes"].last(),
            "alloc_last": by["allocated_bytes"].last(),
            "p95": by["rss_bytes"].quantile(0.95),
            "samples": by.size(),
            "last_seen": by["ts"].max(),
        }
        for digest in (VmDigest.of(rows), _chunked(rows, trial) if n > 8 else VmDigest.of(rows)):
            got = {s.name: s for s in digest.stats()}
            assert set(got) == set(want["samples"].index)
            for name, s in got.items():
                assert _same(s.maxes["rss"], want["rss_max"][name])
                assert _same(s.lasts["swap"], want["swap_last"][name])
                assert _same(s.lasts["alloc"], want["alloc_last"][name])
                assert _same(s.rss_p95, want["p95"][name])
                assert s.samples == want["samples"][name]
                assert s.last_ts == want["last_seen"][name]


def _same(mine: float, theirs: object) -> bool:
    if pd.isna(theirs):
        return bool(np.isnan(mine))
    return mine == float(theirs)  # exact: whole bytes, and p95 by the same interpolation
