"""sosreport bundles (issue 4): a real sosreport made on this machine by the installed sos, with a
real sar history (sadc on this machine) and libvirt/virsh files placed where sos puts them on a
KVM host, read as a .tar.xz end to end: readers → finalize → store → report.

This machine runs no VMs and keeps no sar history, so those parts are added to the real tree:
the sa file, `sar -A` text and `sadf -x` XML are real tool output; virsh/libvirt files follow
sos 4.x names (sos_commands/virsh/virsh_-r_dominfo_<dom>, etc/libvirt/qemu/<dom>.xml).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "sar"))
import realtools  # noqa: E402
from conftest import HANG, sos_argv, unpack_own  # noqa: E402

from memreport.ingest import store  # noqa: E402
from memreport.ingest.sources import read_input  # noqa: E402

GIB = 1024**3

DOMINFO = textwrap.dedent("""\
    Id:             {id}
    Name:           {name}
    UUID:           {uuid}
    OS Type:        hvm
    State:          running
    CPU(s):         2
    CPU time:       1234.5s
    Max memory:     {kib} KiB
    Used memory:    {used} KiB
    Persistent:     yes
    Autostart:      enable
    Managed save:   no
    Security model: none
    Security DOI:   0
    """)

DOMAIN_XML = textwrap.dedent("""\
    <!--
    WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
    OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:
      virsh edit {name}
    -->
    <domain type='kvm'>
      <name>{name}</name>
      <uuid>{uuid}</uuid>
      <maxMemory slots='16' unit='KiB'>{max_kib}</maxMemory>
      <memory unit='KiB'>{kib}</memory>
      <currentMemory unit='KiB'>{used}</currentMemory>
      <vcpu placement='static'>2</vcpu>
      <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
    </domain>
    """)

VMS = [
    # name, uuid, KiB, balloon KiB, RSS KiB
    ("web01", "6f1c2a3e-1b2c-4d5e-8f90-0123456789ab", 4 * 1024 * 1024, 4 * 1024 * 1024, 3_500_000),
    ("db01", "0b7e9d11-2222-4333-8444-555566667777", 8 * 1024 * 1024, 6 * 1024 * 1024, 7_900_000),
]


def _sos(tmp: Path) -> Path:
    sos = shutil.which("sos")
    if sos is None:
        pytest.fail("sos not installed: run `bash tests/system_deps.sh` (make test does)")
    p = subprocess.run(
        sos_argv("report", "--batch", "--tmp-dir", str(tmp), "-o", "memory,process,date,host,kernel,libvirt"),
        capture_output=True,
        timeout=HANG,
    )
    made = sorted(tmp.glob("sosreport-*.tar.xz"))
    if p.returncode != 0 or not made:
        pytest.fail(
            f"sos report failed here (it needs root, or a user namespace to be root in): {p.stderr.decode(errors='replace')[-300:]}"
        )
    return made[0]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real sosreport + real sar history + KVM files, repacked as sosreport-*.tar.xz."""
    tmp = tmp_path_factory.mktemp("sos")
    real = _sos(tmp)
    unpacked = tmp / "unpacked"
    with tarfile.open(real) as t:
        unpack_own(t, unpacked)
    (top,) = list(unpacked.iterdir())
    for p in top.rglob("*"):  # sos keeps 0400/0500 modes: make the copy writable for the edits
        if not p.is_symlink():
            p.chmod(0o700 if p.is_dir() else 0o600)
    sa = realtools.make_sa(tmp, "sa26", samples=5)
    day = realtools.run(["sadf", "-j", str(sa), "--", "-r"]).split('"file-date": "')[1][8:10]
    (top / "var/log/sysstat").mkdir(parents=True)
    shutil.copy(sa, top / f"var/log/sysstat/sa{day}")
    sar_dir = top / "sos_commands/sar"
    sar_dir.mkdir()
    (sar_dir / f"sar{day}").write_text(realtools.sar(sa, "C", "-A"))
    (sar_dir / f"sa{day}.xml").write_text(realtools.sadf(sa, "-x", "-A"))
    ksm = top / "sys/kernel/mm/ksm"
    for name, value in {
        "run": "1",
        "pages_shared": "25000",
        "pages_sharing": "400000",
        "pages_unshared": "90000",
        "pages_volatile": "1200",
        "full_scans": "311",
        "general_profit": "1570000000",
    }.items():
        (ksm / name).write_text(value + "\n")
    virsh = top / "sos_commands/virsh"
    virsh.mkdir()
    qemu = top / "etc/libvirt/qemu"
    qemu.mkdir(parents=True, exist_ok=True)
    (virsh / "virsh_-r_list_--all").write_text(
        " Id   Name    State\n" + "".join(f" {i + 1}    {v[0]}   running\n" for i, v in enumerate(VMS))
    )
    ps_lines = []
    for i, (name, uuid, kib, used, rss) in enumerate(VMS):
        (virsh / f"virsh_-r_dominfo_{name}").write_text(DOMINFO.format(id=i + 1, name=name, uuid=uuid, kib=kib, used=used))
        (virsh / f"virsh_-r_dommemstat_{name}").write_text(
            f"actual {used}\nswap_in 0\nswap_out 0\nrss {rss}\nlast_update 1795730000\n"
        )
        (qemu / f"{name}.xml").write_text(DOMAIN_XML.format(name=name, uuid=uuid, kib=kib, used=used, max_kib=2 * kib))
        ps_lines.append(
            f"libvirt+  {4100 + i}  12.5  14.2 {kib + 900000} {rss} ?      Sl   Nov20 1234:56 /usr/bin/qemu-system-x86_64 "
            f"-name guest={name},debug-threads=on -S -machine pc-q35-7.2,usb=off -m {kib // 1024} "
            f"-smp 2,sockets=2,cores=1,threads=1 -uuid {uuid} -no-user-config -nodefaults\n"
        )
    ps = top / "sos_commands/process/ps_auxwww"
    ps.write_text(ps.read_text() + "".join(ps_lines))
    out = tmp / real.name
    out.unlink()
    with tarfile.open(out, "w:xz") as t:
        t.add(top, arcname=top.name)
    return out


