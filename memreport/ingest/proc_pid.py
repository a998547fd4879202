"""Pure parsers for per-process files and process listings: text in, typed records out.

`/proc/<pid>/stat`, `/proc/<pid>/status`, `/proc/<pid>/ksm_stat`, `/proc/<pid>/ksm_merging_pages`,
`ps` output and cgroup memory files (docs/INPUTS.md, "Snapshot trees"). `sniff` says which of them a
file holds from its content; only files that hold one bare value (`ksm_merging_pages`,
`memory.max`, …) are known by their name, because a number alone says nothing. qemu command lines
are parsed by procfs.parse_qemu_argv (one rule for every input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memreport.ingest.procfs import ParseError, is_qemu
from memreport.units import KIB, is_digits

# --- /proc/<pid>/stat -----------------------------------------------------------------------------

# `pid (comm) state ppid …`: comm may hold spaces and ')' itself, so the greedy group ends at the
# last ') '; the fields after it never hold parentheses.
_STAT = re.compile(r"^\s*(\d+) \((.*)\) ([A-Za-z]) (.*)$")
_INT = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class PidStat:
    """One `/proc/<pid>/stat` line. Times are clock ticks (USER_HZ) since the process started."""

    pid: int
    comm: str  # at most 15 bytes: `qemu-system-x86`, `ksmd`
    state: str
    utime_ticks: int  # field 14
    stime_ticks: int  # field 15

    @property
    def cpu_ticks(self) -> int:
        return self.utime_ticks + self.stime_ticks


def parse_pid_stat(text: str) -> list[PidStat]:
    """`/proc/<pid>/stat`, or several of them concatenated (`cat /proc/[0-9]*/stat`): one record a line."""
    out: list[PidStat] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _STAT.match(line)
        if not m:
            raise ParseError(lineno, f"{line[:40]!r} is not 'pid (comm) state …'")
        rest = m[4].split()
        # ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime: all kernels
        if len(rest) < 12 or not all(_INT.match(f) for f in rest[:12]):
            raise ParseError(lineno, f"pid {m[1]}: fewer than 15 numeric fields")
        out.append(PidStat(pid=int(m[1]), comm=m[2], state=m[3], utime_ticks=int(rest[10]), stime_ticks=int(rest[11])))
    if not out:
        raise ParseError(None, "empty: not a /proc/<pid>/stat")
    return out


# --- /proc/<pid>/status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PidStatus:
    """The memory lines of `/proc/<pid>/status`, in bytes. None: the line is absent (a kernel
    thread has no Vm* lines; older kernels lack the newer ones)."""

    name: str  # comm, as in stat
    pid: int | None
    rss_bytes: int | None  # VmRSS
    swap_bytes: int | None  # VmSwap, kernel >= 2.6.34
    hugetlb_bytes: int | None  # HugetlbPages, kernel >= 4.4 (not part of VmRSS)


_STATUS_KB = {"VmRSS": "rss_bytes", "VmSwap": "swap_bytes", "HugetlbPages": "hugetlb_bytes"}


def parse_pid_status(text: str) -> list[PidStatus]:
    """`/proc/<pid>/status`, or several concatenated: a new record starts at each `Name:` line."""
    blocks: list[dict[str, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ParseError(lineno, f"{line[:40]!r} is not 'Key: value'")
        if key == "Name":
            blocks.append({})
        elif not blocks:
            raise ParseError(lineno, "does not start with a Name: line: not a /proc/<pid>/status")
        blocks[-1].setdefault(key, value.strip())
    out = []
    for b in blocks:
        if "Pid" not in b and "Tgid" not in b:
            raise ParseError(None, f"{b.get('Name', '')!r}: no Pid: line: not a /proc/<pid>/status")
        sizes: dict[str, int | None] = {}
        for key, field in _STATUS_KB.items():
            parts = b.get(key, "").split()
            sizes[field] = int(parts[0]) * KIB if parts and is_digits(parts[0]) else None
        pid = b.get("Pid") or b.get("Tgid") or ""
        out.append(PidStatus(name=b.get("Name", ""), pid=int(pid) if is_digits(pid) else None, **sizes))
    if not out:
        raise ParseError(None, "empty: not a /proc/<pid>/status")
    return out


# --- /proc/<pid>/ksm_stat and ksm_merging_pages ---------------------------------------------------


@dataclass(frozen=True)
class KsmStat:
    """`/proc/<pid>/ksm_stat` (kernel >= 6.1). Each line came with a later kernel; absent is None."""

    rmap_items: int | None  # ksm_rmap_items, 6.1
    merging_pages: int | None  # ksm_merging_pages, later 6.x (a file of its own since 5.19)
    profit_bytes: int | None  # ksm_process_profit, bytes, signed, 6.4
    zero_pages: int | None  # ksm_zero_pages, 6.10


_KSM_STAT = {
    "ksm_rmap_items": "rmap_items",
    "ksm_merging_pages": "merging_pages",
    "ksm_process_profit": "profit_bytes",
    "ksm_zero_pages": "zero_pages",
}


def parse_ksm_stat(text: str) -> KsmStat:
    """`ksm_rmap_items 1048576` lines; `ksm_merge_any: no` and other newer lines are not numbers here."""
    values: dict[str, int | None] = dict.fromkeys(_KSM_STAT.values())
    seen = False
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.replace(":", " ").split()
        if not parts:
            continue
        if not parts[0].startswith("ksm_"):
            raise ParseError(lineno, f"{parts[0][:40]!r} is not a ksm_stat key")
        field = _KSM_STAT.get(parts[0])
        if field is not None:
            if len(parts) != 2 or not _INT.match(parts[1]):
                raise ParseError(lineno, f"{parts[0]}: {' '.join(parts[1:])[:40]!r} is not a number")
            values[field] = int(parts[1])
            seen = True
    if not seen:
        raise ParseError(None, "no ksm_rmap_items / ksm_merging_pages line: not a /proc/<pid>/ksm_stat")
    return KsmStat(**values)


def parse_count(text: str) -> int:
    """A file holding one non-negative integer (`/proc/<pid>/ksm_merging_pages`, kernel >= 5.19)."""
    s = text.strip()
    if not is_digits(s):
        raise ParseError(1, f"{s[:40]!r} is not a number")
    return int(s)


# --- command lines and ps output ------------------------------------------------------------------


def parse_command_lines(text: str) -> list[tuple[int | None, list[str]]]:
    """qemu command lines in plain text: `/proc/<pid>/cmdline` with NULs turned to spaces, or
    `pgrep -a qemu` output (`PID argv…`). Only lines whose program is qemu are returned."""
    out: list[tuple[int | None, list[str]]] = []
    for line in text.splitlines():
        words = line.split()
        pid = None
        if len(words) > 1 and is_digits(words[0]):
            pid, words = int(words[0]), words[1:]
        if words and is_qemu(words[0]) and len(words) > 1:
            out.append((pid, words))
    return out


@dataclass(frozen=True)
class PsRow:
    """One process of `ps` output. RSS is printed in KiB by every ps (procps, busybox)."""

    pid: int | None  # None when the listing has no PID column (`ps -eo rss,args`)
    rss_bytes: int | None  # None when it has no RSS column (`ps -ef`)
    argv: tuple[str, ...]  # the command split on blanks (ps joins argv with spaces)


_PS_COMMAND = ("COMMAND", "CMD", "ARGS")
_PS_COLUMN = re.compile(r"^%?[A-Z][A-Z0-9_%+-]*$")


def ps_header(lines: list[str], look: int = 5) -> int | None:
    """Index of the ps header among the first lines (a `$ ps aux` line may come first): upper-case
    column names only, the last one the command (`COMMAND`, `CMD`, `ARGS`)."""
    for i, line in enumerate(lines[:look]):
        cols = line.split()
        if len(cols) >= 2 and cols[-1] in _PS_COMMAND and all(_PS_COLUMN.match(c) for c in cols):
            return i
    return None


def parse_ps(text: str) -> list[PsRow]:
    """`ps aux`, `ps auxww`, `ps -ef`, `ps -eo pid,rss,args`, `ps axwwo user,pid,…,cmd`: columns are
    found by the header's names, never by position; the command is everything after the last column."""
    lines = text.splitlines()
    at = ps_header(lines)
    if at is None:
        raise ParseError(None, "no ps header (… PID … COMMAND): not ps output")
    cols = lines[at].split()
    n = len(cols)
    pid_i = cols.index("PID") if "PID" in cols else None
    rss_i = cols.index("RSS") if "RSS" in cols else None
    out: list[PsRow] = []
    for line in lines[at + 1 :]:
        parts = line.split(None, n - 1)
        if len(parts) < n:
            continue  # a wrapped or cut line: the command is not there
        pid = int(parts[pid_i]) if pid_i is not None and is_digits(parts[pid_i]) else None
        rss = int(parts[rss_i]) * KIB if rss_i is not None and is_digits(parts[rss_i]) else None
        out.append(PsRow(pid=pid, rss_bytes=rss, argv=tuple(parts[-1].split())))
    return out


