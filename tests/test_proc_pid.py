"""Pure parsers of per-process files and process listings (memreport/ingest/proc_pid.py), on the real
files of this machine's 6.18 kernel (tests/fixtures/proc-pid-6.18, taken from two qemu-named
processes, ksmd and procps-ng 4.0.2 / busybox ps), on this process's own live /proc files, and on
qemu command lines as RHEL, Debian and Proxmox hosts print them."""

from __future__ import annotations

import os
import textwrap

import pytest
from conftest import FIXTURES

from memreport.ingest import proc_pid, virsh
from memreport.ingest.procfs import ParseError, parse_cmdline, parse_qemu_argv
from memreport.units import parse_qemu_mem_arg

REAL = FIXTURES / "proc-pid-6.18"
GIB, MIB, KIB = 1024**3, 1024**2, 1024


def real(rel: str) -> str:
    return (REAL / rel).read_text()


# --- stat ------------------------------------------------------------------------------------------


def test_stat_of_real_ksmd_and_qemu():
    assert proc_pid.parse_pid_stat(real("proc/37/stat")) == [proc_pid.PidStat(37, "ksmd", "S", 0, 0)]
    [q] = proc_pid.parse_pid_stat(real("proc/25169/stat"))
    assert (q.pid, q.comm, q.utime_ticks, q.stime_ticks, q.cpu_ticks) == (25169, "qemu-kvm", 1, 11, 12)
    [q] = proc_pid.parse_pid_stat(real("proc/25170/stat"))
    assert q.comm == "qemu-system-x86"  # the kernel cuts comm at 15 characters


def test_stat_of_this_process_live():
    [me] = proc_pid.parse_pid_stat(open(f"/proc/{os.getpid()}/stat").read())
    assert me.pid == os.getpid() and me.state in "RS" and me.cpu_ticks > 0


def test_stat_lines_concatenated_and_a_comm_with_parentheses():
    text = real("proc/37/stat") + real("proc/25169/stat") + "4321 (my (odd) name) S 1 4321 4321 0 -1 0 0 0 0 0 7 3 0 0 20 0\n"
    stats = proc_pid.parse_pid_stat(text)
    assert [(s.pid, s.comm, s.cpu_ticks) for s in stats] == [
        (37, "ksmd", 0),
        (25169, "qemu-kvm", 12),
        (4321, "my (odd) name", 10),
    ]


def test_stat_garbage_names_the_line():
    with pytest.raises(ParseError) as e:
        proc_pid.parse_pid_stat(real("proc/37/stat") + "MemTotal: 1 kB\n")
    assert e.value.line == 2


# --- status ----------------------------------------------------------------------------------------


def test_status_of_real_qemu_and_kernel_thread():
    [q] = proc_pid.parse_pid_status(real("proc/25169/status"))
    assert q == proc_pid.PidStatus("qemu-kvm", 25169, 57332 * KIB, 0, 0)
    [k] = proc_pid.parse_pid_status(real("proc/37/status"))
    assert (k.name, k.pid, k.rss_bytes, k.swap_bytes, k.hugetlb_bytes) == ("ksmd", 37, None, None, None)  # no Vm* lines


def test_status_of_this_process_live():
    [me] = proc_pid.parse_pid_status(open("/proc/self/status").read())
    assert me.pid == os.getpid() and me.rss_bytes and me.rss_bytes > 1 * MIB


def test_status_of_an_old_kernel_has_nulls_not_zeros():
    text = textwrap.dedent("""\
        Name:\tqemu-kvm
        State:\tS (sleeping)
        Tgid:\t2345
        Pid:\t2345
        VmRSS:\t 4194304 kB
        Threads:\t12
        """)  # 2.6.32: no VmSwap (2.6.34), no HugetlbPages (4.4)
    assert proc_pid.parse_pid_status(text) == [proc_pid.PidStatus("qemu-kvm", 2345, 4 * GIB, None, None)]


def test_status_files_concatenated():
    statuses = proc_pid.parse_pid_status(real("proc/25169/status") + real("proc/25170/status") + real("proc/37/status"))
    assert [(s.name, s.pid) for s in statuses] == [("qemu-kvm", 25169), ("qemu-system-x86", 25170), ("ksmd", 37)]


def test_status_without_pid_is_refused():
    with pytest.raises(ParseError):
        proc_pid.parse_pid_status("Name:\tfoo\nState:\tS\n")


# --- ksm_stat, ksm_merging_pages -------------------------------------------------------------------