@pytest.fixture(scope="module")
def host(bundle: Path):  # type: ignore[no-untyped-def]
    (h,) = read_input(bundle)
    return h


def test_time_series_from_sar_history(host, bundle: Path) -> None:  # type: ignore[no-untyped-def]
    s = host.samples
    sar = s[s["source"] == "sar"]
    assert len(sar) == 4  # sadc 1 5: four records after the baseline
    assert sar["mem_Inactive"].notna().all() and sar["swapin_Bps"].notna().all()
    # MemTotal: recovered from sar's kbmemused, equal to the bundle's proc/meminfo (issue 10)
    mem_total = int(s.loc[s["source"] == "sosreport", "mem_MemTotal"].iloc[0])
    assert (sar["mem_MemTotal"] == mem_total).all()
    assert any(e.event == "derived" and "MemTotal derived from sar equals proc/meminfo's" in e.detail for e in host.log)
    # CommitLimit of the snapshot for the sar rows (swap and memory sizes unchanged): peak commit ÷ limit
    limit = int(s.loc[s["source"] == "sosreport", "mem_CommitLimit"].iloc[0])
    assert (sar["mem_CommitLimit"] == limit).all() and sar["mem_Committed_AS"].notna().all()
    (e,) = [e for e in host.log if e.event == "derived" and "CommitLimit" in e.detail]
    assert "applied to 4 of 4 sar rows" in e.detail
    # The XML was preferred to the text and to the binary of the same day
    pref = [e for e in host.log if e.event == "preferred_source"]
    assert len(pref) == 2 and all(".xml has the same day in a better format" in e.detail for e in pref)
    summaries = [c.summary for c in host.contributions]
    assert any(x.startswith("sar history: ") and "Inactive" in x and "swap rates" in x and "sadf-xml" in x for x in summaries)


