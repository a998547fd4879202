"""The ingest's progress bar: on a terminal it moves with the files of a long input; in a pipe
(logs, CI) there is none."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, run_on_terminal

from memreport.synthetic import HostSpec, write_capture


def test_progress_on_a_terminal_only(tmp_path):
    cap = write_capture(HostSpec(hostname="pbar", days=3, interval_s=300, with_vms=False), tmp_path / "cap")
    cmd = [sys.executable, "-m", "memreport", "ingest", str(cap), "-o", str(tmp_path / "store")]
    rc, screen = run_on_terminal(cmd, columns=100)
    assert rc == 0, screen
    assert "reading cap" in screen and "━" in screen
    assert "pbar: 864 samples" in screen

    piped = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert piped.returncode == 0 and "━" not in piped.stderr + piped.stdout
