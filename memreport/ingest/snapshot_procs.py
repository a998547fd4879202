"""Per-process and cgroup files in one snapshot directory, recognised by content wherever they sit.

A snapshot made by hand holds whatever its author copied, under any name: `proc/1234/stat`,
`ksmd.stat`, `pid-88/status`, `ps.txt`, `qemu-cmdline`, `sys/fs/cgroup/machine.slice/…/memory.max`.
Every file the snapshot reader has not used already is sniffed (proc_pid.sniff) and parsed; the
records are joined into ksmd's CPU ticks, one row per VM and the host's cgroup limits.

Joining. A process's pid comes from the content (status `Pid:`, the stat line, ps's PID column,
`pgrep -a`), else from the path (`proc/1234/…`, `pid-88/…`, `cmdline.1234`). Files in one
directory with the same name stem (`web02.status`, `web02.cmdline`; or `status`, `cmdline` in
`proc/1234/`) are one process. A command line with no pid joins the VM of the same `-name`.
A cgroup file belongs to the VM its path names (machine.slice/machine-qemu\\x2d1\\x2dweb01.scope).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from memreport.ingest import bundle, proc_pid
from memreport.ingest.procfs import ParseError, is_qemu, parse_cmdline, parse_qemu_argv

MAX_FILE = 64 * 1024**2  # a ps listing of a big host is a few MiB

# Name parts that say what a file is, not which process it belongs to (for the stem join).
_KIND_WORDS = frozenset({"stat", "status", "cmdline", "ksm_stat", "ksm_merging_pages", "txt", "out", "args", "cmd", "proc"})
_DIR_PID = re.compile(r"^(?:pid)?[-_.]?(\d+)$", re.IGNORECASE)
_NAME_PID = re.compile(r"^(?:pid_?)?(\d+)$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")

# VM row fields filled from the per-process files (the store's vms columns, docs/STORE.md).
_VM_FIELDS = (
    "name",
    "uuid",
    "pid",
    "allocated_bytes",
    "maxmem_bytes",
    "rss_bytes",
    "swap_bytes",
    "ksm_merged_bytes",
    "ksm_profit_bytes",
    "hugepages_bytes",
    "backing",
    "cgroup",
    "mem_limit_bytes",
    "mem_high_bytes",
    "swap_limit_bytes",
    "memsw_limit_bytes",
    "cgroup_current_bytes",
    "cgroup_swap_bytes",
    "cgroup_anon_bytes",
    "cgroup_file_bytes",
)


@dataclass
class Skipped:
    """A file not used, for the ingest log (the tree reader counts them per pattern and reason)."""

    pattern: str  # the path with digit runs as N: proc/N/environ
    reason: str
    file: str
    line: int | None = None
    level: str = "info"
    event: str = "skipped_file"
    example: str | None = None  # e.g. the process name; the first one is shown, not part of the grouping


@dataclass
class SnapshotProcs:
    """What one snapshot's per-process and cgroup files gave."""

    ksmd_ticks: int | None = None  # ksmd utime + stime, clock ticks
    ksmd_file: str | None = None
    vms: list[dict[str, Any]] = field(default_factory=list)  # one row per VM (no ts)
    host_limits: dict[str, str] = field(default_factory=dict)  # `cgroup <path>/<file>` -> bytes
    used: list[str] = field(default_factory=list)  # files that gave something
    skipped: list[Skipped] = field(default_factory=list)
    ksm_pages_without_page_size: bool = False


@dataclass
class _Proc:
    files: list[str] = field(default_factory=list)
    comm: str | None = None  # from stat or status
    listed: bool = False  # from a file listing many processes: the others are not worth a log line
    status: proc_pid.PidStatus | None = None
    argv: tuple[str, ...] | None = None
    ps_rss: int | None = None
    ksm: proc_pid.KsmStat | None = None
    ksm_pages: int | None = None


def pattern_of(rel: PurePosixPath | Path) -> str:
    return _DIGITS.sub("N", str(rel))


def _stem(name: str) -> str:
    return "-".join(t for t in re.split(r"[.\-]", name) if t and t.lower() not in _KIND_WORDS)


def path_pid(rel: PurePosixPath) -> int | None:
    """A pid named by the path: a directory `1234` or `pid-1234` (innermost first), else a file name
    part `1234` or `pid_1234` (`cmdline.1234`, `qemu-1234-status`)."""
    for part in reversed(rel.parent.parts):
        m = _DIR_PID.match(part)
        if m:
            return int(m[1])
    for token in re.split(r"[.\-]", rel.name):
        m = _NAME_PID.match(token)
        if m:
            return int(m[1])
    return None


def cgroup_path(rel_dir: PurePosixPath) -> str:
    """sys/fs/cgroup/memory/machine.slice/x -> /machine.slice/x (v1 controller directory dropped);
    a directory outside a cgroup tree stays as it is in the snapshot."""
    parts = rel_dir.parts
    if "cgroup" in parts:
        parts = parts[parts.index("cgroup") + 1 :]
        if parts and parts[0] in ("memory", "unified"):
            parts = parts[1:]
        return "/" + "/".join(parts)
    return str(rel_dir)


