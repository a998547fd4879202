"""Ingest of collector captures: units, nulls, resets, order, idempotence and atomic writes."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from memreport.errors import InputError
from memreport.ingest import store
from memreport.ingest.run import ingest
from memreport.synthetic import HostSpec, write_capture

SPEC = HostSpec(hostname="kvm-test", days=0.5, interval_s=60, seed=3)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return write_capture(SPEC, tmp_path_factory.mktemp("cap") / "kvm-test")


def raw_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The stream as plain text: independent of the ingest's parser."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as f:
        lines = f.read().splitlines()
    return lines[0][1:].split("\t"), [line.split("\t") for line in lines[1:]]


def test_units_rates_and_facts_equal_an_independent_computation(capture, tmp_path):
    ingest([capture], tmp_path / "store")
    data = store.read_host(tmp_path / "store", "kvm-test")
    s = data.samples
    header, rows = raw_rows(next(capture.glob("meminfo.*.tsv")))
    assert len(s) == len(rows) == SPEC.samples
    col = header.index("Inactive(anon)")
    assert s["mem_Inactive_anon"].tolist() == [int(r[col]) * 1024 for r in rows]
    assert s["mem_MemTotal"].iloc[0] == SPEC.ram_bytes
    vh, vrows = raw_rows(next(capture.glob("vmstat.*.tsv")))
    out = [int(r[vh.index("pswpout")]) for r in vrows]
    ts = [float(r[0]) for r in vrows]
    expected = [(b - a) * SPEC.page_size / (t1 - t0) for a, b, t0, t1 in zip(out, out[1:], ts, ts[1:])]
    assert np.isnan(s["swapout_Bps"].iloc[0])  # no rate before the first interval
    np.testing.assert_allclose(s["swapout_Bps"].iloc[1:].to_numpy(), expected)
    kh, krows = raw_rows(next(capture.glob("ksm.*.tsv")))
    assert s["ksm_pages_sharing_bytes"].iloc[5] == int(krows[5][kh.index("pages_sharing")]) * SPEC.page_size
    np.testing.assert_allclose(s["ksmd_cpu_share"].iloc[1:], SPEC.ksmd_cpu_share, rtol=0.02)
    assert str(s["ts"].dtype) == "datetime64[ms, UTC]"
    assert s["ts"].iloc[0] == pd.Timestamp(SPEC.start_epoch, unit="s", tz="UTC")
    assert data.facts.page_size == 4096 and data.facts.kernel == SPEC.kernel and data.facts.cpus == SPEC.cpus
    vms = data.vms
    assert vms["name"].nunique() == len(SPEC.vm_sizes_gib)
    first = vms[vms["ts"] == vms["ts"].min()].set_index("name")
    assert first.loc["web01", "allocated_bytes"] == 16 * 2**30  # -m size=16G,slots=4,maxmem=32G
    assert first.loc["web01", "maxmem_bytes"] == 32 * 2**30
    assert "memsnap capture" in data.contributions[0].summary


def test_fields_a_source_lacks_are_null_never_zero(tmp_path):
    spec = HostSpec(hostname="no-ksm", days=0.05, interval_s=60, with_ksm=False, with_psi=False, with_vms=False)
    cap = write_capture(spec, tmp_path / "cap")
    ingest([cap], tmp_path / "store")
    s = pd.read_parquet(tmp_path / "store" / "samples")
    assert s["psi_full_share"].isna().all() and s["ksmd_cpu_share"].isna().all()
    assert "ksm_pages_sharing_bytes" not in s
    log = pd.read_parquet(tmp_path / "store" / "log")
    assert {"KSM not collected (no /sys/kernel/mm/ksm on the host)", "PSI not collected (kernel < 4.20, or psi=0)"} <= set(
        log["detail"]
    )


def test_same_input_twice_gives_byte_identical_store(capture, tmp_path):
    ingest([capture], tmp_path / "a")
    ingest([capture], tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) >= 5
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_a_failed_ingest_leaves_the_previous_store_intact(capture, tmp_path, monkeypatch):
    target = tmp_path / "store"
    ingest([capture], target)
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    calls = {"n": 0}
    real_write = pq.write_table

    def dying_write(*a, **k):  # the process dies after the first file of the new store
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_write(*a, **k)

    monkeypatch.setattr(pq, "write_table", dying_write)
    other = write_capture(HostSpec(hostname="other", days=0.02, interval_s=60), tmp_path / "other")
    with pytest.raises(KeyboardInterrupt):
        ingest([other], target)
    after = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".store.tmp-")]


def test_reboot_and_counter_reset_give_segments_and_no_negative_rate(tmp_path):
    spec = HostSpec(hostname="reboot", days=0.1, interval_s=60, with_vms=False)
    a = write_capture(spec, tmp_path / "a")
    # Second half after a reboot: new boot id, uptime and counters start again from small values.
    for f in a.glob("*.tsv"):
        header, *rows = f.read_text().splitlines()
        cols = header[1:].split("\t")
        half = len(rows) // 2
        out = [header]
        for i, line in enumerate(rows):
            v = line.split("\t")
            if i >= half:
                for j, c in enumerate(cols):
                    if c == "boot_id":
                        v[j] = "11111111-2222-3333-4444-555555555555"
                    elif c == "uptime":
                        v[j] = f"{(i - half) * 60 + 30:.2f}"
                    elif c in ("pswpin", "pswpout", "pgmajfault", "full_total", "some_total", "ksmd_ticks"):
                        v[j] = str(int(v[j]) // 1000)
            out.append("\t".join(v))
        f.write_text("\n".join(out) + "\n")
    ingest([a], tmp_path / "store")
    s = store.read_host(tmp_path / "store", "reboot").samples
    assert s["segment"].iloc[0] == 0 and s["segment"].iloc[-1] == 1
    half = len(s) // 2
    assert np.isnan(s["swapout_Bps"].iloc[half])  # no rate across the reboot
    for col in ("swapout_Bps", "swapin_Bps", "psi_full_share", "ksmd_cpu_share", "majfault_per_s"):
        assert (s[col].dropna() >= 0).all(), col
    assert s["swapout_Bps"].max() < 100 * 2**20
    log = store.read_host(tmp_path / "store", "reboot").log
    assert any(e.event == "reboot" for e in log)


def test_a_gap_in_the_data_is_not_a_reboot(tmp_path):
    """Issue 10: a collector stopped for an hour left a gap that was counted as a reboot or reset.
    The counters go on across it: one segment, no rate over the gap, and the analysis sees no reboot."""
    from memreport.analyze import analyze

    spec = HostSpec(hostname="gappy", days=0.1, interval_s=60, with_vms=False)
    a = write_capture(spec, tmp_path / "a")
    for f in a.glob("*.tsv"):
        header, *rows = f.read_text().splitlines()
        keep = rows[:40] + rows[100:]  # an hour of rows lost: the collector was stopped
        f.write_text("\n".join([header, *keep]) + "\n")
    ingest([a], tmp_path / "store")
    data = store.read_host(tmp_path / "store", "gappy")
    s = data.samples
    assert s["segment"].max() == 0
    assert s["interval_s"].iloc[40] == 61 * 60.0  # the gap's real length is kept …
    for col in ("swapout_Bps", "swapin_Bps", "psi_full_share", "majfault_per_s", "ksmd_cpu_share"):
        assert np.isnan(s[col].iloc[40]), col  # … but no rate is smeared over it
        assert s[col].iloc[41:].notna().all(), col  # and the rates go on right after it
    (gap,) = [e for e in data.log if e.event == "gap"]
    assert "not a reboot or reset" in gap.detail and gap.count == 1
    assert not [e for e in data.log if e.event in ("reboot", "reset")]
    assert analyze(data).segments == 1


def test_out_of_order_and_duplicate_samples_are_sorted_merged_and_logged(tmp_path):
    cap = write_capture(HostSpec(hostname="dups", days=0.02, interval_s=60, with_vms=False), tmp_path / "cap")
    copy = tmp_path / "copy"
    shutil.copytree(cap, copy)
    for f in copy.glob("*.tsv"):  # a second copy of the same capture, rows reversed
        header, *rows = f.read_text().splitlines()
        f.write_text("\n".join([header, *reversed(rows)]) + "\n")
    result = ingest([cap, copy], tmp_path / "store")
    s = store.read_host(tmp_path / "store", "dups").samples
    n = HostSpec(days=0.02, interval_s=60).samples
    assert len(s) == n and s["ts"].is_monotonic_increasing
    events = {e.event for e in result.log}
    assert {"duplicate"} <= events


def test_gzip_rotated_days_and_plain_today_read_as_one_series(tmp_path):
    spec = HostSpec(hostname="rotated", days=2, interval_s=600, with_vms=False)
    cap = write_capture(spec, tmp_path / "cap")
    days = sorted({p.name.split(".")[1] for p in cap.glob("meminfo.*.tsv")})
    for p in cap.glob(f"*.{days[0]}.tsv"):  # yesterday was rotated
        p.with_name(p.name + ".gz").write_bytes(gzip.compress(p.read_bytes()))
        p.unlink()
    ingest([cap], tmp_path / "store")
    assert len(store.read_host(tmp_path / "store", "rotated").samples) == spec.samples


def test_bundle_tarball_reads_like_the_directory(capture, tmp_path):
    import tarfile

    bundle = tmp_path / "memsnap-kvm-test.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        tar.add(capture, arcname="memsnap-kvm-test")
    ingest([bundle], tmp_path / "store")
    assert len(store.read_host(tmp_path / "store", "kvm-test").samples) == SPEC.samples


def test_a_newer_capture_format_is_refused_with_one_line(tmp_path):
    cap = write_capture(HostSpec(hostname="future", days=0.01, interval_s=60), tmp_path / "cap")
    facts = cap / "facts.txt"
    facts.write_text(facts.read_text().replace("format=1", "format=2"))
    with pytest.raises(InputError) as e:
        ingest([cap], tmp_path / "store")
    assert str(e.value).startswith(str(facts)) and "newer" in str(e.value)


def test_the_short_real_capture_from_a_debian_machine(tmp_path):
    from conftest import ROOT

    cap = ROOT / "sample_data" / "real-capture"
    ingest([cap], tmp_path / "store")
    facts = dict(line.split("=", 1) for line in (cap / "facts.txt").read_text().splitlines())
    data = store.read_host(tmp_path / "store", facts["hostname"])
    header, rows = raw_rows(next(cap.glob("meminfo.*.tsv")))
    s = data.samples
    assert len(s) == len(rows) == 61
    assert (s["mem_MemTotal"] == int(rows[0][header.index("MemTotal")]) * 1024).all()
    assert data.facts.page_size == int(facts["page_size"]) and data.facts.kernel == facts["kernel"]
    for col in ("swapin_Bps", "swapout_Bps", "majfault_per_s", "psi_some_share"):
        assert (s[col].dropna() >= 0).all() and s[col].iloc[1:].notna().all()
    assert s["segment"].max() == 0


def test_a_long_series_is_split_into_parts_read_back_in_order(capture, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "ROWS_PER_PART", 50)
    ingest([capture], tmp_path / "store")
    host = store.list_hosts(tmp_path / "store")[0]
    part_dir = tmp_path / "store" / "samples" / f"host={host}"
    data = store.read_host(tmp_path / "store", host)
    n = len(data.samples)
    files = store.part_files(part_dir)
    assert [p.name for p in files] == [f"part-{i}.parquet" for i in range(-(-n // 50))]
    assert len(files) > 10  # part-10 sorts after part-9, not after part-1
    assert data.samples["ts"].is_monotonic_increasing and not data.samples["ts"].duplicated().any()
    monkeypatch.setattr(store, "ROWS_PER_PART", 10**9)
    ingest([capture], tmp_path / "one")
    whole = store.read_host(tmp_path / "one", host)
    pd.testing.assert_frame_equal(data.samples, whole.samples)
    assert len(pd.read_parquet(part_dir)) == n  # hive readers take the directory as one table


def test_per_vm_ksm_from_ksm_stat_in_bytes_and_null_for_older_collectors(capture, tmp_path):
    from memreport.analyze import analyze
    from memreport.analyze.report_json import build
    from memreport.config import Thresholds

    ingest([capture], tmp_path / "store")
    data = store.read_host(tmp_path / "store", "kvm-test")
    page = SPEC.page_size
    raw_pages: dict[str, int] = {}
    n_rows = 0
    for f in sorted(capture.glob("vms.*.tsv*")):
        header, rows = raw_rows(f)
        for r in rows:
            rec = dict(zip(header, r))
            raw_pages[rec["pid"]] = max(raw_pages.get(rec["pid"], 0), int(rec["ksm_merging_pages"]))
            n_rows += 1
    vms = data.vms
    assert len(vms) == n_rows and vms["ksm_merged_bytes"].notna().all()
    peak = vms.groupby(vms["pid"].astype(str))["ksm_merged_bytes"].max().to_dict()
    assert peak == {pid: pages * page for pid, pages in raw_pages.items()}
    doc = build(analyze(data, Thresholds()))
    by_name = {v["name"]: v["ksm_merged_max_bytes"] for v in doc["vms"]}
    assert sorted(by_name.values()) == sorted(p * page for p in raw_pages.values())

    # A capture of an older collector (no ksm_stat columns): null, never 0; the report has no KSM column.
    old = tmp_path / "old"
    shutil.copytree(capture, old)
    for f in sorted(old.glob("vms.*.tsv")):
        lines = f.read_text().splitlines()
        f.write_text("".join("\t".join(line.split("\t")[:4]) + "\n" for line in lines))
    ingest([old], tmp_path / "old-store")
    old_vms = store.read_host(tmp_path / "old-store", "kvm-test").vms
    assert old_vms["ksm_merged_bytes"].isna().all() and old_vms["rss_bytes"].notna().all()
