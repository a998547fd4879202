"""Per VM: allocated vs resident (max, p95) vs swapped: the article's point that allocated and used
memory are not one-to-one. Merged KSM pages still count in every qemu's RSS, so RSS sums can exceed
what the host really uses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from memreport.analyze.wording import fmt_bytes, fmt_pct
from memreport.config import Thresholds
from memreport.model import Finding, Severity

CHECK = "vms"


@dataclass
class VmRow:
    name: str
    uuid: str | None
    allocated_bytes: int | None  # last known
    maxmem_bytes: int | None
    rss_max_bytes: int | None
    rss_p95_bytes: int | None
    swap_max_bytes: int | None
    swap_last_bytes: int | None
    ksm_merged_max_bytes: int | None  # /proc/<pid>/ksm_stat, kernel >= 6.1: the only per-VM view of KSM
    samples: int
    first_seen: pd.Timestamp
    last_seen: pd.Timestamp
    backing: str | None = None  # anonymous | hugepages | file | memfd; None when the input does not say
    current_bytes: int | None = None  # the balloon, last known (libvirt)
    hugepages_max_bytes: int | None = None  # peak hugetlb pages of the qemu process (not in its RSS)
    resident_max_bytes: int | None = None  # peak of RSS + hugetlb pages in one sample: what the VM really holds
    hard_limit_bytes: int | None = None  # last known; libvirt <memtune>, else the VM cgroup's memory limit
    soft_limit_bytes: int | None = None
    swap_hard_limit_bytes: int | None = None

    @property
    def resident_percent(self) -> float | None:
        return _percent(self.resident_max_bytes, self.allocated_bytes)

    @property
    def hard_limit_percent(self) -> float | None:
        return _percent(self.resident_max_bytes, self.hard_limit_bytes)

    @property
    def balloon_percent(self) -> float | None:
        return _percent(self.current_bytes, self.allocated_bytes)

    @property
    def swap_percent(self) -> float | None:
        return _percent(self.swap_max_bytes, self.allocated_bytes)


def _percent(part: int | None, whole: int | None) -> float | None:
    """part ÷ whole in %, None when either is unknown or the whole is 0."""
    return None if part is None or not whole else part / whole * 100


@dataclass
class VmsResult:
    missing: list[str] = field(default_factory=list)
    rows: list[VmRow] = field(default_factory=list)
    allocated_total_bytes: int | None = None  # sum of the rows' allocations
    rss_max_total_bytes: int | None = None  # sum of each VM's own peak RSS
    resident_max_total_bytes: int | None = None  # sum of each VM's own peak RSS + hugetlb pages
    current_total_bytes: int | None = None  # sum of the balloons (VMs whose balloon is known); beside the allocations
    at_hard_limit: list[str] = field(default_factory=list)  # VMs resident at vms.hard_limit_percent of their hard limit
    ksm_merged_max_total_bytes: int | None = None  # sum of each VM's own peak KSM-merged memory
    findings: list[Finding] = field(default_factory=list)


def _int(v: object) -> int | None:
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]
    return None if math.isnan(f) else int(round(f))


def _text(v: object) -> str | None:
    return None if v is None or pd.isna(v) else str(v)  # type: ignore[call-overload]


def _vm_codes(vms: pd.DataFrame) -> np.ndarray:
    """One integer per VM: by UUID, else by name, else by qemu pid."""
    cols = [(c, p) for c, p in (("uuid", ""), ("name", "name "), ("pid", "pid ")) if c in vms.columns]
    if not cols:
        return np.zeros(len(vms), dtype=np.int32)
    key: pd.Series = vms[cols[0][0]]
    if key.isna().any():  # rare (some VMs without a UUID): a text key, slower but only then
        k = key.astype("object")
        for c, prefix in cols[1:]:
            other = vms[c]
            k = k.where(k.notna(), (prefix + other.astype("object").astype(str)).where(other.notna()))
        key = k.fillna("unknown")
    codes, _ = pd.factorize(key, sort=False)
    return np.asarray(codes, dtype=np.int32)  # a few dozen VMs: 4 bytes a row, not 8 (issue 17)


class _Groups:
    """Runs of equal keys in a sorted key array, with pandas groupby's NaN-skipping reductions."""

    def __init__(self, keys_sorted: np.ndarray) -> None:
        n = len(keys_sorted)
        self.starts = np.flatnonzero(np.r_[True, keys_sorted[1:] != keys_sorted[:-1]]) if n else np.zeros(0, dtype=np.int64)
        self.ends = np.r_[self.starts[1:], n].astype(np.int64)
        self.keys = keys_sorted[self.starts]

    def max(self, v: np.ndarray) -> np.ndarray:  # NaN only when the whole group is NaN
        with np.errstate(invalid="ignore"):
            return np.fmax.reduceat(v, self.starts) if len(v) else np.zeros(0)

    def last(self, v: np.ndarray) -> np.ndarray:  # the last non-NaN value, as groupby().last() gives
        pos = np.where(np.isnan(v), -1, np.arange(len(v)))
        at = np.maximum.reduceat(pos, self.starts) if len(v) else np.zeros(0, dtype=np.int64)
        return np.where(at >= self.starts, v[np.maximum(at, 0)], np.nan)

    def quantile(self, v: np.ndarray, q: float) -> np.ndarray:
        """Exact linear-interpolated quantile of each group's non-NaN values (groupby().quantile(q))."""
        out = np.full(len(self.starts), np.nan)
        for i, (s, e) in enumerate(zip(self.starts, self.ends)):  # a few dozen VMs: exact selection per VM
            part = v[s:e]
            part = part[~np.isnan(part)]
            if not len(part):
                continue
            idx = q * (len(part) - 1)
            lo = int(np.floor(idx))
            hi = min(lo + 1, len(part) - 1)
            low, high = np.partition(part, [lo, hi])[[lo, hi]]
            out[i] = low + (high - low) * (idx - lo)
        return out