def _files(snap: Path, used: set[Path]) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(snap):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if d / n not in used)
        out += [d / n for n in sorted(filenames) if d / n not in used]
    return out


def read_snapshot_procs(snap: Path, used: set[Path], page_size: int | None) -> SnapshotProcs:
    """Every file of the snapshot not in `used` (meminfo, vmstat, the KSM directory …)."""
    out = SnapshotProcs()
    procs: dict[Any, _Proc] = {}
    groups: dict[tuple[PurePosixPath, str], list[tuple[PurePosixPath, str, Any]]] = {}
    cgroups: dict[PurePosixPath, dict[str, Any]] = {}  # directory -> {file name: parsed value}
    cgroup_files: dict[PurePosixPath, list[str]] = {}

    def skip(
        rel: PurePosixPath,
        reason: str,
        line: int | None = None,
        level: str = "info",
        event: str = "skipped_file",
        example: str | None = None,
    ) -> None:
        out.skipped.append(Skipped(pattern_of(rel), reason, str(snap / rel), line, level, event, example))

    def proc(key: Any, rel: PurePosixPath) -> _Proc:
        p = procs.setdefault(key, _Proc())
        if str(rel) not in p.files:
            p.files.append(str(rel))
        return p

    for path in _files(snap, used):
        rel = PurePosixPath(path.relative_to(snap).as_posix())
        if not bundle.inside(snap, path):
            skip(rel, "not a regular file inside the snapshot (a link out of it, or a device): skipped")
            continue
        try:
            data = bundle.read_bytes(path, MAX_FILE)
        except bundle.Unreadable as e:
            skip(rel, f"{e.reason}: skipped", level="warn", event=e.event)
            continue
        kind = proc_pid.sniff(path.name, data)
        if kind is None:
            skip(rel, "not recognised (not a /proc, ps or cgroup memory file memreport reads): ignored")
            continue
        try:
            text = data.decode("utf-8") if kind != "cmdline" else ""
            if kind == "stat":
                stats = proc_pid.parse_pid_stat(text)
                ksmd = [s for s in stats if s.comm == "ksmd"]
                if ksmd and out.ksmd_ticks is None:
                    out.ksmd_ticks, out.ksmd_file = ksmd[0].cpu_ticks, str(rel)
                    out.used.append(str(rel))
                elif ksmd:
                    skip(rel, "a second ksmd stat in the snapshot: the first one is used", example=out.ksmd_file)
                elif len(stats) == 1:
                    groups.setdefault((rel.parent, _stem(rel.name)), []).append((rel, kind, stats[0]))
                else:
                    skip(rel, "process stat lines without ksmd: not used")
            elif kind == "status":
                statuses = proc_pid.parse_pid_status(text)
                if len(statuses) == 1:
                    groups.setdefault((rel.parent, _stem(rel.name)), []).append((rel, kind, statuses[0]))
                else:
                    for st in statuses:
                        if st.pid is not None:
                            p = proc(st.pid, rel)
                            p.status, p.comm, p.listed = st, st.name, True
                    if not any(is_qemu(st.name) for st in statuses):
                        skip(rel, "process statuses without a qemu process: not used")
            elif kind == "ksm_stat":
                groups.setdefault((rel.parent, _stem(rel.name)), []).append((rel, kind, proc_pid.parse_ksm_stat(text)))
            elif kind == "ksm_merging_pages":
                groups.setdefault((rel.parent, _stem(rel.name)), []).append((rel, kind, proc_pid.parse_count(text)))
            elif kind == "cmdline":
                groups.setdefault((rel.parent, _stem(rel.name)), []).append((rel, kind, tuple(parse_cmdline(data))))
            elif kind == "ps":
                rows = proc_pid.parse_ps(text)
                for i, ps in enumerate(rows):
                    if ps.argv and is_qemu(ps.argv[0]):
                        p = proc(ps.pid if ps.pid is not None else ("ps", str(rel), i), rel)
                        p.ps_rss = ps.rss_bytes
                        p.argv = p.argv or ps.argv
                out.used.append(str(rel))
            elif kind == "command_lines":
                for i, (pid, argv) in enumerate(proc_pid.parse_command_lines(text)):
                    p = proc(pid if pid is not None else ("cmd", str(rel), i), rel)
                    p.argv = p.argv or tuple(argv)
            elif kind == "cgroup_value":
                name = proc_pid.cgroup_value_file(path.name)
                assert name is not None
                cgroups.setdefault(rel.parent, {})[name] = proc_pid.parse_cgroup_value(text)
                cgroup_files.setdefault(rel.parent, []).append(str(rel))
            elif kind == "cgroup_stat":
                cgroups.setdefault(rel.parent, {})["memory.stat"] = proc_pid.parse_cgroup_memory_stat(text)
                cgroup_files.setdefault(rel.parent, []).append(str(rel))
        except ParseError as e:
            skip(rel, f"looks like a {kind} file but {e.reason}: skipped", e.line, "warn", "bad_value")

    # One process per (directory, stem) group: its pid from the content, else from the path.
    for (_, _), members in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        pids = {m.pid for _, kind, m in members if kind in ("stat", "status") and m.pid is not None}
        pid = pids.pop() if len(pids) == 1 else None
        for rel, kind, rec in members:
            own = rec.pid if kind in ("stat", "status") and rec.pid is not None else None
            key = own or pid or path_pid(rel) or ("group", str(rel.parent), _stem(rel.name))
            p = proc(key, rel)
            if kind in ("stat", "status"):
                p.comm = rec.comm if kind == "stat" else rec.name
            if kind == "status":
                p.status = rec
            elif kind == "cmdline":
                p.argv = p.argv or rec
            elif kind == "ksm_stat":
                p.ksm = rec
            elif kind == "ksm_merging_pages":
                p.ksm_pages = rec
            # a stat line of a process other than ksmd only names and places the process

    vms: list[dict[str, Any]] = []
    for key, p in procs.items():
        qemu_argv = p.argv if p.argv and is_qemu(p.argv[0]) else None
        if qemu_argv is None and not (p.comm and is_qemu(p.comm)):
            if not p.listed:
                for f in p.files:
                    skip(
                        PurePosixPath(f),
                        "a process that is not qemu: not used",
                        example=p.comm or (p.argv[0] if p.argv else None),
                    )
            continue
        q = parse_qemu_argv(list(qemu_argv)) if qemu_argv else None
        merging = p.ksm.merging_pages if p.ksm and p.ksm.merging_pages is not None else p.ksm_pages
        if merging is not None and page_size is None:
            out.ksm_pages_without_page_size = True
        row: dict[str, Any] = dict.fromkeys(_VM_FIELDS)
        row.update(
            name=q.name if q else None,
            uuid=q.uuid if q else None,
            pid=key if isinstance(key, int) else None,
            allocated_bytes=q.allocated_bytes if q else None,
            maxmem_bytes=q.maxmem_bytes if q else None,
            rss_bytes=p.status.rss_bytes if p.status and p.status.rss_bytes is not None else p.ps_rss,
            swap_bytes=p.status.swap_bytes if p.status else None,
            hugepages_bytes=p.status.hugetlb_bytes if p.status else None,
            backing=q.backing if q else None,
            ksm_merged_bytes=merging * page_size if merging is not None and page_size else None,
            ksm_profit_bytes=p.ksm.profit_bytes if p.ksm else None,
        )
        vms.append(row)
        out.used += p.files
    vms = join_by_name(vms)
    _attach_cgroups(vms, cgroups, cgroup_files, out)
    out.vms = vms
    out.used = sorted(set(out.used))
    return out


