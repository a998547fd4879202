"""Issue 11, defect 8: a 5000-character VM name made PDF rendering run > 400 s (weasyprint's table
layout). Names are bounded on every page (the full name stays in report.json and fleet.json) and a PDF
has a deadline (render.pdf_timeout_s) in `report`, `fleet --pdf` and fleet.pdf: when it passes, the
PDF is not written, the HTML and JSON are, and the run says so in one line and fails."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from helpers import synthetic as S
from helpers.synthetic import GIB, MIB

from memreport.config import Thresholds, load_thresholds
from memreport.errors import ConfigError, RenderError
from memreport.fleet import FleetOptions, run_fleet, state
from memreport.render.formatters import NAME_MAX_CHARS, fit_name, fit_path, fit_text, name_html
from memreport.render.pdf import render_pdf
from memreport.render.report import write_report
from memreport.synthetic import HostSpec, write_capture

VM = "vm-" + "x" * 4997  # 5000 characters, no break opportunity
HOST = "kvm-" + "h" * 4996
DEADLINE = "render.pdf_timeout_s=0.01"  # far less than any PDF takes: weasyprint needs a second or more


def squeeze(text: str) -> str:
    """Without whitespace and hyphens: a name broken over lines reads as one word again (pdftotext drops
    the hyphen at the end of a line, where `kvm-` broke)."""
    return re.sub(r"[\s-]+", "", text)


def page_text(pdf: Path) -> str:
    return squeeze(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout)


@pytest.fixture(scope="module")
def long_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = HostSpec(hostname=HOST, days=0.2, interval_s=60, vm_sizes_gib=(16, 8, 4), vm_names=(VM, "web01", "db01"))
    return write_capture(spec, tmp_path_factory.mktemp("long") / "long")


@pytest.fixture(scope="module")
def small_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_capture(HostSpec(hostname="kvm-small", days=0.2, interval_s=60), tmp_path_factory.mktemp("small") / "small")


# ---------------------------------------------------------------- the display bound


def test_fit_filters_cut_with_an_ellipsis() -> None:
    assert fit_name("web01") == "web01"
    assert fit_name(VM) == VM[: NAME_MAX_CHARS - 1] + "…" and len(fit_name(VM)) == NAME_MAX_CHARS
    assert fit_name("a\x00b\x1bc") == "a b c"  # no control characters on a page
    path = "/srv/customers/" + "d" * 300 + "/sosreport-kvm01.tar.xz"
    cut = fit_path(path)
    assert len(cut) == 120 and cut.startswith("/srv/customers/") and cut.endswith("/sosreport-kvm01.tar.xz") and "…" in cut
    assert fit_text(f"Peak VmSwap: {VM} (600 MiB), web01 (1 GiB).") == f"Peak VmSwap: {fit_name(VM)} (600 MiB), web01 (1 GiB)."
    assert fit_text("word " * 1000) == ("word " * 1000)[:1999] + "…"


def test_name_html_keeps_the_full_name_in_a_title_escaped() -> None:
    hostile = "<b>" + "x" * 100
    assert name_html("<b>") == "&lt;b&gt;"
    assert str(name_html(hostile)) == (
        f'<span class="cut" title="&lt;b&gt;{"x" * 100}">&lt;b&gt;{"x" * (NAME_MAX_CHARS - 4)}…</span>'
    )


# ---------------------------------------------------------------- report


def test_report_renders_the_pdf_of_5000_character_names(long_capture: Path, tmp_path: Path) -> None:
    r = run_cli("report", long_capture, "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    (d,) = tmp_path.iterdir()
    assert sorted(p.name for p in d.iterdir()) == ["report.html", "report.json", "report.pdf"]
    text = page_text(d / "report.pdf")
    assert squeeze(fit_name(VM)) in text and squeeze(VM[: NAME_MAX_CHARS + 20]) not in text  # the VM table: cut
    assert squeeze(fit_name(HOST)) in text and squeeze(HOST[: NAME_MAX_CHARS + 20]) not in text  # the title block
    assert squeeze(fit_name(HOST, 48)) in text  # the running header of pages 2 …
    doc = json.loads((d / "report.json").read_text())
    assert doc["host"] == HOST and [v["name"] for v in doc["vms"]][0] == VM  # whole in report.json
    page = (d / "report.html").read_text()
    assert f'<td class="name"><span class="cut" title="{VM}">{fit_name(VM)}</span></td>' in page
    assert f'<div class="host"><span class="cut" title="{HOST}">{fit_name(HOST)}</span></div>' in page
    assert f"<title>Memory capacity report: {fit_name(HOST)}</title>" in page


def test_a_finding_quoting_a_long_vm_name_is_cut_on_the_page(tmp_path: Path) -> None:
    df = S.samples(n=361)
    vf = S.vms(df["ts"].iloc[::30], [(VM, 2 * GIB, GIB, 600 * MIB), ("web01", GIB, GIB // 2, 0)])
    written = write_report(S.host(df, vf, name="kvm01"), tmp_path)
    doc = json.loads(written["json"].read_text())
    (swapped,) = [f for f in doc["findings"] if f["id"] == "vms.swapped"]
    assert VM in swapped["detail"]  # report.json: the whole sentence
    page = html_lib.unescape(re.sub(r"<[^>]+>", " ", written["html"].read_text()))
    assert f"Peak VmSwap: {fit_name(VM)} (600 MiB)." in page
    assert VM[: NAME_MAX_CHARS + 20] not in page.replace(f'title="{VM}"', "")
    assert squeeze(f"Peak VmSwap: {fit_name(VM)} (600 MiB).") in page_text(written["pdf"])


def test_report_pdf_past_its_deadline_is_not_written(small_capture: Path, tmp_path: Path) -> None:
    assert run_cli("report", small_capture, "-o", tmp_path).returncode == 0
    d = tmp_path / "kvm-small"
    assert (d / "report.pdf").is_file()  # from the run before: it must not outlive the next one
    r = run_cli("report", small_capture, "-o", tmp_path, "--set", DEADLINE)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"memreport: error: kvm-small: {d}/report.pdf not written: rendering took longer than its 0.01 s deadline "
        "(setting render.pdf_timeout_s); report.html and report.json are written"
    ]
    assert sorted(p.name for p in d.iterdir()) == ["report.html", "report.json"]
    assert json.loads((d / "report.json").read_text())["thresholds"]["render.pdf_timeout_s"] == 0.01
    assert "kvm-small" in (d / "report.html").read_text()
    assert r.stdout.splitlines()[1:] == [f"  {d}/report.json", f"  {d}/report.html"]


def _children() -> set[int]:
    me = os.getpid()
    return {int(pid) for task in Path(f"/proc/{me}/task").iterdir() for pid in (task / "children").read_text().split()}


def test_the_renderer_is_killed_and_reaped_at_the_deadline() -> None:
    html = "<p>" + "word " * 20000 + "</p>"
    before = _children()
    with pytest.raises(RenderError, match=r"^rendering took longer than its 0.01 s deadline \(setting render.pdf_timeout_s\)$"):
        render_pdf(html, 0.01)
    assert _children() == before  # no child left running, no zombie


def test_the_renderer_child_raises_what_weasyprint_raised() -> None:
    from weasyprint.urls import FatalURLFetchingError

    assert render_pdf("<p>x</p>", 600).startswith(b"%PDF-")
    with pytest.raises(FatalURLFetchingError, match="only data: URLs"):
        render_pdf('<p>x<img src="http://127.0.0.1:9/x.png"></p>', 600)


def test_the_deadline_setting_is_checked() -> None:
    assert Thresholds().render_pdf_timeout_s == 120.0
    assert load_thresholds(overrides=["render.pdf_timeout_s=0"]).render_pdf_timeout_s == 0.0  # no deadline
    for bad in ("-1", "abc", "inf"):
        with pytest.raises(ConfigError, match="render.pdf_timeout_s"):
            load_thresholds(overrides=[f"render.pdf_timeout_s={bad}"])


def test_the_mail_shows_long_names_cut(tmp_path: Path) -> None:
    from memreport.mail import build_message

    df = S.samples(n=361)
    vf = S.vms(df["ts"].iloc[::30], [(VM, 2 * GIB, GIB, 600 * MIB)])
    write_report(S.host(df, vf, name=HOST), tmp_path, pdf=False)
    body = build_message(tmp_path).get_body(("html",)).get_content()  # type: ignore[union-attr]
    shown = html_lib.unescape(re.sub(r"<[^>]+>", " ", body))
    assert fit_name(HOST) in shown and fit_name(VM) in shown
    assert HOST[: NAME_MAX_CHARS + 20] not in shown and VM[: NAME_MAX_CHARS + 20] not in shown


# ---------------------------------------------------------------- fleet


def test_fleet_pdf_of_5000_character_names(long_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = run_fleet([long_capture], out, FleetOptions(jobs=1, pdf=True, fleet_pdf=True))
    assert result.failed == [] and result.pdf_errors == []
    (row,) = result.fleet["hosts"]
    assert row["host"] == HOST and row["pdf_error"] is None  # whole in fleet.json
    text = page_text(out / "fleet.pdf")
    assert squeeze(fit_name(HOST)) in text and squeeze(HOST[: NAME_MAX_CHARS + 20]) not in text
    report = page_text(out / row["report"].replace("report.html", "report.pdf"))
    assert squeeze(fit_name(VM)) in report and squeeze(VM[: NAME_MAX_CHARS + 20]) not in report


def test_fleet_pdfs_past_their_deadline(small_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    first = run_fleet([small_capture], out, FleetOptions(jobs=1, pdf=True, fleet_pdf=True))
    assert first.pdf_errors == [] and (out / "fleet.pdf").is_file() and (out / "hosts/kvm-small/report.pdf").is_file()

    r = run_cli("fleet", small_capture, "-o", out, "--jobs", "1", "--pdf", "--set", DEADLINE)
    assert r.returncode == 1
    host_line = (
        "kvm-small: hosts/kvm-small/report.pdf not written: rendering took longer than its 0.01 s deadline "
        "(setting render.pdf_timeout_s); report.html and report.json are written"
    )
    fleet_line = (
        f"{out}/fleet.pdf not written: rendering took longer than its 0.01 s deadline "
        "(setting render.pdf_timeout_s); fleet.json and fleet.html are written"
    )
    assert [line for line in r.stderr.splitlines() if "error" in line] == [
        f"memreport: error: {host_line}",
        f"memreport: error: {fleet_line}",
    ]
    assert sorted(p.name for p in (out / "hosts/kvm-small").iterdir()) == ["report.html", "report.json"]
    assert not (out / "fleet.pdf").exists() and (out / "fleet.html").is_file()
    doc = json.loads((out / "fleet.json").read_text())
    assert doc["hosts"][0]["host"] == "kvm-small" and doc["hosts"][0]["verdict"] == first.fleet["hosts"][0]["verdict"]
    assert doc["hosts"][0]["pdf_error"] == host_line and doc["run"]["fleet_pdf_error"] == fleet_line
    assert "Host reports without their PDF (1)" in (out / "fleet.html").read_text()
    assert state.read_marker(out, state.input_key(small_capture.absolute()))["retry"] is True  # type: ignore[index]

    again = run_fleet([small_capture], out, FleetOptions(jobs=1, pdf=True, thresholds=load_thresholds(overrides=[DEADLINE])))
    assert (again.processed, again.unchanged) == (1, 0)  # the missing PDF is tried again
    assert again.pdf_errors == [host_line, fleet_line]


def test_fleet_pdf_deadline_on_dask(small_capture: Path, tmp_path: Path) -> None:
    """The renderer is forked from a dask worker's task thread, and killed there at the deadline."""
    out = tmp_path / "o"
    result = run_fleet(
        [small_capture],
        out,
        FleetOptions(dask_local=1, pdf=True, fleet_pdf=False, thresholds=load_thresholds(overrides=[DEADLINE])),
    )
    assert result.failed == []
    assert result.pdf_errors == [
        "kvm-small: hosts/kvm-small/report.pdf not written: rendering took longer than its 0.01 s deadline "
        "(setting render.pdf_timeout_s); report.html and report.json are written"
    ]
    assert sorted(p.name for p in (out / "hosts/kvm-small").iterdir()) == ["report.html", "report.json"]
