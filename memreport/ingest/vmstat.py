"""vmstat output (`vmstat N`, `-a`, `-t`, `-w`, `-S M`), pasted by a customer or inside a bundle.

What it gives: swap rates (si/so, KiB/s by default, MiB/s with `-S M`), and with `-a` Inactive and
Active. The first data line of each run is the average since boot and is dropped. vmstat's
`cache` is Cached + SReclaimable, not meminfo's Cached, so it is not stored. procps-ng 4.0.x can
print frozen memory columns while si/so update: /proc data wins for memory levels when a bundle
has both (bundle.assemble says so in the log).

Without `-t` the output has no times. With --start (the time vmstat was started: its since-boot
line) or --end (the time of its last line) the rows are placed `interval` seconds apart (from a
`vmstat N` command line in the text, else 1 s; with both options and no known interval, spread
evenly between them). Without either, the times are *relative*: offsets from the start of the run,
stored from memreport.timebase.RELATIVE_ORIGIN and printed as `+00:01:10`, and the host's facts say
`time_base = "relative"`, an assumption named in the log, the report and report.json. Several runs
in one file are placed one after another. (A bundle places its vmstat runs to end at the bundle
time.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
import pandas as pd

from memreport.errors import InputError
from memreport.ingest import bundle
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.ingest.procfs import ParseError
from memreport.model import Contribution, HostData, HostFacts, LogEntry
from memreport.timebase import RELATIVE, RELATIVE_ORIGIN

KIND = "vmstat"

_UNITS = {"k": 1000, "K": 1024, "m": 1000**2, "M": 1024**2}
_CMD = re.compile(r"(?:^|[\s/#$>])vmstat((?:\s+-{1,2}[A-Za-z-]+(?:[ =]?[kKmM]\b)?)*)\s+(\d+)(?:\s+\d+)?\s*$")
MAX_INTERVAL_S = 86400.0  # `vmstat N`: a delay over a day is no sampling interval (and would overflow times)
YEARS = (1970, 2200)  # a -t time outside these is a corrupt line (and outside pandas' time range)
MAX_VALUE = 2**52  # a field (KiB, or MiB with -S M) past this is no memory size and overflows int64 in bytes
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})$")


@dataclass
class VmstatRun:
    unit: int = 1024
    interval: float | None = None
    columns: list[str] = field(default_factory=list)
    zone: str | None = None  # the -t header's zone name
    rows: list[tuple[datetime | None, list[str]]] = field(default_factory=list)


@dataclass
class VmstatData:
    runs: list[VmstatRun]
    problems: list[tuple[int | None, str]]
    dropped_first: int = 0


def _is_group_header(line: str) -> bool:
    s = line.strip()
    return s.startswith(("procs", "--procs")) and "memory" in s.lower() or s.startswith(("procs", "--procs")) and "swap" in s


def _command_unit(cmd_opts: str) -> int | None:
    m = re.search(r"-S\s*=?\s*([kKmM])\b|--unit[ =]([kKmM])\b", cmd_opts)
    if m:
        return _UNITS[m.group(1) or m.group(2)]
    return None


def parse_vmstat_output(text: str, unit: int | None = None) -> VmstatData:
    """Text -> runs of rows (time or None, raw fields); the since-boot line of each run dropped."""
    runs: list[VmstatRun] = []
    problems: list[tuple[int | None, str]] = []
    pending_interval: float | None = None
    pending_unit: int | None = None
    current: VmstatRun | None = None
    expect_columns = False
    after_data = False
    dropped = 0
    lines = text.splitlines()
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        cm = _CMD.search(line)
        if cm and "vmstat" in line and not line.lstrip()[:1].isdigit():
            pending_interval = float(cm.group(2))
            if not 0 < pending_interval <= MAX_INTERVAL_S:
                problems.append((lineno, f"vmstat delay {cm.group(2)[:20]} s is not a sampling interval: ignored"))
                pending_interval = None
            pending_unit = _command_unit(cm.group(1) or "")
            after_data = False
            continue
        if _is_group_header(line):
            expect_columns = True
            continue
        tokens = line.split()
        if expect_columns:
            expect_columns = False
            if tokens[:2] != ["r", "b"]:
                problems.append((lineno, "vmstat group header without the 'r b …' column line"))
                continue
            if current is not None and after_data and pending_interval is None:
                continue  # the header repeated inside one run
            current = VmstatRun(unit=pending_unit or unit or 1024, interval=pending_interval, columns=tokens)
            if not tokens[-1].isalpha() or tokens[-1] in ("st", "gu"):
                current.zone = None
            else:
                current.zone = tokens[-1]
            runs.append(current)
            pending_interval = pending_unit = None
            after_data = False
            continue
        if current is None or not tokens[0].isdigit():
            continue
        stamp = None
        m = _STAMP.search(line)
        if m:
            try:
                stamp = datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S")
                if not YEARS[0] <= stamp.year <= YEARS[1]:
                    raise ValueError
            except ValueError:
                problems.append((lineno, f"bad timestamp {m.group(0)!r}"))
                continue
            tokens = line[: m.start()].split()
        if not after_data:
            after_data = True
            dropped += 1
            continue  # the first line is the average since boot
        current.rows.append((stamp, tokens))
    return VmstatData(runs, problems, dropped)


def _placement(
    runs: list[VmstatRun], start: datetime | None, end: datetime | None, log: list[LogEntry], file: str
) -> dict[int, tuple[datetime, float]]:
    """For each run without -t times (by index): (time of its since-boot line, seconds per row).

    Runs follow one another: from `start` forwards, else from `end` backwards. With both and no
    interval known, the rows are spread evenly between them.
    """
    untimed = [i for i, r in enumerate(runs) if r.rows and r.rows[0][0] is None]
    out: dict[int, tuple[datetime, float]] = {}
    if not untimed:
        return out
    steps = {i: runs[i].interval or 1.0 for i in untimed}
    rows = sum(len(runs[i].rows) for i in untimed)
    if start is not None and end is not None:
        known = all(runs[i].interval for i in untimed)
        span = (end - start).total_seconds()
        if not known:
            steps = {i: span / rows for i in untimed}
        elif abs(sum(steps[i] * len(runs[i].rows) for i in untimed) - span) > max(2.0, 0.01 * span):
            log.append(
                LogEntry(
                    "warn",
                    "time_source",
                    f"--start and --end are {span:g} s apart but the vmstat rows at their interval span "
                    f"{sum(steps[i] * len(runs[i].rows) for i in untimed):g} s: placed from --start",
                    file=file,
                )
            )
    if start is not None:
        cursor = start
        for i in untimed:
            out[i] = (cursor, steps[i])
            cursor += timedelta(seconds=steps[i] * len(runs[i].rows))
    else:
        assert end is not None
        cursor = end
        for i in reversed(untimed):
            cursor -= timedelta(seconds=steps[i] * len(runs[i].rows))
            out[i] = (cursor, steps[i])
    if len(untimed) > 1:
        log.append(
            LogEntry("info", "time_source", f"{len(untimed)} vmstat runs without times placed one after another", file=file)
        )
    return out


def to_samples(
    data: VmstatData,
    end: datetime | None,
    tz: tzinfo | None,
    log: list[LogEntry],
    file: str,
    start: datetime | None = None,
) -> pd.DataFrame:
    """Rows -> samples: swapin_Bps/swapout_Bps (si/so × unit), mem_Inactive/mem_Active with -a,
    mem_MemFree and mem_Buffers without. Runs without -t times are placed from `start` (the time
    vmstat started) or back from `end` (the time of the last line); ParseError when neither is given."""
    records: list[dict[str, object]] = []
    if any(r.rows and r.rows[0][0] is None for r in data.runs) and start is None and end is None:
        raise ParseError(None, "vmstat output without -t times and no time to place it")
    places = _placement(data.runs, start, end, log, file)
    for k, run in enumerate(data.runs):
        cols = run.columns
        n = len(run.rows)
        if n == 0:
            continue
        wide_a = cols[4].lower() not in ("buff", "puffer") if len(cols) > 5 else False
        zone = bundle.zone_of(run.zone) if run.zone else None
        if run.rows[0][0] is not None and zone is None:
            zone = tz or UTC
            log.append(LogEntry("info", "time_source", f"vmstat -t times in zone {run.zone or '?'}: read as {zone}", file=file))
        origin, step = places.get(k, (RELATIVE_ORIGIN, run.interval or 1.0))
        if k in places:
            where = "from the start of the run" if origin == RELATIVE_ORIGIN else f"from {bundle.when_words(origin)}"
            log.append(
                LogEntry(
                    "warn" if origin == RELATIVE_ORIGIN else "info",
                    "time_source",
                    f"vmstat output has no times (-t): {n} samples placed {step:g} s apart {where}"
                    + ("" if run.interval or (start and end) else " (interval unknown: 1 s assumed)"),
                    file=file,
                )
            )
        for i, (stamp, tokens) in enumerate(run.rows):
            if len(tokens) < 8:
                log.append(LogEntry("warn", "bad_line", f"{len(tokens)} fields: line skipped", file=file))
                continue
            try:
                vals = [int(t) for t in tokens[:8]]
            except ValueError:
                log.append(LogEntry("warn", "bad_value", f"non-numeric field in {' '.join(tokens[:8])!r}", file=file))
                continue
            if any(abs(v) >= MAX_VALUE for v in vals):
                log.append(
                    LogEntry(
                        "warn", "bad_value", f"a value out of range in {' '.join(tokens[:8])[:80]!r}: line skipped", file=file
                    )
                )
                continue
            if stamp is not None:
                ts = stamp.replace(tzinfo=zone).astimezone(UTC)
            else:
                ts = origin + timedelta(seconds=step * (i + 1))  # row 0 follows the since-boot line by one step
            rec: dict[str, object] = {
                "ts": ts,
                "swapin_Bps": float(vals[6] * run.unit),
                "swapout_Bps": float(vals[7] * run.unit),
                "interval_s": run.interval if run.interval else (step if k in places and start and end else np.nan),
            }
            if wide_a:
                rec["mem_Inactive"] = vals[4] * run.unit
                rec["mem_Active"] = vals[5] * run.unit
            else:
                rec["mem_Buffers"] = vals[4] * run.unit
            rec["mem_MemFree"] = vals[3] * run.unit
            records.append(rec)
    if not records:
        return bundle.empty_samples()
    frame = pd.DataFrame.from_records(records)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ms, UTC]")
    for c in ("mem_Inactive", "mem_Active", "mem_Buffers", "mem_MemFree"):
        if c in frame:
            frame[c] = frame[c].astype("Int64")
    frame["source"] = "vmstat"
    mem = [str(c) for c in frame.columns if str(c).startswith("mem_")]
    if len(frame) >= 3 and mem and (frame[mem].nunique() == 1).all() and frame[["swapin_Bps", "swapout_Bps"]].nunique().max() > 1:
        log.append(
            LogEntry(
                "warn",
                "bad_value",
                "vmstat memory columns never change while si/so do: procps-ng 4.0.x frozen columns? memory levels dropped",
                file=file,
            )
        )
        frame = frame.drop(columns=mem)
    return frame


# --- reader --------------------------------------------------------------------------------------


def _looks_like(text: str) -> bool:
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        if _is_group_header(line) and lines[i + 1].split()[:2] == ["r", "b"]:
            return True
    return False


def sniff(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        head = bundle.read_bytes(path, 1 << 30)[:8192] if path.stat().st_size < (1 << 30) else b""
    except bundle.Unreadable:
        return False
    return _looks_like(head.decode("utf-8", "replace"))


def read(path: Path, label: str, opts: IngestOptions = DEFAULT) -> list[HostData]:
    path = Path(path)
    log: list[LogEntry] = []
    try:
        text = bundle.read_text(path)
    except bundle.Unreadable as e:
        raise InputError(label, e.reason, e.line) from None
    data = parse_vmstat_output(text)
    for line, reason in data.problems:
        log.append(LogEntry("warn", "bad_line", f"{reason}: line skipped", file=label, line=line))
    untimed = any(r.rows and r.rows[0][0] is None for r in data.runs)
    timed = any(r.rows and r.rows[0][0] is not None for r in data.runs)
    relative = untimed and opts.start is None and opts.end is None
    assumptions: list[str] = []
    if relative and timed:
        for r in data.runs:
            if r.rows and r.rows[0][0] is None:
                log.append(
                    LogEntry(
                        "warn",
                        "time_source",
                        f"vmstat run without -t times beside runs with times: its {len(r.rows)} rows skipped (pass --start to place them)",
                        file=label,
                        count=len(r.rows),
                    )
                )
                r.rows = []
        relative = False
    elif relative:
        assumptions.append("times are relative: vmstat output has no timestamps (-t); pass --start to date them")
    elif not untimed and (opts.start or opts.end):
        log.append(LogEntry("info", "time_source", "vmstat -t output has its own times: --start/--end not used", file=label))
    try:
        samples = to_samples(data, opts.end, None, log, label, start=RELATIVE_ORIGIN if relative else opts.start)
    except ParseError as e:
        raise InputError(label, e.reason, e.line) from None
    if not len(samples):
        raise InputError(label, "vmstat output with no sample after the since-boot line")
    host = path.stem
    log.append(LogEntry("info", "missing_source", f"vmstat output names no host: host named {host!r} after the file", file=label))
    facts = HostFacts(
        host=host,
        capture_format="vmstat",
        interval_s=next((r.interval for r in data.runs if r.interval), None),
        assumptions=assumptions,
    )
    if relative:
        facts.time_base = RELATIVE
    what = "swap rates" + (", Inactive/Active" if "mem_Inactive" in samples else "")
    contrib = Contribution(label, KIND, f"vmstat output: {bundle.span_words(samples['ts'])} ({what})")
    return [HostData(facts=facts, samples=samples, log=bundle.stamp(log, host, label), contributions=[contrib])]
