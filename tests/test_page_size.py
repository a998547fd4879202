"""Page size inference when a capture or snapshot does not say (regression: on 6.18,
MemFree / nr_free_pages gave 16384 on a 4 KiB host)."""

from memreport.ingest import procfs

from conftest import FIXTURES


def test_real_6_18_snapshot_infers_4096_although_nr_free_pages_disagrees():
    mem = procfs.parse_meminfo((FIXTURES / "linux-6.18/proc/meminfo").read_text())
    vm = procfs.parse_vmstat((FIXTURES / "linux-6.18/proc/vmstat").read_text())
    assert round(mem["mem_MemFree"] / vm["vmstat_nr_free_pages"]) != 4096  # the trap
    assert procfs.infer_page_size(mem, vm) == 4096


def test_64k_pages_and_disagreement():
    mem = {"mem_Active_anon": 64 * 65536, "mem_Inactive_anon": 10 * 65536, "mem_AnonPages": 74 * 65536}
    vm = {"vmstat_nr_active_anon": 64, "vmstat_nr_inactive_anon": 10, "vmstat_nr_anon_pages": 74}
    assert procfs.infer_page_size(mem, vm) == 65536
    vm_bad = {"vmstat_nr_active_anon": 64 * 16, "vmstat_nr_inactive_anon": 10, "vmstat_nr_anon_pages": 7}
    assert procfs.infer_page_size(mem, vm_bad) is None
