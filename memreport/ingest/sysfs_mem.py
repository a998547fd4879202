"""Hugepage pools and NUMA node meminfo read under a root (a snapshot, an unpacked sosreport).

sos copies them at their real paths: the memory plugin `sys/kernel/mm/hugepages`, the numa plugin
`sys/devices/system/node/node*/meminfo` and `node*/hugepages/hugepages-*/*`. The parsers are
procfs.parse_hugepage_pool / parse_node_meminfo; this module only finds the files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from memreport.ingest import procfs, schema
from memreport.model import LogEntry

HUGEPAGES_DIR = "sys/kernel/mm/hugepages"
NODES_DIR = "sys/devices/system/node"
_MAX_FILE = 1 << 16  # a sysfs value or a node meminfo is a few hundred bytes


def _text(p: Path) -> str | None:
    try:
        if p.is_symlink() or not p.is_file() or p.stat().st_size > _MAX_FILE:
            return None
        return p.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _pools(base: Path, node: int | None) -> list[procfs.HugepagePool]:
    out: list[procfs.HugepagePool] = []
    if not base.is_dir() or base.is_symlink():
        return out
    for d in sorted(base.iterdir()):
        size = procfs.hugepage_dir_size(d.name)
        if size is None or not d.is_dir():
            continue
        files = {f.name: t for f in d.iterdir() if (t := _text(f)) is not None}
        out.append(procfs.parse_hugepage_pool(node, size, files))
    return out


def _nodes(root: Path) -> list[tuple[int, Path]]:
    base = root / NODES_DIR
    if not base.is_dir() or base.is_symlink():
        return []
    found = [(int(d.name[4:]), d) for d in base.iterdir() if d.name.startswith("node") and d.name[4:].isdigit()]
    return sorted(found)


def read(root: Path, ts: pd.Timestamp, log: list[LogEntry]) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(hugepages rows, numa rows) at ts, in the store's shape; None where the root has none."""
    pools = _pools(root / HUGEPAGES_DIR, None)
    rows_numa = []
    for node, d in _nodes(root):
        pools += _pools(d / "hugepages", node)
        text = _text(d / "meminfo")
        if text is None:
            continue
        try:
            _, values = procfs.parse_node_meminfo(text)
        except procfs.ParseError as e:
            log.append(LogEntry("warn", "bad_value", f"{e.reason}: skipped", file=str(d / "meminfo"), line=e.line))
            continue
        rows_numa.append({"ts": ts, "node": node, **{col: values.get(key) for key, col in schema.NUMA_KEYS.items()}})
    hp = None
    if pools:
        hp = pd.DataFrame([{"ts": ts, **vars(p)} for p in pools])
        hp["node"] = hp["node"].astype("Int32")
        for c in ("total_bytes", "free_bytes", "reserved_bytes", "surplus_bytes", "page_size_bytes"):
            hp[c] = hp[c].astype("Int64")
    numa = None
    if rows_numa:
        numa = pd.DataFrame(rows_numa)
        numa["node"] = numa["node"].astype("Int32")
        for col in schema.NUMA_KEYS.values():
            numa[col] = numa[col].astype("Int64")
    for frame in (hp, numa):
        if frame is not None:
            frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ms, UTC]")
    return hp, numa
