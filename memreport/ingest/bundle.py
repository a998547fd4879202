"""What the support-bundle readers share: bounded file reading, the /proc snapshot row, page size,
sar history assembly, per-VM rows and coverage lines.

A bundle is untrusted and often half broken: every helper here logs what it skips and goes on;
only the reader decides whether nothing usable is left (then it raises InputError).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from memreport.ingest import pagesize, procfs, sadf, sar_memtotal
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.model import HostData, LogEntry
from memreport.units import KIB, is_digits

MAX_TEXT = 256 * 1024**2  # one text file (a month of sar -A text is ~100 MiB)


class Unreadable(Exception):
    """A file inside a bundle that cannot be used; the reason goes to the log."""

    def __init__(self, event: str, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.event, self.reason, self.line = event, reason, line


def read_bytes(path: Path, limit: int = MAX_TEXT) -> bytes:
    """A file's bytes, transparently decompressed (.gz/.xz/.bz2: sa files are often rotated so), bounded."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
        opener: Callable[..., Any] = open
        if head.startswith(b"\x1f\x8b"):
            opener = gzip.open
        elif head.startswith(b"\xfd7zXZ\x00"):
            opener = lzma.open
        elif head.startswith(b"BZh"):
            opener = bz2.open
        with opener(path, "rb") as f:
            data: bytes = f.read(limit + 1)
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise Unreadable("skipped_file", f"unreadable ({e})") from None
    if len(data) > limit:
        raise Unreadable("skipped_file", f"larger than {limit // 1024**2} MiB: skipped")
    return data


def head(path: Path, n: int = 4096) -> bytes:
    """The first n bytes, decompressed for .gz/.xz/.bz2 (rotated sa files): enough to detect a format."""
    if path.name.endswith((".gz", ".xz", ".bz2")):
        openers: dict[str, Callable[..., Any]] = {"gz": gzip.open, "xz": lzma.open, "bz2": bz2.open}
        opener = openers[path.name.rsplit(".", 1)[1]]
        try:
            with opener(path, "rb") as f:
                data: bytes = f.read(n)
                return data
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise Unreadable("skipped_file", f"unreadable ({e})") from None
    with open(path, "rb") as f:
        return f.read(n)


def read_text(path: Path, limit: int = MAX_TEXT) -> str:
    data = read_bytes(path, limit)
    if b"\0" in data[:65536]:
        raise Unreadable("binary_file", "binary data where text was expected")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        # sar in a Latin-1 locale: decode anyway, the numbers are ASCII.
        if e.start > 0:
            return data.decode("latin-1")
        raise Unreadable("not_utf8", "bytes that are not UTF-8", data[: e.start].count(b"\n") + 1) from None


def first_existing(root: Path, candidates: Iterable[str]) -> Path | None:
    """The first candidate path (relative, glob allowed) that is a regular file under root, never outside it."""
    top = root.resolve()
    for rel in candidates:
        hits = sorted(root.glob(rel)) if any(c in rel for c in "*?[") else [root / rel]
        for p in hits:
            try:
                if p.is_file() and p.resolve().is_relative_to(top):
                    return p
            except OSError:
                continue
    return None


def inside(root: Path, p: Path) -> bool:
    """p is a regular file whose real path stays under root (a symlink in a bundle may point anywhere)."""
    try:
        return p.is_file() and p.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


# --- time and host facts -------------------------------------------------------------------------

_DATE_FORMATS = (
    "%a %b %d %H:%M:%S %Z %Y",  # date (C locale): Thu Nov 26 22:03:47 UTC 2026
    "%a %d %b %Y %H:%M:%S %Z",
    "%a %d %b %Y %I:%M:%S %p %Z",
    "%a %b %d %I:%M:%S %p %Z %Y",
    "%Y-%m-%d %H:%M:%S",
)


