"""Pure parsers for sysstat output: sadf -x XML, sadf -j JSON, sadf -d CSV and sar text.

Every format becomes one `SarData`: the header facts and, per timestamp, the raw sar fields under
sar's *text* column names (`kbmemfree`, `pswpin/s`, `%smem` …), so one mapping (`to_samples`) turns
any of them into store columns. Units are normalised there, once: kB → bytes, pages/s → bytes/s
with the host's page size, PSI percentages → shares 0..1.

Traps handled (docs/INPUTS.md, "sar data"):
- text follows the locale: `11/26/26` (C), `11/26/2026` + ` PM` (en_US), `26.11.2026`, decimal
  commas and `Durchschn.:` (de_DE); `sadf -d` in de_DE also writes decimal commas;
- activity blocks come in sysstat's order, each with its own header; `LINUX RESTART` lines;
- a daily file wraps past midnight in text output (times only, no date per line);
- columns differ across sysstat versions (kbshmem ≥ 12.x, %vmeff ≤ 12.7.4, -q MEM ≥ 12.3.3), so
  fields are taken by header name, never by position;
- kbmemused changed meaning across versions: MemTotal is recovered from it only where one
  version's definition reproduces %memused (sar_memtotal.py); never stored itself.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

import numpy as np
import pandas as pd

from memreport.ingest.procfs import ParseError
from memreport.ingest.schema import meminfo_column
from memreport.ingest.xmlsafe import parse_untrusted_xml
from memreport.units import KIB, is_digits

# sar text column (kB) -> /proc/meminfo key.
KB_FIELDS = {
    "kbmemfree": "MemFree",
    "kbavail": "MemAvailable",  # sysstat >= 11.4 (kernel >= 3.14)
    "kbbuffers": "Buffers",
    "kbcached": "Cached",
    "kbcommit": "Committed_AS",
    "kbactive": "Active",
    "kbinact": "Inactive",
    "kbdirty": "Dirty",
    "kbanonpg": "AnonPages",  # -r ALL
    "kbslab": "Slab",
    "kbkstack": "KernelStack",
    "kbpgtbl": "PageTables",
    "kbvmused": "VmallocUsed",
    "kbshmem": "Shmem",  # newer sysstat only
    "kbswpfree": "SwapFree",
    "kbswpcad": "SwapCached",
}
# Columns that make a block worth reading; every other activity (CPU, disks, network) is skipped.
WANTED = frozenset(KB_FIELDS) | {
    "kbswpused",
    "kbmemused",
    "%memused",
    "pswpin/s",
    "pswpout/s",
    "majflt/s",
    "fault/s",
    "pgscand/s",
    "pgscank/s",
    "%smem",
    "%fmem",
    "%smem-10",
    "%smem-60",
    "%smem-300",
    "%fmem-10",
    "%fmem-60",
    "%fmem-300",
}

# sadf -x / -j element names -> sar text names.
_JSON_MEMORY = {
    "memfree": "kbmemfree",
    "avail": "kbavail",
    "memused": "kbmemused",
    "memused-percent": "%memused",
    "buffers": "kbbuffers",
    "cached": "kbcached",
    "commit": "kbcommit",
    "active": "kbactive",
    "inactive": "kbinact",
    "dirty": "kbdirty",
    "anonpg": "kbanonpg",
    "slab": "kbslab",
    "kstack": "kbkstack",
    "pgtbl": "kbpgtbl",
    "vmused": "kbvmused",
    "shmem": "kbshmem",
    "swpfree": "kbswpfree",
    "swpused": "kbswpused",
    "swpcad": "kbswpcad",
}
_JSON_RATES = {
    "pswpin": "pswpin/s",
    "pswpout": "pswpout/s",
    "majflt": "majflt/s",
    "fault": "fault/s",
    "pgscand": "pgscand/s",
    "pgscank": "pgscank/s",
}
_JSON_PSI = {
    "some_avg10": "%smem-10",
    "some_avg60": "%smem-60",
    "some_avg300": "%smem-300",
    "some_avg": "%smem",
    "full_avg10": "%fmem-10",
    "full_avg60": "%fmem-60",
    "full_avg300": "%fmem-300",
    "full_avg": "%fmem",
}

# Words sysstat's translations use for the Average line (sar/po/*.po), plus "Summary".
_AVERAGE = re.compile(r"^(Average|Durchschn|Moyenne|Media|Promedio|Média|Gemiddeld|Среднее|平均|Summary)", re.I)
_TIME = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})$")
_HEADER = re.compile(r"^Linux\s+(\S+)\s+\(([^)]*)\)\s+(\S+)(?:\s+_(\S+)_)?(?:\s+\((\d+)\s+CPU\))?")


@dataclass
class SarData:
    """One sar/sadf output: header facts and raw rows {ts: {sar column: value}}."""

    fmt: str  # sadf-xml | sadf-json | sadf-csv | sar-text
    hostname: str | None = None
    kernel: str | None = None
    arch: str | None = None
    cpus: int | None = None
    utc: bool = False  # timestamps are real UTC (sadf); False: local time of the host, tz assumed
    rows: dict[datetime, dict[str, float]] = field(default_factory=dict)
    intervals: dict[datetime, float] = field(default_factory=dict)
    problems: list[tuple[int | None, str]] = field(default_factory=list)  # (line, reason): for the log
    restarts: int = 0


def _num(text: str) -> float:
    return float(text.replace(",", "."))


# Bounds of a value worth keeping (hostile or corrupt files hold anything): a kB field past 2^52 kB
# (4 EiB) is no memory size, and with × 1024 and a sum of two (kbswpfree + kbswpused) it would
# overflow int64; a time outside these years is a corrupt record, and outside pandas' range.
MAX_KB = 2.0**52
YEARS = (1970, 2200)


def _put(data: SarData, ts: datetime, values: dict[str, float], line: int | None = None) -> None:
    """Keep a record's values; a bad time or an impossible value goes to `problems` (the log) instead."""
    if not YEARS[0] <= ts.year <= YEARS[1]:
        data.problems.append((line, f"time {ts:%Y-%m-%d %H:%M:%S} is out of range: record skipped"))
        return
    row = data.rows.setdefault(ts, {})
    for name, v in values.items():
        if not math.isfinite(v) or (name.startswith("kb") and abs(v) >= MAX_KB):
            data.problems.append((line, f"{name}: {v!r} is out of range"))
        else:
            row[name] = v


