"""Per VM: allocated vs resident (max, p95) vs swapped: the article's point that allocated and used
memory are not one-to-one. Merged KSM pages still count in every qemu's RSS, so RSS sums can exceed
what the host really uses."""

from __future__ import annotations

from dataclasses import dataclass, field

import math

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
    backing: str | None = None  # hugepages | ram; None when the input does not say

    @property
    def resident_percent(self) -> float | None:
        if self.rss_max_bytes is None or not self.allocated_bytes:
            return None
        return self.rss_max_bytes / self.allocated_bytes * 100

    @property
    def swap_percent(self) -> float | None:
        if self.swap_max_bytes is None or not self.allocated_bytes:
            return None
        return self.swap_max_bytes / self.allocated_bytes * 100


@dataclass
class VmsResult:
    missing: list[str] = field(default_factory=list)
    rows: list[VmRow] = field(default_factory=list)
    allocated_total_bytes: int | None = None  # sum of the rows' allocations
    rss_max_total_bytes: int | None = None  # sum of each VM's own peak RSS
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
        return np.zeros(len(vms), dtype=np.int64)
    key: pd.Series = vms[cols[0][0]]
    if key.isna().any():  # rare (some VMs without a UUID): a text key, slower but only then
        k = key.astype("object")
        for c, prefix in cols[1:]:
            other = vms[c]
            k = k.where(k.notna(), (prefix + other.astype("object").astype(str)).where(other.notna()))
        key = k.fillna("unknown")
    codes, _ = pd.factorize(key, sort=False)
    return np.asarray(codes, dtype=np.int64)


def check_vms(vms: pd.DataFrame | None, t: Thresholds) -> VmsResult:
    r = VmsResult()
    if vms is None or len(vms) == 0:
        r.missing.append("per-VM data (qemu processes' /proc/<pid>/status and cmdline: memreport's collector on the host)")
        return r
    n = len(vms)
    codes = _vm_codes(vms)

    def num(name: str) -> np.ndarray:
        if name not in vms.columns:
            return np.full(n, np.nan)
        return pd.to_numeric(vms[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    ts = vms["ts"]
    order = np.arange(n)
    if not ts.is_monotonic_increasing:
        order = np.argsort(ts.to_numpy(), kind="stable")
    frame = pd.DataFrame({"code": codes[order], "row": order, "alloc": num("allocated_bytes")[order],
                          "maxmem": num("maxmem_bytes")[order], "rss": num("rss_bytes")[order], "swap": num("swap_bytes")[order],
                          "ksm": num("ksm_merged_bytes")[order]})
    g = frame.groupby("code", sort=True)
    agg = g.agg(first_row=("row", "first"), last_row=("row", "last"), alloc=("alloc", "last"), maxmem=("maxmem", "last"),
                rss_max=("rss", "max"), swap_max=("swap", "max"), swap_last=("swap", "last"), ksm_max=("ksm", "max"),
                samples=("row", "size"))
    agg["rss_p95"] = g["rss"].quantile(0.95)
    names = vms["name"] if "name" in vms.columns else None
    uuids = vms["uuid"] if "uuid" in vms.columns else None
    backings = vms["backing"] if "backing" in vms.columns else None
    for code, row in agg.iterrows():
        lr, fr = int(row["last_row"]), int(row["first_row"])
        name: object = names.iloc[lr] if names is not None else None
        uuid: object = uuids.iloc[lr] if uuids is not None else None
        if name is None or pd.isna(name):  # type: ignore[call-overload]
            name = uuid if uuid is not None and not pd.isna(uuid) else f"pid {vms['pid'].iloc[lr] if 'pid' in vms.columns else '?'}"  # type: ignore[call-overload]
        r.rows.append(VmRow(
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
        ))
    r.rows.sort(key=lambda v: (-(v.allocated_bytes or 0), -(v.rss_max_bytes or 0), v.name))
    allocs = [v.allocated_bytes for v in r.rows if v.allocated_bytes is not None]
    rsss = [v.rss_max_bytes for v in r.rows if v.rss_max_bytes is not None]
    r.allocated_total_bytes = sum(allocs) if allocs else None
    r.rss_max_total_bytes = sum(rsss) if rsss else None
    merged = [v.ksm_merged_max_bytes for v in r.rows if v.ksm_merged_max_bytes is not None]
    r.ksm_merged_max_total_bytes = sum(merged) if merged else None
    if r.allocated_total_bytes and r.rss_max_total_bytes is not None:
        pct = r.rss_max_total_bytes / r.allocated_total_bytes * 100
        r.findings.append(Finding(
            id="vms.usage", check=CHECK, severity=Severity.OK,
            title=f"VMs are resident at {fmt_pct(pct)} of what they are allocated",
            detail=(f"{len(r.rows)} VMs: {fmt_bytes(r.allocated_total_bytes)} allocated, {fmt_bytes(r.rss_max_total_bytes)} "
                    "resident at each VM's own peak. Allocated and used memory are not one-to-one."),
            recommendation="Size by what VMs really use, within the safe rule (allocations ≤ RAM + swap).",
            evidence={"allocated_bytes": r.allocated_total_bytes, "rss_max_bytes": r.rss_max_total_bytes}))
    swapped = [v for v in r.rows if v.swap_percent is not None and v.swap_percent >= t.vms_swap_warn_percent]
    if swapped:
        listed = ", ".join(f"{v.name} ({fmt_bytes(v.swap_max_bytes)})" for v in swapped[:5]) + (" …" if len(swapped) > 5 else "")
        r.findings.append(Finding(
            id="vms.swapped", check=CHECK, severity=Severity.WARN,
            title=f"{len(swapped)} VM{'s' if len(swapped) != 1 else ''} had {fmt_pct(t.vms_swap_warn_percent)} or more of their memory in swap",
            detail=f"Peak VmSwap: {listed}.",
            recommendation="These VMs will be slow when they touch swapped memory: check the thrash windows, give them RAM or reduce their allocation.",
            evidence={"vms": [v.name for v in swapped]}))
    return r
