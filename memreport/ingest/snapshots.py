"""Plain snapshot trees (`cp` in a loop) and single snapshots.

A tree is a directory whose children are named by the snapshot time (ISO-8601 extended or basic,
optional fraction, `Z` or an offset; or epoch seconds). Each snapshot holds the files at their real
paths (`proc/meminfo`, `sys/kernel/mm/ksm/...`) or flat (`meminfo`, `vmstat`, `swaps`, `ksm/`,
`pressure_memory` or `pressure/memory`). A single snapshot is one such directory on its own; its
time comes from a `date` file when there is one, else from --start, else from the meminfo file's
mtime (an assumption, named as such).

Every other file of a snapshot is recognised by its content wherever it sits (snapshot_procs.py):
ksmd's /proc/<pid>/stat gives ksmd CPU, qemu processes' status, ksm_stat, cmdline and `ps` output
give the VMs, cgroup memory files their limits. What is not recognised is logged, once per name
pattern (docs/INPUTS.md, "Snapshot trees").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pandas as pd

from memreport.ingest import hosts, pagesize, procfs, sysfs_mem
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.ingest.snapshot_procs import Skipped, SnapshotProcs, join_by_name, pattern_of, read_snapshot_procs
from memreport.model import Contribution, HostData, HostFacts, LogEntry
from memreport.units import is_digits

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
    "hugepages": ("sys/kernel/mm/hugepages",),  # read by sysfs_mem, at these real paths only
    "nodes": ("sys/devices/system/node",),
    "hostname": ("proc/sys/kernel/hostname", "etc/hostname", "hostname"),
    "machine_id": ("etc/machine-id", "machine-id", "var/lib/dbus/machine-id"),
    "kernel": ("proc/sys/kernel/osrelease", "osrelease", "uname_r"),
    "boot_id": ("proc/sys/kernel/random/boot_id", "boot_id"),
    "uptime": ("proc/uptime", "uptime"),
    "pagesize": ("pagesize", "getconf_PAGESIZE", "page_size"),
    # the machine, for the page size: `uname -m`/`uname -a` output, the kernel.arch sysctl, cpuinfo
    "arch": ("proc/sys/kernel/arch", "arch", "uname_m", "uname_-m", "uname", "uname_a", "uname_-a"),
    "cpuinfo": ("proc/cpuinfo", "cpuinfo"),
    "date": ("date", "date_--utc", "timestamp"),
    "clock_ticks": ("clock_ticks", "getconf_CLK_TCK", "clk_tck"),
}
# USER_HZ: the unit of /proc/<pid>/stat times. 100 on x86, arm64, ppc64le and s390x (the kernel
# converts to it whatever CONFIG_HZ is); assumed, and logged, when the tree does not say.
USER_HZ = 100
_IDENTITY = ("name", "uuid", "allocated_bytes", "maxmem_bytes")


# Directories a tree's root may hold host facts in (read by `fact`): not stray snapshots.
_ROOT_FACT_DIRS = {rel.split("/")[0] for what in ("hostname", "kernel", "pagesize") for rel in CANDIDATES[what] if "/" in rel}


def parse_snapshot_time(name: str) -> dt.datetime | None:
    """A directory name as a UTC time, or None when it is not one. Naive ISO times are UTC."""
    if _EPOCH.match(name):
        return dt.datetime.fromtimestamp(float(name), tz=dt.UTC)
    m = _ISO.match(name)
    if not m:
        return None
    frac = (m["frac"] or "0")[:6].ljust(6, "0")
    tz = dt.UTC
    if m["tz"] and m["tz"] != "Z":
        sign = 1 if m["tz"][0] == "+" else -1
        digits = m["tz"][1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        t = dt.datetime(int(m["Y"]), int(m["m"]), int(m["d"]), int(m["H"]), int(m["M"]), int(m["S"]), int(frac), tzinfo=tz)
    except ValueError:
        return None
    return t.astimezone(dt.UTC)


def _find(snap: Path, what: str) -> Path | None:
    for rel in CANDIDATES[what]:
        p = snap / rel
        if p.exists():
            return p
    return None


def _used_paths(snap: Path) -> set[Path]:
    """Every file and directory the snapshot reader takes by name (all alternatives present)."""
    return {snap / rel for rels in CANDIDATES.values() for rel in rels if (snap / rel).exists()}


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
            return t.replace(tzinfo=t.tzinfo or dt.UTC).astimezone(dt.UTC)
        except ValueError:
            continue
    return None


def read_snapshot(
    snap: Path, when: dt.datetime, page_size: int | None, log: list[LogEntry]
) -> tuple[dict, list[dict], list[dict]]:
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


def _page_size(snap: Path, root: Path, kernel: str | None, opts: IngestOptions) -> tuple[pagesize.PageSize, list[LogEntry]]:
    """The page size from a `pagesize` file, the architecture (uname, kernel.arch, cpuinfo) or the
    first snapshot's meminfo / vmstat (memreport/ingest/pagesize.py)."""

    def text(what: str) -> tuple[str | None, str]:
        p = _find(snap, what) or _find(root, what)
        try:
            return (p.read_text(errors="replace").strip() if p and p.is_file() else None), str(p)
        except OSError:
            return None, str(p)

    stated_text, stated_from = text("pagesize")
    stated = int(stated_text) if stated_text and is_digits(stated_text) else None
    arch, arch_from = None, ""
    uname, uname_from = text("arch")
    if uname:
        arch, arch_from = pagesize.arch_from_uname(uname), uname_from
    if arch is None:
        cpuinfo, cpuinfo_from = text("cpuinfo")
        if cpuinfo:
            arch, arch_from = pagesize.arch_from_cpuinfo(cpuinfo), cpuinfo_from
    mem_p, vm_p = _find(snap, "meminfo"), _find(snap, "vmstat")
    try:
        mem = procfs.parse_meminfo(_text(mem_p)) if mem_p else None
        vm = procfs.parse_vmstat(_text(vm_p)) if vm_p else None
    except (procfs.ParseError, OSError):
        mem = vm = None  # the snapshot loop logs the broken file
    return pagesize.decide(
        override=opts.page_size,
        stated=stated,
        stated_from=stated_from,
        arch=arch,
        arch_from=arch_from,
        kernel=kernel,
        meminfo=mem,
        vmstat=vm,
        pair_from=f"{snap.name}'s meminfo / vmstat",
    )