def join_by_name(vms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without a pid (a command line alone) fill the row of the same VM name, first known wins."""
    by_name: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for row in sorted(vms, key=lambda r: r["pid"] is None):  # rows with a pid first
        name = row["name"]
        into = by_name.get(name) if name is not None else None
        if into is not None and (row["pid"] is None or into["pid"] is None):
            for k, v in row.items():
                if into.get(k) is None and v is not None:
                    into[k] = v
            continue
        if name is not None:
            by_name.setdefault(name, row)
        out.append(row)
    return out


def _attach_cgroups(
    vms: list[dict[str, Any]],
    cgroups: dict[PurePosixPath, dict[str, Any]],
    files: dict[PurePosixPath, list[str]],
    out: SnapshotProcs,
) -> None:
    """A machine's cgroup values join its VM (a row of its own when no process file named it):
    the tightest limit on the path, usage of the outermost group read. Others are host limits."""
    by_name = {r["name"]: r for r in vms if r["name"] is not None}
    for d in sorted(cgroups, key=lambda d: (len(d.parts), str(d))):  # outermost first
        raw = cgroups[d]
        out.used += files[d]
        machine = proc_pid.machine_name(d.parts)
        if machine is None:
            for file_name, v in sorted(raw.items()):
                if proc_pid.CGROUP_VALUE_FILES.get(file_name) in proc_pid.CGROUP_LIMITS and v is not None:
                    out.host_limits[f"cgroup {cgroup_path(d).rstrip('/')}/{file_name}"] = str(v)
            continue
        values: dict[str, int | None] = {proc_pid.CGROUP_VALUE_FILES[f]: v for f, v in raw.items() if f != "memory.stat"}
        if "memory.stat" in raw:
            values["cgroup_anon_bytes"], values["cgroup_file_bytes"] = proc_pid.cgroup_anon_file(raw["memory.stat"])
        row = by_name.get(machine)
        if row is None:
            row = dict.fromkeys(_VM_FIELDS)
            row["name"] = machine
            by_name[machine] = row
            vms.append(row)
        if row["cgroup"] is None:
            row["cgroup"] = cgroup_path(d)
        for col, v in values.items():
            if col in proc_pid.CGROUP_LIMITS:
                if v is not None and (row[col] is None or v < row[col]):
                    row[col] = v
            elif row[col] is None:
                row[col] = v
