"""Plain snapshot trees (`cp` in a loop) and single snapshots.

A tree is a directory whose children are named by the snapshot time (ISO-8601 extended or basic,
optional fraction, `Z` or an offset; or epoch seconds). Each snapshot holds the files at their real
paths (`proc/meminfo`, `sys/kernel/mm/ksm/...`) or flat (`meminfo`, `vmstat`, `swaps`, `ksm/`,
`pressure_memory` or `pressure/memory`). A single snapshot is one such directory on its own; its
time comes from a `date` file when there is one, else from the meminfo file's mtime.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pandas as pd

from memreport.ingest import procfs
from memreport.model import Contribution, HostData, HostFacts, LogEntry

KIND = "snapshot-tree"

_ISO = re.compile(
    r"^(?P<Y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})[T_ ]?(?P<H>\d{2}):?(?P<M>\d{2}):?(?P<S>\d{2})"
    r"(?:[.,](?P<frac>\d{1,9}))?(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_EPOCH = re.compile(r"^\d{9,11}(?:\.\d{1,9})?$")

# Where each file may be, real path first then flat names.
CANDIDATES = {
    "meminfo": ("proc/meminfo", "meminfo"),
    "vmstat": ("proc/vmstat", "vmstat"),
    "swaps": ("proc/swaps", "swaps"),
    "psi": ("proc/pressure/memory", "pressure/memory", "pressure_memory"),
    "ksm": ("sys/kernel/mm/ksm", "ksm"),
    "hostname": ("proc/sys/kernel/hostname", "etc/hostname", "hostname"),
    "kernel": ("proc/sys/kernel/osrelease", "osrelease", "uname_r"),
    "boot_id": ("proc/sys/kernel/random/boot_id", "boot_id"),
    "uptime": ("proc/uptime", "uptime"),
    "pagesize": ("pagesize", "getconf_PAGESIZE", "page_size"),
    "date": ("date", "date_--utc", "timestamp"),
}


# Directories a tree's root may hold host facts in (read by `fact`): not stray snapshots.
_ROOT_FACT_DIRS = {rel.split("/")[0] for what in ("hostname", "kernel", "pagesize") for rel in CANDIDATES[what] if "/" in rel}


def parse_snapshot_time(name: str) -> dt.datetime | None:
    """A directory name as a UTC time, or None when it is not one. Naive ISO times are UTC."""
    if _EPOCH.match(name):
        return dt.datetime.fromtimestamp(float(name), tz=dt.timezone.utc)
    m = _ISO.match(name)
    if not m:
        return None
    frac = (m["frac"] or "0")[:6].ljust(6, "0")
    tz = dt.timezone.utc
    if m["tz"] and m["tz"] != "Z":
        sign = 1 if m["tz"][0] == "+" else -1
        digits = m["tz"][1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        t = dt.datetime(int(m["Y"]), int(m["m"]), int(m["d"]), int(m["H"]), int(m["M"]), int(m["S"]), int(frac), tzinfo=tz)
    except ValueError:
        return None
    return t.astimezone(dt.timezone.utc)


def _find(snap: Path, what: str) -> Path | None:
    for rel in CANDIDATES[what]:
        p = snap / rel
        if p.exists():
            return p
    return None


def _is_snapshot(p: Path) -> bool:
    return p.is_dir() and _find(p, "meminfo") is not None


def _timed_children(root: Path) -> list[tuple[dt.datetime, Path]]:
    out = []
    for child in root.iterdir():
        t = parse_snapshot_time(child.name)
        if t is not None and child.is_dir():
            out.append((t, child))
    return sorted(out)


def sniff(path: Path) -> bool:
    if not path.is_dir():
        return False
    return _is_snapshot(path) or any(_is_snapshot(c) for _, c in _timed_children(path))


def _text(p: Path) -> str:
    data = p.read_bytes()
    if b"\0" in data:
        raise procfs.ParseError(None, "binary data")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise procfs.ParseError(line, "bytes that are not UTF-8") from None


def _parse_date_file(text: str) -> dt.datetime | None:
    s = text.strip()
    t = parse_snapshot_time(s.replace(" ", "T", 1)) if s else None
    if t:
        return t
    for fmt in ("%a %b %d %H:%M:%S %Z %Y", "%a %d %b %Y %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            t = dt.datetime.strptime(s, fmt)
            return t.replace(tzinfo=t.tzinfo or dt.timezone.utc).astimezone(dt.timezone.utc)
        except ValueError:
            continue
    return None


def read_snapshot(snap: Path, when: dt.datetime, page_size: int | None, log: list[LogEntry]) -> tuple[dict, list[dict], list[dict]]:
    """One snapshot directory -> (sample row, swap rows, text facts). Unreadable files are logged."""
    row: dict = {"ts": pd.Timestamp(when).as_unit("ms")}
    swaps: list[dict] = []
    texts: dict[str, str] = {}

    def parse(what: str, fn):  # type: ignore[no-untyped-def]
        p = _find(snap, what)
        if p is None or p.is_dir():
            return None
        try:
            return fn(_text(p))
        except procfs.ParseError as e:
            event = "not_utf8" if "UTF-8" in e.reason else ("binary_file" if "binary" in e.reason else "bad_value")
            log.append(LogEntry("warn", event, f"{e.reason}: file skipped", file=str(p), line=e.line))
        except OSError as e:
            log.append(LogEntry("warn", "skipped_file", f"unreadable ({e.strerror}): skipped", file=str(p)))
        return None

    problems: list[procfs.ParseError] = []
    mem = parse("meminfo", lambda text: procfs.parse_meminfo(text, problems))
    for e in problems:  # an impossible value: that key is null, the rest of the snapshot stays
        log.append(LogEntry("warn", "bad_value", f"{e.reason}: left null", file=str(_find(snap, "meminfo")), line=e.line))
    if mem:
        row.update(mem)
    vm = parse("vmstat", procfs.parse_vmstat)
    if vm:
        row.update(vm)
    psi = parse("psi", procfs.parse_psi)
    if psi:
        row.update(psi)
    up = parse("uptime", lambda t: float(t.split()[0]))
    if up is not None:
        row["uptime_s"] = up
    boot = parse("boot_id", str.strip)
    if boot:
        row["boot_id"] = boot
    for dev in parse("swaps", procfs.parse_swaps) or []:
        swaps.append({"ts": row["ts"], **vars(dev)})
    ksm_dir = _find(snap, "ksm")
    if ksm_dir is not None and ksm_dir.is_dir():
        files = {}
        for f in sorted(ksm_dir.iterdir()):
            if f.is_file():
                try:
                    files[f.name] = f.read_text(errors="replace")
                except OSError:
                    log.append(LogEntry("warn", "skipped_file", "unreadable: skipped", file=str(f)))
        nums, text = procfs.parse_ksm_files(files, page_size)
        row.update(nums)
        texts.update(text)
    return row, swaps, [texts]


def _infer_page_size(snap: Path, log: list[LogEntry]) -> int | None:
    """Page size from MemFree (bytes) / nr_free_pages of one snapshot, rounded to a power of two."""
    mem_p, vm_p = _find(snap, "meminfo"), _find(snap, "vmstat")
    try:
        mem = procfs.parse_meminfo(_text(mem_p)) if mem_p else {}
        vm = procfs.parse_vmstat(_text(vm_p)) if vm_p else {}
    except (procfs.ParseError, OSError):
        return None
    size = procfs.infer_page_size(mem, vm)
    if size is None:
        return None
    log.append(LogEntry("info", "inferred", f"page size {size} inferred from meminfo / vmstat page counts (no pagesize file)", file=str(snap)))
    return size


def read(path: Path, label: str) -> list[HostData]:
    root = Path(path)
    log: list[LogEntry] = []
    snaps: list[tuple[dt.datetime | None, Path]]
    if _is_snapshot(root) and not _timed_children(root):
        snaps, kind = [(None, root)], "snapshot"
    else:
        snaps, kind = [(when, c) for when, c in _timed_children(root) if _is_snapshot(c)], KIND
        for _, c in _timed_children(root):
            if not _is_snapshot(c):
                log.append(LogEntry("warn", "skipped_file", "snapshot directory without a meminfo: skipped", file=str(c)))
        for c in sorted(root.iterdir()):
            if c.is_dir() and parse_snapshot_time(c.name) is None and c.name not in _ROOT_FACT_DIRS:
                log.append(LogEntry("warn", "skipped_file", "directory name is not a snapshot time: ignored", file=str(c)))
    first = snaps[0][1]

    def fact(what: str) -> str | None:
        p = _find(first, what) or _find(root, what)
        try:
            return p.read_text(errors="replace").strip() if p and p.is_file() else None
        except OSError:
            return None

    host = fact("hostname") or root.name
    page = fact("pagesize")
    page_size = int(page) if page and page.isdigit() else None
    if page_size is None:
        page_size = _infer_page_size(first, log)
    rows, swaps, texts = [], [], {}
    for when, snap in snaps:
        t: dt.datetime | None = when
        if t is None:  # a single snapshot: its time from a date file, else the meminfo mtime
            date_file = _find(snap, "date")
            t = _parse_date_file(date_file.read_text(errors="replace")) if date_file else None
            if t is not None:
                log.append(LogEntry("info", "time_source", f"snapshot time {t:%Y-%m-%d %H:%M:%S} UTC from the date file", file=str(date_file)))
            else:
                mem = _find(snap, "meminfo")
                assert mem is not None
                t = dt.datetime.fromtimestamp(mem.stat().st_mtime, tz=dt.timezone.utc)
                log.append(LogEntry("info", "time_source", f"snapshot time {t:%Y-%m-%d %H:%M:%S} UTC from the meminfo file's mtime (no date file)", file=str(mem)))
        row, sw, tx = read_snapshot(snap, t, page_size, log)
        if "mem_MemTotal" not in row:
            log.append(LogEntry("warn", "skipped_file", "no readable meminfo: snapshot skipped", file=str(snap)))
            continue
        rows.append(row)
        swaps.extend(sw)
        texts.update(tx[0])
    samples = pd.DataFrame(rows)
    if not len(samples):
        from memreport.errors import InputError

        raise InputError(root, "no snapshot with a readable meminfo")
    samples["ts"] = pd.to_datetime(samples["ts"], utc=True).astype("datetime64[ms, UTC]")
    samples["source"] = "snapshot"
    facts = HostFacts(host=host, hostname=fact("hostname"), kernel=fact("kernel"), page_size=page_size, extra=texts)
    log = [dataclasses.replace(e, host=host, input=label) for e in log]
    n = len(samples)
    summary = (
        f"{n} /proc snapshots from {samples['ts'].min():%Y-%m-%d %H:%M} to {samples['ts'].max():%Y-%m-%d %H:%M} UTC"
        if n > 1
        else f"one /proc snapshot at {samples['ts'].iloc[0]:%Y-%m-%d %H:%M} UTC"
    )
    swaps_df = pd.DataFrame(swaps) if swaps else None
    return [HostData(facts=facts, samples=samples, swaps=swaps_df, log=log, contributions=[Contribution(label, kind, summary)])]