def read(path: Path, label: str, opts: IngestOptions = DEFAULT) -> list[HostData]:
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
    first = snaps[0][1]
    skipped = _not_snapshots(root) if kind == KIND else []
    proc_parts: list[tuple[pd.Timestamp, str | None, SnapshotProcs]] = []

    def fact(what: str) -> str | None:
        p = _find(first, what) or _find(root, what)
        try:
            return p.read_text(errors="replace").strip() if p and p.is_file() else None
        except OSError:
            return None

    host = fact("hostname") or root.name
    page, notes = _page_size(first, root, fact("kernel"), opts)
    log.extend(notes + page.log(str(first)))
    page_size = page.size
    assumptions = [page.assumption] if page.assumption else []
    rows, swaps, texts = [], [], {}
    pools: list[pd.DataFrame] = []
    numa: list[pd.DataFrame] = []
    for when, snap in snaps:
        t: dt.datetime | None = when
        if t is None:  # a single snapshot: its time from a date file, else the meminfo mtime
            date_file = _find(snap, "date")
            t = _parse_date_file(date_file.read_text(errors="replace")) if date_file else None
            if t is not None:
                log.append(
                    LogEntry(
                        "info", "time_source", f"snapshot time {t:%Y-%m-%d %H:%M:%S} UTC from the date file", file=str(date_file)
                    )
                )
            elif opts.start is not None or opts.end is not None:
                t = opts.start or opts.end
                assert t is not None
                log.append(
                    LogEntry(
                        "info",
                        "time_source",
                        f"snapshot time {t:%Y-%m-%d %H:%M:%S} UTC from --{'start' if opts.start else 'end'} (no date file)",
                        file=str(snap),
                    )
                )
            else:
                mem = _find(snap, "meminfo")
                assert mem is not None
                t = dt.datetime.fromtimestamp(mem.stat().st_mtime, tz=dt.UTC)
                sentence = (
                    f"snapshot time {t:%Y-%m-%d %H:%M:%S} UTC taken from the meminfo file's modification time "
                    "(no date file); pass --start to set it"
                )
                log.append(LogEntry("warn", "time_source", sentence, file=str(mem)))
                assumptions.append(sentence)
        row, sw, tx = read_snapshot(snap, t, page_size, log)
        if "mem_MemTotal" not in row:
            log.append(LogEntry("warn", "skipped_file", "no readable meminfo: snapshot skipped", file=str(snap)))
            continue
        procs = read_snapshot_procs(snap, _used_paths(snap), page_size)
        if procs.ksmd_ticks is not None:
            row["ksmd_ticks"] = procs.ksmd_ticks
        proc_parts.append((row["ts"], row.get("boot_id"), procs))
        hp, nodes = sysfs_mem.read(snap, pd.Timestamp(row["ts"]), log)
        pools += [f for f in (hp,) if f is not None]
        numa += [f for f in (nodes,) if f is not None]
        skipped += procs.skipped
        rows.append(row)
        swaps.extend(sw)
        texts.update(tx[0])
    samples = pd.DataFrame(rows)
    if not len(samples):
        from memreport.errors import InputError

        raise InputError(root, "no snapshot with a readable meminfo")
    samples["ts"] = pd.to_datetime(samples["ts"], utc=True).astype("datetime64[ms, UTC]")
    samples["source"] = "snapshot"
    facts = HostFacts(
        host=host,
        hostname=fact("hostname"),
        machine_id=hosts.parse_machine_id(fact("machine_id")),
        kernel=fact("kernel"),
        page_size=page_size,
        page_size_source=page.source,
        assumptions=assumptions,
        extra=texts,
    )
    vms, got = _processes(proc_parts, facts, fact("clock_ticks"), log)
    log += _skipped_log(skipped)
    log = [dataclasses.replace(e, host=host, input=label) for e in log]
    n = len(samples)
    summary = (
        f"{n} /proc snapshots from {samples['ts'].min():%Y-%m-%d %H:%M} to {samples['ts'].max():%Y-%m-%d %H:%M} UTC"
        if n > 1
        else f"one /proc snapshot at {samples['ts'].iloc[0]:%Y-%m-%d %H:%M} UTC"
    )
    if got:
        summary += f" ({', '.join(got)})"
    swaps_df = pd.DataFrame(swaps) if swaps else None
    return [
        HostData(
            facts=facts,
            samples=samples,
            vms=vms,
            swaps=swaps_df,
            log=log,
            hugepages=pd.concat(pools, ignore_index=True) if pools else None,
            numa=pd.concat(numa, ignore_index=True) if numa else None,
            contributions=[Contribution(label, kind, summary)],
        )
    ]


