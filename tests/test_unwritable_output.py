"""An output that cannot be written (issue 11, defect 5) is one line naming it and exit 2, as an
input error is, for ingest, report and fleet. Before the fix: a PermissionError or
NotADirectoryError traceback. Both cases fail for root too (the tests may run as root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memreport.synthetic import HostSpec, write_capture

SPEC = HostSpec(hostname="w", days=0.005, interval_s=60, with_vms=False)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return write_capture(SPEC, tmp_path_factory.mktemp("in") / "cap")


TARGETS = {
    # mkdir says "File exists" or "Not a directory" by where it trips; either is named plainly
    "under-a-file": (lambda tmp: tmp / "afile" / "out", ("is a file, not a directory", "Not a directory")),
    # sysfs refuses mkdir to root too (EPERM), and to others (EACCES)
    "sysfs": (lambda tmp: Path("/sys/kernel/mm/memreport-test-out"), ("Operation not permitted", "Permission denied")),
}
CASES = [
    ("ingest", "under-a-file"),
    ("ingest", "sysfs"),
    ("report", "under-a-file"),
    ("report", "sysfs"),
    ("fleet", "under-a-file"),
]
OPTIONS = {"ingest": [], "report": ["--no-pdf"], "fleet": ["--no-fleet-pdf", "-j", "1"]}


@pytest.mark.parametrize("command, where", CASES, ids=[f"{c}-{w}" for c, w in CASES])
def test_unwritable_output_is_one_line_and_exit_2(command, where, capture, tmp_path, cli):
    (tmp_path / "afile").write_text("a file, not a directory\n")
    make, reasons = TARGETS[where]
    target = make(tmp_path)
    proc = cli(command, capture, "-o", target, *OPTIONS[command])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"memreport: error: {target}"), proc.stderr
    assert ": cannot write: " in lines[0] and lines[0].endswith(reasons), lines[0]
    assert not target.exists()