def parse_date_output(text: str) -> tuple[datetime | None, str | None]:
    """`date` / `date --utc` output -> (UTC time, zone abbreviation). Only UTC/GMT or a numeric
    offset gives a trustworthy time; a zone name like CET is resolved when the tz database knows it."""
    for line in text.splitlines():
        s = " ".join(line.split())
        if not s:
            continue
        m = re.search(r"\b([A-Z]{2,5}|[+-]\d{4})\b(?= \d{4}$)|\b([A-Z]{2,5})$", s)
        zone = (m.group(1) or m.group(2)) if m else None
        bare = s.replace(f" {zone} ", " ").removesuffix(f" {zone}") if zone else s
        for fmt in (
            "%a %b %d %H:%M:%S %Y",
            "%a %d %b %Y %H:%M:%S",
            "%a %d %b %Y %I:%M:%S %p",
            "%a %b %d %I:%M:%S %p %Y",
            "%Y-%m-%d %H:%M:%S",
        ):
            try:
                naive = datetime.strptime(bare, fmt)
            except ValueError:
                continue
            z = zone_of(zone)
            if z is None:
                return None, zone
            return naive.replace(tzinfo=z).astimezone(UTC), zone
    return None, None


def zone_of(name: str | None) -> tzinfo | None:
    if name is None:
        return None
    if name in ("UTC", "GMT", "Z", "UCT"):
        return UTC
    if re.fullmatch(r"[+-]\d{4}", name):
        sign = 1 if name[0] == "+" else -1
        return timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[3:])))
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - unknown abbreviations (CEST, EDT) are not zones
        return None


def localtime_zone(root: Path) -> tzinfo | None:
    """The bundle host's zone from its etc/localtime symlink target (sos keeps it as ../usr/share/zoneinfo/X)."""
    link = root / "etc" / "localtime"
    try:
        target = str(link.readlink()) if link.is_symlink() else None
    except OSError:
        target = None
    if target and "zoneinfo/" in target:
        return zone_of(target.split("zoneinfo/", 1)[1])
    tzfile = root / "etc" / "timezone"
    if tzfile.is_file():
        try:
            return zone_of(tzfile.read_text(errors="replace").strip())
        except OSError:
            return None
    return None


# --- the /proc snapshot --------------------------------------------------------------------------


@dataclass
class Snapshot:
    row: dict[str, Any]
    swaps: list[dict[str, Any]]
    texts: dict[str, str]
    meminfo: dict[str, int] | None
    vmstat: dict[str, int] | None


def snapshot_row(
    files: dict[str, tuple[str, str]],
    ksm_files: dict[str, str],
    when: datetime,
    page_size: int | None,
    log: list[LogEntry],
) -> Snapshot:
    """{what: (file label, text)} for meminfo/vmstat/psi/swaps/boot_id -> one sample row."""
    ts = pd.Timestamp(when).as_unit("ms")
    row: dict[str, Any] = {"ts": ts}
    swaps: list[dict[str, Any]] = []
    parsed: dict[str, Any] = {}
    parsers: dict[str, Callable[[str], Any]] = {
        "meminfo": procfs.parse_meminfo,
        "vmstat": procfs.parse_vmstat,
        "psi": procfs.parse_psi,
        "swaps": procfs.parse_swaps,
    }
    for what, fn in parsers.items():
        if what not in files:
            continue
        name, text = files[what]
        try:
            parsed[what] = fn(text)
        except procfs.ParseError as e:
            log.append(LogEntry("warn", "bad_value", f"{e.reason}: file skipped", file=name, line=e.line))
    for what in ("meminfo", "vmstat", "psi"):
        if what in parsed:
            row.update(parsed[what])
    for dev in parsed.get("swaps", []):
        swaps.append({"ts": ts, **vars(dev)})
    if "boot_id" in files and files["boot_id"][1].strip():
        row["boot_id"] = files["boot_id"][1].strip()
    texts: dict[str, str] = {}
    if ksm_files:
        nums, texts = procfs.parse_ksm_files(ksm_files, page_size)
        row.update(nums)
        if page_size is None:
            log.append(LogEntry("warn", "missing_source", "KSM page counts left null: the page size is not known"))
    return Snapshot(row, swaps, texts, parsed.get("meminfo"), parsed.get("vmstat"))