def test_snapshot_ksm_and_facts(host) -> None:  # type: ignore[no-untyped-def]
    s = host.samples
    snap = s[s["source"] == "sosreport"].iloc[0]
    assert (host.facts.page_size, host.facts.page_size_source) == (os.sysconf("SC_PAGE_SIZE"), "architecture")  # uname -a
    assert host.facts.assumptions == []
    assert snap["ksm_pages_sharing_bytes"] == 400000 * 4096
    assert snap["ksm_general_profit"] == 1570000000
    assert snap["ksm_run"] == 1
    assert host.facts.extra["ksm_advisor_mode"].startswith("[")
    assert host.facts.kernel and host.facts.hostname == host.facts.host
    assert host.facts.swappiness is not None and host.facts.collector_version
    summaries = [c.summary for c in host.contributions]
    assert any(x.startswith("one /proc snapshot at ") and "KSM" in x and "VM allocations" in x for x in summaries)


def test_vms_from_dominfo_xml_and_ps(host) -> None:  # type: ignore[no-untyped-def]
    vms = host.vms.set_index("name")
    for name, uuid, kib, used, rss in VMS:
        row = vms.loc[name]
        assert row["uuid"] == uuid
        assert row["allocated_bytes"] == kib * 1024
        assert row["maxmem_bytes"] == 2 * kib * 1024  # <maxMemory> from the XML
        assert row["rss_bytes"] == rss * 1024  # ps RSS column (KiB)
        assert row["pid"] in (4100, 4101)
        assert row["current_bytes"] == used * 1024  # the balloon: dommemstat actual (issue 18)
        assert row["backing"] == "anonymous"  # no <memoryBacking>
        assert row["source"] == "virsh dommemstat+virsh dominfo+libvirt XML+ps"
    v = host.virsh
    assert set(v["key"]) >= {"max_memory", "used_memory", "actual", "rss", "swap_in"}
    assert v[(v["domain"] == "db01") & (v["key"] == "used_memory")]["value"].iloc[0] == 6 * GIB


def test_store_round_trip(host, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = store.finalize(host)
    store.write_store(tmp_path / "st", [data], [])
    back = store.read_host(tmp_path / "st", host.facts.host)
    assert len(back.samples) == len(data.samples) == 5
    assert back.samples["ts"].is_monotonic_increasing
    assert back.facts.page_size == 4096
    assert [c.summary for c in back.contributions] == [c.summary for c in host.contributions]
    assert len(back.vms) == 2


@pytest.mark.slow
def test_memreport_report_on_the_tarball(bundle: Path, tmp_path: Path) -> None:
    """Done-when: `memreport report <a sosreport tarball>` renders a report from the bundle."""
    exe = Path(sys.executable).parent / "memreport"
    p = subprocess.run([str(exe), "report", str(bundle), "-o", str(tmp_path / "out")], capture_output=True, timeout=HANG)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    html = next((tmp_path / "out").rglob("report.html")).read_text()
    assert "web01" in html and "db01" in html  # VM section from virsh/libvirt/ps
    assert "KSM" in html
    assert "sar history" in html  # coverage section: the time series came from sar


def test_bundle_is_read_from_a_directory_too(bundle: Path, tmp_path: Path) -> None:
    with tarfile.open(bundle) as t:
        unpack_own(t, tmp_path)
    (top,) = list(tmp_path.iterdir())
    (h,) = read_input(top)
    assert len(h.samples) == 5 and len(h.vms) == 2


def test_broken_file_inside_is_logged_and_skipped(bundle: Path, tmp_path: Path) -> None:
    with tarfile.open(bundle) as t:
        unpack_own(t, tmp_path)
    (top,) = list(tmp_path.iterdir())
    (top / "proc/vmstat").write_bytes(b"\x00\x01garbage\xff")
    xml = next((top / "sos_commands/sar").glob("*.xml"))
    xml.write_text(xml.read_text()[:500])  # truncated: the next best form of that day is read instead
    (h,) = read_input(top)
    events = {(e.event, Path(e.file).name if e.file else None) for e in h.log}
    assert ("binary_file", "vmstat") in events
    assert any(e.event == "bad_line" and e.file and e.file.endswith(".xml") for e in h.log)
    assert "vmstat_pswpin" not in h.samples and h.samples["mem_MemTotal"].notna().any()
    assert (h.samples["source"] == "sar").sum() == 4  # from the binary sa file through sadf
    assert any(c.summary.startswith("sar history") and c.summary.endswith(", sa") for c in h.contributions)
    assert pd.notna(h.samples["ksm_pages_sharing_bytes"]).any()
