"""The collectors: collectors/memsnap.py (Python 3.6+) and collectors/memsnap.sh (dash, busybox sh).

Every test runs the real collectors, on this machine's /proc or on the fake root in
tests/fixtures/fakeroot (two qemu VMs, ksmd, KSM, PSI, two swap devices), and reads back the files
they write as docs/FORMAT.md describes them.

Nothing here depends on how fast this machine is or how busy (issue 11: the suite runs beside other
work on 2 cores). A collector keeps to slots of --interval and skips the slots a late sample ran
into, logging the total; so what the tests assert holds whatever the scheduling: samples strictly
increasing in time, none before its slot, and with --duration every slot either sampled or counted
as skipped in collector.log. A test that needs two samples gives each a slot far longer than a
sample takes; a wait for the collector to get somewhere is a generous guard against a hang.
"""

from __future__ import annotations

import ast
import calendar
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
from conftest import HANG

from memreport.collect import collector_path, run_collector

REPO = Path(__file__).resolve().parents[1]
PY = REPO / "collectors" / "memsnap.py"
SH = REPO / "collectors" / "memsnap.sh"
FAKEROOT = REPO / "tests" / "fixtures" / "fakeroot"
KINDS = ["py", "dash", "busybox"]

# what busybox-only hosts have: the script must not need more (no getconf, no GNU date %N)
BUSYBOX_APPLETS = ["cat", "date", "du", "gzip", "id", "ln", "mkdir", "mv", "rm", "sleep", "tar", "timeout", "tr", "uname"]

FAKE_VIRSH = """#!/bin/sh
# fake virsh: `-r list --name`, `-r dominfo DOM`, `-r dommemstat DOM`, `-r memtune DOM`, `-r dumpxml DOM`
[ "$1" = -r ] || exit 1
case $2 in
list) printf 'web01\\ndb02\\n\\n' ;;
dominfo)
    case $3 in web01) max=8388608 used=4194304 state=running ;; *) max=524288 used=524288 state=paused ;; esac
    printf 'Id:             1\\nName:           %s\\nUUID:           4a9b3c2d-1e0f-4a5b-9c8d-7e6f5a4b3c2d\\n' "$3"
    printf 'OS Type:        hvm\\nState:          %s\\nCPU(s):         2\\nCPU time:       12.3s\\n' "$state"
    printf 'Max memory:     %s KiB\\nUsed memory:    %s KiB\\nPersistent:     yes\\n\\n' "$max" "$used"
    ;;
dommemstat)
    case $3 in web01) printf 'actual 4194304\\nswap_in 12\\nswap_out 34\\nrss 4123456\\n\\n' ;;
    *) printf 'actual 524288\\nrss 500000\\n\\n' ;; esac
    ;;
memtune)
    case $3 in web01) printf 'hard_limit     : 8912896\\nsoft_limit     : unlimited\\nswap_hard_limit: unlimited\\n\\n' ;;
    *) printf 'hard_limit     : unlimited\\nsoft_limit     : unlimited\\nswap_hard_limit: unlimited\\n\\n' ;; esac
    ;;
dumpxml)
    printf "<domain type='kvm' id='1'>\\n  <name>%s</name>\\n\\t<memory unit='KiB'>8388608</memory>\\n" "$3"
    printf "  <currentMemory unit='KiB'>4194304</currentMemory>\\n</domain>\\n"
    ;;
*) exit 1 ;;
esac
"""

BROKEN_VIRSH = """#!/bin/sh
echo 'error: failed to connect to the hypervisor' >&2
exit 1
"""


@pytest.fixture(scope="module")
def busybox_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("busybox"):
        pytest.fail("busybox is not installed (make system-deps)")
    d = tmp_path_factory.mktemp("busybox-bin")
    for applet in BUSYBOX_APPLETS:
        (d / applet).symlink_to(shutil.which("busybox"))
    return d


@pytest.fixture(scope="module")
def virsh_scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("virsh")
    scripts = {}
    for name, text in (("fake", FAKE_VIRSH), ("broken", BROKEN_VIRSH)):
        path = d / f"virsh-{name}"
        path.write_text(text)
        path.chmod(0o755)
        scripts[name] = path
    return scripts


def command(kind: str, busybox_bin: Path) -> tuple[list[str], dict[str, str]]:
    """argv prefix and environment that run the collector `kind`."""
    env = dict(os.environ)
    if kind == "py":
        return [sys.executable, str(PY)], env
    if kind == "dash":
        return ["dash", str(SH)], env
    # busybox sh with only busybox applets on PATH
    env["PATH"] = str(busybox_bin)
    return [shutil.which("busybox") or "busybox", "sh", str(SH)], env


