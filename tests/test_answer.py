"""The answer (issue 9): one bottom line per host, the same in the report, `analyze`, the mail and the
fleet, with its confidence and the cause of any thrash. End to end through the CLI on captures."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from memreport.config import load_thresholds
from memreport.fleet import FleetOptions, run_fleet
from memreport.synthetic import GIB, HostSpec, Thrash, write_capture

SAMPLE = ROOT / "sample_data" / "kvm-sample"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(path: Path) -> str:
    p = _Text()
    p.feed(path.read_text())
    return " ".join(" ".join(p.parts).split())


@pytest.fixture(scope="module")
def sample_8g(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sample host through report, analyze and fleet, all with --vm-size 8GiB."""
    out = tmp_path_factory.mktemp("answer")
    run_cli("report", SAMPLE, "-o", out / "r", "--vm-size", "8GiB", "--no-pdf", check=True)
    summary = run_cli("analyze", SAMPLE, "--vm-size", "8GiB")
    as_json = json.loads(run_cli("analyze", SAMPLE, "--vm-size", "8GiB", "--json").stdout)
    t = load_thresholds(None, ["oom.new_vm_bytes=8GiB"])
    run_fleet([SAMPLE], out / "f", FleetOptions(jobs=1, fleet_pdf=False, vm_size_bytes=t.oom_new_vm_bytes, thresholds=t))
    return {
        "report": json.loads((out / "r" / "kvm-sample" / "report.json").read_text()),
        "html": html_text(out / "r" / "kvm-sample" / "report.html"),
        "summary": summary,
        "json": as_json,
        "fleet": json.loads((out / "f" / "fleet.json").read_text()),
    }


def test_sample_has_one_swap_figure_and_one_fit_figure(sample_8g: dict) -> None:
    ans = sample_8g["report"]["answer"]
    # The OOM rule asks 20 GiB, rule 1 only 3.5 GiB: one figure, the larger, with the other covered.
    assert ans["swap_to_add_bytes"] == 20 * GIB and ans["swap_to_add_rule"] == "oom_headroom"
    assert ans["swap_to_add_bytes"] >= -sample_8g["report"]["oom_headroom_bytes"]
    assert ans["lines"][0].startswith("Add 20 GiB of swap (or RAM): VMs are allocated 20 GiB beyond RAM + swap")
    assert "peak Inactive 19.5 GiB needs 3.5 GiB more" in ans["lines"][0]
    assert ans["vm_size_bytes"] == 8 * GIB and ans["vms_that_fit"] == 0 and ans["vms_that_fit_model"] == "safe"
    assert ans["thrash"] == {"windows": 3, "seconds": 4620.0, "cause": "host_memory_short"}
    assert ans["ksm"] == "keep" and ans["confidence"] == "high"
    # No other "add … of swap" figure anywhere in the report.
    adds = set(re.findall(r"[Aa]dd (?:at least )?([0-9.]+ [KMGT]iB) of swap", sample_8g["html"]))
    assert adds == {"20 GiB"}, adds


def test_the_answer_reads_the_same_everywhere(sample_8g: dict) -> None:
    lines = sample_8g["report"]["answer"]["lines"]
    assert sample_8g["json"]["answer"] == sample_8g["report"]["answer"]
    # analyze: the verdict line, then the answer's lines
    out = sample_8g["summary"].stdout.splitlines()
    assert [x.strip() for x in out[1:6]] == lines
    assert sample_8g["summary"].returncode == 2
    # the report's top, before the key numbers
    html = sample_8g["html"]
    assert html.index("The answer") < html.index(lines[0]) < html.index("Top findings")
    # the fleet row
    (row,) = sample_8g["fleet"]["hosts"]
    assert row["swap_to_add_bytes"] == 20 * GIB and row["vms_that_fit"] == 0 and row["answer_lines"] == lines
    assert row["headroom_vms"] == row["vms_that_fit"] and sample_8g["fleet"]["vm_size_bytes"] == 8 * GIB


