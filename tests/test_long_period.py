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

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import HANG, ROOT

from memreport.analyze.columns import REPORT_SAMPLE_COLUMNS
from memreport.ingest.options import IngestOptions
from memreport.ingest.run import load
from memreport.synthetic import repeat_capture

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
    # Every per-VM column a report keeps is the one a full ingest makes; the collector's raw kB/page
    # columns and the all-null ones (no hugetlb_kb in this capture, no virsh) are left out.
    assert set(full.vms.columns) - set(lean.vms.columns) == {
        "rss_kb",
        "swap_kb",
        "ksm_merging_pages",
        "ksm_profit",
        "ksm_profit_bytes",
        "hugepages_bytes",
        "current_bytes",
        "hard_limit_bytes",
        "soft_limit_bytes",
        "swap_hard_limit_bytes",
    }
    assert full.vms["hugepages_bytes"].isna().all() and full.vms["current_bytes"].isna().all()
    for name in lean.vms.columns:
        pd.testing.assert_series_equal(lean.vms[name], full.vms[name], check_categorical=True)
    assert len(lean.vms) == 30 * 10080


def test_vm_allocation_sums_equal_a_groupby_on_shuffled_rows_with_gaps():
    """oom.vm_allocation on numpy (issue 17) against the pandas groupby it replaced, on the sample's
    VM rows out of time order, some allocations unknown and some changed."""
    from memreport.analyze.oom import vm_allocation

    vms = load([SAMPLE], opts=IngestOptions(sample_columns=REPORT_SAMPLE_COLUMNS)).hosts[0].vms
    for seed in range(3):
        rows = vms.sample(frac=1, random_state=seed).reset_index(drop=True)
        rows.loc[rows.index[:5000], "allocated_bytes"] = pd.NA
        rows.loc[rows.index[5000:5100], "allocated_bytes"] = 10**11
        alloc = pd.to_numeric(rows["allocated_bytes"], errors="coerce").astype("float64")
        ok = alloc.notna()
        sums = alloc[ok].groupby(rows.loc[ok, "ts"], sort=True).sum()
        want = (int((rows.loc[ok, "ts"] == sums.index[-1]).sum()), int(sums.iloc[-1]), sums.index[-1], int(sums.max()))
        assert vm_allocation(rows) == want
        assert want[3] > 176093659136  # the planted 100 GB allocations made a new peak


def test_per_vm_reductions_equal_pandas_groupby():
    """check_vms' max, last non-null and p95 per VM (numpy, issue 17) equal groupby's, nulls included."""
    import numpy as np

    from memreport.analyze.vms import _Groups

    rng = np.random.default_rng(17)
    for _ in range(100):
        n = int(rng.integers(1, 400))
        codes = np.sort(rng.integers(0, 6, n))
        values = rng.integers(0, 10**12, n).astype(float)
        values[rng.random(n) < 0.2] = np.nan
        g = _Groups(codes)
        by = pd.DataFrame({"c": codes, "v": values}).groupby("c", sort=True)["v"]
        for mine, theirs in (
            (g.max(values), by.max()),
            (g.last(values), by.last()),
            (g.quantile(values, 0.95), by.quantile(0.95)),
        ):
            assert np.array_equal(mine, theirs.to_numpy(dtype=float), equal_nan=True)