# --- cgroup memory files --------------------------------------------------------------------------

# cgroup v1 prints "no limit" as PAGE_COUNTER_MAX pages in bytes (9223372036854771712 with 4 KiB
# pages); anything this large is no limit on any machine.
V1_UNLIMITED = 1 << 62

# File name -> what it holds. v2 (kernel >= 4.5): bytes or `max`; v1: bytes.
CGROUP_VALUE_FILES = {
    "memory.max": "mem_limit_bytes",
    "memory.high": "mem_high_bytes",
    "memory.current": "cgroup_current_bytes",
    "memory.swap.max": "swap_limit_bytes",
    "memory.swap.current": "cgroup_swap_bytes",
    "memory.limit_in_bytes": "mem_limit_bytes",  # v1
    "memory.usage_in_bytes": "cgroup_current_bytes",  # v1
    "memory.memsw.limit_in_bytes": "memsw_limit_bytes",  # v1: memory + swap together
}
CGROUP_LIMITS = frozenset({"mem_limit_bytes", "mem_high_bytes", "swap_limit_bytes", "memsw_limit_bytes"})


def parse_cgroup_value(text: str) -> int | None:
    """A cgroup memory value: bytes, or None for no limit (v2 `max`, v1's huge number)."""
    s = text.strip()
    if s == "max":
        return None
    if not is_digits(s):
        raise ParseError(1, f"{s[:40]!r} is neither a number nor 'max'")
    n = int(s)
    return None if n >= V1_UNLIMITED else n


