"""Snapshot trees hold more than meminfo (issue 10, point 4): per-process and cgroup files under any
name give ksmd CPU, the VMs and their limits, end to end through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import FIXTURES

from memreport.ingest import store
from memreport.ingest.run import ingest

GIB, MIB, KIB = 1024**3, 1024**2, 1024
SRC = FIXTURES / "linux-6.18"
REAL = FIXTURES / "proc-pid-6.18"
TIMES = ["2026-11-26T10:00:00Z", "2026-11-26T10:01:00Z", "2026-11-26T10:02:00Z"]
KSMD_TICKS = [1200, 1230, 1272]  # utime + stime: +30 then +42 ticks in 60 s each


def ksmd_stat(ticks: int) -> str:
    """This machine's real ksmd stat line (tests/fixtures/proc-pid-6.18/proc/37/stat) with ticks set."""
    fields = (REAL / "proc/37/stat").read_text().split()
    fields[13], fields[14] = str(ticks - 200), "200"  # utime, stime (fields 14 and 15)
    return " ".join(fields) + "\n"


def status(name: str, pid: int, rss_kb: int, swap_kb: int, hugetlb_kb: int) -> str:
    """A real 6.18 qemu status (fixture) with this process's name, pid and memory."""
    out = []
    for line in (REAL / "proc/25169/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        line = {
            "Name": f"Name:\t{name}",
            "Pid": f"Pid:\t{pid}",
            "Tgid": f"Tgid:\t{pid}",
            "VmRSS": f"VmRSS:\t{rss_kb:8d} kB",
            "VmSwap": f"VmSwap:\t{swap_kb:8d} kB",
            "HugetlbPages": f"HugetlbPages:\t{hugetlb_kb:8d} kB",
        }.get(key, line)
        out.append(line)
    return "\n".join(out) + "\n"


