"""vmstat output as an input (issue 4, "vmstat output"): real procps vmstat runs on this machine in
each form, the since-boot line dropped, si/so as bytes/s, -a giving Inactive/Active."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "sar"))
import realtools  # noqa: E402

from memreport.ingest.sources import read_input  # noqa: E402
from memreport.ingest.vmstat import parse_vmstat_output  # noqa: E402


def _data_lines(text: str) -> list[list[str]]:
    return [l.split() for l in text.splitlines() if l.split() and l.split()[0].isdigit()]


@pytest.mark.parametrize(
    "args,locale,command_line",
    [
        (["1", "3"], "C", "$ vmstat 1 3"),
        (["-a", "1", "3"], "C", None),
        (["-t", "1", "3"], "C", None),
        (["-w", "-t", "1", "3"], "C", None),
        (["-a", "-t", "1", "3"], "de_DE", None),
        (["-S", "M", "1", "3"], "C", "# /usr/bin/vmstat -S M 1 3"),
    ],
)
def test_real_vmstat(tmp_path: Path, args: list[str], locale: str, command_line: str | None) -> None:
    out = realtools.vmstat(*args, locale=locale)
    text = (command_line + "\n" if command_line else "") + out
    p = tmp_path / "kvm01-vmstat.txt"
    p.write_text(text)
    (host,) = read_input(p)
    s = host.samples
    lines = _data_lines(out)
    assert len(lines) == 3 and len(s) == 2  # the since-boot line is dropped
    unit = 1024**2 if "-S" in args else 1024
    si_col = 6
    assert s["swapin_Bps"].tolist() == [float(int(l[si_col]) * unit) for l in lines[1:]]
    assert s["swapout_Bps"].tolist() == [float(int(l[si_col + 1]) * unit) for l in lines[1:]]
    if "-a" in args:
        assert s["mem_Inactive"].tolist() == [int(l[4]) * unit for l in lines[1:]]
        assert s["mem_Active"].tolist() == [int(l[5]) * unit for l in lines[1:]]
    else:
        assert "mem_Inactive" not in s
    assert "mem_Cached" not in s  # vmstat's cache is Cached + SReclaimable: not stored as Cached
    if "-t" in args:
        assert [t.strftime("%Y-%m-%d %H:%M:%S") for t in s["ts"]] == [f"{l[-2]} {l[-1]}" for l in lines[1:]]
        assert not any(e.event == "time_source" for e in host.log)
    else:
        assert any(e.event == "time_source" and "no times" in e.detail for e in host.log)
        assert (s["ts"].diff().dropna().dt.total_seconds() == 1.0).all()
    assert set(s["source"]) == {"vmstat"}
    assert host.facts.host == "kvm01-vmstat"


def test_frozen_memory_columns_are_dropped() -> None:
    """procps-ng 4.0.x: memory columns frozen while si/so move (DOMAIN.md "vmstat output traps")."""
    text = textwrap.dedent("""\
        procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
         r  b   swpd   free  inact active   si   so    bi    bo   in   cs us sy id wa st
         1  0 102400 500000 900000 800000    5    9     1     1    1    1  1  1 98  0  0
         2  1 102400 500000 900000 800000  100  800     1     1    1    1  1  1 98  0  0
         2  1 102400 500000 900000 800000  300    0     1     1    1    1  1  1 98  0  0
         2  1 102400 500000 900000 800000    0 2000     1     1    1    1  1  1 98  0  0
        """)
    from datetime import datetime, timezone

    from memreport.ingest.vmstat import to_samples

    log: list = []
    frame = to_samples(parse_vmstat_output(text), datetime(2026, 11, 26, tzinfo=timezone.utc), None, log, "x")
    assert frame["swapout_Bps"].tolist() == [800 * 1024.0, 0.0, 2000 * 1024.0]
    assert not [c for c in frame if c.startswith("mem_")]
    assert any("frozen" in e.detail for e in log)


def test_header_repeated_inside_one_run_keeps_rows() -> None:
    text = "vmstat 2 5\n" + textwrap.dedent("""\
        procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
         r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
         1  0      0 100000   2000  30000    7    7     1     1    1    1  1  1 98  0  0
         1  0      0 100000   2000  30000    1    2     1     1    1    1  1  1 98  0  0
        procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
         r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
         1  0      0 100000   2000  30000    3    4     1     1    1    1  1  1 98  0  0
        """)
    data = parse_vmstat_output(text)
    assert data.dropped_first == 1
    assert [r[1][6] for run in data.runs for r in run.rows] == ["1", "3"]
    assert data.runs[0].interval == 2.0