def parse_cgroup_memory_stat(text: str) -> dict[str, int]:
    """cgroup `memory.stat`: v2 (`anon`, `file`, … in bytes) or v1 (`cache`, `rss`, `total_*`, …)."""
    out: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not _INT.match(parts[1]):
            raise ParseError(lineno, f"{line[:40]!r} is not 'key value'")
        out[parts[0]] = int(parts[1])
    if not ({"anon", "file"} <= out.keys() or {"cache", "rss"} <= out.keys()):
        raise ParseError(None, "no anon/file (v2) or cache/rss (v1) keys: not a cgroup memory.stat")
    return out


def cgroup_anon_file(stat: dict[str, int]) -> tuple[int | None, int | None]:
    """(anonymous, page cache) bytes of a memory.stat: v2 `anon`/`file`; v1 the hierarchical
    `total_rss`/`total_cache` (the group and its children, as v2 counts), else `rss`/`cache`."""
    if "anon" in stat:
        return stat.get("anon"), stat.get("file")
    return stat.get("total_rss", stat.get("rss")), stat.get("total_cache", stat.get("cache"))


_UNESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
# systemd: machine.slice/machine-qemu\x2d3\x2dweb01.scope (newer libvirt adds the domain id;
# older ones machine-qemu\x2dweb01.scope). Without systemd: machine/qemu-3-web01.libvirt-qemu,
# older machine/web01.libvirt-qemu.
_MACHINE = (re.compile(r"^machine-qemu-(?:\d+-)?(.+)\.scope$"), re.compile(r"^(?:qemu-\d+-)?(.+)\.libvirt-qemu$"))


def machine_name(parts: tuple[str, ...] | list[str]) -> str | None:
    """The libvirt domain whose cgroup a path names (innermost machine component), or None."""
    for part in reversed(parts):
        plain = _UNESCAPE.sub(lambda m: chr(int(m[1], 16)), part)
        for pattern in _MACHINE:
            m = pattern.match(plain)
            if m:
                return m[1]
    return None


# --- what a file holds ----------------------------------------------------------------------------

KINDS = ("stat", "status", "ksm_stat", "ksm_merging_pages", "cmdline", "ps", "command_lines", "cgroup_value", "cgroup_stat")


def cgroup_value_file(name: str) -> str | None:
    """`memory.max`, `web01.memory.max`, `memory.max.txt` -> `memory.max`; None for other names."""
    for f in sorted(CGROUP_VALUE_FILES, key=len, reverse=True):
        if name == f or name.endswith("." + f) or name.startswith(f + ".") and name[len(f) + 1 :] in ("txt", "out"):
            return f
    return None


def sniff(name: str, data: bytes) -> str | None:
    """Which of KINDS a file holds (content first; a bare value by its name), or None.

    NUL-separated data is a `/proc/<pid>/cmdline` unless it looks like an environment
    (`KEY=value` first)."""
    if b"\0" in data:
        try:
            args = data.decode("utf-8").split("\0")
        except UnicodeDecodeError:
            return None
        first = args[0]
        printable = all(a.isprintable() for a in args)
        return "cmdline" if printable and first and "=" not in first.split("/")[0] and not first.startswith("-") else None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    if lines[0].startswith("Name:") and any(line.startswith(("Pid:", "Tgid:")) for line in lines):
        return "status"
    if all(_STAT.match(line) for line in lines):
        try:
            parse_pid_stat(text)
            return "stat"
        except ParseError:
            return None
    if lines[0].startswith("ksm_"):
        try:
            parse_ksm_stat(text)
            return "ksm_stat"
        except ParseError:
            pass
    if ps_header(lines) is not None:
        return "ps"
    if len(lines) == 1 and cgroup_value_file(name) and (lines[0].strip() == "max" or is_digits(lines[0].strip())):
        return "cgroup_value"
    if len(lines) == 1 and "ksm_merging_pages" in name and is_digits(lines[0].strip()):
        return "ksm_merging_pages"
    if len(lines) > 1 and all(len(line.split()) == 2 for line in lines):
        try:
            parse_cgroup_memory_stat(text)
            return "cgroup_stat"
        except ParseError:
            pass
    if parse_command_lines(text):
        return "command_lines"
    return None