def _number_into(values: dict[str, float], name: str, raw: object, data: SarData, line: int | None = None) -> None:
    """values[name] = raw as a number; a value that is not one goes to `problems`."""
    try:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise TypeError
        values[name] = _num(raw) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError, OverflowError):
        data.problems.append((line, f"{name}: {str(raw)[:40]!r} is not a number"))


# --- sadf -x -------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ts(d: str, t: str) -> datetime:
    return datetime.strptime(f"{d} {t}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def parse_sadf_xml(text: str) -> SarData:
    """`sadf -x FILE -- -A` (or any subset). Entities are refused: the file is untrusted."""
    root = parse_untrusted_xml(text)
    if _local(root.tag) != "sysstat":
        raise ParseError(None, "not sadf -x output (no <sysstat> root)")
    data = SarData("sadf-xml", utc=True)
    host = next((h for h in root.iter() if _local(h.tag) == "host"), None)
    if host is None:
        raise ParseError(None, "no <host> element")
    data.hostname = host.get("nodename")
    for child in host:
        name, value = _local(child.tag), (child.text or "").strip()
        if name == "release":
            data.kernel = value
        elif name == "machine":
            data.arch = value
        elif name == "number-of-cpus" and is_digits(value):
            data.cpus = int(value)
    for stamp in host.iter():
        tag = _local(stamp.tag)
        if tag == "boot":
            data.restarts += 1
        if tag != "timestamp":
            continue
        try:
            ts = _ts(stamp.get("date", ""), stamp.get("time", ""))
        except ValueError:
            data.problems.append((None, f"bad timestamp {stamp.get('date')} {stamp.get('time')}"))
            continue
        if stamp.get("utc") == "0":
            data.utc = False
        values: dict[str, float] = {}
        for el in stamp.iter():
            kind = _local(el.tag)
            if kind == "memory":
                for sub in el:
                    col = _JSON_MEMORY.get(_local(sub.tag))
                    if col and sub.text:
                        _number_into(values, col, sub.text, data)
            elif kind in ("swap-pages", "paging"):
                for k, v in el.attrib.items():
                    if k in _JSON_RATES:
                        _number_into(values, _JSON_RATES[k], v, data)
            elif kind == "psi-mem":
                for k, v in el.attrib.items():
                    if k in _JSON_PSI:
                        _number_into(values, _JSON_PSI[k], v, data)
        if values:
            _put(data, ts, values)
        if is_digits(stamp.get("interval", "")):
            data.intervals[ts] = float(stamp.get("interval", "0"))
    return data


# --- sadf -j -------------------------------------------------------------------------------------


def _obj(x: object) -> dict:
    """A JSON object, or {} for anything else (a hostile file may put a list or a number anywhere)."""
    return x if isinstance(x, dict) else {}


def parse_sadf_json(text: str) -> SarData:
    """`sadf -j`: like the XML, swap fields inside "memory"."""
    try:
        doc = json.loads(text)
        hosts = doc["sysstat"]["hosts"]
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise ParseError(None, f"not sadf -j output ({type(e).__name__}: {e})") from None
    if not isinstance(hosts, list) or not hosts:
        raise ParseError(None, "sadf -j output with no host")
    if not isinstance(hosts[0], dict):
        raise ParseError(None, "sadf -j output: a host is not an object")
    h = hosts[0]
    data = SarData("sadf-json", utc=True)
    data.hostname, data.kernel, data.arch = (
        v if isinstance(v, str) else None for v in (h.get("nodename"), h.get("release"), h.get("machine"))
    )
    cpus = h.get("number-of-cpus")
    data.cpus = cpus if isinstance(cpus, int) and not isinstance(cpus, bool) else None
    restarts = h.get("restarts")
    data.restarts = len(restarts) if isinstance(restarts, list) else 0
    stats = h.get("statistics")
    for rec in stats if isinstance(stats, list) else []:
        rec = _obj(rec)
        stamp = _obj(rec.get("timestamp"))
        try:
            ts = _ts(str(stamp["date"]), str(stamp["time"]))
        except (KeyError, ValueError):
            data.problems.append((None, f"bad timestamp {stamp!r}"[:120]))
            continue
        if stamp.get("utc") == 0:
            data.utc = False
        values: dict[str, float] = {}
        for k, v in _obj(rec.get("memory")).items():
            if k in _JSON_MEMORY and v is not None:
                _number_into(values, _JSON_MEMORY[k], v, data)
        for group in ("swap-pages", "paging"):
            for k, v in _obj(rec.get(group)).items():
                if k in _JSON_RATES and v is not None:
                    _number_into(values, _JSON_RATES[k], v, data)
        for k, v in _obj(_obj(rec.get("psi")).get("psi-mem")).items():
            if k in _JSON_PSI and v is not None:
                _number_into(values, _JSON_PSI[k], v, data)
        if values:
            _put(data, ts, values)
        interval = stamp.get("interval")
        if isinstance(interval, int | float) and not isinstance(interval, bool) and math.isfinite(interval):
            data.intervals[ts] = float(interval)
    return data


# --- sadf -d -------------------------------------------------------------------------------------


def parse_sadf_csv(text: str) -> SarData:
    """`sadf -d`: `;`-separated blocks, one per activity, each starting `# hostname;interval;timestamp;…`."""
    data = SarData("sadf-csv", utc=True)
    cols: list[str] | None = None
    seen_header = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.lstrip("# ").split(";")
            if len(parts) >= 3 and parts[0] == "hostname" and parts[2] == "timestamp":
                seen_header = True
                cols = parts if any(p in WANTED for p in parts[3:]) else None
                if cols is not None and any(p.endswith("[...]") for p in parts):
                    # `sadf -dh` of per-CPU/per-device activities: each line repeats those groups as
                    # often as there were devices, so columns cannot be found by header name.
                    data.problems.append(
                        (
                            lineno,
                            "sadf -dh output with per-CPU or per-device activities cannot be split "
                            "by column name: its lines are skipped (use sadf -d, -x or -j, or "
                            "sadf -dh FILE -- -r ALL -S -W -B -q MEM)",
                        )
                    )
                    cols = None
            continue
        fields = line.split(";")
        if len(fields) >= 4 and "RESTART" in fields[3]:
            data.restarts += 1
            continue
        if cols is None:
            continue
        if len(fields) != len(cols):
            data.problems.append((lineno, f"{len(fields)} fields where the header has {len(cols)}"))
            continue
        data.hostname = data.hostname or fields[0]
        stamp = fields[2].strip()
        try:
            if is_digits(stamp):  # sadf -U: seconds since the epoch
                ts = datetime.fromtimestamp(int(stamp), UTC)
            else:
                utc = stamp.endswith(" UTC")
                if not utc:
                    data.utc = False
                ts = datetime.strptime(stamp.removesuffix(" UTC")[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except (ValueError, OverflowError, OSError):
            data.problems.append((lineno, f"bad timestamp {stamp!r}"))
            continue
        values: dict[str, float] = {}
        for name, v in zip(cols[3:], fields[3:]):
            if name in WANTED:
                _number_into(values, name, v, data, lineno)
        _put(data, ts, values, lineno)
        try:
            interval = float(fields[1])
            if math.isfinite(interval):
                data.intervals[ts] = interval
        except ValueError:
            pass
    if not seen_header:
        raise ParseError(None, "no '# hostname;interval;timestamp;…' header: not sadf -d output")
    return data


# --- sar text ------------------------------------------------------------------------------------


def _parse_header_date(text: str) -> date | None:
    """The header date in the locale sar used: 11/26/26, 11/26/2026, 26.11.2026, 2026-11-26, 26/11/2026."""
    for fmt in ("%Y-%m-%d", "%m/%d/%y", "%m/%d/%Y", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y", "%d/%m/%y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _clock(tokens: list[str]) -> tuple[time, int] | None:
    """(time of day, tokens used) for `22:03:01` or `10:03:01 PM` (AM/PM is a separate field)."""
    if not tokens:
        return None
    m = _TIME.match(tokens[0])
    if not m:
        return None
    h, mi, s = (int(x) for x in m.groups())
    used = 1
    if len(tokens) > 1 and tokens[1].upper() in ("AM", "PM"):
        used = 2
        if tokens[1].upper() == "PM" and h < 12:
            h += 12
        elif tokens[1].upper() == "AM" and h == 12:
            h = 0
    if h > 23 or mi > 59 or s > 60:
        return None
    return time(h, mi, min(s, 59)), used


def parse_sar_text(text: str, tz: tzinfo | None = None) -> SarData:
    """sar text (`sar -A`, `-r ALL`, `-S`, `-W`, `-B`, `-q MEM`, several files concatenated).

    Times in text are the local time of the machine that ran sar: `tz` says which zone that is
    (None: UTC assumed, and `utc` stays False so the caller logs the assumption).
    """
    data = SarData("sar-text")
    zone = tz or UTC
    day: date | None = None
    cols: list[str] | None = None
    start: time | None = None  # time of day the file starts: an earlier time is the next day
    saw_header = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        hm = _HEADER.match(line)
        if hm:
            saw_header = True
            data.kernel, data.hostname = hm.group(1), hm.group(2)
            data.arch = hm.group(4) or data.arch
            data.cpus = int(hm.group(5)) if hm.group(5) else data.cpus
            day = _parse_header_date(hm.group(3))
            if day is None:
                data.problems.append((lineno, f"header date {hm.group(3)!r} not understood"))
            cols, start = None, None
            continue
        tokens = line.split()
        if _AVERAGE.match(tokens[0]):
            cols = None  # the activity block is over
            continue
        clock = _clock(tokens)
        if clock is None:
            continue
        tod, used = clock
        if start is None:
            start = tod
        rest = tokens[used:]
        if not rest:
            continue
        if "RESTART" in rest[0].upper():
            data.restarts += 1
            continue
        if not _looks_numeric(rest[0]):
            # A header line: a new activity block, or the same block again after a LINUX RESTART.
            cols = rest if any(c in WANTED for c in rest) else None
            continue
        if cols is None or day is None:
            continue
        if len(rest) != len(cols):
            data.problems.append((lineno, f"{len(rest)} values where the header has {len(cols)} columns"))
            continue
        # A daily file spans less than 24 h from its first record: earlier clock times are past midnight.
        try:
            ts = datetime.combine(day + timedelta(days=1 if tod < start else 0), tod, zone).astimezone(UTC)
        except OverflowError:  # a header date at the end of the calendar
            data.problems.append((lineno, f"time past {day} cannot be placed: line skipped"))
            continue
        values: dict[str, float] = {}
        for name, v in zip(cols, rest):
            if name in WANTED:
                _number_into(values, name, v, data, lineno)
        _put(data, ts, values, lineno)
    if not saw_header:
        raise ParseError(None, "no 'Linux <kernel> (<host>) <date>' header: not sar text output")
    data.rows = {k: v for k, v in data.rows.items() if v}
    return data


def _looks_numeric(token: str) -> bool:
    try:
        _num(token)
        return True
    except ValueError:
        return False


# --- sniffing and binary files -------------------------------------------------------------------

SA_MAGIC = (b"\x96\xd5", b"\xd5\x96")  # sysstat's SYSACTIVITY_MAGIC, either byte order


def detect(head: bytes) -> str | None:
    """'sa' (binary) | 'sadf-xml' | 'sadf-json' | 'sadf-csv' | 'sar-text' | None, from a file's first bytes."""
    if head[:2] in SA_MAGIC:
        return "sa"
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("<?xml") or text.startswith("<sysstat"):
        return "sadf-xml" if "<sysstat" in text or "sysstat" in text[:400] else None
    if text.startswith("{") and '"sysstat"' in text[:200]:
        return "sadf-json"
    if text.startswith("# hostname;interval;timestamp;"):
        return "sadf-csv"
    if _HEADER.match(text):
        return "sar-text"
    return None


def parse_any(text: str, fmt: str, tz: tzinfo | None = None) -> SarData:
    if fmt == "sadf-xml":
        return parse_sadf_xml(text)
    if fmt == "sadf-json":
        return parse_sadf_json(text)
    if fmt == "sadf-csv":
        return parse_sadf_csv(text)
    if fmt == "sar-text":
        return parse_sar_text(text, tz)
    raise ParseError(None, f"unknown sar format {fmt!r}")


def sa_file_version(head: bytes) -> str | None:
    """The sysstat version that wrote a binary sa file (file_magic: magic, format, major.minor.patch)."""
    if len(head) >= 7 and head[:2] in SA_MAGIC:
        return f"{head[4]}.{head[5]}.{head[6]}"
    return None


class SadfError(Exception):
    """sadf is missing or cannot read the file: the message says what to do."""


def run_sadf(path: Path, timeout: float = 120.0) -> str:
    """A binary sa file through the installed sadf, as XML (UTC timestamps, every memory field).

    Tries the richest option set first and falls back for older sadf that lack `-q MEM`/`-r ALL`.
    """
    sadf = shutil.which("sadf")
    with open(path, "rb") as f:
        head = f.read(16)
    wrote = sa_file_version(head)
    made_by = f" (written by sysstat {wrote})" if wrote else ""
    if sadf is None:
        raise SadfError(
            f"binary sa file{made_by} needs sysstat's sadf, which is not installed: install sysstat, or on the "
            f"host run `sadf -x {path.name} -- -A > {path.name}.xml` and pass the XML"
        )
    last = ""
    for opts in (["-r", "ALL", "-S", "-W", "-B", "-q", "MEM"], ["-r", "ALL", "-S", "-W", "-B"], ["-r", "-S", "-W", "-B"]):
        try:
            p = subprocess.run(
                [sadf, "-x", str(path), "--", *opts],
                capture_output=True,
                timeout=timeout,
                env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
            )
        except subprocess.TimeoutExpired:
            raise SadfError(f"sadf took more than {timeout:.0f} s: refused") from None
        if p.returncode == 0 and p.stdout.strip():
            return p.stdout.decode("utf-8", "replace")
        last = (p.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        if "Invalid system activity file" in last or "version" in last.lower() or "unexpected" in last:
            break
    mine = _sadf_version(sadf)
    raise SadfError(
        f"the installed sadf{mine} cannot read this sa file{made_by}: {last}. Run `sadf -x {path.name} -- -A > "
        f"{path.name}.xml` with the sysstat that wrote it (on the host) and pass the XML"
    )


def _sadf_version(sadf: str) -> str:
    try:
        p = subprocess.run([sadf, "-V"], capture_output=True, timeout=10, env={"LC_ALL": "C"})
        m = re.search(r"version (\S+)", (p.stdout + p.stderr).decode("utf-8", "replace"))
        return f" (sysstat {m.group(1)})" if m else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


# --- to store columns ----------------------------------------------------------------------------


def to_samples(data: SarData, page_size: int | None, memtotal_kb: dict[datetime, int] | None = None) -> pd.DataFrame:
    """Rows -> store sample columns (bytes, bytes/s, shares). Swap rates need the page size: null
    without. `memtotal_kb`: MemTotal per row time as sar_memtotal.derive recovered it."""
    stamps = sorted(data.rows)
    n = len(stamps)
    out: dict[str, object] = {
        "ts": pd.DatetimeIndex(stamps).astype("datetime64[ms, UTC]")
        if n
        else pd.DatetimeIndex([], tz="UTC").astype("datetime64[ms, UTC]")
    }

    def col(name: str) -> np.ndarray:
        return np.array([data.rows[t].get(name, np.nan) for t in stamps], dtype="float64")

    present = set().union(*(r.keys() for r in data.rows.values())) if n else set()
    for sar_name, key in KB_FIELDS.items():
        if sar_name in present:
            out[meminfo_column(key)] = pd.array(np.round(col(sar_name) * KIB), dtype="Int64")
    if memtotal_kb:
        out["mem_MemTotal"] = pd.array([memtotal_kb[t] * KIB if t in memtotal_kb else None for t in stamps], dtype="Int64")
    if {"kbswpfree", "kbswpused"} <= present:
        out["mem_SwapTotal"] = pd.array(np.round((col("kbswpfree") + col("kbswpused")) * KIB), dtype="Int64")
    if page_size:
        if "pswpin/s" in present:
            out["swapin_Bps"] = col("pswpin/s") * page_size
        if "pswpout/s" in present:
            out["swapout_Bps"] = col("pswpout/s") * page_size
    if "majflt/s" in present:
        out["majfault_per_s"] = col("majflt/s")
    if "pgscand/s" in present:
        out["pgscan_direct_per_s"] = col("pgscand/s")
    if "%smem" in present:
        out["psi_some_share"] = col("%smem") / 100.0
    if "%fmem" in present:
        out["psi_full_share"] = col("%fmem") / 100.0
    for sar_name, store in (
        ("%smem-10", "psi_some_avg10"),
        ("%smem-60", "psi_some_avg60"),
        ("%smem-300", "psi_some_avg300"),
        ("%fmem-10", "psi_full_avg10"),
        ("%fmem-60", "psi_full_avg60"),
        ("%fmem-300", "psi_full_avg300"),
    ):
        if sar_name in present:
            out[store] = col(sar_name)
    if data.intervals:
        out["interval_s"] = np.array([data.intervals.get(t, np.nan) for t in stamps], dtype="float64")
    frame = pd.DataFrame(out)
    frame["source"] = "sar"
    return frame


def describe(present_columns: set[str]) -> str:
    """The parenthesis of a coverage line: what a sar history gave."""
    parts = []
    if "mem_Inactive" in present_columns:
        parts.append("Inactive")
    if "mem_MemFree" in present_columns or "mem_MemAvailable" in present_columns:
        parts.append("memory levels")
    if "swapin_Bps" in present_columns:
        parts.append("swap rates")
    if "mem_SwapFree" in present_columns:
        parts.append("swap use")
    if "majfault_per_s" in present_columns:
        parts.append("major faults")
    if "psi_some_share" in present_columns:
        parts.append("PSI")
    return ", ".join(parts) or "no memory columns"