def check_vms(vms: pd.DataFrame | None, t: Thresholds) -> VmsResult:
    r = VmsResult()
    if vms is None or len(vms) == 0:
        r.missing.append("per-VM data (qemu processes' /proc/<pid>/status and cmdline: memreport's collector on the host)")
        return r
    codes = _vm_codes(vms)

    # Per VM, one column at a time on numpy (issue 17): rows sorted by VM, in time order within one.
    # A year of 30 VMs is 15 M rows: each measure is read in that order, reduced and dropped, and an
    # absent column costs nothing (its per-VM values are null).
    ts = vms["ts"]
    if ts.is_monotonic_increasing:
        perm = np.argsort(codes, kind="stable")
    else:
        order = np.argsort(ts.to_numpy(), kind="stable")
        perm = order[np.argsort(codes[order], kind="stable")]
        del order
    g = _Groups(codes[perm])
    del codes
    none = np.full(len(g.starts), np.nan)

    def sorted_num(name: str) -> np.ndarray | None:
        if name not in vms.columns:
            return None
        # perm is deleted below once no measure is read any more (ruff cannot see the order)
        return pd.to_numeric(vms[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[perm]  # noqa: F821

    def last_of(name: str) -> np.ndarray:
        v = sorted_num(name)
        return none if v is None else g.last(v)

    def max_of(v: np.ndarray | None) -> np.ndarray:
        return none if v is None else g.max(v)

    rss, huge, swap = sorted_num("rss_bytes"), sorted_num("hugepages_bytes"), sorted_num("swap_bytes")
    # Resident = RSS + hugetlb pages (not in VmRSS); a sample without a hugetlb value counts its RSS alone.
    resident = rss if rss is None or huge is None else np.where(np.isnan(rss), np.nan, rss + np.nan_to_num(huge, nan=0.0))
    # The hard limit libvirt set, else the VM cgroup's limit (snapshot trees read the cgroup, not libvirt).
    hard, cgroup = sorted_num("hard_limit_bytes"), sorted_num("mem_limit_bytes")
    if hard is None or cgroup is None:
        hard = hard if cgroup is None else cgroup
    else:
        hard = np.where(np.isnan(hard), cgroup, hard)
    del cgroup
    agg = pd.DataFrame(
        {
            "first_row": perm[g.starts],
            "last_row": perm[g.ends - 1],
            "rss_max": max_of(rss),
            "rss_p95": none if rss is None else g.quantile(rss, 0.95),
            "huge_max": max_of(huge),
            "resident_max": max_of(resident),
            "swap_max": max_of(swap),
            "swap_last": none if swap is None else g.last(swap),
            "hard": none if hard is None else g.last(hard),
        },
        index=g.keys,
    )
    del rss, huge, swap, resident, hard
    for key, column in (
        ("alloc", "allocated_bytes"),
        ("maxmem", "maxmem_bytes"),
        ("current", "current_bytes"),
        ("soft", "soft_limit_bytes"),
        ("swap_hard", "swap_hard_limit_bytes"),
    ):
        agg[key] = last_of(column)
    agg["ksm_max"] = max_of(sorted_num("ksm_merged_bytes"))
    agg["samples"] = g.ends - g.starts
    del perm
    names = vms["name"] if "name" in vms.columns else None
    uuids = vms["uuid"] if "uuid" in vms.columns else None
    backings = vms["backing"] if "backing" in vms.columns else None
    for _code, row in agg.iterrows():  # one row per VM
        lr, fr = int(row["last_row"]), int(row["first_row"])
        name: object = names.iloc[lr] if names is not None else None
        uuid: object = uuids.iloc[lr] if uuids is not None else None
        if name is None or pd.isna(name):  # type: ignore[call-overload]
            known_uuid = uuid is not None and not pd.isna(uuid)  # type: ignore[call-overload]
            name = uuid if known_uuid else f"pid {vms['pid'].iloc[lr] if 'pid' in vms.columns else '?'}"
        r.rows.append(
            VmRow(
                name=str(name),
                uuid=None if uuid is None or pd.isna(uuid) else str(uuid),  # type: ignore[call-overload]
                allocated_bytes=_int(row["alloc"]),
                maxmem_bytes=_int(row["maxmem"]),
                rss_max_bytes=_int(row["rss_max"]),
                rss_p95_bytes=_int(row["rss_p95"]),
                swap_max_bytes=_int(row["swap_max"]),
                swap_last_bytes=_int(row["swap_last"]),
                ksm_merged_max_bytes=_int(row["ksm_max"]),
                samples=int(row["samples"]),
                first_seen=ts.iloc[fr],
                last_seen=ts.iloc[lr],
                backing=_text(backings.iloc[lr]) if backings is not None else None,
                current_bytes=_int(row["current"]),
                hugepages_max_bytes=_int(row["huge_max"]),
                resident_max_bytes=_int(row["resident_max"]),
                hard_limit_bytes=_int(row["hard"]),
                soft_limit_bytes=_int(row["soft"]),
                swap_hard_limit_bytes=_int(row["swap_hard"]),
            )
        )
    r.rows.sort(key=lambda v: (-(v.allocated_bytes or 0), -(v.rss_max_bytes or 0), v.name))
    allocs = [v.allocated_bytes for v in r.rows if v.allocated_bytes is not None]
    rsss = [v.rss_max_bytes for v in r.rows if v.rss_max_bytes is not None]
    r.allocated_total_bytes = sum(allocs) if allocs else None
    r.rss_max_total_bytes = sum(rsss) if rsss else None
    merged = [v.ksm_merged_max_bytes for v in r.rows if v.ksm_merged_max_bytes is not None]
    r.ksm_merged_max_total_bytes = sum(merged) if merged else None
    held = [v.resident_max_bytes for v in r.rows if v.resident_max_bytes is not None]
    r.resident_max_total_bytes = sum(held) if held else None
    currents = [v.current_bytes for v in r.rows if v.current_bytes is not None]
    r.current_total_bytes = sum(currents) if currents else None
    huge_held = sum(v.hugepages_max_bytes or 0 for v in r.rows)
    if r.allocated_total_bytes and r.resident_max_total_bytes is not None:
        pct = r.resident_max_total_bytes / r.allocated_total_bytes * 100
        hugetlb = f" ({fmt_bytes(huge_held)} of it hugetlb pages, which VmRSS does not count)" if huge_held else ""
        r.findings.append(
            Finding(
                id="vms.usage",
                check=CHECK,
                severity=Severity.OK,
                title=f"VMs are resident at {fmt_pct(pct)} of what they are allocated",
                detail=(
                    f"{len(r.rows)} VMs: {fmt_bytes(r.allocated_total_bytes)} allocated, {fmt_bytes(r.resident_max_total_bytes)} "
                    f"resident (RSS + hugetlb pages) at each VM's own peak{hugetlb}. Allocated and used memory are not one-to-one."
                ),
                recommendation="Size by what VMs really use, within the safe rule (allocations ≤ RAM + swap).",
                evidence={
                    "allocated_bytes": r.allocated_total_bytes,
                    "resident_max_bytes": r.resident_max_total_bytes,
                    "rss_max_bytes": r.rss_max_total_bytes,
                    "hugepages_max_bytes": huge_held,
                },
            )
        )
    r.findings += _limit_findings(r, t)
    swapped = [v for v in r.rows if v.swap_percent is not None and v.swap_percent >= t.vms_swap_warn_percent]
    if swapped:
        listed = ", ".join(f"{v.name} ({fmt_bytes(v.swap_max_bytes)})" for v in swapped[:5]) + (" …" if len(swapped) > 5 else "")
        r.findings.append(
            Finding(
                id="vms.swapped",
                check=CHECK,
                severity=Severity.WARN,
                title=f"{len(swapped)} VM{'s' if len(swapped) != 1 else ''} had {fmt_pct(t.vms_swap_warn_percent)} or more of their memory in swap",
                detail=f"Peak VmSwap: {listed}.",
                recommendation="These VMs will be slow when they touch swapped memory: check the thrash windows, give them RAM or reduce their allocation.",
                evidence={"vms": [v.name for v in swapped]},
            )
        )
    return r


def _limit_findings(r: VmsResult, t: Thresholds) -> list[Finding]:
    """VMs at their hard limit, and balloons inflated far below <memory>."""
    out: list[Finding] = []
    tight = [v for v in r.rows if v.hard_limit_percent is not None and v.hard_limit_percent >= t.vms_hard_limit_percent]
    r.at_hard_limit = [v.name for v in tight]
    if tight:
        listed = ", ".join(
            f"{v.name} ({fmt_bytes(v.resident_max_bytes)} of {fmt_bytes(v.hard_limit_bytes)}, {fmt_pct(v.hard_limit_percent)})"
            for v in tight[:5]
        ) + (" …" if len(tight) > 5 else "")
        out.append(
            Finding(
                id="vms.hard_limit",
                check=CHECK,
                severity=Severity.WARN,
                title=f"{len(tight)} VM{'s' if len(tight) != 1 else ''} resident at {fmt_pct(t.vms_hard_limit_percent)} or more of "
                "their memory hard limit",
                detail=(
                    f"Peak resident memory (RSS + hugetlb pages) against the hard limit: {listed}. A VM past its hard limit "
                    "swaps or is OOM-killed inside its memory cgroup while the host has free memory: swap thrash with "
                    "memory available is this limit at work."
                ),
                recommendation="Raise the hard limit (virsh memtune DOM --hard-limit, libvirt <memtune><hard_limit>) above what "
                "the guest holds, or remove it: libvirt advises against setting it at all.",
                evidence={
                    "vms": [
                        {"name": v.name, "resident_max_bytes": v.resident_max_bytes, "hard_limit_bytes": v.hard_limit_bytes}
                        for v in tight
                    ]
                },
            )
        )
    low = [v for v in r.rows if v.balloon_percent is not None and v.balloon_percent <= t.vms_balloon_low_percent]
    if low:
        back = sum((v.allocated_bytes or 0) - (v.current_bytes or 0) for v in low)
        listed = ", ".join(f"{v.name} ({fmt_bytes(v.current_bytes)} of {fmt_bytes(v.allocated_bytes)})" for v in low[:5]) + (
            " …" if len(low) > 5 else ""
        )
        out.append(
            Finding(
                id="vms.balloon",
                check=CHECK,
                severity=Severity.WARN,
                title=f"{len(low)} VM{'s' if len(low) != 1 else ''} ballooned to {fmt_pct(t.vms_balloon_low_percent)} or less of "
                f"their memory: {fmt_bytes(back)} the host may be asked to give back",
                detail=(
                    f"Balloon (current memory) against <memory>: {listed}. The guest can deflate its balloon at any time "
                    "and take that memory back, so the OOM rule counts <memory>, not the ballooned size."
                ),
                recommendation="Keep RAM + swap above the allocations at <memory>; if the memory is not needed, lower <memory> "
                "instead of ballooning.",
                evidence={"vms": [v.name for v in low], "give_back_bytes": back},
            )
        )
    return out
