"""What libvirt knows about each VM (issue 18): balloon, backing, <memtune> limits, hugetlb pages.
Parsers on generated domain XML and virsh output; the whole path on a real `sos report` of five TCG
domains under libvirtd (tests/fixtures/bundles/sosreport-libvirt-tcg/PROVENANCE.md)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

from memreport.analyze.vms import check_vms
from memreport.config import Thresholds
from memreport.ingest import procfs, virsh
from memreport.ingest.procfs import ParseError
from memreport.ingest.sources import read_input

KIB, MIB, GIB = 1024, 1024**2, 1024**3
SOS = Path(__file__).parent / "fixtures/bundles/sosreport-libvirt-tcg"


def _domain(memory: str = "<memory unit='GiB'>4</memory>", extra: str = "") -> str:
    return textwrap.dedent(f"""\
        <domain type='kvm'>
          <name>web01</name>
          <uuid>6f1c2a3e-1b2c-4d5e-8f90-0123456789ab</uuid>
          {memory}
          {extra}
        </domain>
        """)


def test_domain_xml_balloon_backing_and_memtune() -> None:
    vm = virsh.parse_domain_xml(
        _domain(
            "<memory unit='GiB'>4</memory><currentMemory unit='MiB'>3072</currentMemory>"
            "<maxMemory slots='4' unit='KiB'>16777216</maxMemory>",
            "<memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>"
            "<memtune><hard_limit unit='GB'>5</hard_limit><soft_limit>3145728</soft_limit>"
            "<swap_hard_limit unit='G'>6</swap_hard_limit></memtune>",
        )
    )
    assert (vm.name, vm.uuid, vm.pid) == ("web01", "6f1c2a3e-1b2c-4d5e-8f90-0123456789ab", None)
    assert (vm.allocated_bytes, vm.current_bytes, vm.maxmem_bytes) == (4 * GIB, 3 * GIB, 16 * GIB)
    assert vm.backing == "hugepages"
    # GB is 10^9 in libvirt; no unit is KiB
    assert (vm.hard_limit_bytes, vm.soft_limit_bytes, vm.swap_hard_limit_bytes) == (5 * 10**9, 3 * GIB, 6 * GIB)


@pytest.mark.parametrize(
    "backing, expected",
    [
        ("", "anonymous"),
        ("<memoryBacking><source type='anonymous'/></memoryBacking>", "anonymous"),
        ("<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>", "memfd"),
        ("<memoryBacking><source type='file'/></memoryBacking>", "file"),
        ("<memoryBacking><hugepages/><source type='memfd'/></memoryBacking>", "hugepages"),
    ],
)
def test_domain_xml_backing_vocabulary(backing: str, expected: str) -> None:
    assert virsh.parse_domain_xml(_domain(extra=backing)).backing == expected


def test_live_status_xml_gives_the_pid_and_no_limit_is_null() -> None:
    live = "<domstatus state='running' reason='booted' pid='31070'><taint flag='high-privileges'/>" + _domain() + "</domstatus>"
    vm = virsh.parse_domain_xml(live)
    assert (vm.name, vm.pid, vm.allocated_bytes, vm.current_bytes) == ("web01", 31070, 4 * GIB, None)
    assert (vm.hard_limit_bytes, vm.soft_limit_bytes, vm.swap_hard_limit_bytes) == (None, None, None)


def test_domain_xml_with_entities_is_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>' + _domain().replace("web01", "&a;")
    with pytest.raises(ParseError, match="entities"):
        virsh.parse_domain_xml(bomb)


def test_memtune_output() -> None:
    tune = virsh.parse_memtune("hard_limit     : 524288\nsoft_limit     : unlimited\nswap_hard_limit: 786432\n\n")
    assert tune == {"hard_limit": 512 * MIB, "soft_limit": None, "swap_hard_limit": 768 * MIB}
    with pytest.raises(ParseError):
        virsh.parse_memtune("Id: 3\nName: web01\n")


def test_numa_maps_hugetlb_pages() -> None:
    text = textwrap.dedent("""\
        55d0c8a00000 default file=/usr/bin/qemu-system-x86_64 mapped=200 N0=200 kernelpagesize_kB=4
        7fb273e00000 default file=/dev/hugepages/libvirt/qemu/2-huge01/qemu_back_mem.pc.ram huge anon=128 dirty=128 N0=100 N1=28 kernelpagesize_kB=2048
        7fb300000000 bind:1 file=/dev/hugepages1G/x huge dirty=2 N1=2 kernelpagesize_kB=1048576
        7fb400000000 default anon=5000 dirty=5000 N0=5000 kernelpagesize_kB=4
        """)
    assert virsh.parse_numa_maps_hugetlb(text) == 128 * 2 * MIB + 2 * GIB


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], "anonymous"),
        (["-object", '{"qom-type":"memory-backend-ram","id":"pc.ram","size":268435456}'], "anonymous"),
        (["-object", '{"qom-type":"memory-backend-memfd","id":"pc.ram","share":true,"size":201326592}'], "memfd"),
        (["-object", "memory-backend-memfd,id=ram0,hugetlb=on,size=4G"], "hugepages"),
        (["-object", "memory-backend-file,id=ram0,mem-path=/var/lib/qemu/ram,size=4G"], "file"),
        (["-mem-path", "/dev/hugepages/libvirt/qemu"], "hugepages"),
    ],
)
def test_qemu_command_line_backing(args: list[str], expected: str) -> None:
    assert procfs.qemu_backing(["qemu-system-x86_64", "-m", "4096", *args]) == expected


# The real sosreport: per VM, what libvirt and the kernel said (PROVENANCE.md).
EXPECTED = {
    # name: backing, <memory>, balloon, RSS KiB (ps), hugetlb, hard, soft, swap hard
    "balloon01": ("anonymous", 384 * MIB, 384 * MIB, 41888, 0, 512 * MIB, 448 * MIB, 768 * MIB),
    "huge01": ("hugepages", 256 * MIB, 256 * MIB, 35856, 256 * MIB, None, None, None),
    "memfd01": ("memfd", 192 * MIB, 192 * MIB, 36760, 0, None, None, None),
    "plain01": ("anonymous", 256 * MIB, 256 * MIB, 41948, 0, None, None, None),
    "tight01": ("anonymous", 256 * MIB, 256 * MIB, 41692, 0, 44 * MIB, None, None),
}


def test_real_sosreport_vms_in_the_store() -> None:
    (h,) = read_input(SOS)
    vms = h.vms.set_index("name")
    assert sorted(vms.index) == sorted(EXPECTED)
    for name, (backing, alloc, current, rss_kib, huge, hard, soft, swap_hard) in EXPECTED.items():
        v = vms.loc[name]
        got = (
            v["backing"],
            v["allocated_bytes"],
            v["current_bytes"],
            v["rss_bytes"],
            v["hugepages_bytes"],
            v["hard_limit_bytes"],
            v["soft_limit_bytes"],
            v["swap_hard_limit_bytes"],
        )
        want = (backing, alloc, current, rss_kib * KIB, huge, hard, soft, swap_hard)
        assert tuple(None if pd.isna(x) else x for x in got) == want, name
    # live state wins: balloon01's persistent XML asks for 320 MiB, but the balloon never inflated (no guest OS)
    assert "<currentMemory unit='KiB'>327680</currentMemory>" in (SOS / "etc/libvirt/qemu/balloon01.xml").read_text()
    assert vms.loc["balloon01", "source"] == "virsh dominfo+libvirt live XML+memory cgroup+numa_maps+libvirt XML+ps"
    assert int(vms.loc["huge01", "pid"]) == 30647


def test_real_sosreport_report_json_and_findings() -> None:
    r = run_cli("analyze", SOS, "--json")
    assert r.returncode == 1, r.stderr  # WARN: tight01 at its hard limit
    doc = json.loads(r.stdout)
    vms = {v["name"]: v for v in doc["vms"]}
    huge = vms["huge01"]
    # resident counts the hugetlb pages VmRSS leaves out: 35856 KiB + 256 MiB of a 256 MiB guest
    assert huge["resident_bytes"] == 35856 * KIB + 256 * MIB
    assert huge["resident_percent"] == round((35856 * KIB + 256 * MIB) / (256 * MIB) * 100, 2) == 113.68
    assert (huge["backing"], huge["hugepages_bytes"], huge["current_bytes"]) == ("hugepages", 256 * MIB, 256 * MIB)
    b = vms["balloon01"]
    assert (b["hard_limit_bytes"], b["soft_limit_bytes"], b["swap_hard_limit_bytes"]) == (512 * MIB, 448 * MIB, 768 * MIB)
    assert doc["vm_allocated_bytes"] == (384 + 256 + 192 + 256 + 256) * MIB
    assert doc["vm_current_total_bytes"] == (384 + 256 + 192 + 256 + 256) * MIB
    (limit,) = [f for f in doc["findings"] if f["id"] == "vms.hard_limit"]
    assert limit["severity"] == "WARN"
    assert limit["evidence"]["vms"] == [{"name": "tight01", "resident_max_bytes": 41692 * KIB, "hard_limit_bytes": 44 * MIB}]
    assert "tight01 (40.7 MiB of 44 MiB, 93 %)" in limit["detail"]
    assert not [f for f in doc["findings"] if f["id"] == "vms.balloon"]  # no balloon inflated on this host
    usage = next(f for f in doc["findings"] if f["id"] == "vms.usage")
    assert usage["evidence"]["hugepages_max_bytes"] == 256 * MIB


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["ts"] = pd.Timestamp("2026-12-02T12:00Z")
    return df


def test_balloon_far_below_memory_and_cgroup_limit_fallback() -> None:
    vms = _frame(
        [
            # ballooned to 2 of 8 GiB: 6 GiB the host may be asked to give back
            {"name": "db01", "uuid": "a", "allocated_bytes": 8 * GIB, "current_bytes": 2 * GIB, "rss_bytes": 2 * GIB},
            # at 75 %: reported (the threshold is inclusive)
            {"name": "web01", "uuid": "b", "allocated_bytes": 4 * GIB, "current_bytes": 3 * GIB, "rss_bytes": GIB},
            # a snapshot tree's cgroup limit stands in for libvirt's: 1.9 of 2 GiB
            {
                "name": "app01",
                "uuid": "c",
                "allocated_bytes": 4 * GIB,
                "current_bytes": 4 * GIB,
                "rss_bytes": 1900 * MIB,
                "mem_limit_bytes": 2 * GIB,
            },
        ]
    )
    r = check_vms(vms, Thresholds())
    balloon = next(f for f in r.findings if f.id == "vms.balloon")
    assert balloon.evidence == {"vms": ["db01", "web01"], "give_back_bytes": 7 * GIB}
    assert r.current_total_bytes == 9 * GIB and r.allocated_total_bytes == 16 * GIB
    assert r.at_hard_limit == ["app01"]
    assert next(v for v in r.rows if v.name == "app01").hard_limit_bytes == 2 * GIB
    assert check_vms(vms, Thresholds(vms_balloon_low_percent=50.0)).findings[-1].evidence["vms"] == ["db01"]


# Captures: both collectors against the fake root with a fake virsh (tests/test_collectors.py) that
# answers dominfo, dommemstat, memtune and dumpxml; web01's qemu holds 4 GiB of hugetlb pages.
@pytest.mark.parametrize("collector", ["memsnap.py", "memsnap.sh"])
def test_capture_records_balloon_limits_xml_and_hugetlb(collector: str, tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    from test_collectors import FAKE_VIRSH, FAKEROOT, PY, SH

    root = tmp_path / "root"
    shutil.copytree(FAKEROOT, root, symlinks=True)
    status = root / "proc/1001/status"
    status.write_text(status.read_text() + "HugetlbPages:\t4194304 kB\n")
    fake = tmp_path / "virsh"
    fake.write_text(FAKE_VIRSH)
    fake.chmod(0o755)
    argv = [sys.executable, str(PY)] if collector == "memsnap.py" else ["dash", str(SH)]
    out = tmp_path / "cap"
    p = subprocess.run(
        argv + ["--root", str(root), "--virsh", str(fake), "--interval", "0.5", "--duration", "1", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    (domxml,) = out.glob("domxml.*.tsv")
    rows = [line.split("\t") for line in domxml.read_text().splitlines() if not line.startswith("#")]
    assert [(r[1], r[2]) for r in rows] == [("web01", "1"), ("db02", "1")]  # once per domain start, not per sample
    (h,) = read_input(out)
    last = h.vms.sort_values("ts").groupby("name", observed=True).last()
    web, db = last.loc["web01"], last.loc["db02"]
    assert (web["current_bytes"], web["hard_limit_bytes"], web["hugepages_bytes"]) == (4 * GIB, 8912896 * KIB, 4 * GIB)
    assert pd.isna(web["soft_limit_bytes"]) and pd.isna(web["swap_hard_limit_bytes"])  # `unlimited`
    assert web["backing"] == "hugepages"  # the command line's memory-backend-file on /dev/hugepages
    assert (db["current_bytes"], db["backing"]) == (512 * MIB, "anonymous")
    assert pd.isna(db["hard_limit_bytes"]) and pd.isna(db["hugepages_bytes"])  # no HugetlbPages line
    assert not [e for e in h.log if "non-numeric" in e.detail and "hard_limit" in e.detail]
    r = check_vms(h.vms, Thresholds())
    web_row = next(v for v in r.rows if v.name == "web01")
    assert web_row.resident_max_bytes == 4123456 * KIB + 4 * GIB  # RSS + hugetlb pages


def test_supportconfig_virsh_sections(tmp_path: Path) -> None:
    """supportconfig's virt.txt with dommemstat and memtune sections beside the persistent XML (live wins)."""
    import shutil

    scc = tmp_path / "scc_kvm02_261126_1200"
    shutil.copytree(Path(__file__).parent / "fixtures/bundles/scc_kvm02_261126_1200", scc)
    virt = scc / "virt.txt"
    virt.write_text(
        virt.read_text().replace("</domain>", "<memoryBacking><hugepages/></memoryBacking></domain>")
        + textwrap.dedent("""\
        #==[ Command ]======================================#
        # /usr/bin/virsh dommemstat mail01
        actual 6291456
        rss 5000000

        #==[ Command ]======================================#
        # /usr/bin/virsh memtune mail01
        hard_limit     : 10485760
        soft_limit     : unlimited
        swap_hard_limit: unlimited

        """)
    )
    (h,) = read_input(scc)
    (row,) = h.vms.to_dict("records")
    assert (row["name"], row["allocated_bytes"], row["current_bytes"]) == ("mail01", 8 * GIB, 6 * GIB)
    assert (row["backing"], row["hard_limit_bytes"]) == ("hugepages", 10 * GIB)
    assert pd.isna(row["soft_limit_bytes"]) and pd.isna(row["swap_hard_limit_bytes"])
