"""A report reduces per-VM rows day file by day file (memreport/vm_digest.py, issue 17). Whatever
the days hold — a clock stepped back across midnight, a repeated row, a VM that restarts with a new
pid and allocation, hugepage-backed VMs — the answers are those of the whole stream read at once
into the store's vms table (`memreport ingest`), and so is every what-if."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memreport.analyze import analyze, what_if as what_if_mod
from memreport.analyze.columns import REPORT_SAMPLE_COLUMNS
from memreport.analyze.report_json import build
from memreport.ingest import store
from memreport.ingest.options import IngestOptions
from memreport.ingest.run import load
from memreport.synthetic import GIB, HostSpec, write_capture
from memreport.vm_digest import VmDigest

SPEC = HostSpec(
    hostname="digest",
    days=3,
    interval_s=300,
    vm_sizes_gib=(8, 4, 4, 2, 2),
    hugepages_bytes=16 * GIB,
    hugepage_vms=1,
    thrash=(),
)


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    return lines[:1], [line.split("\t") for line in lines[1:]]


def _write(path: Path, head: list[str], rows: list[list[str]]) -> None:
    path.write_text("\n".join(head + ["\t".join(r) for r in rows]) + "\n")


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Path:
    cap = write_capture(SPEC, tmp_path_factory.mktemp("digest") / "cap")
    days = sorted(cap.glob("vms.*.tsv"))
    assert len(days) == 3
    # Day 2 starts 20 minutes before day 1 ended (the clock stepped back at midnight): those rows go.
    head, rows = _rows(days[1])
    for r in rows[:40]:
        r[0] = str(float(r[0]) - 1500)
    # Day 3 repeats one sample's rows (a collector restarted mid-sample).
    head3, rows3 = _rows(days[2])
    first_ts = rows3[0][0]
    again = [list(r) for r in rows3 if r[0] == first_ts]
    _write(days[1], head, rows)
    _write(days[2], head3, again + rows3)
    return cap


def _both(cap: Path):
    full = load([cap]).hosts[0]
    lean = load([cap], opts=IngestOptions(sample_columns=REPORT_SAMPLE_COLUMNS)).hosts[0]
    return full, lean


def test_day_by_day_equals_the_whole_stream(messy):
    full, lean = _both(messy)
    assert lean.vms is None and lean.vm_digest.chunks == 3
    whole = VmDigest.of(full.vms)
    assert len(lean.vm_digest) == len(full.vms)  # the same rows dropped: stepped back and repeated
    got, want = lean.vm_digest.stats(), whole.stats()
    assert [s.key for s in got] == [s.key for s in want] and len(got) == 5
    for a, b in zip(got, want):
        assert (a.samples, a.first_ts, a.last_ts, a.name, a.backing) == (b.samples, b.first_ts, b.last_ts, b.name, b.backing)
        assert a.rss_p95 == b.rss_p95
        assert all(a.maxes[m] == b.maxes[m] or (np.isnan(a.maxes[m]) and np.isnan(b.maxes[m])) for m in a.maxes)
        assert all(a.lasts[m] == b.lasts[m] or (np.isnan(a.lasts[m]) and np.isnan(b.lasts[m])) for m in a.lasts)
    for x, y in zip(lean.vm_digest.allocation_by_time(), whole.allocation_by_time()):
        assert np.array_equal(x, y)
    events = {e.event for e in lean.log}
    assert "duplicate" in events  # the repeated rows are recorded, not dropped silently
    dup = next(e for e in lean.log if e.event == "duplicate" and "vms rows" in e.detail)
    stored = next(e for e in full.log if e.event == "duplicate" and "vms rows" in e.detail)
    assert dup.count == stored.count == 10  # 5 VMs at the time day 1 ended on, and the repeated sample


@pytest.mark.parametrize(
    "change",
    [
        what_if_mod.Change(),
        what_if_mod.parse_change(["2x8GiB", "1x4GiB:hugepages"], None, None, None),
        what_if_mod.parse_change(None, ["db01"], None, None),
        what_if_mod.parse_change(None, ["web01"], "32GiB", "off"),
    ],
    ids=["none", "add", "remove", "remove-hugepage-vm+swap+ksm-off"],
)
def test_reports_and_what_ifs_equal_the_stores(messy, change):
    full, lean = _both(messy)
    a, b = analyze(store.frame(lean), change=change), analyze(store.frame(full), change=change)
    assert build(a) == build(b)
    assert a.oom.vm_count == 5 and a.hugepages.vm_count == 1
    if change.remove:
        assert a.what_if is not None and a.what_if.after.oom.vm_count == 4


@pytest.mark.parametrize(
    "ts",
    [
        np.sort(np.random.default_rng(7).integers(0, 50, 1000)),  # repeated times, in order
        np.repeat(np.arange(1_700_000_000_000, 1_700_000_060_000, 10_000), 16),  # 16 VMs a sample
        np.array([5]),
        np.array([], dtype=np.int64),
    ],
)
def test_times_in_order_are_indexed_as_factorize_indexes_them(ts: np.ndarray) -> None:
    """Rows in time order take the digest's fast path (no hashing): the same index per row and the
    same distinct times, in the same order, as pd.factorize gives."""
    import pandas as pd

    from memreport.vm_digest import _times

    at, times = _times(ts, in_order=True)
    want_at, want_times = pd.factorize(ts, sort=False)
    assert at.tolist() == want_at.tolist() and times.tolist() == want_times.tolist()