def parse_free(text: str, unit: int = KIB) -> dict[str, int]:
    """`free` output -> mem_MemTotal and mem_SwapTotal in bytes; `unit` from the flags (-k default, -m, -b)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in ("Mem:", "Swap:") and is_digits(fields[1]):
            out["mem_MemTotal" if fields[0] == "Mem:" else "mem_SwapTotal"] = int(fields[1]) * unit
    return out


# --- sar history ---------------------------------------------------------------------------------

_RANK = {"sadf-xml": 0, "sadf-json": 1, "sadf-csv": 2, "sa": 3, "sar-text": 4}


def sar_day_key(path: Path) -> str:
    """sa26, sar26, sa26.xml, sa20261126.xz -> '26' or '20261126': files for one day share a key."""
    m = re.match(r"^sar?(\d{2,8})", path.name)
    return m.group(1) if m else path.name


def load_sar(
    files: Iterable[Path],
    tz: tzinfo | None,
    log: list[LogEntry],
    prefer_one_per_day: bool = True,
) -> list[tuple[Path, sadf.SarData]]:
    """Parse every sar file (binary through sadf); with several formats of one day keep the best
    (sadf XML > JSON > CSV > binary > text: the sadf formats carry UTC time and full precision)."""
    found: list[tuple[str, int, Path, str]] = []
    for p in sorted(set(files)):
        try:
            first = head(p)
        except (OSError, Unreadable) as e:
            log.append(LogEntry("warn", "skipped_file", f"unreadable: {e}", file=str(p)))
            continue
        fmt = sadf.detect(first)
        if fmt is None:
            continue
        found.append((sar_day_key(p), _RANK[fmt], p, fmt))
    groups: dict[str, list[tuple[int, Path, str]]] = {}
    for key, rank, p, fmt in found:
        groups.setdefault(key if prefer_one_per_day else str(p), []).append((rank, p, fmt))
    out: list[tuple[Path, sadf.SarData]] = []
    for key in sorted(groups):
        cands = sorted(groups[key], key=lambda c: (c[0], str(c[1])))
        for i, (_, p, fmt) in enumerate(cands):
            data = _load_one(p, fmt, tz, log)
            if data is None:
                continue
            for _, other, _ in cands[i + 1 :]:
                log.append(
                    LogEntry(
                        "info", "preferred_source", f"not read: {p.name} has the same day in a better format", file=str(other)
                    )
                )
            out.append((p, data))
            break
    return sorted(out, key=lambda x: min(x[1].rows) if x[1].rows else datetime.max.replace(tzinfo=UTC))


def _load_one(p: Path, fmt: str, tz: tzinfo | None, log: list[LogEntry]) -> sadf.SarData | None:
    try:
        if fmt == "sa":
            text = sadf.run_sadf(p) if not p.name.endswith((".gz", ".xz", ".bz2")) else _sadf_compressed(p)
            data = sadf.parse_sadf_xml(text)
            data.fmt = "sa"
        else:
            data = sadf.parse_any(read_text(p), fmt, tz)
    except sadf.SadfError as e:
        log.append(LogEntry("warn", "skipped_file", str(e), file=str(p)))
        return None
    except procfs.ParseError as e:
        log.append(LogEntry("warn", "bad_line", f"{e.reason}: file skipped", file=str(p), line=e.line))
        return None
    except Unreadable as e:
        log.append(LogEntry("warn", e.event, e.reason, file=str(p), line=e.line))
        return None
    for line, reason in data.problems:
        log.append(LogEntry("warn", "bad_line", f"{reason}: line skipped", file=str(p), line=line))
    if not data.rows:
        log.append(LogEntry("info", "empty_file", f"{fmt}: no memory, swap or PSI rows", file=str(p)))
        return None
    return data


def _sadf_compressed(p: Path) -> str:
    """A rotated sa file (sa26.xz): decompress to a private temp file for sadf (it wants a path)."""
    import tempfile

    raw = read_bytes(p, 1 << 30)
    with tempfile.TemporaryDirectory(prefix="memreport-sa-") as d:
        tmp = Path(d) / p.name.rsplit(".", 1)[0]
        tmp.write_bytes(raw)
        return sadf.run_sadf(tmp)


def sar_frame(parts: list[tuple[Path, sadf.SarData]], page_size: int | None, log: list[LogEntry] | None = None) -> pd.DataFrame:
    """Several days of one host as one series (sysstat itself cannot merge days). MemTotal is
    recovered per file from kbmemused where sysstat's definition can be told (sar_memtotal.py)."""
    frames = []
    for p, d in parts:
        mt = sar_memtotal.derive(d.rows)
        if mt is not None and log is not None:
            log.append(LogEntry(mt.level, "derived" if mt.values else "missing_source", mt.detail, file=str(p)))
        frames.append(sadf.to_samples(d, page_size, mt.values if mt else None))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ms, UTC]")})
    out = pd.concat(frames, ignore_index=True, sort=False)
    return out.sort_values("ts", kind="stable").drop_duplicates("ts", keep="first").reset_index(drop=True)


