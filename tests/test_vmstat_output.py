"""vmstat output as an input (issue 4, "vmstat output"): real procps vmstat runs on this machine in
each form, the since-boot line dropped, si/so as bytes/s, -a giving Inactive/Active."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "sar"))
from datetime import UTC

import realtools  # noqa: E402

from memreport.ingest.options import IngestOptions  # noqa: E402
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
        # issue 10: no clock in the input, so the times are relative to the start, and said so
        assert host.facts.time_base == "relative"
        assert s["ts"].tolist() == [pd.Timestamp("1970-01-01 00:00:01Z"), pd.Timestamp("1970-01-01 00:00:02Z")]
        assert host.facts.assumptions == ["times are relative: vmstat output has no timestamps (-t); pass --start to date them"]
    assert set(s["source"]) == {"vmstat"}
    assert host.facts.host == "kvm01-vmstat"


def test_frozen_memory_columns_are_dropped() -> None:
    """procps-ng 4.0.x: memory columns frozen while si/so move (docs/INPUTS.md, "vmstat output")."""
    text = textwrap.dedent("""\
        procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
         r  b   swpd   free  inact active   si   so    bi    bo   in   cs us sy id wa st
         1  0 102400 500000 900000 800000    5    9     1     1    1    1  1  1 98  0  0
         2  1 102400 500000 900000 800000  100  800     1     1    1    1  1  1 98  0  0
         2  1 102400 500000 900000 800000  300    0     1     1    1    1  1  1 98  0  0
         2  1 102400 500000 900000 800000    0 2000     1     1    1    1  1  1 98  0  0
        """)
    from datetime import datetime

    from memreport.ingest.vmstat import to_samples

    log: list = []
    frame = to_samples(parse_vmstat_output(text), datetime(2026, 11, 26, tzinfo=UTC), None, log, "x")
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


# --- issue 10: vmstat without -t has no times; --start/--end date it, else times are relative ------

NO_TIMES = "$ vmstat 5 4\n" + textwrap.dedent("""\
    procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----
     r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st
     1  0      0 100000   2000  30000    7    7     1     1    1    1  1  1 98  0  0
     1  0      0 100000   2000  30000    1    2     1     1    1    1  1  1 98  0  0
     1  0      0 100000   2000  30000    3    4     1     1    1    1  1  1 98  0  0
     1  0      0 100000   2000  30000    5    6     1     1    1    1  1  1 98  0  0
    """)


def test_start_dates_vmstat_without_times(tmp_path: Path) -> None:
    p = tmp_path / "kvm01.txt"
    p.write_text(NO_TIMES)
    start = pd.Timestamp("2026-11-26 20:00:00Z").to_pydatetime()
    (host,) = read_input(p, IngestOptions(start=start))
    assert [str(t) for t in host.samples["ts"]] == [
        "2026-11-26 20:00:05+00:00",
        "2026-11-26 20:00:10+00:00",
        "2026-11-26 20:00:15+00:00",
    ]  # vmstat started at --start: its since-boot line then, each row 5 s later
    assert host.facts.time_base == "absolute" and host.facts.assumptions == []
    (host,) = read_input(p, IngestOptions(end=start))
    assert str(host.samples["ts"].iloc[-1]) == "2026-11-26 20:00:00+00:00"  # --end: the last line
    assert host.samples["ts"].diff().dropna().dt.total_seconds().tolist() == [5.0, 5.0]


def test_start_and_end_spread_rows_when_the_interval_is_unknown(tmp_path: Path) -> None:
    p = tmp_path / "kvm01.txt"
    p.write_text(NO_TIMES.split("\n", 1)[1])  # no `vmstat 5 4` line: the interval is not known
    start, end = pd.Timestamp("2026-11-26 20:00:00Z"), pd.Timestamp("2026-11-26 20:00:30Z")
    (host,) = read_input(p, IngestOptions(start=start.to_pydatetime(), end=end.to_pydatetime()))
    assert host.samples["ts"].tolist() == [start + pd.Timedelta(seconds=s) for s in (10, 20, 30)]
    assert host.samples["interval_s"].tolist() == [10.0, 10.0, 10.0]


def test_relative_times_read_as_relative_everywhere(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """Without --start nothing prints a date for vmstat without -t: report.json, the HTML report and
    `memreport analyze` show offsets from the start, and every one names the assumption."""
    import json

    p = tmp_path / "kvm01.txt"
    p.write_text(NO_TIMES)
    out = tmp_path / "out"
    cli("report", p, "-o", out, "--no-pdf", check=True)
    doc = json.loads((out / "kvm01" / "report.json").read_text())
    assert doc["period"] == {"start": "1970-01-01T00:00:05Z", "end": "1970-01-01T00:00:15Z"}
    assert doc["coverage"]["time_base"] == "relative"
    assert doc["coverage"]["assumptions"] == [
        "times are relative: vmstat output has no timestamps (-t); pass --start to date them"
    ]
    html = (out / "kvm01" / "report.html").read_text()
    assert "+00:00 – +00:00" in html and "1970" not in html
    assert "times are relative: vmstat output has no timestamps" in html
    summary = cli("analyze", p).stdout.splitlines()[0]
    assert summary.startswith("kvm01: ") and "(+00:00 – +00:00, 3 samples)" in summary

    cli("report", p, "-o", out, "--no-pdf", "--start", "2026-11-26T21:00:00+01:00", check=True)
    doc = json.loads((out / "kvm01" / "report.json").read_text())
    assert doc["period"] == {"start": "2026-11-26T20:00:05Z", "end": "2026-11-26T20:00:15Z"}
    assert doc["coverage"]["time_base"] == "absolute" and doc["coverage"]["assumptions"] == []
