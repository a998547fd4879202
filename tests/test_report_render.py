"""report.html / report.pdf / report.json for a host-week: content and determinism (issue 3). Its
speed is measured by `make bench` (benchmarks/bench_report.py), not asserted here (issue 11)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import synthetic as S

from memreport.analyze import analyze
from memreport.analyze.report_json import build
from memreport.analyze.wording import fmt_bytes
from memreport.render.html import render_html
from memreport.render.pdf import render_pdf
from memreport.render.report import write_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def week_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[S.HostData, Path]:
    data = S.week()
    out = tmp_path_factory.mktemp("report")
    write_report(data, out)
    return data, out


def test_writes_three_files_and_json_matches_the_analysis(week_report) -> None:
    data, out = week_report
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.pdf"]
    doc = json.loads((out / "report.json").read_text())
    assert doc == json.loads(json.dumps(build(analyze(data))))
    assert doc["verdict"] == "CRIT" and len(doc["thrash_windows"]) == 3


def test_html_is_self_contained(week_report) -> None:
    html = (week_report[1] / "report.html").read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html, re.I)
    assert "http://" not in html and "https://" not in html and "@import" not in html and "url(" not in html
    assert html.count("<svg") == 5  # memory, swap rates, pressure (PSI, refaults), KSM, per VM
    assert "Time (UTC)" in html and "GiB" in html and "MiB/s" in html


def _pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def test_pdf_text_has_the_key_numbers(week_report) -> None:
    data, out = week_report
    a = analyze(data)
    text = _pdftotext(out / "report.pdf")
    flat = " ".join(text.split())
    assert "Memory capacity report" in flat and "kvm-week" in flat
    assert "CRIT" in flat
    assert " ".join(a.answer.lines[0].split()) in flat  # the answer, first on page 1
    assert f"{fmt_bytes(a.swap.deficit_bytes, round_up=True)} short" in flat
    assert fmt_bytes(a.swap.peak_inactive_bytes) in flat
    assert fmt_bytes(a.oom.oom_headroom_bytes) in flat
    assert a.ksm.verdict in flat
    for w in a.thrash.windows:
        assert w.start.strftime("%d %b %H:%M:%S") in flat
    pages = int(re.search(r"Page 1 of (\d+)", flat).group(1))  # type: ignore[union-attr]
    assert 5 <= pages <= 12
    assert f"Page {pages} of {pages}" in flat
    assert "2026-11-20 00:00 UTC – 2026-11-27 00:03 UTC" in flat  # running header with the period


def test_pdf_pages_rendered_to_png(week_report) -> None:
    if not shutil.which("pdftoppm"):
        pytest.fail("poppler-utils missing: bash tests/system_deps.sh (make test does)")
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("report-week-*.png"):
        old.unlink()
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", str(week_report[1] / "report.pdf"), str(ARTIFACTS / "report-week")], check=True
    )
    pngs = sorted(ARTIFACTS.glob("report-week-*.png"))
    assert len(pngs) >= 5 and all(p.stat().st_size > 10_000 for p in pngs)


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    data = S.week(days=1, n_vms=3)
    a = analyze(data)
    doc = build(a)
    assert render_html(data, a, doc) == render_html(data, analyze(data), build(analyze(data)))
    first = write_report(data, tmp_path / "one", pdf=False)
    second = write_report(data, tmp_path / "two", pdf=False)
    for key in ("html", "json"):
        assert first[key].read_bytes() == second[key].read_bytes()


def test_atomic_rewrite_leaves_no_temporary_files(tmp_path: Path) -> None:
    data = S.week(days=0.5, n_vms=2)
    (tmp_path / "report.json").write_text("old")
    write_report(data, tmp_path)
    write_report(data, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json", "report.pdf"]
    assert json.loads((tmp_path / "report.json").read_text())["host"] == "kvm-week"


def test_sections_without_data_say_what_is_missing(tmp_path: Path) -> None:
    df = S.samples(n=145, interval_s=600).drop(
        columns=[
            "ksm_pages_sharing_bytes",
            "ksm_pages_shared_bytes",
            "ksm_pages_unshared_bytes",
            "ksm_general_profit",
            "ksm_run",
            "swapin_Bps",
            "swapout_Bps",
        ]
    )
    paths = write_report(S.host(df, name="kvm-sar"), tmp_path)
    flat = " ".join(_pdftotext(paths["pdf"]).split())
    assert "KSM not collected" in flat
    assert "per-VM data" in flat
    assert "swap-in/swap-out rates" in flat
    html = paths["html"].read_text()
    assert html.count("<svg") == 1  # only the memory chart has data


def test_pdf_fetches_nothing_but_data_urls() -> None:
    from weasyprint.urls import FatalURLFetchingError

    # A whole 1-pixel PNG: the truncated GIF this test once used was left blank, which now fails the PDF.
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    ok = render_pdf(f'<p>x<img src="data:image/png;base64,{png}" alt=""></p>')
    assert ok.startswith(b"%PDF")
    for url in ("http://127.0.0.1:9/x.png", "file:///etc/passwd", "https://example.invalid/a.css"):
        with pytest.raises(FatalURLFetchingError):
            render_pdf(f'<p>x<img src="{url}"></p>')


def test_pressure_chart_plots_psi_and_refaults_and_is_absent_without_them() -> None:
    """The thrash section's second chart: PSI full (% of time) and refaults/s where the data has them."""
    from memreport.render.charts import pressure_chart

    df = S.samples(n=360)
    S.plant_rate(df, 600, 1200, 30 * S.MIB, 30 * S.MIB)
    i0, i1 = S.at(df, 610), S.at(df, 1200)
    df.loc[i0:i1, "psi_full_share"] = 0.42
    df.loc[i0:i1, "refault_per_s"] = 5000.0
    a = analyze(S.host(df))
    assert len(a.thrash.windows) == 1
    svg = str(pressure_chart(S.host(df), a))
    assert "PSI memory full" in svg and "refaults/s (right axis)" in svg and "thrash window" in svg
    assert ">50</text>" in svg and ">6000</text>" in svg  # both axes reach the planted 42 % and 5000/s

    quiet = S.samples(n=360)
    quiet["psi_full_share"] = np.nan  # sar / vmstat input: neither PSI nor refault counters
    quiet["refault_per_s"] = np.nan
    assert pressure_chart(S.host(quiet), analyze(S.host(quiet))) is None