def span_words(ts: pd.Series) -> str:
    """'7 days at 10 min', '3 hours at 1 s', 'one sample'."""
    n = len(ts)
    if n == 0:
        return "no samples"
    if n == 1:
        return "one sample"
    t = ts.sort_values()
    span = (t.iloc[-1] - t.iloc[0]).total_seconds()
    step = float(np.median(np.diff((t - t.iloc[0]).dt.total_seconds().to_numpy())))
    if span >= 86400 * 0.9:
        days = t.dt.floor("D").nunique()
        length = f"{days} day{'s' if days != 1 else ''}"
    elif span >= 3600:
        length = f"{span / 3600:.0f} hours"
    else:
        length = f"{max(span / 60, 1):.0f} min" if span >= 60 else f"{span:.0f} s"
    every = f"{step / 60:.0f} min" if step >= 60 and step % 60 < 1 else f"{step:.0f} s"
    return f"{length} at {every}"


def when_words(t: datetime) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


# --- VMs -----------------------------------------------------------------------------------------

# What bundles give per VM; the libvirt fields (current_bytes … swap_hard_limit_bytes) are docs/STORE.md's vms columns.
VM_FIELDS = (
    "uuid",
    "pid",
    "allocated_bytes",
    "maxmem_bytes",
    "current_bytes",
    "rss_bytes",
    "swap_bytes",
    "hugepages_bytes",
    "backing",
    "hard_limit_bytes",
    "soft_limit_bytes",
    "swap_hard_limit_bytes",
)
VM_COLUMNS = ("ts", "name", *VM_FIELDS, "source")
_VM_INT = tuple(f for f in VM_FIELDS if f not in ("uuid", "backing"))


@dataclass
class VmInfo:
    name: str
    uuid: str | None = None
    pid: int | None = None
    allocated_bytes: int | None = None
    maxmem_bytes: int | None = None
    rss_bytes: int | None = None
    swap_bytes: int | None = None
    backing: str | None = None  # anonymous | hugepages | file | memfd (libvirt <memoryBacking>, or the qemu argv)
    current_bytes: int | None = None  # the balloon: dommemstat actual, dominfo Used memory, <currentMemory>
    hugepages_bytes: int | None = None  # hugetlb pages the qemu process holds (not in its RSS)
    hard_limit_bytes: int | None = None  # libvirt <memtune>, virsh memtune or the VM's memory cgroup
    soft_limit_bytes: int | None = None
    swap_hard_limit_bytes: int | None = None  # memory + swap
    sources: tuple[str, ...] = ()


# Live state before configuration: the running domain's balloon and limits may differ from its persistent XML
# (a `virsh setmem --live`); qemu's own command line last.
SOURCE_ORDER = (
    "virsh dommemstat",
    "virsh dominfo",
    "virsh memtune",
    "libvirt live XML",
    "memory cgroup",
    "numa_maps",
    "libvirt XML",
    "ps",
)


