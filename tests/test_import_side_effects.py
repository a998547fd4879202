"""Importing memreport's packages changes nothing process-wide: pyarrow's memory pool and thread
count are set by the command and the fleet workers, not by an import (issue 13)."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    return proc.stdout.strip()


def test_importing_ingest_keeps_pyarrows_pool() -> None:
    code = (
        "import pyarrow as pa; before = pa.default_memory_pool().backend_name; n = pa.cpu_count()\n"
        "import memreport.ingest, memreport.ingest.store, memreport.ingest.capture, memreport.api\n"
        "print(before == pa.default_memory_pool().backend_name, n == pa.cpu_count())"
    )
    assert run(code) == "True True"


def test_the_worker_setup_sets_the_system_pool_and_the_share() -> None:
    code = (
        "import pyarrow as pa, memreport.ingest as i\n"
        "i.init_worker(1)\n"
        "print(pa.default_memory_pool().backend_name, pa.cpu_count(), i.threads())"
    )
    assert run(code) == "system 1 1"