WEB01_ARGV = [
    "/usr/libexec/qemu-kvm",
    "-name",
    "guest=web01,debug-threads=on",
    "-S",
    "-machine",
    "pc-q35-rhel9.2.0,usb=off,dump-guest-core=off,memory-backend=pc.ram",
    "-accel",
    "kvm",
    "-m",
    "4096",
    "-object",
    '{"qom-type":"memory-backend-ram","id":"pc.ram","size":4294967296}',
    "-uuid",
    "0b7c5e2a-55d1-4c1e-9a44-3f0e1d2c3b4a",
    "-smp",
    "2",
]
DB02_ARGS = (
    "/usr/bin/qemu-system-x86_64 -name guest=db02,debug-threads=on -S -machine pc-q35-7.2,usb=off "
    "-accel kvm -m 8G,maxmem=16G,slots=4 -overcommit mem-lock=off -smp 4 -uuid 6f1d8a3e-2b4c-4d5e-8f9a-0b1c2d3e4f5a"
)
PS_AUXWW = f"""\
USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
root           1  0.0  0.0 171696 13140 ?        Ss   Nov25   0:09 /usr/lib/systemd/systemd --switched-root --system --deserialize=31
root          37  0.3  0.0      0     0 ?        SN   Nov25   2:03 [ksmd]
qemu        4242 12.1 14.0 5312204 3500000 ?     Sl   Nov25 123:45 {" ".join(WEB01_ARGV)}
libvirt+    5151  3.0 25.0 9854200 5242880 ?     Sl   Nov25  45:12 {DB02_ARGS}
root        6001  0.0  0.0  12345  4567 pts/0    R+   10:01   0:00 ps auxww
"""
PS_EO = f"""\
    PID   RSS COMMAND
      1 13140 /usr/lib/systemd/systemd --switched-root --system --deserialize=31
   5151 5242880 {DB02_ARGS}
"""
WEB01_RSS_KB = [3_000_000, 3_500_000, 3_200_000]
DB02_RSS_KB = [6 * GIB // KIB] * 3  # status says 6 GiB; ps says 5 GiB: status wins


def make_tree(root: Path) -> Path:
    for i, name in enumerate(TIMES):
        snap = root / name
        snap.mkdir(parents=True)
        for f in ("meminfo", "vmstat"):
            shutil.copy(SRC / "proc" / f, snap / f)
        shutil.copytree(SRC / "sys/kernel/mm/ksm", snap / "ksm")
        # ksmd: a different place and name in each snapshot
        ksmd = snap / ["proc/37/stat", "ksmd.stat", "kthreads/ksmd-stat.txt"][i]
        ksmd.parent.mkdir(parents=True, exist_ok=True)
        ksmd.write_text(ksmd_stat(KSMD_TICKS[i]))
        # web01: its /proc/<pid> files copied into pid-4242/; the command line only once
        (snap / "pid-4242").mkdir()
        (snap / "pid-4242/status").write_text(status("qemu-kvm", 4242, WEB01_RSS_KB[i], 0, 0))
        (snap / "pid-4242/ksm_stat").write_text(
            "ksm_rmap_items 3000\nksm_zero_pages 0\nksm_merging_pages 1000\n"
            "ksm_process_profit 3904000\nksm_merge_any: no\nksm_mergeable: yes\n"
        )
        (snap / "pid-4242/environ").write_bytes(b"LANG=C\0PATH=/usr/bin\0")
        if i == 0:
            (snap / "pid-4242/cmdline").write_bytes(b"\0".join(a.encode() for a in WEB01_ARGV) + b"\0")
        # db02: a flat status file; its command line as text with no pid, then ps output
        (snap / "qemu-db02.status").write_text(status("qemu-system-x86", 5151, DB02_RSS_KB[i], 100 * KIB, 2 * MIB // KIB))
        if i == 0:
            (snap / "vm-db02.args").write_text(DB02_ARGS + "\n")
        if i == 1:
            (snap / "ps.txt").write_text(PS_AUXWW)
        if i == 2:
            (snap / "processes").write_text(PS_EO)
        # systemd's status: recognised, but not a VM
        (snap / "proc/1").mkdir(parents=True)
        (snap / "proc/1/status").write_text(status("systemd", 1, 13140, 0, 0))
        (snap / "notes.txt").write_text("copied by hand with cp -r\n")
        # cgroup v2: web01's scope has a limit; system.slice a host-level one; machine.slice none
        scope = snap / "sys/fs/cgroup/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope"
        scope.mkdir(parents=True)
        (scope / "memory.max").write_text("4563402752\n")
        (scope / "memory.high").write_text("max\n")
        (scope / "memory.current").write_text(f"{WEB01_RSS_KB[i] * KIB + 50 * MIB}\n")
        (scope / "memory.stat").write_text(f"anon {WEB01_RSS_KB[i] * KIB}\nfile {50 * MIB}\nkernel 1048576\nshmem 0\n")
        (snap / "sys/fs/cgroup/machine.slice/memory.max").write_text("max\n")
        (snap / "sys/fs/cgroup/system.slice").mkdir(parents=True)
        (snap / "sys/fs/cgroup/system.slice/memory.high").write_text("2147483648\n")
    (root / TIMES[0] / "hostname").write_text("procs-host\n")
    (root / TIMES[0] / "pagesize").write_text("4096\n")
    return root


def test_tree_with_process_files_gives_ksmd_cpu_and_vms_through_the_cli(tmp_path, cli):
    tree = make_tree(tmp_path / "tree")
    proc = cli("analyze", "--json", tree)
    assert proc.returncode in (0, 1, 2), proc.stderr
    report = json.loads(proc.stdout)
    # ksmd: (30 + 42) ticks / 100 Hz / 120 s = 0.6 % of one CPU
    assert report["ksmd_cpu_percent"] == pytest.approx(0.6)
    assert report["vm_count"] == 2
    vms = {v["name"]: v for v in report["vms"]}
    assert set(vms) == {"web01", "db02"}
    assert vms["web01"]["uuid"] == "0b7c5e2a-55d1-4c1e-9a44-3f0e1d2c3b4a"
    assert vms["web01"]["allocated_bytes"] == 4 * GIB  # -m 4096: MiB
    assert vms["web01"]["maxmem_bytes"] is None
    assert vms["web01"]["rss_max_bytes"] == 3_500_000 * KIB
    assert vms["web01"]["ksm_merged_max_bytes"] == 1000 * 4096
    assert vms["db02"]["allocated_bytes"] == 8 * GIB and vms["db02"]["maxmem_bytes"] == 16 * GIB
    assert vms["db02"]["rss_max_bytes"] == 6 * GIB
    assert vms["db02"]["swap_max_bytes"] == 100 * MIB
    assert report["vm_allocated_bytes"] == 12 * GIB
    summary = report["coverage"]["inputs"][0]["summary"]
    assert "ksmd CPU" in summary and "2 VMs" in summary


def test_tree_with_process_files_in_the_store(tmp_path, cli):
    tree = make_tree(tmp_path / "tree")
    cli("ingest", tree, "-o", tmp_path / "store", check=True)
    data = store.read_host(tmp_path / "store", "procs-host")
    s = data.samples
    assert s["ksmd_ticks"].tolist() == KSMD_TICKS
    assert s["ksmd_cpu_share"].iloc[1:].tolist() == pytest.approx([30 / 100 / 60, 42 / 100 / 60])
    assert data.facts.clock_ticks == 100
    vms = data.vms.sort_values(["name", "ts"])
    assert vms.groupby("name").size().to_dict() == {"db02": 3, "web01": 3}  # one row per VM per snapshot
    web = vms[vms["name"] == "web01"]
    assert web["pid"].tolist() == [4242] * 3
    assert web["allocated_bytes"].tolist() == [4 * GIB] * 3  # the command line of snapshot 1 holds for its pid
    assert web["rss_bytes"].tolist() == [kb * KIB for kb in WEB01_RSS_KB]
    assert web["ksm_profit_bytes"].tolist() == [3904000] * 3
    assert web["cgroup"].tolist() == ["/machine.slice/machine-qemu\\x2d1\\x2dweb01.scope"] * 3
    assert web["mem_limit_bytes"].tolist() == [4563402752] * 3
    assert web["mem_high_bytes"].isna().all()  # `max`: no limit
    assert web["cgroup_current_bytes"].tolist() == [kb * KIB + 50 * MIB for kb in WEB01_RSS_KB]
    assert web["cgroup_anon_bytes"].tolist() == [kb * KIB for kb in WEB01_RSS_KB]
    assert web["cgroup_file_bytes"].tolist() == [50 * MIB] * 3
    db = vms[vms["name"] == "db02"]
    assert db["pid"].tolist() == [5151] * 3
    assert db["hugepages_bytes"].tolist() == [2 * MIB] * 3
    assert db["allocated_bytes"].tolist() == [8 * GIB] * 3
    assert db["cgroup"].isna().all() and db["mem_limit_bytes"].isna().all()
    assert data.facts.extra["cgroup /system.slice/memory.high"] == "2147483648"
    assert not any(k.startswith("cgroup /machine.slice/") for k in data.facts.extra)
    log = pd.DataFrame([vars(e) for e in data.log])
    assumed = log[log["event"] == "assumed_clock_ticks"]
    assert len(assumed) == 1 and "100" in assumed["detail"].iloc[0]
    # unrecognised and unused files: one entry per name pattern, with the count
    environ = log[log["file"].str.endswith("pid-4242/environ", na=False)]
    assert len(environ) == 1 and environ["count"].iloc[0] == 3 and "not recognised" in environ["detail"].iloc[0]
    notes = log[log["file"].str.endswith("notes.txt", na=False)]
    assert len(notes) == 1 and notes["count"].iloc[0] == 3
    systemd = log[log["file"].str.endswith("proc/1/status", na=False)]
    assert len(systemd) == 1 and systemd["count"].iloc[0] == 3 and "'systemd'" in systemd["detail"].iloc[0]


def test_clock_ticks_file_is_used_without_an_assumption(tmp_path):
    tree = make_tree(tmp_path / "tree")
    (tree / TIMES[0] / "clock_ticks").write_text("100\n")
    ingest([tree], tmp_path / "store")
    data = store.read_host(tmp_path / "store", "procs-host")
    assert data.facts.clock_ticks == 100
    assert not any(e.event == "assumed_clock_ticks" for e in data.log)
    assert data.samples["ksmd_cpu_share"].iloc[1] == pytest.approx(30 / 100 / 60)


def test_real_proc_files_of_this_machine_as_a_single_snapshot(tmp_path):
    """The real /proc/<pid> files and ps listings of two qemu-named processes on this machine's
    6.18 kernel (tests/fixtures/proc-pid-6.18) beside a meminfo: two VMs with their real RSS."""
    snap = tmp_path / "snap"
    shutil.copytree(REAL, snap)
    shutil.copy(SRC / "proc/meminfo", snap / "meminfo")
    (snap / "date").write_text("2026-11-26T11:27:00Z\n")
    ingest([snap], tmp_path / "store")
    data = store.read_host(tmp_path / "store", "snap")
    vms = data.vms.set_index("name")
    assert sorted(vms.index) == ["deb12-db", "rhel9-web"]
    assert vms.loc["rhel9-web", "pid"] == 25169 and vms.loc["deb12-db", "pid"] == 25170
    assert vms.loc["rhel9-web", "rss_bytes"] == 57332 * KIB  # VmRSS of its real status
    assert vms.loc["rhel9-web", "allocated_bytes"] == 4 * GIB  # -m 4096
    assert vms.loc["deb12-db", "allocated_bytes"] == 8 * GIB  # -m size=8388608k,slots=4,maxmem=16777216k
    assert vms.loc["deb12-db", "maxmem_bytes"] == 16 * GIB
    assert vms.loc["deb12-db", "ksm_merged_bytes"] == 0 and vms.loc["deb12-db", "ksm_profit_bytes"] == 0
    assert data.samples["ksmd_ticks"].tolist() == [0]  # KSM was off on this machine
    assert data.facts.clock_ticks == 100  # from the clock_ticks file: no assumption
    assert not any(e.event == "assumed_clock_ticks" for e in data.log)
    # the real v1 cgroup files name no machine: host-level, and v1's "unlimited" is no limit
    assert not any(k.startswith("cgroup ") for k in data.facts.extra)


def test_many_unused_process_files_are_one_log_entry_each_kind(tmp_path):
    """A snapshot with `cp -r /proc/[0-9]*` in it: 40 processes that are not VMs give one log
    entry per name pattern, not one per process; a second ksmd stat is noted, not used."""
    snap = tmp_path / "snap"
    snap.mkdir()
    shutil.copy(SRC / "proc/meminfo", snap / "meminfo")
    (snap / "date").write_text("2026-11-26T10:00:00Z\n")
    for pid in range(100, 140):
        (snap / f"proc/{pid}").mkdir(parents=True)
        (snap / f"proc/{pid}/status").write_text(status(f"worker{pid}", pid, 1000 + pid, 0, 0))
        (snap / f"proc/{pid}/stat").write_text(ksmd_stat(10).replace("(ksmd)", f"(worker{pid})").replace("37 ", f"{pid} ", 1))
        (snap / f"proc/{pid}/environ").write_bytes(b"HOME=/\0")
    (snap / "proc/37").mkdir()
    (snap / "proc/37/stat").write_text(ksmd_stat(500))
    (snap / "ksmd-again.stat").write_text(ksmd_stat(501))
    (snap / "all-status").write_text("".join(status(f"w{p}", p, 1, 0, 0) for p in range(3)))
    ingest([snap], tmp_path / "store")
    data = store.read_host(tmp_path / "store", "snap")
    assert data.vms is None or len(data.vms) == 0
    assert data.samples["ksmd_ticks"].tolist() == [501]  # ksmd-again.stat sorts before proc/
    rows = [(e.file.rsplit("snap/", 1)[1], e.count, e.detail) for e in data.log if e.event == "skipped_file"]
    by_file = {f: (n, d) for f, n, d in rows}
    assert len(rows) == 5, rows
    assert (
        by_file["proc/100/status"][0] == 40
        and "not qemu" in by_file["proc/100/status"][1]
        and "'worker100'" in by_file["proc/100/status"][1]
    )
    assert by_file["proc/100/stat"][0] == 40
    assert by_file["proc/100/environ"][0] == 40 and "not recognised" in by_file["proc/100/environ"][1]
    assert by_file["proc/37/stat"][0] == 1 and "second ksmd" in by_file["proc/37/stat"][1]
    assert by_file["all-status"][0] == 1 and "without a qemu process" in by_file["all-status"][1]