def merge_vms(found: Iterable[tuple[str, VmInfo]]) -> dict[str, VmInfo]:
    """Per VM name, the first source in SOURCE_ORDER that knows a field wins."""
    order = {s: i for i, s in enumerate(SOURCE_ORDER)}
    out: dict[str, VmInfo] = {}
    for source, vm in sorted(found, key=lambda x: order.get(x[0], 99)):
        cur = out.setdefault(vm.name, VmInfo(vm.name))
        for f in VM_FIELDS:
            if getattr(cur, f) is None and getattr(vm, f) is not None:
                setattr(cur, f, getattr(vm, f))
        if source not in cur.sources:
            cur.sources = cur.sources + (source,)
    return out


def vms_frame(vms: dict[str, VmInfo], when: datetime) -> pd.DataFrame | None:
    if not vms:
        return None
    ts = pd.Timestamp(when).as_unit("ms")
    rows = [
        {"ts": ts, "name": v.name, **{f: getattr(v, f) for f in VM_FIELDS}, "source": "+".join(v.sources)}
        for v in sorted(vms.values(), key=lambda v: v.name)
    ]
    frame = pd.DataFrame(rows, columns=list(VM_COLUMNS))
    for c in _VM_INT:
        frame[c] = frame[c].astype("Int64")
    frame["ts"] = frame["ts"].astype("datetime64[ms, UTC]")
    return frame


def stamp(log: list[LogEntry], host: str, label: str) -> list[LogEntry]:
    """Every entry names its host and input."""
    return [replace(e, host=e.host or host, input=e.input or label) for e in log]


def empty_samples() -> pd.DataFrame:
    return pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ms, UTC]")})


# --- assembling one host from what a bundle holds ------------------------------------------------


@dataclass
class Found:
    """What a bundle reader located, before any unit conversion (labels are paths for the log)."""

    kind: str  # sosreport | supportconfig
    hostname: str | None = None
    machine_id: str | None = None
    kernel: str | None = None
    arch: str | None = None
    arch_from: str | None = None  # where the architecture was read (for the page-size log line)
    cpus: int | None = None
    when: datetime | None = None
    when_source: str | None = None
    zone: tzinfo | None = None  # the host's local zone (sar text times are local)
    proc: dict[str, tuple[str, str]] | None = None  # meminfo/vmstat/psi/swaps/boot_id -> (label, text)
    ksm: dict[str, str] | None = None
    ksm_label: str | None = None
    free: dict[str, int] | None = None
    sysctl: dict[str, str] | None = None
    page_size: int | None = None  # from getconf output when the bundle has it
    page_size_from: str | None = None
    sar_files: list[Path] | None = None
    vms: list[tuple[str, VmInfo]] | None = None
    virsh_rows: list[tuple[str, str, int]] | None = None  # (domain, key, value)
    vmstat_outputs: list[tuple[str, str, int | None]] | None = None  # (label, text, interval)
    collector_version: str | None = None
    extra: dict[str, str] | None = None


_SYSCTL_FACTS = {
    "vm.swappiness": "swappiness",
    "vm.overcommit_memory": "overcommit_memory",
    "vm.overcommit_ratio": "overcommit_ratio",
}


