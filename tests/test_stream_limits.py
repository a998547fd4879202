"""Capture streams are read within bounds (issue 11, defect 2): a sparse 5 GB meminfo day file and
a small .tsv.gz holding one 2 GiB line are each skipped with a warning and a log row, and the
ingest's peak memory stays far below their size. Before the fix: 5.4 GB and 4.3 GB of memory.

Memory is measured as the ingest process's peak RSS (ru_maxrss of a wrapper's only child), never
time."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from memreport.ingest.streams import MAX_LINE_BYTES, MAX_STREAM_BYTES, StreamTooLarge, read_bytes
from memreport.synthetic import HostSpec, write_capture

SPEC = HostSpec(hostname="bounded", days=0.01, interval_s=60, with_vms=False)  # 14 samples
# The ingest of the small capture itself peaks near 200 MB; reading either hostile file whole
# would take gigabytes. The bound is generous on purpose: it separates the two, not noise.
PEAK_BOUND_BYTES = 1024 * 2**20

_MEASURE = """
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
print(json.dumps({"rc": proc.returncode, "stderr": proc.stderr, "stdout": proc.stdout, "peak": peak}))
"""


def ingest_measured(*args: object) -> dict:
    """`memreport ingest ARGS` in a child of a fresh wrapper: its peak RSS is that child's alone."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "memreport", "ingest", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=True,
    )
    return json.loads(out.stdout)


def next_day(cap: Path, source: str) -> Path:
    day = next(cap.glob(f"{source}.*.tsv")).name.split(".")[1]
    return cap / f"{source}.{int(day) + 1}.tsv"


def test_sparse_5_gb_stream_is_skipped_with_bounded_memory(tmp_path):
    cap = write_capture(SPEC, tmp_path / "cap")
    big = next_day(cap, "meminfo")
    with open(big, "wb") as fh:
        fh.write(next(cap.glob("meminfo.*.tsv")).read_bytes()[:200])
        fh.truncate(5 * 10**9)  # sparse: 5 GB that take no disk
    res = ingest_measured(cap, "-o", tmp_path / "store")
    assert res["rc"] == 0, res["stderr"]
    warned = [ln for ln in res["stderr"].splitlines() if str(big) in ln]
    assert warned == [
        f"memreport: warning: {big}: 4,768 MiB, above the {MAX_STREAM_BYTES >> 20} MiB limit for one stream file: skipped"
    ]
    log = pd.read_parquet(tmp_path / "store" / "log")
    assert log[log["file"] == str(big)][["level", "event"]].values.tolist() == [["warn", "too_large"]]
    assert len(pd.read_parquet(tmp_path / "store" / "samples")) == SPEC.samples  # the good day is read
    assert res["peak"] < PEAK_BOUND_BYTES, f"peak RSS {res['peak'] / 2**20:.0f} MiB"


def one_line_gzip(path: Path, line_bytes: int) -> None:
    """A valid gzip stream (concatenated members, as gzip allows) of a header and one long line,
    written without ever holding the line: ~2 MB on disk for 2 GiB."""
    block = 16 * 2**20
    member = gzip.compress(b"7" * block, compresslevel=9)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(b"#ts\tMemTotal\n1795600000\t"))
        for _ in range(line_bytes // block):
            fh.write(member)
        fh.write(gzip.compress(b"\n"))


def test_gzip_stream_of_one_2_gib_line_is_skipped_with_bounded_memory(tmp_path):
    cap = write_capture(SPEC, tmp_path / "cap")
    bomb = next_day(cap, "meminfo").with_suffix(".tsv.gz")
    one_line_gzip(bomb, 2 * 2**30)
    assert bomb.stat().st_size < 20 * 2**20
    res = ingest_measured(cap, "-o", tmp_path / "store")
    assert res["rc"] == 0, res["stderr"]
    warned = [ln for ln in res["stderr"].splitlines() if str(bomb) in ln]
    assert warned == [
        f"memreport: warning: {bomb}: line 2 is longer than the {MAX_LINE_BYTES >> 10} KiB limit for one record: skipped"
    ]
    log = pd.read_parquet(tmp_path / "store" / "log")
    assert log[log["file"] == str(bomb)]["event"].tolist() == ["too_large"]
    assert len(pd.read_parquet(tmp_path / "store" / "samples")) == SPEC.samples
    assert res["peak"] < PEAK_BOUND_BYTES, f"peak RSS {res['peak'] / 2**20:.0f} MiB"


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_read_bytes_limits_are_exact(tmp_path, gz):
    """Right at a limit is read; one byte over is refused (plain and gzip alike)."""
    f = tmp_path / ("s.tsv.gz" if gz else "s.tsv")
    body = b"#ts\n" + b"x" * 1000 + b"\n" + b"1\n" * 200

    def write(data: bytes) -> None:
        f.write_bytes(gzip.compress(data) if gz else data)

    write(body)
    assert bytes(read_bytes(f, max_bytes=len(body), max_line=1000)) == body
    with pytest.raises(StreamTooLarge, match="line 2 is longer"):
        read_bytes(f, max_bytes=len(body), max_line=999)
    with pytest.raises(StreamTooLarge, match="uncompressed|limit for one stream"):
        read_bytes(f, max_bytes=len(body) - 1, max_line=1000)
    write(b"#ts\n" + b"y" * 5000)  # a last line with no newline counts too
    with pytest.raises(StreamTooLarge, match="line 2 is longer"):
        read_bytes(f, max_line=4096)
