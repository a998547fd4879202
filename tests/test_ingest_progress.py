"""The ingest's progress bar: on a terminal it moves with the files of a long input; in a pipe
(logs, CI) there is none."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from memreport.synthetic import HostSpec, write_capture

from conftest import ROOT


def test_progress_on_a_terminal_only(tmp_path):
    cap = write_capture(HostSpec(hostname="pbar", days=3, interval_s=300, with_vms=False), tmp_path / "cap")
    cmd = [sys.executable, "-m", "memreport", "ingest", str(cap), "-o", str(tmp_path / "store")]
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "reading cap" in screen and "━" in screen
    assert "pbar: 864 samples" in screen

    piped = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert piped.returncode == 0 and "━" not in piped.stderr + piped.stdout
