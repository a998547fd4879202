"""Bundles this machine cannot produce, as small hand-written trees (tests/fixtures/bundles):
a sos 3.x sosreport from RHEL 7 (sos_commands/general/*, version.txt, sar text with AM/PM, a
zone-named `date`) and a SUSE supportconfig (`#==[ … ]==#` sections, vmstat in memory.txt, sar/)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pandas as pd
import pytest

from memreport.errors import InputError
from memreport.ingest import store
from memreport.ingest.sources import read_input

FIX = Path(__file__).parent / "fixtures" / "bundles"
SOS3 = FIX / "sosreport-kvm07-3.x"
SCC = FIX / "scc_kvm02_261126_1200"
KIB, GIB = 1024, 1024**3


def _tar(src: Path, out: Path, mode: str) -> Path:
    with tarfile.open(out, mode) as t:
        t.add(src, arcname=src.name)
    return out


@pytest.mark.parametrize("packed", [None, "w:gz"])
def test_sos3_rhel7(tmp_path: Path, packed: str | None) -> None:
    path = SOS3 if packed is None else _tar(SOS3, tmp_path / "sosreport-kvm07-2026-11-26-abcdef.tar.gz", packed)
    (h,) = read_input(path)
    f = h.facts
    assert (f.host, f.kernel, f.collector_version, f.page_size) == ("kvm07", "3.10.0-1160.el7.x86_64", "sosreport: 3.9", 4096)
    s = h.samples
    sar = s[s["source"] == "sar"]
    # sar text times are local; `date` says CET (UTC+1): 11:50:01 PM CET on the 25th is 22:50:01 UTC.
    assert [t.isoformat() for t in sar["ts"]] == [
        "2026-11-25T22:50:01+00:00",
        "2026-11-25T23:00:01+00:00",
        "2026-11-25T23:10:01+00:00",
        "2026-11-25T23:30:01+00:00",
    ]
    assert (sar["mem_MemTotal"] == 131071996 * KIB).all()
    assert sar["swapout_Bps"].tolist() == [12.5 * 4096, 100.0 * 4096, 0.0, 2.0 * 4096]
    snap = s[s["source"] == "sosreport"].iloc[0]
    assert snap["ts"].isoformat() == "2026-11-25T23:45:05+00:00"
    assert snap["ksm_pages_sharing_bytes"] == 2400000 * 4096
    vms = h.vms.set_index("name")
    assert vms.loc["erp01", "allocated_bytes"] == 64 * GIB  # unit='GiB'
    assert vms.loc["erp02", "allocated_bytes"] == 83886080 * KIB  # no unit: KiB
    assert vms.loc["erp01", "rss_bytes"] == 64000000 * KIB and vms.loc["erp02", "pid"] == 2346
    assert h.swaps["used_bytes"].tolist() == [12582912 * KIB]
    assert not any(e.event == "time_source" for e in h.log)  # the zone came from `date`


def test_supportconfig(tmp_path: Path) -> None:
    for path in (SCC, _tar(SCC, tmp_path / "scc_kvm02_261126_1200.txz", "w:xz")):
        (h,) = read_input(path)
        f = h.facts
        assert (f.host, f.kernel, f.swappiness, f.overcommit_ratio) == ("kvm02", "5.14.21-150500.55.39-default", 10, 50)
        s = h.samples
        assert set(s["source"]) == {"sar", "vmstat", "supportconfig"}
        sar = s[s["source"] == "sar"]
        assert sar["mem_Inactive"].tolist() == [24900000 * KIB, 25000000 * KIB]
        assert sar["swapin_Bps"].tolist() == [1.5 * 4096, 0.0]
        vm = s[s["source"] == "vmstat"]
        # vmstat 1 4: since-boot line dropped; memory levels left to /proc/meminfo, si/so kept
        assert vm["swapout_Bps"].tolist() == [256 * 1024.0, 512 * 1024.0]
        assert not [c for c in vm if c.startswith("mem_") and vm[c].notna().any()]
        assert vm["ts"].max() < pd.Timestamp("2026-11-26 12:00:01", tz="UTC")
        assert any(e.event == "preferred_source" and "vmstat" in e.detail for e in h.log)
        snap = s[s["source"] == "supportconfig"].iloc[0]
        assert snap["mem_MemTotal"] == 65536000 * KIB and snap["ts"].isoformat() == "2026-11-26T12:00:01+00:00"
        assert snap["swapout_Bps"] == 0.0  # the vmstat run's last line, at the bundle time
        (vmrow,) = h.vms.to_dict("records")
        assert vmrow["name"] == "mail01" and vmrow["allocated_bytes"] == 8 * GIB and vmrow["maxmem_bytes"] == 16 * GIB
        assert vmrow["rss_bytes"] == 8000000 * KIB and vmrow["source"] == "libvirt XML+ps"
        summaries = [c.summary for c in h.contributions]
        assert "KSM: not collected" in summaries and "PSI: not collected" in summaries
        assert any(x.startswith("sar history: 10 min at 10 min") for x in summaries)
        done = store.finalize(h)
        store.write_store(tmp_path / "st", [done], [])
        assert len(store.read_host(tmp_path / "st", "kvm02").samples) == len(done.samples)


def test_unreadable_bundle_fails_with_one_line(tmp_path: Path) -> None:
    d = tmp_path / "sosreport-x"
    (d / "sos_commands").mkdir(parents=True)
    (d / "sos_logs").mkdir()
    with pytest.raises(InputError) as e:
        read_input(d)
    assert "nothing to read" in str(e.value) and "\n" not in str(e.value)