def assemble(found: Found, label: str, log: list[LogEntry], opts: IngestOptions = DEFAULT) -> HostData:
    """One HostData from a bundle: the sar history as the time series, the /proc files as one
    snapshot row at the bundle time, VMs from virsh/libvirt/ps; every choice logged."""
    from memreport.ingest import vmstat as vmstat_mod
    from memreport.model import Contribution, HostFacts

    kind = found.kind
    contributions: list[Contribution] = []
    assumptions: list[str] = []
    host = found.hostname
    proc = found.proc or {}
    pre = snapshot_row(proc, {}, datetime(1970, 1, 1, tzinfo=UTC), None, [])
    # sar history
    sar_parts = load_sar(found.sar_files or [], found.zone, log) if found.sar_files else []
    if sar_parts:
        host = host or sar_parts[0][1].hostname
        found.kernel = found.kernel or sar_parts[0][1].kernel
        if found.arch is None and sar_parts[0][1].arch:
            found.arch, found.arch_from = sar_parts[0][1].arch, f"the sar header of {sar_parts[0][0].name}"
        found.cpus = found.cpus or sar_parts[0][1].cpus
        for p, d in sar_parts:
            if d.hostname and host and d.hostname != host:
                log.append(
                    LogEntry(
                        "warn",
                        "wrong_kind",
                        f"sar file of host {d.hostname!r} in the bundle of {host!r}: read as {host!r}",
                        file=str(p),
                    )
                )
            if d.fmt == "sar-text" and found.zone is None:
                log.append(
                    LogEntry(
                        "warn", "time_source", "sar text times are local and the bundle names no zone: UTC assumed", file=str(p)
                    )
                )
                if not any(a.startswith("sar text times") for a in assumptions):
                    assumptions.append(
                        "sar text times read as UTC: sar prints the host's local time and the bundle names no zone"
                    )
    decision, notes = pagesize.decide(
        override=opts.page_size,
        stated=found.page_size,
        stated_from=found.page_size_from or "getconf PAGESIZE output",
        arch=found.arch,
        arch_from=found.arch_from or "uname",
        kernel=found.kernel,
        meminfo=pre.meminfo,
        vmstat=pre.vmstat,
        pair_from="proc/meminfo and proc/vmstat",
    )
    log.extend(notes + decision.log())
    if decision.assumption:
        assumptions.append(decision.assumption)
    page = decision.size
    hostname = host  # what the bundle says; None when it names no host
    if not host:
        host = Path(label).name.split(".")[0]
        log.append(LogEntry("warn", "missing_source", f"no hostname in the bundle: named {host!r} after it"))
    frames: list[pd.DataFrame] = []
    sar = sar_frame(sar_parts, page, log)
    # The /proc snapshot
    snap = None
    when = found.when
    if proc or found.ksm:
        if when is None:
            mem_label = proc.get("meminfo", ("", ""))[0]
            try:
                when = datetime.fromtimestamp(Path(mem_label).stat().st_mtime, UTC).replace(microsecond=0) if mem_label else None
            except OSError:
                when = None
            if when is not None:
                sentence = f"/proc snapshot time {when_words(when)} taken from proc/meminfo's modification time (no date output in the bundle)"
                log.append(LogEntry("warn", "time_source", sentence, file=mem_label))
                assumptions.append(sentence)
        if when is None:
            log.append(LogEntry("warn", "time_source", "no time for the /proc files in the bundle: snapshot skipped"))
        else:
            snap = snapshot_row(proc, found.ksm or {}, when, page, log)
            snap.row["source"] = kind
    if len(sar):
        total = (snap.meminfo or {}).get("mem_MemTotal") if snap else None
        if total is None and found.free:
            total = found.free.get("mem_MemTotal")
        sar = _sar_memtotal(sar, total, log)
        sar = _sar_commit_limit(sar, snap.meminfo if snap else None, log)
        frames.insert(0, sar)
        cols = set(sar.columns)
        days = {d.fmt for _, d in sar_parts}
        contributions.append(
            Contribution(
                label,
                kind,
                f"sar history: {span_words(sar['ts'])} ({describe_sar(cols)}) from {len(sar_parts)} file(s), {'/'.join(sorted(days))}",
            )
        )
    elif found.sar_files is not None:
        contributions.append(Contribution(label, kind, "sar history: none in the bundle"))
    # vmstat output (supportconfig memory.txt): rates only when /proc has memory levels.
    for vlabel, vtext, interval in found.vmstat_outputs or []:
        vlog: list[LogEntry] = []
        data = vmstat_mod.parse_vmstat_output(vtext)
        for run in data.runs:
            run.interval = run.interval or interval
        try:
            vframe = vmstat_mod.to_samples(data, when, found.zone, vlog, vlabel)
        except procfs.ParseError as e:
            log.append(LogEntry("warn", "time_source", f"{e.reason}: vmstat output skipped", file=vlabel))
            continue
        log.extend(vlog)
        if not len(vframe):
            continue
        mem = [str(c) for c in vframe.columns if str(c).startswith("mem_")]
        if snap is not None and snap.meminfo:
            vframe = vframe.drop(columns=mem)
            log.append(
                LogEntry(
                    "info",
                    "preferred_source",
                    "memory levels from /proc/meminfo, not vmstat output (procps-ng 4.0.x can freeze them); vmstat kept for si/so",
                    file=vlabel,
                )
            )
        if snap is not None and when is not None:  # the run's last row is at the bundle time: its rates join the snapshot row
            last = vframe[vframe["ts"] == pd.Timestamp(when)]
            for c in ("swapin_Bps", "swapout_Bps", "interval_s"):
                if len(last) and c in last and pd.notna(last[c].iloc[0]):
                    snap.row.setdefault(c, float(last[c].iloc[0]))
            vframe = vframe[vframe["ts"] != pd.Timestamp(when)]
        frames.append(vframe)
        contributions.append(Contribution(label, kind, f"vmstat output: {len(vframe)} samples (swap rates)"))
    if snap is not None:
        frames.append(pd.DataFrame([snap.row]))
        what = []
        if snap.meminfo:
            what.append("memory levels")
        if any(c.startswith("ksm_") for c in snap.row):
            what.append("KSM")
        if any(c.startswith("psi_") for c in snap.row):
            what.append("PSI")
        if snap.swaps:
            what.append("swap devices")
        if found.vms:
            what.append("VM allocations")
        assert when is not None
        contributions.append(
            Contribution(label, kind, f"one /proc snapshot at {when_words(when)} ({', '.join(what) or 'nothing usable'})")
        )
    has_psi = any("psi_some_share" in f or "psi_some_total_us" in f for f in frames)
    if not has_psi:
        contributions.append(Contribution(label, kind, "PSI: not collected"))
    if not any(str(c).startswith("ksm_") for f in frames for c in f.columns):
        contributions.append(Contribution(label, kind, "KSM: not collected"))
    samples = pd.concat(frames, ignore_index=True, sort=False) if frames else empty_samples()
    samples["ts"] = pd.to_datetime(samples["ts"], utc=True).astype("datetime64[ms, UTC]")
    # VMs
    vm_when = when or (sar["ts"].iloc[-1] if len(sar) else None)
    vms = vms_frame(merge_vms(found.vms or []), vm_when) if vm_when is not None else None
    if vms is not None:
        srcs = sorted({src for src, _ in (found.vms or [])})
        contributions.append(Contribution(label, kind, f"VMs: {len(vms)} ({', '.join(srcs)})"))
    virsh = None
    if found.virsh_rows and vm_when is not None:
        virsh = pd.DataFrame(
            [{"ts": pd.Timestamp(vm_when).as_unit("ms"), "domain": d, "key": k, "value": v} for d, k, v in found.virsh_rows]
        )
        virsh["ts"] = virsh["ts"].astype("datetime64[ms, UTC]")
    swaps = None
    if snap is not None and snap.swaps:
        swaps = pd.DataFrame(snap.swaps)
        swaps["ts"] = pd.to_datetime(swaps["ts"], utc=True).astype("datetime64[ms, UTC]")
    facts = HostFacts(
        host=host,
        hostname=hostname,
        machine_id=found.machine_id,
        kernel=found.kernel,
        page_size=page,
        page_size_source=decision.source,
        cpus=found.cpus,
        collector=kind,
        collector_version=found.collector_version,
        capture_format=kind,
        assumptions=assumptions,
        extra=dict(found.extra or {}),
    )
    if len(sar):
        iv = sar["interval_s"].dropna() if "interval_s" in sar else pd.Series(dtype=float)
        facts.interval_s = (
            float(iv.median())
            if len(iv)
            else float(np.median(np.diff((sar["ts"] - sar["ts"].iloc[0]).dt.total_seconds())))
            if len(sar) > 1
            else None
        )
    for key, attr in _SYSCTL_FACTS.items():
        v = (found.sysctl or {}).get(key)
        if v is not None and is_digits(v.strip().lstrip("-")):
            setattr(facts, attr, int(v))
    if snap is not None:
        facts.extra.update(snap.texts)
    if found.arch:
        facts.extra.setdefault("arch", found.arch)
    return HostData(
        facts=facts, samples=samples, vms=vms, swaps=swaps, virsh=virsh, log=stamp(log, host, label), contributions=contributions
    )