def test_vm_size_moves_the_fit_the_same_way_in_report_and_analyze(tmp_path: Path) -> None:
    """Regression (issue 9): the host report counted 512 MiB VMs and the fleet 4 GiB ones."""
    spec = HostSpec(hostname="kvm-roomy", seed=3, days=1, interval_s=300, ram_bytes=256 * GIB, swap_bytes=32 * GIB, thrash=())
    write_capture(spec, tmp_path / "c")
    docs = {
        size: json.loads(run_cli("analyze", tmp_path / "c", "--json", *(["--vm-size", size] if size else [])).stdout)
        for size in (None, "4GiB", "16GiB")
    }
    assert docs[None]["answer"] == docs["4GiB"]["answer"]  # 4 GiB is the default
    free = min(docs[None]["capacity_models"]["safe"]["free_bytes"], docs[None]["capacity_models"]["observed"]["free_bytes"])
    assert docs["4GiB"]["answer"]["vms_that_fit"] == free // (4 * GIB) > 0
    assert docs["16GiB"]["answer"]["vms_that_fit"] == free // (16 * GIB)


def test_a_five_second_capture_is_low_confidence_not_crit(tmp_path: Path) -> None:
    """Regression (issue 9): a 5-second capture got CRIT "swap too small"."""
    spec = HostSpec(hostname="kvm-blink", seed=4, days=5 / 86400, interval_s=1, swap_bytes=4 * GIB, thrash=(), with_vms=False)
    write_capture(spec, tmp_path / "c")
    proc = run_cli("analyze", tmp_path / "c", "--json")
    doc = json.loads(proc.stdout)
    assert doc["answer"]["confidence"] == "low" and "too short" in doc["answer"]["confidence_reason"]
    deficit = next(f for f in doc["findings"] if f["id"] == "swap.deficit")
    assert deficit["severity"] == "WARN" and deficit["evidence"]["capped_by_confidence"] == "low"
    assert "collect at least a week" in deficit["recommendation"]
    assert doc["verdict"] != "CRIT" and proc.returncode != 2


def test_swapping_under_a_memory_limit_is_not_blamed_on_the_host(tmp_path: Path) -> None:
    """Regression (issue 9): cgroup-limited swapping was told "memory in use exceeds RAM"."""
    spec = HostSpec(
        hostname="kvm-capped",
        seed=6,
        days=0.5,
        interval_s=60,
        thrash_host_short=False,
        with_vms=False,
        thrash=(Thrash(4 * 3600, 30 * 60, 40 * 1024**2, 20 * 1024**2),),
    )
    write_capture(spec, tmp_path / "c")
    run_cli("report", tmp_path / "c", "-o", tmp_path / "out", "--no-pdf", check=True)
    doc = json.loads((tmp_path / "out" / "kvm-capped" / "report.json").read_text())
    assert doc["answer"]["thrash"]["cause"] == "memory_limit"
    assert [w["cause"] for w in doc["thrash_windows"]] == ["memory_limit"]
    text = html_text(tmp_path / "out" / "kvm-capped" / "report.html")
    assert "exceeds RAM" not in text and "per-VM table" not in text
    assert "memtune" in doc["answer"]["lines"][1]


def test_the_same_host_short_of_memory_is_told_so(tmp_path: Path) -> None:
    spec = HostSpec(
        hostname="kvm-short",
        seed=6,
        days=0.5,
        interval_s=60,
        with_vms=False,
        thrash=(Thrash(4 * 3600, 30 * 60, 40 * 1024**2, 20 * 1024**2),),
    )
    write_capture(spec, tmp_path / "c")
    doc = json.loads(run_cli("analyze", tmp_path / "c", "--json").stdout)
    assert doc["answer"]["thrash"]["cause"] == "host_memory_short"
    assert doc["thrash_windows"][0]["min_available_percent"] < 20


def test_analyze_exits_unknown_when_nothing_can_be_answered(tmp_path: Path) -> None:
    snap = tmp_path / "tree" / "2026-11-20T10:00:00Z" / "proc"
    snap.mkdir(parents=True)
    (snap / "meminfo").write_text("MemTotal:       16777216 kB\nMemFree:         1048576 kB\n")
    proc = run_cli("analyze", tmp_path / "tree")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Swap: not known" in proc.stdout and "not known" in proc.stdout.splitlines()[3]