def start(kind: str, busybox_bin: Path, args: list[str], **kw) -> subprocess.Popen:
    argv, env = command(kind, busybox_bin)
    return subprocess.Popen(argv + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def run(kind: str, busybox_bin: Path, args: list[str], timeout: float = HANG) -> subprocess.CompletedProcess:
    argv, env = command(kind, busybox_bin)
    return subprocess.run(argv + args, env=env, capture_output=True, text=True, timeout=timeout)


# ---- reading what the collectors wrote ---------------------------------------------------------

Row = tuple[tuple[str, ...], list[str]]  # (header keys after ts, values including ts)


def parse_stream(text: str, name: str = "") -> list[Row]:
    """Rows of a stream with the header they fall under; every line complete and well-formed."""
    assert text.endswith("\n"), f"{name}: last row torn (no trailing newline)"
    keys: tuple[str, ...] | None = None
    rows: list[Row] = []
    for n, line in enumerate(text[:-1].split("\n"), 1):
        fields = line.split("\t")
        if line.startswith("#"):
            assert fields[0] == "#ts", f"{name}:{n}: header does not start with #ts: {line!r}"
            keys = tuple(fields[1:])
            continue
        assert keys is not None, f"{name}:{n}: row before any header"
        assert len(fields) == len(keys) + 1, f"{name}:{n}: {len(fields)} fields for {len(keys)} keys"
        assert re.fullmatch(r"\d{10}\.\d{1,3}", fields[0]), f"{name}:{n}: bad ts {fields[0]!r}"
        assert all(fields), f"{name}:{n}: empty field (unreadable values are '-')"
        rows.append((keys, fields))
    return rows


def runs_of(text: str) -> list[list[str]]:
    """The ts of each collector run's rows in one stream file (a run starts with a header)."""
    runs: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("#"):
            runs.append([])
        else:
            runs[-1].append(line.split("\t", 1)[0])
    return runs


def stream_files(out: Path, stream: str) -> list[Path]:
    return sorted(out.glob(f"{stream}.*.tsv"))


def read_stream(out: Path, stream: str) -> list[Row]:
    files = stream_files(out, stream)
    assert len(files) == 1, f"{stream}: expected one day file, found {files}"
    return parse_stream(files[0].read_text(), files[0].name)


def facts(out: Path) -> dict[str, str]:
    lines = (out / "facts.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def log_lines(out: Path) -> list[tuple[float, str, str]]:
    result = []
    for line in (out / "collector.log").read_text().splitlines():
        ts, level, message = line.split("\t")
        result.append((float(ts), level, message))
    return result


FIRST_SKIP = re.compile(r"a sample took longer than --interval [\d.]+ s: slots skipped")
SKIPPED_TOTAL = re.compile(r"(\d+) slots skipped in all \(samples that took longer than --interval [\d.]+ s\)")

Log = list[tuple[float, str, str]]


def is_skip_line(message: str) -> bool:
    return bool(FIRST_SKIP.fullmatch(message) or SKIPPED_TOTAL.fullmatch(message))


def skipped_slots(log: Log) -> int:
    """The slots one collector run skipped because a sample ran into them, as its log counts them:
    a warning the first time, the total just before `stopped after`; 0 when none was."""
    firsts = [m for _, _, m in log if FIRST_SKIP.fullmatch(m)]
    totals = [(level, int(t.group(1))) for _, level, m in log if (t := SKIPPED_TOTAL.fullmatch(m))]
    assert len(firsts) == len(totals) <= 1, log
    if not totals:
        return 0
    assert totals[0][0] == "warn" and totals[0][1] >= 1
    assert log[-2][2].startswith(f"{totals[0][1]} slots skipped in all"), log  # just before the stop line
    return totals[0][1]


def check_slots(clock_ts: list[str], log: Log, started: float, interval: float, duration: float | None = None) -> None:
    """What one collector run's sample times must be, whatever the scheduling: strictly increasing
    (no sample twice), none before its slot (the k-th sample is at slot k or later), and with
    --duration every slot due either sampled or logged as skipped."""
    ts = [float(t) for t in clock_ts]
    assert ts and all(a < b for a, b in zip(ts, ts[1:])), clock_ts
    # 0.02 s: ts has 3 decimals, and memsnap.sh's clock counts /proc/uptime's centiseconds
    assert all(t >= started + k * interval - 0.02 for k, t in enumerate(ts)), (started, clock_ts)
    assert log[-1][2] == f"stopped after {len(ts)} samples"
    skipped = skipped_slots(log)
    if duration is not None:
        assert len(ts) + skipped == int(duration / interval + 1e-6) + 1, (clock_ts, log)


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def proc_keys(path: str, sep: str | None) -> list[tuple[str, str]]:
    pairs = []
    for line in Path(path).read_text().splitlines():
        key, _, rest = line.partition(sep) if sep else line.partition(" ")
        pairs.append((key.strip(), rest.split()[0]))
    return pairs


# ---- a real capture of this machine -------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, busybox_bin: Path) -> dict:
    """The three collectors run side by side on this machine: --interval 1 --duration 5."""
    base = tmp_path_factory.mktemp("live")
    up0, t0 = uptime(), time.time()
    procs = {}
    for kind in KINDS:
        procs[kind] = start(kind, busybox_bin, ["--interval", "1", "--duration", "5", "--output", str(base / kind)])
    results = {kind: p.communicate(timeout=HANG) + (p.returncode,) for kind, p in procs.items()}
    return {"base": base, "t0": t0, "t1": time.time(), "up0": up0, "up1": uptime(), "results": results}


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_live_capture_matches_proc(kind: str, live: dict) -> None:
    out: Path = live["base"] / kind
    _stdout, stderr, rc = live["results"][kind]
    assert rc == 0, stderr

    meminfo = read_stream(out, "meminfo")
    assert len(meminfo) >= 2  # a sample takes far less than the 1 s interval, even on a busy machine
    proc_meminfo = proc_keys("/proc/meminfo", ":")
    keys, first = meminfo[0]
    assert list(keys) == [k for k, _ in proc_meminfo]
    assert all(k == keys for k, _ in meminfo)  # one header: the key set did not change
    assert first[1 + keys.index("MemTotal")] == dict(proc_meminfo)["MemTotal"]
    assert int(first[1 + keys.index("MemFree")]) > 0

    vmstat = read_stream(out, "vmstat")
    assert len(vmstat) == len(meminfo)
    assert list(vmstat[0][0]) == [k for k, _ in proc_keys("/proc/vmstat", None)]
    pgfault = [int(v[1 + k.index("pgfault")]) for k, v in vmstat]
    assert pgfault == sorted(pgfault) and pgfault[0] > 0  # a counter since boot

    clock = read_stream(out, "clock")
    assert len(clock) == len(meminfo)
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert {v[1] for _, v in clock} == {boot_id}
    f = facts(out)
    # samples keep to their 1 s slots, and every slot of the 5 s is sampled or logged as skipped
    check_slots([v[0] for _, v in clock], log_lines(out), float(f["started"]), 1, 5)
    ts = [float(v[0]) for _, v in clock]
    # inside the run; memsnap.sh under busybox (no `date +%N`) reads the clock to the second
    assert live["t0"] - 1.5 <= float(f["started"]) <= ts[0] and ts[-1] <= live["t1"] + 0.02
    up = [float(v[2]) for _, v in clock]
    assert live["up0"] <= up[0] and up == sorted(up) and up[-1] <= live["up1"]
    # one ts per sample, shared by every stream
    assert [v[0] for _, v in meminfo] == [v[0] for _, v in clock] == [v[0] for _, v in vmstat]

    assert f["format"] == "1"
    assert f["collector"] == ("memsnap.py" if kind == "py" else "memsnap.sh")
    assert f["collector_version"] == "1.3.0"
    assert f["page_size"] == str(os.sysconf("SC_PAGE_SIZE"))
    assert f["clock_ticks"] == str(os.sysconf("SC_CLK_TCK"))
    assert f["cpus"] == str(os.sysconf("SC_NPROCESSORS_ONLN"))
    assert f["hostname"] == os.uname().nodename
    assert f["kernel"] == os.uname().release
    assert f["interval"] == "1"
    assert f["boot_id"] == boot_id
    machine_id = Path("/etc/machine-id")
    assert f["machine_id"] == (machine_id.read_text().strip() if machine_id.is_file() else "-")
    swappiness = Path("/proc/sys/vm/swappiness")
    if swappiness.exists():
        assert f["vm.swappiness"] == swappiness.read_text().strip()

    ksm = Path("/sys/kernel/mm/ksm")
    if ksm.is_dir():
        values = {p.name: p.read_text().strip() for p in ksm.iterdir() if p.is_file()}
        numeric = sorted(k for k, v in values.items() if re.fullmatch(r"-?\d+", v))
        rows = read_stream(out, "ksm")
        assert list(rows[0][0]) == numeric + ["ksmd_ticks"]
        for name, value in values.items():
            if name not in numeric:
                assert f[f"ksm_{name}"] == value
        ticks = [v[-1] for _, v in rows]
        assert all(t == "-" or t.isdigit() for t in ticks)

    if Path("/proc/pressure/memory").exists():
        psi = read_stream(out, "psi")
        assert psi[0][0] == (
            "some_avg10",
            "some_avg60",
            "some_avg300",
            "some_total",
            "full_avg10",
            "full_avg60",
            "full_avg300",
            "full_total",
        )
        for _, v in psi:
            assert all(re.fullmatch(r"\d+(\.\d+)?", x) for x in v[1:])

    # hugepage pools (this machine has them in sysfs) and NUMA node meminfo, as the kernel gives them
    pools = Path("/sys/kernel/mm/hugepages")
    if pools.is_dir():
        rows = read_stream(out, "hugepages")
        first = by_sample(rows)[rows[0][1][0]]
        host_rows = [r for r in first if r[0] == "-"]
        sizes = sorted(int(p.name[len("hugepages-") : -2]) for p in pools.iterdir())
        assert sorted(int(r[1]) for r in host_rows) == sizes and sizes
        for r in host_rows:
            nr = (pools / f"hugepages-{r[1]}kB" / "nr_hugepages").read_text().strip()
            assert r[2] == nr  # a pool is not resized during the test
    nodes = sorted(p.name[4:] for p in Path("/sys/devices/system/node").glob("node[0-9]*"))
    if nodes:
        numa = read_stream(out, "numa")
        assert len(numa) == len(meminfo) * len(nodes)
        keys, row = numa[0]
        node_keys = [
            line.split(":")[0].split()[2]
            for line in Path(f"/sys/devices/system/node/node{nodes[0]}/meminfo").read_text().splitlines()
        ]
        assert list(keys) == ["node", *node_keys] and row[1] == nodes[0]
        # MemTotal itself may move while the test runs (this VM's memory is hot-plugged)
        assert all(v.isdigit() for v in row[1:]) and int(row[1 + keys.index("MemTotal")]) > 0

    messages = [m for _, _, m in log_lines(out)]
    assert messages[0].startswith(f"{f['collector']} 1.3.0 started")


# ---- the fake root: exact rows --------------------------------------------------------------------

FAKE_ROWS = {
    "meminfo": (
        (
            "MemTotal",
            "MemFree",
            "MemAvailable",
            "Buffers",
            "Cached",
            "SwapCached",
            "Active",
            "Inactive",
            "Active(anon)",
            "Inactive(anon)",
            "Active(file)",
            "Inactive(file)",
            "SwapTotal",
            "SwapFree",
            "AnonPages",
            "HugePages_Total",
            "HugePages_Free",
            "Hugepagesize",
            "DirectMap4k",
        ),
        [
            [
                "65856364",
                "1843244",
                "9123456",
                "204800",
                "7340032",
                "123456",
                "41943040",
                "18874368",
                "38797312",
                "9437184",
                "3145728",
                "9437184",
                "16777212",
                "12582908",
                "47185920",
                "0",
                "0",
                "2048",
                "493364",
            ]
        ],
    ),
    "vmstat": (
        (
            "nr_free_pages",
            "nr_inactive_anon",
            "nr_active_anon",
            "pgmajfault",
            "pswpin",
            "pswpout",
            "workingset_refault_anon",
            "workingset_refault_file",
            "oom_kill",
            "cow_ksm",
            "ksm_swpin_copy",
        ),
        [["460811", "2359296", "9699328", "123456", "1048576", "2097152", "77777", "88888", "2", "15", "0"]],
    ),
    "clock": (("boot_id", "uptime"), [["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "864000.25"]]),
    # byte order of the file names; advisor_mode is text (facts.txt); ksmd_ticks = 1234 + 567
    "ksm": (
        (
            "full_scans",
            "general_profit",
            "ksm_zero_pages",
            "max_page_sharing",
            "pages_shared",
            "pages_sharing",
            "pages_to_scan",
            "pages_unshared",
            "pages_volatile",
            "run",
            "sleep_millisecs",
            "stable_node_chains",
            "stable_node_dups",
            "use_zero_pages",
            "ksmd_ticks",
        ),
        [["42", "-123456", "7", "256", "1000", "25000", "100", "3000", "10", "1", "20", "0", "0", "0", "1801"]],
    ),
    "psi": (
        ("some_avg10", "some_avg60", "some_avg300", "some_total", "full_avg10", "full_avg60", "full_avg300", "full_total"),
        [["1.25", "0.80", "0.33", "987654321", "0.50", "0.25", "0.10", "123456789"]],
    ),
    "swaps": (
        ("filename", "type", "size_kb", "used_kb", "priority"),
        [["/dev/sda2", "partition", "8388604", "2097152", "-2"], ["/var/swap\\040file", "file", "8388608", "2097152", "-3"]],
    ),
    # qemu-img (2000) and the kvm kernel thread (1003, no command line) are not VMs
    # 1001 has ksm_stat (kernel >= 6.1), 1002 none (an older kernel): '-'
    "vms": (
        ("pid", "rss_kb", "swap_kb", "ksm_merging_pages", "ksm_profit", "hugetlb_kb"),
        [["1001", "4123456", "1024", "262144", "1006632960", "-"], ["1002", "524288", "0", "-", "-", "-"]],
    ),
    # the host's pools by size directory order (1 GiB before 2 MiB), then each node's (no resv there)
    "hugepages": (
        ("node", "size_kb", "nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages"),
        [
            ["-", "1048576", "0", "0", "0", "0"],
            ["-", "2048", "2048", "1024", "12", "0"],
            ["0", "2048", "1024", "512", "-", "0"],
            ["1", "2048", "1024", "512", "-", "0"],
        ],
    ),
}
# numa: one row per node, keys as the node's meminfo gives them (node 0 and 1 of the fake root)
NUMA_KEYS = (
    "node",
    "MemTotal",
    "MemFree",
    "MemUsed",
    "Active",
    "Inactive",
    "Inactive(anon)",
    "FilePages",
    "AnonPages",
    "AnonHugePages",
    "HugePages_Total",
    "HugePages_Free",
    "HugePages_Surp",
)
FAKE_ROWS["numa"] = (
    NUMA_KEYS,
    [
        [
            "0",
            "32828180",
            "1843244",
            "30984936",
            "20971520",
            "9437184",
            "4718592",
            "3670016",
            "23592960",
            "2097152",
            "1024",
            "512",
            "0",
        ],
        [
            "1",
            "33028184",
            "20971520",
            "12056664",
            "20971520",
            "9437184",
            "4718592",
            "3670016",
            "23592960",
            "0",
            "1024",
            "512",
            "0",
        ],
    ],
)
FAKE_VMDEFS = (
    ("pid", "name", "uuid", "mem_arg", "cmd", "mem_backend"),
    [
        [
            "1001",
            "web01",
            "4a9b3c2d-1e0f-4a5b-9c8d-7e6f5a4b3c2d",
            "size=4G,slots=4,maxmem=8G",
            "qemu-system-x86_64",
            '-object {"qom-type":"memory-backend-file","id":"pc.ram","mem-path":"/dev/hugepages/libvirt/qemu/1-web01",'
            '"prealloc":true,"size":4294967296}',
        ],
        ["1002", "db02", "-", "512", "qemu-kvm", "-"],
    ],
)
FAKE_VIRSH_ROWS = (
    ("domain", "key", "value"),
    [
        ["web01", "state", "running"],
        ["web01", "max_memory_kb", "8388608"],
        ["web01", "used_memory_kb", "4194304"],
        ["web01", "actual", "4194304"],
        ["web01", "swap_in", "12"],
        ["web01", "swap_out", "34"],
        ["web01", "rss", "4123456"],
        ["web01", "hard_limit_kb", "8912896"],
        ["web01", "soft_limit_kb", "-"],
        ["web01", "swap_hard_limit_kb", "-"],
        ["db02", "state", "paused"],
        ["db02", "max_memory_kb", "524288"],
        ["db02", "used_memory_kb", "524288"],
        ["db02", "actual", "524288"],
        ["db02", "rss", "500000"],
        ["db02", "hard_limit_kb", "-"],
        ["db02", "soft_limit_kb", "-"],
        ["db02", "swap_hard_limit_kb", "-"],
    ],
)
# the domain XML once per domain start (Id), on one line
FAKE_DOMXML = (
    ("domain", "id", "xml"),
    [
        [
            d,
            "1",
            f"<domain type='kvm' id='1'>   <name>{d}</name>  <memory unit='KiB'>8388608</memory>   "
            "<currentMemory unit='KiB'>4194304</currentMemory> </domain>",
        ]
        for d in ("web01", "db02")
    ],
)


def by_sample(rows: list[Row]) -> dict[str, list[list[str]]]:
    samples: dict[str, list[list[str]]] = {}
    for _, values in rows:
        samples.setdefault(values[0], []).append(values[1:])
    return samples


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_fakeroot_rows_exact(kind: str, tmp_path: Path, busybox_bin: Path, virsh_scripts: dict[str, Path]) -> None:
    out = tmp_path / "cap"
    r = run(
        kind,
        busybox_bin,
        [
            "--root",
            str(FAKEROOT),
            "--virsh",
            str(virsh_scripts["fake"]),
            "--interval",
            "0.5",
            "--duration",
            "1",
            "--output",
            str(out),
        ],
    )
    assert r.returncode == 0, r.stderr

    clock_ts = [v[0] for _, v in read_stream(out, "clock")]
    log = log_lines(out)
    check_slots(clock_ts, log, float(facts(out)["started"]), 0.5, 1)  # slots at 0, 0.5 and 1 s
    assert len(clock_ts) >= 2
    for stream, (keys, rows) in FAKE_ROWS.items():
        got = read_stream(out, stream)
        assert {k for k, _ in got} == {keys}, stream
        samples = by_sample(got)
        assert list(samples) == clock_ts, stream  # every sample in every stream, same ts
        for ts in clock_ts:
            assert samples[ts] == rows, stream

    # vmdefs once per pid, at the first sample; virsh once (--virsh-interval 60), at the first
    for stream, (keys, rows) in (("vmdefs", FAKE_VMDEFS), ("virsh", FAKE_VIRSH_ROWS), ("domxml", FAKE_DOMXML)):
        got = read_stream(out, stream)
        assert {k for k, _ in got} == {keys}
        assert by_sample(got) == {clock_ts[0]: rows}, stream

    f = facts(out)
    started = f.pop("started")
    assert float(started) <= float(clock_ts[0])
    assert f == {
        "format": "1",
        "collector": "memsnap.py" if kind == "py" else "memsnap.sh",
        "collector_version": "1.3.0",
        "hostname": "kvmhost01",
        "kernel": "6.1.0-18-amd64",
        "page_size": str(os.sysconf("SC_PAGE_SIZE")),
        "clock_ticks": str(os.sysconf("SC_CLK_TCK")),
        "cpus": "16",  # 0-11,16-19
        "interval": "0.5",
        "boot_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "machine_id": "5e7c1a9d0b2f4e8a9c3d6b1f0a2e4c7d",  # etc/machine-id of the fake root
        "vm.swappiness": "60",
        "vm.overcommit_memory": "0",
        "vm.overcommit_ratio": "50",
        "ksm_advisor_mode": "[none] scan-time",
    }
    # nothing to warn about, but a late sample on a busy machine
    assert {level for _, level, m in log if not is_skip_line(m)} == {"info"}, log
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_missing_sources_are_logged_not_faked(
    kind: str, tmp_path: Path, busybox_bin: Path, virsh_scripts: dict[str, Path]
) -> None:
    """A kernel without PSI and KSM, no ksmd, no swap devices, a virsh that cannot connect."""
    root = tmp_path / "root"
    shutil.copytree(FAKEROOT, root, symlinks=True)
    shutil.rmtree(root / "proc" / "pressure")
    shutil.rmtree(root / "sys" / "kernel" / "mm" / "ksm")
    shutil.rmtree(root / "sys" / "kernel" / "mm" / "hugepages")
    shutil.rmtree(root / "sys" / "devices" / "system" / "node")
    shutil.rmtree(root / "proc" / "37")
    (root / "etc" / "machine-id").unlink()  # a host without systemd or dbus
    (root / "proc" / "swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n")
    out = tmp_path / "cap"
    r = run(
        kind,
        busybox_bin,
        [
            "--root",
            str(root),
            "--virsh",
            str(virsh_scripts["broken"]),
            "--interval",
            "0.5",
            "--duration",
            "0.5",
            "--output",
            str(out),
        ],
    )
    assert r.returncode == 0, r.stderr
    clock_ts = [v[0] for _, v in read_stream(out, "clock")]
    check_slots(clock_ts, log_lines(out), float(facts(out)["started"]), 0.5, 0.5)
    assert len(clock_ts) >= 2  # a sample takes far less than its 0.5 s slot
    assert sorted(p.name.split(".")[0] for p in out.glob("*.tsv")) == ["clock", "meminfo", "vmdefs", "vms", "vmstat"]
    messages = [m for _, _, m in log_lines(out)]
    assert f"{root}/proc/pressure/memory: not present (kernel < 4.20): psi not captured" in messages
    assert f"{root}/sys/kernel/mm/hugepages: not present (kernel without CONFIG_HUGETLBFS): hugepages not captured" in messages
    assert any(m.startswith(f"{root}/sys/devices/system/node: ") and m.endswith(": numa not captured") for m in messages)
    assert f"{root}/sys/kernel/mm/ksm: not present (kernel without CONFIG_KSM): ksm not captured" in messages
    virsh = [m for m in messages if m.startswith("virsh:")]
    assert len(virsh) == 1  # logged once, not per sample
    assert "failed: error: failed to connect to the hypervisor" in virsh[0]
    assert "ksm_advisor_mode" not in facts(out)
    assert facts(out)["machine_id"] == "-"
    assert f"{root}/etc/machine-id: not present: machine_id not recorded" in messages


NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]


def python_for_nobody(cwd: Path) -> str:
    """A Python 3.6+ that user 65534 can run. Not the venv's: that lives in the checkout, which may
    sit under a private directory (issue 16); its base interpreter when that is reachable, else the
    system's (the collector needs nothing beyond the standard library)."""
    setpriv = shutil.which("setpriv") or "setpriv"
    tried = []
    for python in (os.path.realpath(sys.executable), "/usr/bin/python3", "/usr/local/bin/python3"):
        if python in tried or not os.path.exists(python):
            continue
        tried.append(python)
        probe = subprocess.run(
            [setpriv, *NOBODY, python, "-c", "import sys; assert sys.version_info >= (3, 6)"],
            cwd=cwd,
            capture_output=True,
            timeout=HANG,
        )
        if probe.returncode == 0:
            return python
    pytest.fail(f"no Python 3.6+ that user 65534 can run (tried {', '.join(tried)})")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_unreadable_as_non_root(kind: str) -> None:
    """Not root: a VM's status and a KSM file cannot be read: '-' in the row, one log line each.

    Run by root, the collector runs as user 65534 (setpriv), and that process gets everything it runs
    in one directory open to it (the collector copied there, the fake root, the output, for busybox
    its applets): the checkout may be out of its reach, under a private directory (issue 16). Run by
    another user, the collector runs as that user."""
    as_root = os.geteuid() == 0
    if as_root and not shutil.which("setpriv"):
        pytest.fail("needs setpriv (util-linux) to run the collector as another user: `bash tests/system_deps.sh`")
    # pytest's tmp dirs are private to root: this one is open to the unprivileged user
    base = Path(tempfile.mkdtemp(prefix="memsnap-nonroot-"))
    try:
        closed = [d for d in base.parents if not os.stat(d).st_mode & 0o001]
        if closed and as_root:
            pytest.fail(f"{closed[0]} is closed to other users: point TMPDIR at a directory they can reach")
        base.chmod(0o755)
        collector = base / ("memsnap.py" if kind == "py" else "memsnap.sh")
        shutil.copyfile(PY if kind == "py" else SH, collector)  # stdlib only: nothing else to copy
        collector.chmod(0o644)
        root = base / "root"
        shutil.copytree(FAKEROOT, root, symlinks=True)
        for d, _, files in os.walk(root):  # readable whatever the checkout's umask was
            os.chmod(d, 0o755)
            for name in files:
                if not os.path.islink(os.path.join(d, name)):
                    os.chmod(os.path.join(d, name), 0o644)
        (root / "proc" / "1001" / "status").chmod(0o000)
        # As the kernel makes it: root's, owner only. A user's copy is theirs: closed to them too.
        (root / "proc" / "1001" / "ksm_stat").chmod(0o400 if as_root else 0o000)
        (root / "sys" / "kernel" / "mm" / "ksm" / "pages_volatile").chmod(0o200)
        out = base / "cap"
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        env = dict(os.environ)
        if kind == "py":
            argv = [python_for_nobody(base) if as_root else sys.executable, str(collector)]
        elif kind == "dash":
            argv = [shutil.which("dash") or "dash", str(collector)]
        else:
            (base / "bin").mkdir()
            (base / "bin").chmod(0o755)  # mkdir's mode passes through the umask (077 on hardened hosts)
            for applet in BUSYBOX_APPLETS:
                (base / "bin" / applet).symlink_to(shutil.which("busybox") or "busybox")
            env["PATH"] = str(base / "bin")
            argv = [shutil.which("busybox") or "busybox", "sh", str(collector)]
        r = subprocess.run(
            [
                *([shutil.which("setpriv") or "setpriv", *NOBODY] if as_root else []),
                *argv,
                "--root",
                str(root),
                "--interval",
                "0.5",
                "--duration",
                "0.5",
                "--output",
                str(out),
            ],
            cwd=base,
            env=env,
            capture_output=True,
            text=True,
            timeout=HANG,
        )
        assert r.returncode == 0, r.stderr
        clock_ts = [v[0] for _, v in read_stream(out, "clock")]
        log = log_lines(out)
        check_slots(clock_ts, log, float(facts(out)["started"]), 0.5, 0.5)
        assert len(clock_ts) >= 2  # a sample takes far less than its 0.5 s slot
        vms = read_stream(out, "vms")
        assert [v[1:] for _, v in vms] == [["1001", "-", "-", "-", "-", "-"], ["1002", "524288", "0", "-", "-", "-"]] * len(
            clock_ts
        )
        keys, values = read_stream(out, "ksm")[0]
        assert values[1 + keys.index("pages_volatile")] == "-"
        assert values[1 + keys.index("pages_sharing")] == "25000"
        warnings = [m for _, level, m in log if level == "warn" and not is_skip_line(m)]
        assert warnings == [
            f"{root}/sys/kernel/mm/ksm/pages_volatile: permission denied (not root): written as -",
            f"{root}/proc/1001/status: permission denied (not root): VM rss not captured",
            f"{root}/proc/1001/ksm_stat: permission denied (not root): VM KSM merging not captured",
        ]
    finally:
        shutil.rmtree(base)


# ---- stopping ---------------------------------------------------------------------------------------


def wait_rows(out: Path, stream: str, n: int, timeout: float = HANG) -> None:
    """Until the stream has n rows; the timeout only guards against a hang."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        files = stream_files(out, stream)
        if files and files[0].read_text().count("\n") >= n + 1:
            return
        time.sleep(0.05)
    pytest.fail(f"{stream}: fewer than {n} rows after {timeout} s")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_finishes_the_sample_and_exits_0(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    out = tmp_path / "cap"
    p = start(kind, busybox_bin, ["--root", str(FAKEROOT), "--interval", "0.05", "--output", str(out)])
    wait_rows(out, "vms", 6)
    p.send_signal(signal.SIGTERM)
    _, stderr = p.communicate(timeout=HANG)
    assert p.returncode == 0, stderr

    clock_ts = [v[0] for _, v in read_stream(out, "clock")]
    assert len(clock_ts) >= 3
    check_slots(clock_ts, log_lines(out), float(facts(out)["started"]), 0.05)
    # the sample under way when the signal came was finished: every stream has every sample
    for stream in ("meminfo", "vmstat", "ksm", "psi"):
        assert [v[0] for _, v in read_stream(out, stream)] == clock_ts, stream
    for stream in ("vms", "swaps"):
        assert [v[0] for _, v in read_stream(out, stream)] == [t for t in clock_ts for _ in (1, 2)]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_kill_9_leaves_complete_rows(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    out = tmp_path / "cap"
    p = start(kind, busybox_bin, ["--root", str(FAKEROOT), "--interval", "0.01", "--output", str(out)])
    wait_rows(out, "vmstat", 20)
    p.kill()
    p.communicate(timeout=HANG)
    assert p.returncode == -signal.SIGKILL
    for path in sorted(out.glob("*.tsv")):
        text = path.read_text()
        complete = text[: text.rfind("\n") + 1]
        rows = parse_stream(complete, path.name)  # every complete line is a whole row
        assert len(rows) >= 1, path.name
        # a torn last row would have no newline (the ingest drops it); one write() per row means
        # a kill never leaves one
        assert text[len(complete) :] == "", path.name


# ---- day rotation and disk bound ------------------------------------------------------------------

MIDNIGHT = calendar.timegm((2026, 3, 1, 0, 0, 0))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_day_change_compresses_the_previous_day(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    out = tmp_path / "cap"
    # slots at -0.95, -0.45 | 0.05, 0.55, 1.05 s around midnight UTC: the first sample is before
    # midnight (the collector starts in far less than 0.95 s), and no slot is within 0.05 s of it
    args = [
        "--root",
        str(FAKEROOT),
        "--interval",
        "0.5",
        "--duration",
        "2",
        "--start-epoch",
        str(MIDNIGHT - 0.95),
        "--output",
        str(out),
    ]
    streams = ["clock", "meminfo", "vmstat", "ksm", "psi", "swaps", "vms", "vmdefs", "hugepages", "numa"]

    def check_run(n: int, log: Log) -> None:
        """The n-th run (0, 1) crossed midnight: its samples on both sides, each in its day's file."""
        before = runs_of(gzip.decompress((out / "clock.20260228.tsv.gz").read_bytes()).decode())
        after = runs_of((out / "clock.20260301.tsv").read_text())
        assert len(before) == len(after) == n + 1
        assert before[n] and all(float(t) < MIDNIGHT for t in before[n])
        assert after[n] and all(float(t) >= MIDNIGHT for t in after[n])
        started = float(facts(out)["started"])
        assert started >= MIDNIGHT - 0.95 - 0.02
        check_slots(before[n] + after[n], log, started, 0.5, 2)
        assert started - 0.02 <= log[0][0] <= float(before[n][0]) + 0.02  # the log's clock is the capture's
        for stream in ("meminfo", "vmstat", "ksm", "psi"):
            assert runs_of(gzip.decompress((out / f"{stream}.20260228.tsv.gz").read_bytes()).decode())[n] == before[n]
            assert runs_of((out / f"{stream}.20260301.tsv").read_text())[n] == after[n]

    r = run(kind, busybox_bin, args)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.gz")) == sorted(f"{s}.20260228.tsv.gz" for s in streams)
    assert sorted(p.name for p in out.glob("*.tsv")) == sorted(f"{s}.20260301.tsv" for s in streams if s != "vmdefs")
    assert not list(out.glob("*.tmp"))
    old = parse_stream(gzip.decompress((out / "meminfo.20260228.tsv.gz").read_bytes()).decode())
    new = read_stream(out, "meminfo")
    assert old[0][0] == new[0][0] == FAKE_ROWS["meminfo"][0]
    # the new day's file starts with a header
    assert (out / "meminfo.20260301.tsv").read_text().startswith("#ts\tMemTotal\t")
    first = log_lines(out)
    assert "compressed meminfo.20260228.tsv" in [m for _, _, m in first]
    check_run(0, first)

    # a second run with the clock set back over the same midnight: the day's .gz gains a second
    # gzip member, the next day's file a second header
    r = run(kind, busybox_bin, args)
    assert r.returncode == 0, r.stderr
    check_run(1, log_lines(out)[len(first) :])
    assert len(parse_stream(gzip.decompress((out / "meminfo.20260228.tsv.gz").read_bytes()).decode())) == len(old) + len(
        runs_of(gzip.decompress((out / "clock.20260228.tsv.gz").read_bytes()).decode())[1]
    )
    assert (out / "meminfo.20260301.tsv").read_text().count("#ts") == 2


def random_gz(path: Path, kb: int) -> None:
    path.write_bytes(os.urandom(kb * 1024))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_max_size_rotate_deletes_the_oldest_day(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    out = tmp_path / "cap"
    out.mkdir()
    random_gz(out / "meminfo.20250101.tsv.gz", 400)
    random_gz(out / "vmstat.20250101.tsv.gz", 400)
    random_gz(out / "meminfo.20250102.tsv.gz", 400)
    r = run(
        kind,
        busybox_bin,
        ["--root", str(FAKEROOT), "--interval", "0.5", "--duration", "0.5", "--max-size", "0.7", "--output", str(out)],
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.gz")) == ["meminfo.20250102.tsv.gz"]
    clock_ts = [v[0] for _, v in read_stream(out, "clock")]
    check_slots(clock_ts, log_lines(out), float(facts(out)["started"]), 0.5, 0.5)
    assert len(clock_ts) >= 2  # the capture went on (a sample takes far less than its 0.5 s slot)
    deleted = [(lvl, m) for _, lvl, m in log_lines(out) if "deleted day" in m]
    assert len(deleted) == 1
    assert deleted[0][0] == "warn"
    assert re.fullmatch(
        r"output .* used \d+ kB, over --max-size 0.7 MB: deleted day 20250101 "
        r"\(--on-full rotate\)",
        deleted[0][1],
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_max_size_stop(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    out = tmp_path / "cap"
    out.mkdir()
    random_gz(out / "meminfo.20250101.tsv.gz", 800)
    r = run(
        kind,
        busybox_bin,
        [
            "--root",
            str(FAKEROOT),
            "--interval",
            "0.1",
            "--duration",
            "5",
            "--max-size",
            "0.7",
            "--on-full",
            "stop",
            "--output",
            str(out),
        ],
    )
    assert r.returncode == 0, r.stderr
    assert (out / "meminfo.20250101.tsv.gz").stat().st_size == 800 * 1024  # kept
    assert len(read_stream(out, "clock")) == 1  # stopped after the first sample
    log = log_lines(out)
    assert log[-2][1] == "warn"
    assert re.fullmatch(
        r"output .* uses \d+ kB, over --max-size 0.7 MB: stopping "
        r"\(--on-full stop\)",
        log[-2][2],
    )
    assert log[-1][2] == "stopped after 1 samples"


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_max_size_with_nothing_left_to_delete_stops(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    out = tmp_path / "cap"
    r = run(
        kind,
        busybox_bin,
        ["--root", str(FAKEROOT), "--interval", "0.1", "--duration", "5", "--max-size", "0.001", "--output", str(out)],
    )
    assert r.returncode == 0, r.stderr
    assert len(read_stream(out, "clock")) == 1
    errors = [m for _, lvl, m in log_lines(out) if lvl == "error"]
    assert len(errors) == 1 and errors[0].endswith("over --max-size 0.001 MB, and no compressed day is left to delete: stopping")


# ---- bundle, options, guards --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_bundle(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    out = tmp_path / "capture-dir"
    t0 = time.time()
    r = run(
        kind, busybox_bin, ["--root", str(FAKEROOT), "--interval", "0.1", "--duration", "0.1", "--bundle", "--output", str(out)]
    )
    t1 = time.time()
    assert r.returncode == 0, r.stderr
    bundles = list(tmp_path.glob("*.tar.gz"))
    assert len(bundles) == 1
    name = bundles[0].name[: -len(".tar.gz")]
    assert re.fullmatch(r"memsnap-kvmhost01-\d{8}T\d{6}Z", name)
    stamp = calendar.timegm(time.strptime(name[-16:], "%Y%m%dT%H%M%SZ"))
    assert int(t0) <= stamp <= t1  # the time it was made, to the second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["capture-dir", bundles[0].name]
    with tarfile.open(bundles[0]) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert all(n == name or n.startswith(name + "/") for n in members)
        assert members[name].isdir()
        assert members[f"{name}/facts.txt"].isfile()
        day = stream_files(out, "meminfo")[0].name
        data = tar.extractfile(f"{name}/{day}").read()  # type: ignore[union-attr]
        assert data == (out / day).read_bytes()
    assert "bundle written: " + str(bundles[0]) in [m for _, _, m in log_lines(out)]


@pytest.mark.parametrize("kind", KINDS)
def test_help_and_version(kind: str, busybox_bin: Path) -> None:
    r = run(kind, busybox_bin, ["--help"])
    assert r.returncode == 0
    for option in (
        "--interval",
        "--duration",
        "--output",
        "--max-size",
        "--on-full",
        "--virsh-interval",
        "--virsh",
        "--root",
        "--bundle",
        "--version",
        "--help",
    ):
        assert option in r.stdout, option
    assert "--start-epoch" not in r.stdout  # hidden, for tests
    r = run(kind, busybox_bin, ["--version"])
    assert r.returncode == 0
    name = "memsnap.py" if kind == "py" else "memsnap.sh"
    assert r.stdout.strip() == f"{name} 1.3.0 (capture format 1)"
    r = run(kind, busybox_bin, ["--interval", "soon"])
    assert r.returncode == 2 and "--interval" in r.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_refuses_a_capture_of_another_host(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    out = tmp_path / "cap"
    out.mkdir()
    (out / "facts.txt").write_text("format=1\nhostname=otherhost\n")
    r = run(kind, busybox_bin, ["--root", str(FAKEROOT), "--duration", "0", "--output", str(out)])
    assert r.returncode == 2
    assert "capture of host 'otherhost', not 'kvmhost01'" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["facts.txt"]


def test_python_collector_is_python36_syntax() -> None:
    src = PY.read_text()
    ast.parse(src, filename=str(PY), feature_version=(3, 6))
    compile(src, str(PY), "exec")
    # APIs and syntax newer than 3.6 that ast.parse(feature_version) lets through
    for newer in (
        "from __future__ import annotations",
        "capture_output",
        "text=True",
        "dataclass",
        ":=",
        "asyncio.run",
        "removeprefix",
        "math.prod",
    ):
        assert newer not in src, newer


@pytest.mark.parametrize("shell", [["dash", "-n"], ["busybox", "sh", "-n"]])
def test_shell_collector_parses(shell: list[str]) -> None:
    r = subprocess.run(shell + [str(SH)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""


@pytest.mark.slow
def test_run_collector_in_process(tmp_path: Path) -> None:
    assert collector_path() == PY
    assert collector_path("memsnap.sh") == SH
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "cap"
    rc = run_collector(["--root", str(FAKEROOT), "--interval", "0.5", "--duration", "0.5", "--output", str(out)])
    assert rc == 0
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored
    assert facts(out)["collector"] == "memsnap.py"
    clock_ts = [v[0] for _, v in read_stream(out, "clock")]
    check_slots(clock_ts, log_lines(out), float(facts(out)["started"]), 0.5, 0.5)
    assert len(clock_ts) >= 2  # a sample takes far less than its 0.5 s slot
    assert [v[1:] for _, v in read_stream(out, "vms")] == FAKE_ROWS["vms"][1] * len(clock_ts)
    assert run_collector(["--version"]) == 0
    assert run_collector(["--on-full", "never"]) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_reused_vm_pid_is_not_read_as_the_vm(kind: str, tmp_path: Path, busybox_bin: Path) -> None:
    """VM 1001 exits and an ordinary process gets pid 1001 while the collector runs: from then on
    no row is written for it (its start time in /proc/<pid>/stat changed), and the log says why."""
    root = tmp_path / "root"
    shutil.copytree(FAKEROOT, root, symlinks=True)
    out = tmp_path / "cap"
    proc = start(kind, busybox_bin, ["--root", str(root), "--interval", "0.25", "--output", str(out)])
    wait_rows(out, "vms", 1)  # VM 1001 (the first row) seen
    # what a `bash` with the pid has; its stat last and in one step, so that no sample sees a new
    # start time beside the VM's command line
    (root / "proc" / "1001" / "comm").write_text("bash\n")
    (root / "proc" / "1001" / "cmdline").write_bytes(b"bash\0")
    stat = (root / "proc" / "1001" / "stat").read_text()
    new_stat = root / "proc" / "1001" / "stat.new"
    new_stat.write_text(stat.replace("(qemu-system-x86)", "(bash)").replace(" 0 100 1000 ", " 0 98765 1000 "))
    os.replace(new_stat, root / "proc" / "1001" / "stat")
    # two more samples: at least one began after the change
    wait_rows(out, "clock", stream_files(out, "clock")[0].read_text().count("\n") - 1 + 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=HANG)
    assert proc.returncode == 0, err
    pids = [(v[0], v[1]) for _, v in read_stream(out, "vms")]
    samples = sorted({ts for ts, _ in pids}, key=float)
    with_vm = [ts for ts in samples if (ts, "1001") in pids]
    assert with_vm and with_vm == samples[: len(with_vm)] and len(with_vm) < len(samples)  # stops, never comes back
    assert all((ts, "1002") in pids for ts in samples)  # the other VM goes on
    notes = [m for _, level, m in log_lines(out) if level == "info" and m.startswith("pid 1001: a new process")]
    assert notes == [
        "pid 1001: a new process (start time 100, now 98765): no longer the VM first seen with this pid; looking again"
    ]
