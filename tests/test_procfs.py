"""Pure /proc parsers against real captured files and the key sets of older kernels."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from memreport.ingest import procfs
from memreport.units import parse_qemu_mem_arg

KERNELS = ["rhel6-2.6.32", "rhel7-3.10", "rhel8-4.18", "rhel9-5.14", "linux-6.18"]


def real(name: str, rel: str) -> str:
    return (FIXTURES / name / rel).read_text()


def test_meminfo_of_a_real_6x_kernel_is_bytes_with_every_key():
    text = real("linux-6.18", "proc/meminfo")
    mem = procfs.parse_meminfo(text)
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(mem) == len(lines)
    total_kb = int(lines[0].split()[1])
    assert mem["mem_MemTotal"] == total_kb * 1024
    assert mem["mem_HugePages_Total"] == int(next(x for x in lines if x.startswith("HugePages_Total")).split()[1])
    assert "mem_Inactive_anon" in mem and "mem_Active_file" in mem


@pytest.mark.parametrize("kernel", KERNELS)
def test_each_kernel_parses_and_missing_fields_are_absent_not_zero(kernel):
    mem = procfs.parse_meminfo(real(kernel, "proc/meminfo"))
    vm = procfs.parse_vmstat(real(kernel, "proc/vmstat"))
    assert mem["mem_MemTotal"] > 0
    has_avail = kernel != "rhel6-2.6.32"  # MemAvailable: 3.14 (RHEL 7 backport)
    assert ("mem_MemAvailable" in mem) is has_avail
    assert ("vmstat_oom_kill" in vm) is (kernel in ("rhel8-4.18", "rhel9-5.14", "linux-6.18"))  # 4.13
    split = kernel in ("rhel9-5.14", "linux-6.18")  # workingset_refault_anon/_file: 5.9
    assert ("vmstat_workingset_refault_anon" in vm) is split
    assert ("vmstat_workingset_refault" in vm) is (kernel in ("rhel7-3.10", "rhel8-4.18"))


def test_meminfo_value_with_no_space_after_colon():
    mem = procfs.parse_meminfo("MemTotal:16332008 kB\nHugePages_Total:4\n")
    assert mem == {"mem_MemTotal": 16332008 * 1024, "mem_HugePages_Total": 4}


def test_meminfo_garbage_names_the_line():
    with pytest.raises(procfs.ParseError) as e:
        procfs.parse_meminfo("MemTotal: 100 kB\nMemFree: lots kB\n")
    assert e.value.line == 2 and "not a number" in e.value.reason


def test_psi_and_swaps():
    psi = procfs.parse_psi(real("rhel9-5.14", "proc/pressure/memory"))
    assert psi["psi_full_total_us"] == 95678901 and psi["psi_some_avg10"] == 1.5
    swaps = procfs.parse_swaps(real("rhel9-5.14", "proc/swaps"))
    assert swaps == [procfs.SwapDevice("/dev/dm-1", "partition", 8388604 * 1024, 1376604 * 1024, -2)]


def test_ksm_pages_become_bytes_with_the_hosts_page_size():
    files = {
        "pages_sharing": "1000\n",
        "pages_shared": "10\n",
        "general_profit": "-4096\n",
        "run": "1\n",
        "advisor_mode": "[none] scan-time\n",
    }
    nums, text = procfs.parse_ksm_files(files, 65536)  # 64 KiB pages (arm64, ppc64le)
    assert nums["ksm_pages_sharing_bytes"] == 1000 * 65536
    assert nums["ksm_general_profit"] == -4096 and nums["ksm_run"] == 1
    assert text == {"ksm_advisor_mode": "[none] scan-time"}
    nums, _ = procfs.parse_ksm_files(files, None)
    assert "ksm_pages_sharing_bytes" not in nums  # no page size: null, never a guess


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("512", (512 * 2**20, None)),
        ("4G", (4 * 2**30, None)),
        ("4096M", (4 * 2**30, None)),
        ("size=4G,slots=4,maxmem=8G", (4 * 2**30, 8 * 2**30)),
        ("size=1536", (1536 * 2**20, None)),
        ("2T", (2 * 2**40, None)),
        ("lots", (None, None)),
    ],
)
def test_qemu_memory_syntaxes(arg, expected):
    assert parse_qemu_mem_arg(arg) == expected


def test_qemu_cmdline():
    raw = b"/usr/bin/qemu-system-x86_64\0-name\0guest=web01,debug-threads=on\0-uuid\0abc-123\0-m\0size=4G,slots=4,maxmem=8G\0"
    q = procfs.parse_qemu_argv(procfs.parse_cmdline(raw))
    assert (q.name, q.uuid, q.allocated_bytes, q.maxmem_bytes) == ("web01", "abc-123", 4 * 2**30, 8 * 2**30)
    q = procfs.parse_qemu_argv(["qemu-kvm", "-name", "db02", "-m", "512"])
    assert (q.name, q.allocated_bytes) == ("db02", 512 * 2**20)
    assert procfs.is_qemu("/usr/libexec/qemu-kvm") and not procfs.is_qemu("/usr/bin/python3")
