"""Capacity as KVM allocates it (issue 14): hugepage pools, zram, NUMA nodes. Generated hosts with
known answers, through the real command line (`memreport analyze CAPTURE --json`)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

from memreport.synthetic import GIB, HostSpec, write_capture

BASE = dict(
    days=1.0,
    interval_s=300.0,
    thrash=(),
    with_ksm=False,
    active_base_bytes=20 * GIB,
    inactive_base_bytes=4 * GIB,
    inactive_peak_bytes=8 * GIB,
)


def _json(tmp_path: Path, spec: HostSpec, *extra: str) -> dict:
    cap = write_capture(spec, tmp_path / spec.hostname)
    r = run_cli("analyze", cap, "--json", *extra)
    assert r.returncode in (0, 1, 2), r.stderr
    return json.loads(r.stdout)


def test_hugepage_pool_fit_and_the_safe_rule_on_the_rest(tmp_path: Path) -> None:
    # 128 GiB RAM, 80 GiB of it in 2 MiB hugepages; four 16 GiB guests backed by them, four 4 GiB guests not.
    spec = HostSpec(
        hostname="huge",
        ram_bytes=128 * GIB,
        swap_bytes=16 * GIB,
        hugepages_bytes=80 * GIB,
        vm_sizes_gib=(16, 16, 16, 16, 4, 4, 4, 4),
        hugepage_vms=4,
        **BASE,
    )  # type: ignore[arg-type]
    doc = _json(tmp_path, spec)
    assert doc["hugepages"] == {
        "page_size_bytes": 2 * 1024**2,
        "total_bytes": 80 * GIB,
        "free_bytes": 16 * GIB,
        "reserved_bytes": 0,
        "vm_allocated_bytes": 64 * GIB,
        "vm_count": 4,
        "source": "sysfs pools",
        "anon_huge_peak_bytes": doc["hugepages"]["anon_huge_peak_bytes"],
        "pools": [
            {"page_size_bytes": 2 * 1024**2, "total_bytes": 80 * GIB, "free_bytes": 16 * GIB, "reserved_bytes": 0},
            {"page_size_bytes": GIB, "total_bytes": 0, "free_bytes": 0, "reserved_bytes": 0},
        ],
    }
    # the others against RAM − pool + swap: 128 − 80 + 16 − 16 = 32 GiB ... of which 16 GiB allocated
    assert doc["capacity_models"]["safe"] == {
        "capacity_bytes": 64 * GIB,
        "used_bytes": 16 * GIB,
        "free_bytes": 48 * GIB,
        "more_vms": 12,
    }
    assert doc["capacity_models"]["naive"]["capacity_bytes"] == 48 * GIB
    assert doc["oom_headroom_bytes"] == 48 * GIB
    assert doc["vm_allocated_bytes"] == 80 * GIB  # every guest, as allocated
    # the pool: 80 − 64 = 16 GiB not allocated = four more 4 GiB hugepage-backed guests
    assert doc["answer"]["vms_that_fit_hugepages"] == 4
    assert "backed by hugepages: 4 (the 80 GiB pool has 16 GiB not allocated to VMs)" in doc["answer"]["lines"][2]
    # the swap rule on the rest: peak Inactive (hugepages are never on the LRU lists) against the swap
    assert doc["peak_inactive_bytes"] == 8 * GIB and doc["swap_deficit_bytes"] == 8 * GIB - 16 * GIB
    assert doc["answer"]["swap_to_add_bytes"] == 0
    assert [v["backing"] for v in doc["vms"]] == ["hugepages"] * 4 + ["anonymous"] * 4
    ok = next(f for f in doc["findings"] if f["id"] == "hugepages.pool")
    assert ok["severity"] == "OK" and ok["evidence"]["vm_allocated_bytes"] == 64 * GIB


def test_hugepage_backed_guests_beyond_the_pool_are_critical(tmp_path: Path) -> None:
    spec = HostSpec(
        hostname="short-pool",
        ram_bytes=128 * GIB,
        swap_bytes=16 * GIB,
        hugepages_bytes=48 * GIB,
        vm_sizes_gib=(16, 16, 16, 16, 4),
        hugepage_vms=4,
        **BASE,
    )  # type: ignore[arg-type]
    doc = _json(tmp_path, spec)
    f = next(f for f in doc["findings"] if f["id"] == "hugepages.overallocated")
    assert f["severity"] == "CRIT" and f["title"] == "Hugepage-backed VMs need 16 GiB more than the hugepage pool"
    assert doc["answer"]["vms_that_fit_hugepages"] == 0
    # the one RAM-backed guest: 128 − 48 + 16 − 4 = 92 GiB headroom
    assert doc["oom_headroom_bytes"] == 92 * GIB


def test_zram_is_not_counted_as_capacity_beyond_ram(tmp_path: Path) -> None:
    # 64 GiB RAM, 16 GiB of swap on /dev/zram0 and nothing else; 64 GiB allocated.
    spec = HostSpec(
        hostname="zram", ram_bytes=64 * GIB, swap_bytes=16 * GIB, swap_device="/dev/zram0", vm_sizes_gib=(16, 16, 16, 16), **BASE
    )  # type: ignore[arg-type]
    doc = _json(tmp_path, spec)
    assert doc["swap_devices"]["zram_bytes"] == 16 * GIB and doc["swap_devices"]["zram_devices"] == ["/dev/zram0"]
    assert doc["swap_devices"]["disk_bytes"] == 0
    # RAM + swap would be 80 GiB; zram lives in the same RAM: 64 − 64 = 0 headroom, no VM fits by the safe rule
    assert doc["oom_headroom_bytes"] == 0
    assert doc["capacity_models"]["safe"] == {"capacity_bytes": 64 * GIB, "used_bytes": 64 * GIB, "free_bytes": 0, "more_vms": 0}
    assert doc["swap_total_bytes"] == 0  # the swap the sizing rule counts
    # the observed model: zram's pages already sit in MemTotal − MemAvailable, so swap used on zram is not
    # counted again on top (peak use is the raw meminfo's, with no swap term)
    rows = [line.split("\t") for p in sorted((tmp_path / "zram").glob("meminfo.*.tsv")) for line in p.read_text().splitlines()]
    header = rows[0][1:] if rows[0][0] == "#ts" else None
    assert header is not None
    col = {k: i + 1 for i, k in enumerate(header)}
    data = [r for r in rows if r[0] != "#ts"]
    assert min(int(r[col["SwapTotal"]]) - int(r[col["SwapFree"]]) for r in data) > 0  # zram really holds pages
    peak = max((int(r[col["MemTotal"]]) - int(r[col["MemAvailable"]])) * 1024 for r in data)
    assert doc["capacity_models"]["observed"]["used_bytes"] == peak
    assert doc["capacity_models"]["observed"]["free_bytes"] == 64 * GIB - peak
    none = next(f for f in doc["findings"] if f["id"] == "swap.none")
    assert none["title"].startswith("No swap beyond zram")
    assert "16 GiB of zram, compressed into RAM" in none["detail"]
    assert "16 GiB of zram swap is not counted" in doc["answer"]["lines"][0]
    # the report's labels say what the headroom and the observed model count on this host
    r = run_cli("report", tmp_path / "zram", "-o", tmp_path / "out", "--no-pdf")
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "out" / "zram" / "report.html").read_text()
    assert "OOM headroom (RAM + disk swap (zram not counted) − allocated)" in html
    assert "peak of MemTotal − MemAvailable + disk swap used (zram&#39;s pages are already in RAM)" in html
    assert "<th>OOM headroom (RAM + swap − allocated)</th>" not in html


def test_numa_node_that_ran_out_while_another_was_free_is_flagged(tmp_path: Path) -> None:
    spec = HostSpec(
        hostname="numa", ram_bytes=128 * GIB, swap_bytes=16 * GIB, numa_nodes=2, numa_short_node=1, vm_sizes_gib=(16, 16), **BASE
    )  # type: ignore[arg-type]
    doc = _json(tmp_path, spec)
    nodes = {n["node"]: n for n in doc["numa_nodes"]}
    assert set(nodes) == {0, 1}
    assert nodes[0]["memory_total_bytes"] == nodes[1]["memory_total_bytes"] == 64 * GIB
    assert nodes[1]["flagged"] and not nodes[0]["flagged"]
    assert nodes[1]["lowest_free_bytes"] == int(64 * GIB * 0.005) // 1024 * 1024
    f = [f for f in doc["findings"] if f["id"] == "numa.node_short"]
    assert [x["evidence"]["node"] for x in f] == [1] and f[0]["severity"] == "WARN"
    # the same host with even nodes: nothing flagged
    even = _json(
        tmp_path / "even",
        HostSpec(hostname="numa-even", ram_bytes=128 * GIB, swap_bytes=16 * GIB, numa_nodes=2, vm_sizes_gib=(16, 16), **BASE),
    )  # type: ignore[arg-type]
    assert not any(n["flagged"] for n in even["numa_nodes"])
    assert not [f for f in even["findings"] if f["id"] == "numa.node_short"]


def test_add_vms_moves_allocation_headroom_and_fit_by_exactly_the_added_amount(tmp_path: Path) -> None:
    spec = HostSpec(
        hostname="whatif",
        ram_bytes=128 * GIB,
        swap_bytes=16 * GIB,
        hugepages_bytes=80 * GIB,
        vm_sizes_gib=(16, 16, 16, 16, 4, 4, 4, 4),
        hugepage_vms=4,
        **BASE,
    )  # type: ignore[arg-type]
    doc = _json(tmp_path, spec, "--add-vms", "4x8GiB", "--add-vms", "1x8GiB:hugepages")
    w = doc["what_if"]
    assert w["change"] == {
        "add_vms": [
            {"count": 4, "size_bytes": 8 * GIB, "backing": "anonymous"},
            {"count": 1, "size_bytes": 8 * GIB, "backing": "hugepages"},
        ],
        "remove_vms": [],
        "swap_bytes": None,
        "ksm": None,
    }
    assert w["vm_allocated_bytes"] - doc["vm_allocated_bytes"] == 40 * GIB
    assert doc["oom_headroom_bytes"] - w["oom_headroom_bytes"] == 32 * GIB  # the hugepage-backed one fits the pool
    assert doc["answer"]["vms_that_fit_hugepages"] - w["answer"]["vms_that_fit_hugepages"] == 2  # 8 GiB = two 4 GiB
    # the swap rule: peak Inactive scaled by the RAM-backed allocation after ÷ before (48 ÷ 16)
    assert w["swap_required_bytes"] == 3 * doc["peak_inactive_bytes"]
    assert any("scaled by 3.000" in m for m in w["method"])


def test_what_if_in_the_report_and_bad_values(tmp_path: Path) -> None:
    spec = HostSpec(hostname="whatif2", ram_bytes=64 * GIB, swap_bytes=16 * GIB, vm_sizes_gib=(8, 8), **BASE)  # type: ignore[arg-type]
    cap = write_capture(spec, tmp_path / "cap")
    r = run_cli("report", cap, "-o", tmp_path / "out", "--no-pdf", "--add-vms", "2x8GiB", "--swap", "32GiB")
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "out" / "whatif2" / "report.html").read_text()
    assert "What if: add 2 × 8 GiB VMs, swap 32 GiB" in html and "<th>Now</th><th>After</th>" in html
    doc = json.loads((tmp_path / "out" / "whatif2" / "report.json").read_text())
    # 64 + 16 − 16 = 64 GiB now; after: 64 + 32 − 32 = 64 GiB (16 GiB more swap, 16 GiB more allocated)
    assert doc["oom_headroom_bytes"] == 64 * GIB and doc["what_if"]["oom_headroom_bytes"] == 64 * GIB
    assert doc["what_if"]["swap_total_bytes"] == 32 * GIB
    bad = run_cli("analyze", cap, "--add-vms", "four")
    assert bad.returncode == 3 and bad.stderr.strip().splitlines()[-1].startswith(
        "memreport: error: --add-vms 'four': expected COUNTxSIZE"
    )
    gone = run_cli("analyze", cap, "--remove-vm", "nosuch")
    assert gone.returncode == 3 and "--remove-vm 'nosuch': no VM of that name in the data" in gone.stderr


def test_numa_free_memory_is_counted_outside_each_nodes_hugepage_pool() -> None:
    """Per-node hugepage rows (issue 14 follow-up): a node holding a 56 GiB pool has 8 GiB of its 64 GiB that
    MemFree can ever show. 1 GiB free there is 12.5 % of what it has, not a node out of memory; 0.1 GiB is."""
    import pandas as pd

    from memreport.analyze.numa import check_numa
    from memreport.config import Thresholds

    ts = pd.to_datetime([1_763_337_600, 1_763_337_660], unit="s", utc=True)

    def frames(node1_free: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        numa = pd.DataFrame(
            {
                "ts": list(ts) * 2,
                "node": [0, 0, 1, 1],
                "memory_total_bytes": [64 * GIB] * 4,
                "memory_free_bytes": [20 * GIB, 20 * GIB, 4 * GIB, int(node1_free * GIB)],
                "hugepages_total": [0, 0, 28672, 28672],
            }
        )
        hp = pd.DataFrame(
            {
                "ts": list(ts) * 2,
                "node": [1, 1, 1, 1],
                "page_size_bytes": [2 * 1024**2] * 2 + [GIB] * 2,
                "total_bytes": [48 * GIB, 48 * GIB, 8 * GIB, 8 * GIB],
            }
        )  # 56 GiB in two sizes
        return numa, hp

    numa, hp = frames(1.0)
    r = check_numa(numa, Thresholds(), hp, 2 * 1024**2)
    n1 = next(n for n in r.nodes if n.node == 1)
    assert n1.hugepages_total_bytes == 56 * GIB and n1.lowest_free_percent == 12.5
    assert n1.host_free_percent_then == 21 / 72 * 100  # Σ free ÷ Σ (MemTotal − pools)
    assert not n1.flagged and not r.findings  # against MemTotal alone it read 1.6 % and was flagged
    numa_short, hp_short = frames(0.1)
    short = check_numa(numa_short, Thresholds(), hp_short, 2 * 1024**2)
    flagged = [f for f in short.findings if f.id == "numa.node_short"]
    assert [f.evidence["node"] for f in flagged] == [1] and "outside its 56 GiB of hugepages" in flagged[0].detail
    # without per-node pools the node's HugePages_Total × the default size stands in (28672 × 2 MiB = 56 GiB)
    alone = check_numa(numa, Thresholds(), None, 2 * 1024**2)
    assert next(n for n in alone.nodes if n.node == 1).lowest_free_percent == 12.5
