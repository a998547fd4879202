"""End to end on sample_data through the real CLI: the README's main job, checked against an
independent reading of the raw capture files."""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest
from conftest import HANG, ROOT

from memreport.units import parse_qemu_mem_arg

SAMPLE = ROOT / "sample_data" / "kvm-sample"


def raw(source: str) -> tuple[list[str], list[list[str]]]:
    header, rows = None, []
    for p in sorted(SAMPLE.glob(f"{source}.*")):
        text = gzip.decompress(p.read_bytes()).decode() if p.name.endswith(".gz") else p.read_text()
        lines = text.splitlines()
        header = lines[0][1:].split("\t")
        rows += [line.split("\t") for line in lines[1:]]
    assert header is not None
    return header, rows


@pytest.fixture(scope="module")
def report(
    tmp_path_factory,
):
    out = tmp_path_factory.mktemp("out")
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "memreport"), "report", str(SAMPLE), "-o", str(out), "--eml"],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("kvm-sample: CRIT")
    return out / "kvm-sample"


def test_three_files_and_json_equal_the_raw_samples(report):
    assert {p.name for p in report.iterdir()} >= {"report.html", "report.pdf", "report.json"}
    doc = json.loads((report / "report.json").read_text())
    header, rows = raw("meminfo")
    inactive = [int(r[header.index("Inactive")]) * 1024 for r in rows]
    anon = [int(r[header.index("Inactive(anon)")]) * 1024 for r in rows]
    i = max(range(len(inactive)), key=inactive.__getitem__)
    swap_total = int(rows[-1][header.index("SwapTotal")]) * 1024
    ram = int(rows[-1][header.index("MemTotal")]) * 1024
    assert doc["host"] == "kvm-sample" and doc["verdict"] == "CRIT"
    assert doc["peak_inactive_bytes"] == max(inactive)
    assert doc["peak_inactive_anon_bytes"] == max(anon)
    assert doc["peak_inactive_at"].startswith(
        __import__("datetime")
        .datetime.fromtimestamp(float(rows[i][0]), __import__("datetime").timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert doc["swap_total_bytes"] == swap_total and doc["memory_total_bytes"] == ram
    assert doc["swap_deficit_bytes"] == max(inactive) - swap_total
    dh, drows = raw("vmdefs")
    allocated = sum(parse_qemu_mem_arg(r[dh.index("mem_arg")])[0] for r in drows)
    assert doc["vm_allocated_bytes"] == allocated
    assert doc["oom_headroom_bytes"] == ram + swap_total - allocated
    assert len(doc["thrash_windows"]) == 3  # the generator planted three episodes
    kh, krows = raw("ksm")
    assert doc["ksm_saved_bytes"] == max(int(r[kh.index("pages_sharing")]) for r in krows) * 4096
    # no hugepage pool (HugePages_Total 0 on every sample) and no guest on one: every VM against RAM + swap
    assert {r[header.index("HugePages_Total")] for r in rows} == {"0"} and doc["hugepages"] is None
    assert {r[dh.index("mem_backend")] for r in drows} == {"-"} and {v["backing"] for v in doc["vms"]} == {"anonymous"}


def test_the_generator_writes_the_committed_sample(tmp_path):
    """`make sample-data` and sample_data/kvm-sample agree byte for byte in content (issue 14: the
    generator gained hugepage fields and vmdefs mem_backend while the committed sample kept the old bytes)."""
    import runpy
    from pathlib import Path

    def content(path: Path) -> bytes:
        # gzip's header is not the content: Python 3.13 writes its OS byte as 255 (unknown), earlier
        # Pythons as 3 (Unix), and another zlib may deflate the same bytes differently.
        data = path.read_bytes()
        return gzip.decompress(data) if path.name.endswith(".gz") else data

    runpy.run_path(str(ROOT / "sample_data" / "generate.py"))["main"](tmp_path / "kvm-sample")
    ours = {p.name: content(p) for p in (tmp_path / "kvm-sample").iterdir()}
    assert sorted(ours) == sorted(p.name for p in SAMPLE.iterdir())
    assert [n for n in sorted(ours) if ours[n] != content(SAMPLE / n)] == []


def test_report_eml_carries_the_pdf_and_the_charts(report):
    from email import policy
    from email.parser import BytesParser

    msg = BytesParser(policy=policy.default).parse((report / "report.eml").open("rb"))
    assert msg["Subject"].startswith("[memreport] kvm-sample: CRIT")
    pdf = [p for p in msg.walk() if p.get_content_type() == "application/pdf"]
    assert len(pdf) == 1 and pdf[0].get_content() == (report / "report.pdf").read_bytes()
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    cids = {p["Content-ID"].strip("<>") for p in msg.walk() if p.get_content_type() == "image/png"}
    assert cids and all(f"cid:{c}" in html for c in cids)


def test_pdf_text_has_the_key_numbers(report):
    text = subprocess.run(
        ["pdftotext", "-layout", str(report / "report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "kvm-sample" in text and "CRIT" in text
    flat = " ".join(text.split())
    # One swap figure at the top: the OOM rule's 20 GiB, which also covers rule 1's 3.5 GiB.
    assert "Add 20 GiB of swap (or RAM): VMs are allocated 20 GiB beyond RAM + swap" in flat
    assert "peak Inactive 19.5 GiB needs 3.5 GiB more" in flat
    assert "19.5 GiB" in text  # the planted Inactive peak


def test_analyze_exit_code_is_the_verdict(cli):
    proc = cli("analyze", SAMPLE)
    assert proc.returncode == 2 and proc.stdout.startswith("kvm-sample: CRIT")
    proc = cli("analyze", SAMPLE, "--json")
    assert proc.returncode == 2 and json.loads(proc.stdout)["verdict"] == "CRIT"
    proc = cli("analyze", SAMPLE, "--set", "no.such.setting=1")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