def fill_nulls(frame: pd.DataFrame, column: str, value: int, rows: pd.Series | None = None) -> tuple[pd.DataFrame, int]:
    """frame with `value` where `column` is null (only in `rows` when given); and how many were filled."""
    current = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index, dtype="Int64")
    want = current.isna() if rows is None else current.isna() & rows.fillna(False).astype(bool)
    n = int(want.sum())
    if n:
        frame = frame.assign(**{column: current.astype("Int64").mask(want, value)})
    return frame, n


def _sar_memtotal(sar: pd.DataFrame, total: int | None, log: list[LogEntry]) -> pd.DataFrame:
    """sar rows keep the MemTotal their kbmemused gave; the bundle's /proc MemTotal fills the rest."""
    derived = sar["mem_MemTotal"].dropna() if "mem_MemTotal" in sar else pd.Series(dtype="Int64")
    if total is not None and len(derived):
        if (derived == total).all():
            log.append(LogEntry("info", "derived", f"MemTotal derived from sar equals proc/meminfo's ({total // KIB} kB)"))
        else:
            log.append(
                LogEntry(
                    "warn",
                    "bad_value",
                    f"MemTotal derived from sar ({int(derived.min()) // KIB} to {int(derived.max()) // KIB} kB) differs from the "
                    f"bundle's /proc MemTotal ({total // KIB} kB): sar's values kept for its rows",
                )
            )
    if total is None:
        if not len(derived):
            log.append(
                LogEntry(
                    "warn", "missing_source", "no MemTotal in the bundle or its sar history: the sar history has no total memory"
                )
            )
        return sar
    sar, n = fill_nulls(sar, "mem_MemTotal", total)
    if n:
        log.append(
            LogEntry(
                "info",
                "assumed",
                f"MemTotal of the bundle's /proc snapshot applied to {n} sar rows that did not give it",
                count=n,
            )
        )
    return sar


