"""Hostile host and VM names come out escaped in HTML, SVG and PDF (issue 3)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from helpers import synthetic as S
from helpers.synthetic import GIB

from memreport.model import Contribution
from memreport.render.report import write_report

HOST = "<script>alert(1)</script>"
VM = "</td><img src=x>"
VM2 = "\"'><svg onload=alert(2)>&amp;"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    df = S.samples(n=361)
    S.plant_rate(df, 600, 900, swapin=10 * 1024**2, swapout=10 * 1024**2)
    vf = S.vms(df["ts"].iloc[::30], [(VM, 2 * GIB, GIB, 600 * 1024**2), (VM2, GIB, GIB // 2, 0)])
    data = S.host(df, vf, name=HOST)
    data.contributions = [Contribution(input="/tmp/<b>bold</b>.tar.xz", kind="sosreport", summary="it's <i>fine</i> & ok")]
    data.facts.kernel = "6.1</div><iframe src=//evil>"
    return write_report(data, tmp_path_factory.mktemp("hostile"))


def test_html_escapes_everything(hostile: dict[str, Path]) -> None:
    html = hostile["html"].read_text()
    assert "<script" not in html.lower()
    assert "<img" not in html.lower() and "<iframe" not in html.lower() and "<svg onload" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;/td&gt;&lt;img src=x&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    # the VM names inside the per-VM chart's SVG text are escaped too
    svg = re.search(r'<svg class="chart chart-vms".*?</svg>', html, re.S)
    assert svg and "&lt;/td&gt;&lt;img src=x&gt;" in svg.group(0)
    # four charts (PSI and refaults stay 0: a sentence instead of the pressure chart, issue 15), no injected svg element
    assert html.count("<svg") == 4 and "No pressure chart: PSI memory full and workingset refaults stayed 0" in html
    assert "&#34;&#39;&gt;&lt;svg onload=alert(2)&gt;&amp;amp;" in html


def test_json_keeps_names_verbatim(hostile: dict[str, Path]) -> None:
    import json

    doc = json.loads(hostile["json"].read_text())
    assert doc["host"] == HOST
    assert {v["name"] for v in doc["vms"]} == {VM, VM2}


def test_pdf_shows_the_names_as_text(hostile: dict[str, Path]) -> None:
    text = subprocess.run(["pdftotext", str(hostile["pdf"]), "-"], check=True, capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    assert HOST in flat
    assert VM in flat
    assert "<b>bold</b>" in flat
