"""The fleet's what-if (issue 14): `memreport fleet … --add-vms 4x8GiB` answers "which hosts can take four more
8 GiB VMs?" as a ranked list. Five generated hosts whose safe-rule numbers are known exactly, through the real
command line, the local pool and a real dask LocalCluster; a rerun with other flags recomputes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli

from memreport.analyze.what_if import parse_change
from memreport.fleet import FleetOptions, run_fleet
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
ADDED = 4 * 8 * GIB

SPECS = [
    # RAM 128 + swap 32 − 32 allocated = 128 GiB headroom now; Inactive ×2 (64 ÷ 32 RAM-backed) = 16 ≤ 32 swap
    HostSpec(hostname="roomy", seed=1, ram_bytes=128 * GIB, swap_bytes=32 * GIB, vm_sizes_gib=(16, 16), **BASE),  # type: ignore[arg-type]
    # 96 + 32 − 32 = 96 now; Inactive ×2 = 16 ≤ 32
    HostSpec(hostname="medium", seed=2, ram_bytes=96 * GIB, swap_bytes=32 * GIB, vm_sizes_gib=(8, 8, 8, 8), **BASE),  # type: ignore[arg-type]
    # 128 RAM with an 80 GiB hugepage pool the four 16 GiB guests use: 128 − 80 + 24 − 16 = 56 now;
    # Inactive ×3 (48 ÷ 16 RAM-backed) = 24 ≤ 24 swap: the bigger host takes less than `medium`
    HostSpec(
        hostname="pooled",
        seed=3,
        ram_bytes=128 * GIB,
        swap_bytes=24 * GIB,
        hugepages_bytes=80 * GIB,
        vm_sizes_gib=(16, 16, 16, 16, 4, 4, 4, 4),
        hugepage_vms=4,
        **BASE,
    ),  # type: ignore[arg-type]
    # 64 + 8 − 32 = 40 now, 8 after: allocations fit, but Inactive ×2 = 16 asks 8 GiB more swap
    HostSpec(hostname="tight", seed=4, ram_bytes=64 * GIB, swap_bytes=8 * GIB, vm_sizes_gib=(8, 8, 8, 8), **BASE),  # type: ignore[arg-type]
    # 64 + 16 − 64 = 16 now, −16 after: 16 GiB of swap (or RAM) to add
    HostSpec(hostname="full", seed=5, ram_bytes=64 * GIB, swap_bytes=16 * GIB, vm_sizes_gib=(16, 16, 16, 16), **BASE),  # type: ignore[arg-type]
]
SAFE_NOW = {"roomy": 128, "medium": 96, "pooled": 56, "tight": 40, "full": 16}
SWAP_TO_ADD_AFTER = {
    "roomy": (0, "none"),
    "medium": (0, "none"),
    "pooled": (0, "none"),
    "tight": (8 * GIB, "peak_inactive"),
    "full": (16 * GIB, "oom_headroom"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("whatif") / "in"
    for s in SPECS:
        write_capture(s, root / s.hostname)
    return root


@pytest.fixture(scope="module")
def cli_run(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("out") / "fleet"
    r = run_cli("fleet", inputs, "-o", out, "-j", "2", "--add-vms", "4x8GiB")
    assert r.returncode == 0, r.stderr
    return out, r


def test_hosts_ranked_for_four_more_8gib_vms(cli_run) -> None:
    out, r = cli_run
    doc = json.loads((out / "fleet.json").read_text())
    w = doc["what_if"]
    assert w["change"] == {
        "add_vms": [{"count": 4, "size_bytes": 8 * GIB, "backing": "anonymous"}],
        "remove_vms": [],
        "swap_bytes": None,
        "ksm": None,
    }
    assert w["sentence"] == "add 4 × 8 GiB VMs"
    # those that take it, the most headroom left first; then those short of swap, the least to add first
    assert w["ranking"] == ["roomy", "medium", "pooled", "tight", "full"]
    assert w["hosts_that_fit"] == 3 and w["hosts_not_known"] == 0
    assert "what if add 4 × 8 GiB VMs: 3 of 5 host(s) take it (best: roomy, medium, pooled)" in r.stdout
    rows = {row["host"]: row for row in doc["hosts"]}
    for rank, host in enumerate(w["ranking"], 1):
        row, after = rows[host], rows[host]["what_if"]
        assert after["rank"] == rank
        # now: the safe rule exactly; after: exactly 32 GiB less, the observed model too
        assert row["safe_free_bytes"] == SAFE_NOW[host] * GIB
        assert after["oom_headroom_bytes"] == (SAFE_NOW[host] - 32) * GIB
        assert after["vm_allocated_bytes"] == row["vm_allocated_bytes"] + ADDED
        assert after["headroom_bytes"] == min(row["safe_free_bytes"], row["observed_free_bytes"]) - ADDED
        assert (after["swap_to_add_bytes"], after["swap_to_add_rule"]) == SWAP_TO_ADD_AFTER[host]
        assert after["fits"] is (rank <= 3) and after["blocker"] == (None if rank <= 3 else "swap")
        assert row["swap_to_add_bytes"] == 0  # now every host has enough: the change is what asks for more
        # the fleet recomputes nothing: the host's own report.json says the same
        own = json.loads((out / row["report"]).with_name("report.json").read_text())["what_if"]
        assert (own["fits"], own["headroom_bytes"], own["answer"]["swap_to_add_bytes"]) == (
            after["fits"],
            after["headroom_bytes"],
            after["swap_to_add_bytes"],
        )
    assert rows["pooled"]["what_if"]["hugepages_unallocated_bytes"] == 16 * GIB  # 80 − 64: the pool is untouched
    assert rows["roomy"]["what_if"]["vms_that_fit"] == rows["roomy"]["what_if"]["headroom_bytes"] // (4 * GIB)


def test_fleet_html_and_pdf_show_the_ranking(cli_run) -> None:
    out, _ = cli_run
    html = (out / "fleet.html").read_text()
    assert "What if: add 4 × 8 GiB VMs" in html and "3 of 5 hosts take it as they are" in html
    section = html[html.index('id="what-if"') :]
    assert [section.index(f">{h}</a>") for h in ("roomy", "medium", "pooled", "tight", "full")] == sorted(
        section.index(f">{h}</a>") for h in ("roomy", "medium", "pooled", "tight", "full")
    )
    assert ">+16 GiB</td>" in section and ">+8 GiB</td>" in section
    text = subprocess.run(
        ["pdftotext", "-layout", str(out / "fleet.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "What if: add 4 × 8 GiB VMs" in text and "with swap" in text


def test_dask_gets_the_change_and_other_flags_recompute(cli_run, inputs: Path, tmp_path: Path) -> None:
    out, _ = cli_run
    local = json.loads((out / "fleet.json").read_text())
    change = parse_change(["4x8GiB"], None, None, None)
    dask = run_fleet([inputs], tmp_path / "dask", FleetOptions(dask_local=2, fleet_pdf=False, change=change))
    assert dask.fleet["run"]["executor"] == "dask-local"
    strip = lambda d: {k: v for k, v in d.items() if k != "run"}  # noqa: E731
    assert strip(json.loads((tmp_path / "dask" / "fleet.json").read_text())) == strip(local)
    # the change is part of the settings: other flags redo every input, the same flags redo none
    bigger = run_fleet(
        [inputs], tmp_path / "dask", FleetOptions(jobs=2, fleet_pdf=False, change=parse_change(["4x16GiB"], None, None, None))
    )
    assert bigger.processed == 5 and bigger.unchanged == 0
    assert bigger.fleet["what_if"]["ranking"] == ["roomy", "medium", "pooled", "tight", "full"]
    assert bigger.fleet["what_if"]["hosts_that_fit"] == 2
    rows = {r["host"]: r["what_if"] for r in bigger.fleet["hosts"]}
    # short by 16 (Inactive ×5 = 40 against 24), 24 (RAM + swap) and 48 GiB (RAM + swap)
    assert [rows[h]["swap_to_add_bytes"] for h in ("pooled", "tight", "full")] == [16 * GIB, 24 * GIB, 48 * GIB]
    assert {h: rows[h]["oom_headroom_bytes"] for h in rows} == {h: (v - 64) * GIB for h, v in SAFE_NOW.items()}
    again = run_fleet(
        [inputs], tmp_path / "dask", FleetOptions(jobs=2, fleet_pdf=False, change=parse_change(["4x16GiB"], None, None, None))
    )
    assert again.processed == 0 and again.unchanged == 5
    plain = run_fleet([inputs], tmp_path / "dask", FleetOptions(jobs=2, fleet_pdf=False))
    assert plain.processed == 5 and plain.fleet["what_if"] is None
    assert all(r["what_if"] is None for r in plain.fleet["hosts"])