def test_ksm_stat_real_6_18_and_older_kernels():
    assert proc_pid.parse_ksm_stat(real("proc/25169/ksm_stat")) == proc_pid.KsmStat(0, 0, 0, 0)
    assert proc_pid.parse_ksm_stat((FIXTURES / "fakeroot/proc/1001/ksm_stat").read_text()) == proc_pid.KsmStat(
        rmap_items=1048576, merging_pages=262144, profit_bytes=1006632960, zero_pages=12
    )
    # 6.1: rmap items only; 6.4 adds the profit (signed)
    assert proc_pid.parse_ksm_stat("ksm_rmap_items 4096\n") == proc_pid.KsmStat(4096, None, None, None)
    assert proc_pid.parse_ksm_stat("ksm_rmap_items 10\nksm_process_profit -640\n").profit_bytes == -640
    assert proc_pid.parse_count(real("proc/25170/ksm_merging_pages")) == 0
    with pytest.raises(ParseError):
        proc_pid.parse_ksm_stat("ksm_rmap_items lots\n")


# --- command lines ----------------------------------------------------------------------------------


def test_real_nul_separated_cmdline():
    q = parse_qemu_argv(parse_cmdline((REAL / "proc/25169/cmdline").read_bytes()))
    assert (q.name, q.uuid, q.allocated_bytes, q.maxmem_bytes) == (
        "rhel9-web",
        "0b7c5e2a-55d1-4c1e-9a44-3f0e1d2c3b4a",
        4 * GIB,
        None,
    )
    q = parse_qemu_argv(parse_cmdline((REAL / "proc/25170/cmdline").read_bytes()))
    assert (q.name, q.allocated_bytes, q.maxmem_bytes) == ("deb12-db", 8 * GIB, 16 * GIB)
    me = parse_cmdline(open("/proc/self/cmdline", "rb").read())
    assert os.path.basename(me[0]).startswith("python")


def test_real_pgrep_output_and_plain_command_lines():
    found = proc_pid.parse_command_lines(real("ps/pgrep_-a_qemu.txt"))
    assert [(pid, parse_qemu_argv(argv).name) for pid, argv in found] == [(25169, "rhel9-web"), (25170, "deb12-db")]
    plain = (REAL / "proc/25170/cmdline").read_bytes().replace(b"\0", b" ").decode()
    [(pid, argv)] = proc_pid.parse_command_lines("some note\n" + plain + "\n")
    assert pid is None and parse_qemu_argv(argv).allocated_bytes == 8 * GIB


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("4096", (4 * GIB, None)),  # a bare number is MiB
        ("11445", (11445 * MIB, None)),
        ("size=8G", (8 * GIB, None)),
        ("8G,maxmem=16G,slots=4", (8 * GIB, 16 * GIB)),
        ("size=8388608k,slots=16,maxmem=16777216k", (8 * GIB, 16 * GIB)),  # libvirt >= 7 writes KiB
        ("size=1024,slots=255,maxmem=524288M", (1 * GIB, 512 * GIB)),  # Proxmox memory hotplug
    ],
)
def test_qemu_m_variants(arg, expected):
    assert parse_qemu_mem_arg(arg) == expected


def test_qemu_name_forms():
    def name(arg: str) -> str | None:
        return parse_qemu_argv(["qemu-system-x86_64", "-name", arg, "-m", "1G"]).name

    assert name("guest=foo,debug-threads=on") == "foo"
    assert name("web,debug-threads=on") == "web"  # Proxmox: no guest=
    assert name("guest=a,,b,debug-threads=on") == "a,b"  # libvirt escapes a comma in the name
    assert name("process=qemu:x,guest=late") == "late"


# --- ps ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "listing, rss",
    [
        ("ps_aux.txt", {25169: 57332 * KIB, 25170: 57344 * KIB}),
        ("ps_auxww.txt", {25169: 57332 * KIB, 25170: 57344 * KIB}),
        ("ps_-eo_pid,rss,args.txt", {25169: 57332 * KIB, 25170: 57344 * KIB}),
        ("ps_-ef.txt", {25169: None, 25170: None}),  # no RSS column
        ("busybox_ps.txt", {25169: None, 25170: None}),
    ],
)
def test_real_ps_listings(listing, rss):
    rows = proc_pid.parse_ps(real(f"ps/{listing}"))
    assert [r.pid for r in rows] == [2, 37, 25169, 25170]
    assert rows[1].argv == ("[ksmd]",)
    qemu = {r.pid: r for r in rows if r.pid in rss}
    assert {pid: r.rss_bytes for pid, r in qemu.items()} == rss
    assert parse_qemu_argv(list(qemu[25169].argv)).allocated_bytes == 4 * GIB
    assert parse_qemu_argv(list(qemu[25170].argv)).maxmem_bytes == 16 * GIB
    assert proc_pid.sniff(listing, (REAL / "ps" / listing).read_bytes()) == "ps"