def _not_snapshots(root: Path) -> list[Skipped]:
    """Entries of a tree's root that are neither snapshots nor files read by name."""
    used = _used_paths(root)
    out = []
    for child in sorted(root.iterdir()):
        if child in used or (child.is_dir() and parse_snapshot_time(child.name) is not None):
            continue
        if child.is_dir() and child.name not in _ROOT_FACT_DIRS:
            # A directory beside the snapshots may well be one whose time we cannot read: its
            # samples are lost, which the user must hear of, not just the log.
            out.append(
                Skipped(pattern_of(Path(child.name)), "directory name is not a snapshot time: ignored", str(child), level="warn")
            )
        else:
            out.append(
                Skipped(
                    pattern_of(Path(child.name)), "in the tree but not a snapshot (its name is not a time): ignored", str(child)
                )
            )
    return out


def _skipped_log(skipped: list[Skipped]) -> list[LogEntry]:
    """One log entry per name pattern and reason, with the count and the first file."""
    groups: dict[tuple[str, str, str, str], list[Skipped]] = {}
    for s in skipped:
        groups.setdefault((s.pattern, s.reason, s.level, s.event), []).append(s)
    out = []
    for (pattern, reason, level, event), items in groups.items():
        n = len(items)
        detail = reason if n == 1 else f"{reason} ({n} files named like {pattern})"
        if items[0].example:
            detail += f"; first: {items[0].example!r}"
        out.append(LogEntry(level, event, detail, file=items[0].file, line=items[0].line, count=n))
    return out


def _processes(
    parts: list[tuple[pd.Timestamp, str | None, SnapshotProcs]], facts: HostFacts, clock_ticks: str | None, log: list[LogEntry]
) -> tuple[pd.DataFrame | None, list[str]]:
    """The per-VM frame of every snapshot, the clock ticks ksmd's CPU share needs and the host's
    cgroup limits into facts; returns the VM frame and what the process files gave (for the summary)."""
    got: list[str] = []
    if any(p.ksmd_ticks is not None for _, _, p in parts):
        got.append("ksmd CPU")
        if clock_ticks and is_digits(clock_ticks) and int(clock_ticks) > 0:
            facts.clock_ticks = int(clock_ticks)
        else:
            facts.clock_ticks = USER_HZ
            log.append(
                LogEntry(
                    "info",
                    "assumed_clock_ticks",
                    f"clock ticks assumed {USER_HZ} per second (USER_HZ) for ksmd's CPU time: no clock_ticks file in the tree",
                )
            )
    if any(p.ksm_pages_without_page_size for _, _, p in parts):
        log.append(LogEntry("warn", "missing_source", "page size unknown: per-VM KSM merged pages left null"))
    for _, _, p in parts:
        facts.extra.update(p.host_limits)
    if any(p.host_limits for _, _, p in parts):
        got.append("host cgroup limits")
    # A process keeps its command line for life: what one snapshot says of a pid (its name, UUID,
    # allocation) holds in the others of the same boot, where perhaps only its status was copied.
    known: dict[tuple[str | None, int], dict[str, Any]] = {}
    for _, boot, p in parts:
        for vm in p.vms:
            if vm["pid"] is not None:
                seen = known.setdefault((boot, vm["pid"]), {})
                for k in _IDENTITY:
                    if seen.get(k) is None:
                        seen[k] = vm[k]
    rows: list[dict[str, Any]] = []
    for ts, boot, p in parts:
        for vm in p.vms:
            for k, v in known.get((boot, vm["pid"]), {}).items():
                if vm[k] is None:
                    vm[k] = v
        rows += [{"ts": ts, **vm} for vm in join_by_name(p.vms)]  # a command line alone now finds its pid
    if not rows:
        return None, got
    frame = pd.DataFrame(rows)
    for c in frame.columns:
        if c.endswith("_bytes") or c == "pid":
            frame[c] = frame[c].astype("Int64")
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ms, UTC]")
    frame["source"] = "snapshot"
    n = frame["name"].astype("object").where(frame["name"].notna(), "pid " + frame["pid"].astype(str)).nunique()
    got.append(f"{n} VM{'s' if n != 1 else ''}")
    return frame, got
