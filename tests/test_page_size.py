"""One page-size decision for every input (issue 10, point 1; memreport/ingest/pagesize.py).

Regression guards: on 6.18, MemFree / nr_free_pages gave 16384 on a 4 KiB host; `sadf -d` CSV and
snapshot trees without a vmstat file left swap rates and KSM bytes null (a thrashing host read OK).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES

from memreport.ingest import pagesize, procfs, store
from memreport.ingest.options import IngestOptions, parse_page_size
from memreport.ingest.sources import read_input

NO_EVIDENCE = "page size assumed 4 KiB: no evidence in the input; pass --page-size if the host used another"


def test_real_6_18_snapshot_infers_4096_although_nr_free_pages_disagrees():
    mem = procfs.parse_meminfo((FIXTURES / "linux-6.18/proc/meminfo").read_text())
    vm = procfs.parse_vmstat((FIXTURES / "linux-6.18/proc/vmstat").read_text())
    assert round(mem["mem_MemFree"] / vm["vmstat_nr_free_pages"]) != 4096  # the trap
    assert pagesize.infer_from_pair(mem, vm) == 4096


def test_64k_pages_and_disagreement():
    mem = {"mem_Active_anon": 640 * 65536, "mem_Inactive_anon": 100 * 65536, "mem_AnonPages": 740 * 65536}
    vm = {"vmstat_nr_active_anon": 640, "vmstat_nr_inactive_anon": 100, "vmstat_nr_anon_pages": 740}
    assert pagesize.infer_from_pair(mem, vm) == 65536
    split = {"vmstat_nr_active_anon": 640 * 16, "vmstat_nr_inactive_anon": 100, "vmstat_nr_anon_pages": 740 * 4}
    assert pagesize.infer_from_pair(mem, split) is None  # three pairs, three sizes: no majority
    tiny = {"vmstat_nr_active_anon": 10, "vmstat_nr_inactive_anon": 3}
    assert pagesize.infer_from_pair({"mem_Active_anon": 40 * 65536, "mem_Inactive_anon": 3 * 4096}, tiny) is None


@pytest.mark.parametrize(
    "evidence, size, source",
    [
        (dict(override=65536, stated=4096, arch="x86_64"), 65536, "option"),
        (dict(stated=16384, arch="x86_64"), 16384, "stated"),
        (dict(kernel="5.14.0-427.13.1.el9_4.aarch64+64k"), 65536, "stated"),
        (dict(kernel="6.8.0-1008-nvidia-64k"), 65536, "stated"),
        (dict(kernel="3.10.0-1160.el7.x86_64"), 4096, "architecture"),
        (dict(arch="amd64"), 4096, "architecture"),
        (dict(arch="s390x"), 4096, "architecture"),
        (dict(arch="aarch64", meminfo={"mem_AnonPages": 5000 * 65536}, vmstat={"vmstat_nr_anon_pages": 5000}), 65536, "inferred"),
        (dict(arch="aarch64"), 4096, "assumed"),
        (dict(arch="ppc64le"), 65536, "assumed"),
        (dict(), 4096, "assumed"),
        (dict(stated=5000), 4096, "assumed"),  # not a page size: ignored, and said
    ],
)
def test_order_of_evidence(evidence: dict, size: int, source: str) -> None:
    page, notes = pagesize.decide(**evidence)
    assert (page.size, page.source) == (size, source)
    assert (page.assumption is not None) == (source == "assumed")
    (entry,) = page.log()
    assert entry.event == ("assumed_page_size" if source == "assumed" else "inferred" if source == "inferred" else "page_size")
    if evidence == {}:
        assert page.assumption == NO_EVIDENCE
    if evidence.get("arch") == "aarch64" and source == "assumed":
        assert "the usual size on aarch64, which can also run 16 or 64 KiB" in page.assumption  # type: ignore[operator]
    assert [n.event for n in notes] == (["bad_value"] if evidence.get("stated") == 5000 else [])


def test_architecture_of_this_machine_from_its_own_uname_and_cpuinfo() -> None:
    machine = pagesize.normalise_arch(platform.machine())
    uname_a = subprocess.run(["uname", "-a"], capture_output=True, text=True, check=True).stdout
    assert pagesize.arch_from_uname(uname_a) == machine
    assert pagesize.arch_from_cpuinfo(Path("/proc/cpuinfo").read_text()) == machine
    assert pagesize.ONE_SIZE.get(machine or "", os.sysconf("SC_PAGE_SIZE")) == os.sysconf("SC_PAGE_SIZE")


AARCH64_CPUINFO = textwrap.dedent("""\
    processor\t: 0
    BogoMIPS\t: 50.00
    Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
    CPU implementer\t: 0x41
    CPU architecture: 8
    """)
S390X_CPUINFO = "vendor_id       : IBM/S390\n# processors    : 4\nfeatures\t: esan3 zarch stfle msa ldisp eimm dfp edat etf3eh highgprs te vx\n"
POWER_CPUINFO = "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\nplatform\t: pSeries\n"


def test_architecture_from_other_machines_cpuinfo() -> None:
    assert pagesize.arch_from_cpuinfo(AARCH64_CPUINFO) == "aarch64"
    assert pagesize.arch_from_cpuinfo(S390X_CPUINFO) == "s390x"
    assert pagesize.arch_from_cpuinfo(POWER_CPUINFO) == "ppc64le"


def _tree(tmp_path: Path, keep_vmstat: bool) -> Path:
    """The real 6.18 snapshot without its pagesize file (and vmstat): nothing states the page size."""
    snap = tmp_path / "snap"
    shutil.copytree(FIXTURES / "linux-6.18", snap)
    (snap / "pagesize").unlink()
    if not keep_vmstat:
        (snap / "proc/vmstat").unlink()
    return snap


def test_snapshot_without_vmstat_gets_ksm_bytes_and_names_the_assumption(tmp_path: Path) -> None:
    (host,) = read_input(_tree(tmp_path, keep_vmstat=False))
    sharing = int((FIXTURES / "linux-6.18/sys/kernel/mm/ksm/pages_sharing").read_text())
    assert host.samples["ksm_pages_sharing_bytes"].tolist() == [sharing * 4096]  # was null
    assert (host.facts.page_size, host.facts.page_size_source) == (4096, "assumed")
    assert host.facts.assumptions == [NO_EVIDENCE]
    (e,) = [e for e in host.log if e.event == "assumed_page_size"]
    assert e.level == "warn" and e.detail == NO_EVIDENCE


def test_snapshot_with_vmstat_infers_and_option_overrides(tmp_path: Path) -> None:
    snap = _tree(tmp_path, keep_vmstat=True)
    (host,) = read_input(snap)
    assert (host.facts.page_size, host.facts.page_size_source, host.facts.assumptions) == (4096, "inferred", [])
    (host,) = read_input(snap, IngestOptions(page_size=65536))
    sharing = int((FIXTURES / "linux-6.18/sys/kernel/mm/ksm/pages_sharing").read_text())
    assert host.samples["ksm_pages_sharing_bytes"].tolist() == [sharing * 65536]
    assert (host.facts.page_size_source, host.facts.assumptions) == ("option", [])


def test_snapshot_architecture_from_a_uname_file(tmp_path: Path) -> None:
    snap = _tree(tmp_path, keep_vmstat=False)
    (snap / "uname_-a").write_text("Linux kvm9 6.1.0-27-arm64 #1 SMP Debian 6.1.115-1 (2024-11-01) aarch64 GNU/Linux\n")
    (host,) = read_input(snap)
    assert host.facts.page_size_source == "assumed"
    assert host.facts.assumptions[0].startswith("page size assumed 4 KiB: the usual size on aarch64")
    (snap / "uname_-a").write_text("Linux kvm9 6.1.0-27-amd64 #1 SMP Debian 6.1.115-1 (2024-11-01) x86_64 GNU/Linux\n")
    (host,) = read_input(snap)
    assert (host.facts.page_size_source, host.facts.assumptions) == ("architecture", [])


@pytest.mark.parametrize("text, size", [("4096", 4096), ("4KiB", 4096), ("64k", 65536), ("64 KiB", 65536), ("16KB", 16384)])
def test_page_size_option_values(text: str, size: int) -> None:
    assert parse_page_size(text) == size


def test_bad_page_size_option_is_one_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    p = cli("ingest", FIXTURES / "linux-6.18", "-o", tmp_path / "st", "--page-size", "5000")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0
    assert "--page-size '5000': a page size is a power of two" in p.stderr


def test_assumption_in_ingest_log_store_report_json_and_html(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """Done-when: an assumed page size is visible in the ingest log, report.json and the HTML report,
    from the inputs directly and from a store."""
    snap = _tree(tmp_path, keep_vmstat=False)
    p = cli("ingest", snap, "-o", tmp_path / "st", check=True)
    assert f"warning: {snap}: {NO_EVIDENCE}" in p.stderr
    back = store.read_host(tmp_path / "st", store.list_hosts(tmp_path / "st")[0])
    assert (back.facts.page_size_source, back.facts.assumptions) == ("assumed", [NO_EVIDENCE])
    assert any(e.event == "assumed_page_size" for e in back.log)
    for source, out in ((snap, tmp_path / "direct"), (tmp_path / "st", tmp_path / "from-store")):
        cli("report", source, "-o", out, "--no-pdf", check=True)
        (rdir,) = list(out.iterdir())
        doc = json.loads((rdir / "report.json").read_text())
        assert doc["coverage"]["assumptions"] == [NO_EVIDENCE]
        html = (rdir / "report.html").read_text()
        assert f"<th>Assumed</th><td>{NO_EVIDENCE}</td>" in html
        assert re.search(r"page size 4(\.0)? KiB \(assumed\)", html)


SAR_CSV = textwrap.dedent("""\
    # hostname;interval;timestamp;pswpin/s;pswpout/s
    kvm9;600;2026-11-26 10:10:00 UTC;10.00;20.00
    kvm9;600;2026-11-26 10:20:00 UTC;30.00;40.00
    """)


def test_inputs_of_one_host_agree_on_the_strongest_page_size(tmp_path: Path) -> None:
    """sadf -d alone assumes 4 KiB; with a snapshot of the same host stating 64 KiB, the host gets
    64 KiB, the sar rates are converted and the assumption is gone."""
    from memreport.ingest.run import load

    csv = tmp_path / "sa26.csv"
    csv.write_text(SAR_CSV)
    snap = _tree(tmp_path, keep_vmstat=False)
    (snap / "hostname").write_text("kvm9\n")
    (snap / "pagesize").write_text("65536\n")
    (h,) = load([csv, snap]).hosts
    data = store.frame(h)
    sar = data.samples[data.samples["source"] == "sar"]
    assert sar["swapin_Bps"].tolist() == [10.0 * 65536, 30.0 * 65536]
    assert sar["swapout_Bps"].tolist() == [20.0 * 65536, 40.0 * 65536]
    assert (data.facts.page_size, data.facts.page_size_source, data.facts.assumptions) == (65536, "stated", [])
    assert any(e.event == "page_size" and "replaced by 65536" in e.detail for e in data.log)