def _sar_commit_limit(sar: pd.DataFrame, meminfo: dict[str, int] | None, log: list[LogEntry]) -> pd.DataFrame:
    """CommitLimit of the /proc snapshot for sar rows (sar has Committed_AS but no CommitLimit) where
    the inputs of CommitLimit that sar shows, SwapTotal and MemTotal, equal the snapshot's."""
    limit = (meminfo or {}).get("mem_CommitLimit")
    if limit is None or "mem_Committed_AS" not in sar:
        return sar
    if "mem_SwapTotal" not in sar:
        log.append(
            LogEntry(
                "info",
                "missing_source",
                "CommitLimit not applied to the sar history: it has no swap columns (sar -S) to show that swap did not change",
            )
        )
        return sar
    mem = meminfo or {}
    if mem.get("mem_SwapTotal") is None:
        return sar
    same = sar["mem_SwapTotal"].eq(mem["mem_SwapTotal"])
    if "mem_MemTotal" in sar and mem.get("mem_MemTotal") is not None:
        same &= sar["mem_MemTotal"].eq(mem["mem_MemTotal"])
    sar, n = fill_nulls(sar, "mem_CommitLimit", limit, same)
    other = len(sar) - n
    log.append(
        LogEntry(
            "info",
            "derived",
            f"CommitLimit {limit // KIB} kB of proc/meminfo applied to {n} of {len(sar)} sar rows whose SwapTotal and MemTotal equal "
            "the snapshot's (the overcommit sysctls are known only at the bundle time)"
            + (f"; {other} rows with other swap or memory sizes left without" if other else ""),
            count=n,
        )
    )
    return sar


def describe_sar(cols: set[str]) -> str:
    return sadf.describe(cols)


def parse_sysctl(text: str) -> dict[str, str]:
    """`sysctl -a` lines `vm.swappiness = 60`."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().startswith("vm."):
            out[key.strip()] = value.strip()
    return out
