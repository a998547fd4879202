"""A host's report files are written as one set (issue 11, defect 11): after `--no-pdf` no
report.pdf of an earlier run remains, so `memreport email` cannot attach a PDF from another run;
a run killed mid-write leaves the previous set whole, and its leftovers go with the next run.
Before the fix: report.pdf (and report.eml) of the earlier run stayed and were mailed."""

from __future__ import annotations

import json
import subprocess
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from memreport.atomic import remove_stale, write_set
from memreport.synthetic import HostSpec, write_capture

SPEC = HostSpec(hostname="setty", days=0.01, interval_s=60, with_vms=False)
OWNED = ("report.json", "report.html", "report.pdf", "report.eml")


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return write_capture(SPEC, tmp_path_factory.mktemp("in") / "cap")


def attachments(eml: Path) -> list[str]:
    msg = message_from_bytes(eml.read_bytes(), policy=default)
    return [part.get_filename() for part in msg.iter_attachments() if part.get_content_type() == "application/pdf"]


def test_no_pdf_run_leaves_no_pdf_of_the_run_before_and_email_attaches_none(capture, tmp_path, cli):
    out = tmp_path / "out"
    assert cli("report", capture, "-o", out, "--eml").returncode == 0
    host = out / "setty"
    assert sorted(p.name for p in host.iterdir()) == sorted(OWNED)
    assert attachments(host / "report.eml") == ["setty-memory-report.pdf"]

    proc = cli("report", capture, "-o", out, "--no-pdf", "--set", "thrash.min_duration_s=120")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in host.iterdir()) == ["report.html", "report.json"]  # nothing of the run before
    assert json.loads((host / "report.json").read_text())["thresholds"]["thrash.min_duration_s"] == 120
    proc = cli("email", host)
    assert proc.returncode == 0, proc.stderr
    assert attachments(host / "report.eml") == []
    assert sorted(p.name for p in out.iterdir()) == ["setty"]  # no temporary directory left beside it


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_killed_write_leaves_the_old_set_whole_and_the_next_run_removes_its_leftovers(capture, tmp_path, cli):
    out = tmp_path / "out"
    assert cli("report", capture, "-o", out, "--no-pdf").returncode == 0
    before = {p.name: p.read_bytes() for p in (out / "setty").iterdir()}
    # What a run killed while writing its set leaves: a half-written set beside the whole old one.
    leftover = out / f".setty.new-{dead_pid()}-abcd1234"
    leftover.mkdir()
    (leftover / "report.json").write_text('{"host": "setty", "half": true}')
    (leftover / "report.pdf").write_bytes(b"%PDF-1.7 half")
    assert {p.name: p.read_bytes() for p in (out / "setty").iterdir()} == before
    proc = cli("email", out / "setty")
    assert proc.returncode == 0 and attachments(out / "setty" / "report.eml") == []
    assert cli("report", capture, "-o", out, "--no-pdf").returncode == 0
    assert not leftover.exists()
    assert sorted(p.name for p in (out / "setty").iterdir()) == ["report.html", "report.json"]


def test_write_set_replaces_the_whole_set_and_keeps_a_callers_own_files(tmp_path):
    d = tmp_path / "r"
    write_set(d, {"report.json": b"1", "report.pdf": b"P1"}, OWNED)
    write_set(d, {"report.json": b"2"}, OWNED)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == {"report.json": b"2"}
    # A directory that also holds files that are not the set's: they stay, the set is still whole.
    (d / "notes.txt").write_text("mine")
    write_set(d, {"report.json": b"3", "report.pdf": b"P3"}, OWNED)
    write_set(d, {"report.json": b"4"}, OWNED)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == {"report.json": b"4", "notes.txt": b"mine"}


def test_remove_stale_spares_a_live_owner(tmp_path):
    live = subprocess.Popen(["sleep", "60"])
    try:
        mine = tmp_path / f".r.new-{live.pid}-x"
        gone = tmp_path / f".r.new-{dead_pid()}-y"
        old = tmp_path / ".r.old-zzzz"  # written before names carried a pid
        for p in (mine, gone, old):
            p.mkdir()
        remove_stale(tmp_path, "r", ("new", "old"))
        assert sorted(p.name for p in tmp_path.iterdir()) == [mine.name]
    finally:
        live.kill()
        live.wait()