# ps aux lines written the way these hosts print them (user names cut to 8 characters with '+',
# libvirt's JSON -object arguments, each distribution's qemu path and -m form).
RHEL7 = (
    "qemu      2345 80.1 49.0 70000000 64000000 ?   Sl   Nov01 9000:00 /usr/libexec/qemu-kvm -name guest=erp02,debug-threads=on "
    "-S -object secret,id=masterKey0,format=raw,file=/var/lib/libvirt/qemu/domain-2-erp02/master-key.aes "
    "-machine pc-i440fx-rhel7.6.0,accel=kvm,usb=off,dump-guest-core=off -cpu Skylake-Server-IBRS -m 81920 "
    "-realtime mlock=off -smp 16,sockets=16,cores=1,threads=1 -uuid 66666666-7777-8888-9999-000000000000 -no-user-config"
)
RHEL9 = (
    "qemu     102345 12.1 25.0 9123456 8123456 ?     Sl   Nov20 1234:56 /usr/libexec/qemu-kvm -name guest=rhel9-app,debug-threads=on "
    '-S -object {"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-3-rhel9-app/master-key.aes"} '
    "-machine pc-q35-rhel9.2.0,usb=off,dump-guest-core=off,memory-backend=pc.ram -accel kvm -cpu host,migratable=on "
    '-m size=8388608k -object {"qom-type":"memory-backend-ram","id":"pc.ram","size":8589934592} -overcommit mem-lock=off '
    "-smp 4,sockets=4,dies=1,cores=1,threads=1 -uuid 3d1e6a7c-0b9f-4f55-8a61-2c4d5e6f7a8b -no-user-config -nodefaults"
)
DEBIAN = (
    "libvirt+  4321  3.0 12.5 5234567 4194304 ?      Sl   10:02  45:12 /usr/bin/qemu-system-x86_64 -name guest=deb12-web,debug-threads=on "
    '-S -object {"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-1-deb12-web/master-key.aes"} '
    "-machine pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off,memory-backend=pc.ram -accel kvm -cpu host,migratable=on -m 4096 "
    '-object {"qom-type":"memory-backend-ram","id":"pc.ram","size":4294967296} -uuid 9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d'
)
PROXMOX = (
    "root      7001 25.3 12.6 9587136 8288768 ?      Sl   Nov24 812:09 /usr/bin/kvm -id 101 -name db,debug-threads=on -no-shutdown "
    "-chardev socket,id=qmp,path=/var/run/qemu-server/101.qmp,server=on,wait=off -mon chardev=qmp,mode=control "
    "-pidfile /var/run/qemu-server/101.pid -daemonize -smbios type=1,uuid=2f5b0c1e-3d4a-4b6c-8e9f-1a2b3c4d5e6f "
    "-smp 4,sockets=1,cores=4,maxcpus=4 -m 8G,maxmem=16G,slots=4 -cpu host,+kvm_pv_eoi,+kvm_pv_unhalt"
)
HEADER = "USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND"


def test_ps_aux_of_rhel_debian_and_proxmox_hosts():
    text = (
        "$ ps aux\n"
        + "\n".join(
            [
                HEADER,
                RHEL7,
                RHEL9,
                DEBIAN,
                PROXMOX,
                "root         1  0.0  0.0 171696 13140 ?        Ss   Nov25   0:09 /sbin/init",
                "qemu      9999  0.1",
            ]
        )
        + "\n"
    )  # the last line was cut: skipped
    vms = {v.name: v for v in virsh.parse_ps_qemu(text)}
    assert set(vms) == {"erp02", "rhel9-app", "deb12-web", "db"}
    assert (vms["erp02"].pid, vms["erp02"].allocated_bytes, vms["erp02"].rss_bytes) == (2345, 80 * GIB, 64000000 * KIB)
    assert vms["erp02"].uuid == "66666666-7777-8888-9999-000000000000"
    assert (vms["rhel9-app"].allocated_bytes, vms["rhel9-app"].rss_bytes) == (8 * GIB, 8123456 * KIB)
    assert (vms["deb12-web"].pid, vms["deb12-web"].allocated_bytes, vms["deb12-web"].rss_bytes) == (4321, 4 * GIB, 4 * GIB)
    assert (vms["db"].allocated_bytes, vms["db"].maxmem_bytes) == (8 * GIB, 16 * GIB)


