"""Per NUMA node: memory, lowest free, hugepages, and a node that ran out while the host had memory free.

Guests bound to a node (`numatune mode='strict'`, qemu `-numa … policy=bind`) can only take that node's
memory: the node reclaims, swaps or OOMs on its own while another node has free memory. The kernel gives
each node's meminfo at /sys/devices/system/node/node<N>/meminfo (MemTotal, MemFree, HugePages_*).

A node's hugepage pool is in its MemTotal but never in its MemFree (kernel docs, hugetlbpage.rst), so free
memory is measured against MemTotal − pool, the node's and the host's alike: otherwise a node holding the
pool looks short and a host with a pool looks fuller than it is. The pool per node comes from the per-node
sysfs pools (/sys/devices/system/node/node<N>/hugepages/, every size), else from the node's HugePages_Total ×
the default hugepage size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memreport.analyze.wording import fmt_bytes, fmt_pct, fmt_time
from memreport.config import Thresholds
from memreport.model import Finding, Severity

CHECK = "oom"


@dataclass
class NodeRow:
    node: int
    memory_total_bytes: int | None
    lowest_free_bytes: int | None
    lowest_free_at: pd.Timestamp | None
    lowest_free_percent: float | None
    host_free_percent_then: float | None  # the whole host's free share at that moment
    hugepages_total: int | None  # HugePages_Total (pages of the default size)
    flagged: bool = False
    hugepages_total_bytes: int | None = None  # the node's pools, every size (MemTotal − this: what MemFree is out of)


@dataclass
class NumaResult:
    nodes: list[NodeRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _node_pools(df: pd.DataFrame, hugepages: pd.DataFrame | None, page_size: int | None) -> pd.Series:
    """Bytes in hugepage pools per row of df (node, ts): the per-node sysfs pools at that time (or the reading
    before it), else HugePages_Total × the default size, else NaN."""
    pool = pd.Series(np.nan, index=df.index, dtype="float64")
    if hugepages is not None and len(hugepages) and "node" in hugepages.columns:
        per = hugepages[hugepages["node"].notna()]
        if len(per):
            sums = (
                pd.to_numeric(per["total_bytes"], errors="coerce")
                .astype("float64")
                .groupby([per["node"].astype("int64"), per["ts"]])
                .sum(min_count=1)
            )
            keys = pd.MultiIndex.from_arrays([df["node"].astype("int64"), df["ts"]])
            pool = pd.Series(sums.reindex(keys).to_numpy(), index=df.index, dtype="float64")
            pool = pool.groupby(df["node"]).ffill()
    if page_size:
        pool = pool.fillna(df["hugepages_total"] * page_size)
    return pool  # NaN: not known (counted as no pool)


def check_numa(
    numa: pd.DataFrame | None, t: Thresholds, hugepages: pd.DataFrame | None = None, page_size: int | None = None
) -> NumaResult:
    """hugepages: the store's hugepage pools (rows with a node are per node); page_size: the default hugepage
    size (meminfo Hugepagesize), for nodes whose pools are known only as HugePages_Total."""
    r = NumaResult()
    if numa is None or not len(numa):
        return r
    df = numa[["ts", "node", "memory_total_bytes", "memory_free_bytes", "hugepages_total"]].copy()
    for c in ("memory_total_bytes", "memory_free_bytes", "hugepages_total"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    df = df.sort_values(["node", "ts"], kind="stable").reset_index(drop=True)
    df["pool"] = _node_pools(df, hugepages, page_size)
    df["usable"] = (df["memory_total_bytes"] - df["pool"].fillna(0.0)).where(lambda u: u > 0)
    host = df.groupby("ts")[["usable", "memory_free_bytes"]].sum(min_count=1)
    host_pct = host["memory_free_bytes"] / host["usable"] * 100
    for node in sorted(int(x) for x in df["node"].dropna().unique()):
        g = df[df["node"] == node].dropna(subset=["memory_free_bytes"]).reset_index(drop=True)
        if not len(g):
            continue
        free = g["memory_free_bytes"].to_numpy(dtype="float64")
        totals = g["memory_total_bytes"].to_numpy(dtype="float64")
        usable = g["usable"].to_numpy(dtype="float64")
        huge = g["hugepages_total"].to_numpy(dtype="float64")
        i = int(np.nanargmin(free))
        at = g["ts"].iloc[i]
        pct = None if np.isnan(usable[i]) or not usable[i] else float(free[i] / usable[i] * 100)
        then = host_pct.get(at)
        n = NodeRow(
            node=node,
            memory_total_bytes=None if np.isnan(totals[-1]) else int(totals[-1]),
            lowest_free_bytes=int(free[i]),
            lowest_free_at=at,
            lowest_free_percent=pct,
            host_free_percent_then=None if then is None or pd.isna(then) else float(then),
            hugepages_total=None if np.isnan(huge[-1]) else int(huge[-1]),
            hugepages_total_bytes=None if pd.isna(g["pool"].iloc[-1]) else int(g["pool"].iloc[-1]),
        )
        n.flagged = (
            len(df["node"].unique()) > 1
            and pct is not None
            and n.host_free_percent_then is not None
            and pct < t.numa_low_free_percent
            and n.host_free_percent_then >= t.numa_host_free_percent
        )
        r.nodes.append(n)
    for n in r.nodes:
        if not n.flagged:
            continue
        r.findings.append(
            Finding(
                id="numa.node_short",
                check=CHECK,
                severity=Severity.WARN,
                title=f"NUMA node {n.node} ran out of memory while the host had {fmt_pct(n.host_free_percent_then)} free",
                detail=(
                    f"Node {n.node}'s MemFree fell to {fmt_bytes(n.lowest_free_bytes)} ({fmt_pct(n.lowest_free_percent, 1)} of its "
                    f"{fmt_bytes(n.memory_total_bytes)}"
                    + (f" outside its {fmt_bytes(n.hugepages_total_bytes)} of hugepages" if n.hugepages_total_bytes else "")
                    + f") at {fmt_time(n.lowest_free_at)}, while the host as a whole had "
                    f"{fmt_pct(n.host_free_percent_then)} free. Guests bound to that node reclaim, swap or OOM there."
                ),
                recommendation=(
                    "Check the guests' NUMA binding (virsh numatune, qemu -numa policy=bind): rebalance them across "
                    "nodes, or use mode='preferred' so a node may borrow memory."
                ),
                evidence={
                    "node": n.node,
                    "lowest_free_bytes": n.lowest_free_bytes,
                    "at": n.lowest_free_at,
                    "percent": None if n.lowest_free_percent is None else round(n.lowest_free_percent, 2),
                    "host_free_percent": None if n.host_free_percent_then is None else round(n.host_free_percent_then, 2),
                },
            )
        )
    return r
