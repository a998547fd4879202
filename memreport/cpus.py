"""How many cores this process may use: its CPU affinity (taskset, a cpuset) and a cgroup v2 CPU
quota (a container's --cpus), not the machine's count. os.cpu_count() says 64 on a host whose
container may use 2: a fleet would start 64 workers, and each ingest 64 threads, fighting for 2."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    quota = cgroup_quota()
    if quota is not None:
        n = min(n, math.ceil(quota))
    return max(1, n)


def cgroup_quota(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = CGROUP_ROOT) -> float | None:
    """The tightest cpu.max (quota ÷ period, in cores) of this process's cgroup v2 and its ancestors;
    None when there is none (cgroup v1, no limit, not Linux)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    if path is None:
        return None
    limits = []
    d = root / path.strip("/")
    while True:
        limit = _cpu_max(d / "cpu.max")
        if limit is not None:
            limits.append(limit)
        if d == root or root not in d.parents:
            break
        d = d.parent
    return min(limits) if limits else None


def _cpu_max(f: Path) -> float | None:
    """cpu.max holds `max 100000` (no limit) or `<quota> <period>` in microseconds."""
    try:
        quota, period = f.read_text().split()[:2]
        return None if quota == "max" else max(0.01, int(quota) / int(period))
    except (OSError, ValueError):
        return None