def test_ps_without_a_header_is_refused():
    with pytest.raises(ParseError):
        proc_pid.parse_ps(RHEL7 + "\n")
    assert virsh.parse_ps_qemu(RHEL7 + "\n") == []


# --- cgroup -----------------------------------------------------------------------------------------


def test_real_cgroup_v1_files():
    assert proc_pid.parse_cgroup_value(real("cgroup-v1/memory.limit_in_bytes")) is None  # 9223372036854771712: no limit
    assert proc_pid.parse_cgroup_value(real("cgroup-v1/memory.memsw.limit_in_bytes")) is None
    assert proc_pid.parse_cgroup_value(real("cgroup-v1/memory.usage_in_bytes")) == int(real("cgroup-v1/memory.usage_in_bytes"))
    stat = proc_pid.parse_cgroup_memory_stat(real("cgroup-v1/memory.stat"))
    assert proc_pid.cgroup_anon_file(stat) == (stat["total_rss"], stat["total_cache"])


def test_cgroup_v2_values_and_stat():
    assert proc_pid.parse_cgroup_value("max\n") is None
    assert proc_pid.parse_cgroup_value("8589934592\n") == 8 * GIB
    with pytest.raises(ParseError):
        proc_pid.parse_cgroup_value("8G\n")
    stat = proc_pid.parse_cgroup_memory_stat(
        "anon 4294967296\nfile 536870912\nkernel 12582912\nsock 0\nshmem 0\nfile_mapped 1048576\n"
    )
    assert proc_pid.cgroup_anon_file(stat) == (4 * GIB, 512 * MIB)
    with pytest.raises(ParseError):
        proc_pid.parse_cgroup_memory_stat("nr_free_pages 12\npgfault 3\n")  # /proc/vmstat is not a memory.stat


@pytest.mark.parametrize(
    "path, name",
    [
        ("sys/fs/cgroup/machine.slice/machine-qemu\\x2d3\\x2dweb\\x2d01.scope", "web-01"),
        ("sys/fs/cgroup/machine.slice/machine-qemu\\x2d3\\x2dweb01.scope/libvirt", "web01"),
        ("sys/fs/cgroup/memory/machine.slice/machine-qemu\\x2dold.scope", "old"),  # older libvirt: no id
        ("sys/fs/cgroup/memory/machine/qemu-2-db.libvirt-qemu", "db"),  # libvirt without systemd
        ("sys/fs/cgroup/memory/machine/db.libvirt-qemu", "db"),
        ("sys/fs/cgroup/system.slice", None),
        ("sys/fs/cgroup/machine.slice", None),
    ],
)
def test_machine_names_in_cgroup_paths(path, name):
    assert proc_pid.machine_name(path.split("/")) == name


# --- sniffing: content first, whatever the name -----------------------------------------------------


@pytest.mark.parametrize(
    "rel, kind",
    [
        ("proc/37/stat", "stat"),
        ("proc/25169/stat", "stat"),
        ("proc/25169/status", "status"),
        ("proc/37/status", "status"),
        ("proc/25169/ksm_stat", "ksm_stat"),
        ("proc/25169/cmdline", "cmdline"),
        ("ps/pgrep_-a_qemu.txt", "command_lines"),
        ("cgroup-v1/memory.stat", "cgroup_stat"),
    ],
)
def test_sniff_by_content_under_any_name(rel, kind):
    data = (REAL / rel).read_bytes()
    assert proc_pid.sniff("whatever.txt", data) == kind


def test_sniff_bare_values_only_by_name_and_rejects_others():
    assert proc_pid.sniff("memory.max", b"max\n") == "cgroup_value"
    assert proc_pid.sniff("web01.memory.swap.max", b"0\n") == "cgroup_value"
    assert proc_pid.sniff("memory.limit_in_bytes", (REAL / "cgroup-v1/memory.limit_in_bytes").read_bytes()) == "cgroup_value"
    assert proc_pid.sniff("ksm_merging_pages", b"0\n") == "ksm_merging_pages"
    assert proc_pid.sniff("count", b"0\n") is None  # a bare number under another name says nothing
    assert proc_pid.sniff("environ", b"LANG=C\0PATH=/usr/bin\0") is None
    assert proc_pid.sniff("meminfo", (FIXTURES / "linux-6.18/proc/meminfo").read_bytes()) is None
    assert proc_pid.sniff("vmstat", (FIXTURES / "linux-6.18/proc/vmstat").read_bytes()) is None
    assert proc_pid.sniff("blob", bytes(range(256))) is None
