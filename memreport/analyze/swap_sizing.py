"""Rule 1 of the article: swap must be at least the largest Inactive memory ever observed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from memreport.analyze._util import argmax, column, last, peak, quantile
from memreport.analyze.pressure import Pressure
from memreport.analyze.wording import fmt_bytes, fmt_time, round_up_gib
from memreport.config import Thresholds
from memreport.model import Finding, Severity

CHECK = "swap_sizing"


@dataclass
class SwapSizing:
    missing: list[str] = field(default_factory=list)
    peak_inactive_bytes: int | None = None
    peak_inactive_at: pd.Timestamp | None = None
    p99_inactive_bytes: int | None = None
    p95_inactive_bytes: int | None = None
    peak_inactive_anon_bytes: int | None = None
    peak_inactive_anon_at: pd.Timestamp | None = None
    p99_inactive_anon_bytes: int | None = None
    p95_inactive_anon_bytes: int | None = None
    swap_total_bytes: int | None = None  # the last SwapTotal seen (swap configured now)
    swap_total_min_bytes: int | None = None
    swap_total_max_bytes: int | None = None
    peak_swap_used_bytes: int | None = None
    peak_swap_used_at: pd.Timestamp | None = None
    basis: str = "inactive"
    required_bytes: int | None = None  # the peak swap must cover, by the chosen basis
    deficit_bytes: int | None = None  # required − swap; negative = surplus
    anon_deficit_bytes: int | None = None
    zram_bytes: int = 0  # swap on /dev/zram*, left out of swap_total_bytes: its pages live in RAM
    findings: list[Finding] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.deficit_bytes is not None


def check_swap_sizing(samples: pd.DataFrame, t: Thresholds, pressure: Pressure | None = None, zram_bytes: int = 0) -> SwapSizing:
    """zram_bytes: swap on zram devices. It is not swap in the rule's sense (kernel docs, zram.rst: a
    compressed block device in RAM), so the rule compares the peak Inactive with the other swap only."""
    r = SwapSizing(basis=t.swap_basis, zram_bytes=zram_bytes)
    inactive = column(samples, "mem_Inactive")
    anon = column(samples, "mem_Inactive_anon")
    swap_total = column(samples, "mem_SwapTotal")
    swap_free = column(samples, "mem_SwapFree")
    if inactive is not None:
        r.peak_inactive_bytes, r.peak_inactive_at = peak(samples, inactive)
        r.p99_inactive_bytes = quantile(inactive, 0.99)
        r.p95_inactive_bytes = quantile(inactive, 0.95)
    else:
        r.missing.append("Inactive memory (/proc/meminfo Inactive; sar -r ALL kbinact)")
    if anon is not None:
        r.peak_inactive_anon_bytes, r.peak_inactive_anon_at = peak(samples, anon)
        r.p99_inactive_anon_bytes = quantile(anon, 0.99)
        r.p95_inactive_anon_bytes = quantile(anon, 0.95)
    else:
        r.missing.append("Inactive(anon) (/proc/meminfo, kernel ≥ 2.6.28; not in sar)")
    if swap_total is not None:
        r.swap_total_bytes = max(0, int(last(swap_total)) - zram_bytes)  # type: ignore[arg-type]
        r.swap_total_min_bytes = max(0, int(swap_total.min()) - zram_bytes)
        r.swap_total_max_bytes = max(0, int(swap_total.max()) - zram_bytes)
        if swap_free is not None:
            r.peak_swap_used_bytes, r.peak_swap_used_at = peak(samples, swap_total - swap_free)
    else:
        r.missing.append("SwapTotal (/proc/meminfo; sar -S gives kbswpfree + kbswpused)")

    if r.swap_total_max_bytes == 0 and (r.peak_inactive_anon_bytes is not None or r.peak_inactive_bytes is not None):
        _no_swap(r, samples, inactive, anon, t, pressure)
        return r
    r.required_bytes = r.peak_inactive_anon_bytes if t.swap_basis == "inactive_anon" else r.peak_inactive_bytes
    if r.swap_total_bytes is not None and r.peak_inactive_anon_bytes is not None:
        r.anon_deficit_bytes = r.peak_inactive_anon_bytes - r.swap_total_bytes
    if r.required_bytes is None or r.swap_total_bytes is None:
        r.findings.append(
            Finding(
                id="swap.unknown",
                check=CHECK,
                severity=Severity.WARN,
                title="Swap sizing could not be checked",
                detail="Missing: " + "; ".join(r.missing) + ".",
                recommendation="Collect /proc/meminfo over a representative period (memreport's collector, or sar -r ALL -S).",
            )
        )
        return r

    r.deficit_bytes = r.required_bytes - r.swap_total_bytes
    basis_name = "Inactive(anon)" if t.swap_basis == "inactive_anon" else "Inactive"
    at = r.peak_inactive_anon_at if t.swap_basis == "inactive_anon" else r.peak_inactive_at
    evidence = {
        "required_bytes": r.required_bytes,
        "basis": t.swap_basis,
        "peak_at": at,
        "swap_total_bytes": r.swap_total_bytes,
        "deficit_bytes": r.deficit_bytes,
        "peak_inactive_anon_bytes": r.peak_inactive_anon_bytes,
    }
    anon_note = ""
    if t.swap_basis == "inactive" and r.peak_inactive_anon_bytes is not None:
        anon_note = f" Inactive(anon), the part that can really go to swap, peaked at {fmt_bytes(r.peak_inactive_anon_bytes)}."
    if r.deficit_bytes > 0:
        severity = Severity.WARN
        if r.anon_deficit_bytes is not None and r.anon_deficit_bytes > 0:
            severity = Severity.CRIT  # even the anonymous pages alone do not fit in swap
        swap_text = "no swap" if r.swap_total_bytes == 0 else f"{fmt_bytes(r.swap_total_bytes)} of swap"
        if r.zram_bytes:
            swap_text += f" beside {fmt_bytes(r.zram_bytes)} of zram (in RAM, not counted)"
        short = fmt_bytes(r.deficit_bytes, round_up=True)
        r.findings.append(
            Finding(
                id="swap.deficit",
                check=CHECK,
                severity=severity,
                title=f"Swap too small: {short} short of the peak {basis_name}",
                detail=(
                    f"Peak {basis_name} was {fmt_bytes(r.required_bytes)} at {fmt_time(at)}; the host has "
                    f"{swap_text}, {short} short.{anon_note}"
                ),
                recommendation=(
                    f"Add at least {short} of swap (a swap file or partition) so swap covers the largest "
                    f"{basis_name} memory observed."
                ),
                evidence=evidence,
            )
        )
    else:
        spare = -r.deficit_bytes
        r.findings.append(
            Finding(
                id="swap.sufficient",
                check=CHECK,
                severity=Severity.OK,
                title=f"Swap sufficient with {fmt_bytes(spare)} to spare",
                detail=(
                    f"Peak {basis_name} was {fmt_bytes(r.required_bytes)} at {fmt_time(at)}; the host has "
                    f"{fmt_bytes(r.swap_total_bytes)} of swap.{anon_note}"
                ),
                recommendation="Nothing to do; re-check after adding VMs.",
                evidence=evidence,
            )
        )
    return r


def _no_swap(
    r: SwapSizing,
    samples: pd.DataFrame,
    inactive: pd.Series | None,
    anon: pd.Series | None,
    t: Thresholds,
    pressure: Pressure | None,
) -> None:
    """A host that never had swap: a choice, not a misconfiguration, unless it shows pressure.

    Only anonymous pages can go to swap, so the size comes from Inactive(anon); the rest of Inactive is
    page cache, which the kernel drops rather than swaps.
    """
    r.basis = "inactive_anon" if r.peak_inactive_anon_bytes is not None else "inactive"
    r.required_bytes = r.peak_inactive_anon_bytes if r.peak_inactive_anon_bytes is not None else r.peak_inactive_bytes
    r.deficit_bytes = r.required_bytes
    level, signs = pressure.signs(t) if pressure is not None else (0, [])
    cache = None
    if inactive is not None and anon is not None:
        i = argmax(inactive)
        if i is not None and pd.notna(anon.iloc[i]):
            cache = int(inactive.iloc[i] - anon.iloc[i])
    if r.peak_inactive_anon_bytes is not None:
        sized = f"peak Inactive(anon), what could really go to swap, was {fmt_bytes(r.peak_inactive_anon_bytes)}"
        if cache is not None and r.peak_inactive_bytes is not None:
            sized += (
                f"; the other {fmt_bytes(cache)} of the peak Inactive ({fmt_bytes(r.peak_inactive_bytes)}) was "
                "page cache, which is dropped, not swapped"
            )
    else:
        sized = (
            f"peak Inactive was {fmt_bytes(r.peak_inactive_bytes)} (Inactive(anon) is not in the data, so this "
            "includes page cache and overstates the need)"
        )
    add = fmt_bytes(round_up_gib(r.required_bytes or 0), round_up=True)
    if level == 0:
        sev, title = Severity.OK, "No swap configured, and no sign of memory pressure"
        rec = (
            f"Nothing is urgent. To give the kernel room to push out idle anonymous memory (the rule swap ≥ peak "
            f"Inactive), add {add} of swap."
        )
    else:
        sev = Severity.CRIT if level == 2 else Severity.WARN
        title = "No swap configured, and the host ran short of memory"
        rec = f"Add {add} of swap so idle anonymous memory can leave RAM, and reduce allocations if the pressure continues."
    if r.zram_bytes:
        title = title.replace("No swap configured", "No swap beyond zram")
    evidence_text = ("; ".join(signs) + ".") if signs else "MemAvailable stayed high and nothing stalled or was OOM-killed."
    r.findings.append(
        Finding(
            id="swap.none",
            check=CHECK,
            severity=sev,
            title=title,
            detail=(
                f"SwapTotal was 0 throughout; {sized}. Pressure: {evidence_text}"
                if not r.zram_bytes
                else f"The only swap is {fmt_bytes(r.zram_bytes)} of zram, compressed into RAM: no capacity beyond RAM; {sized}. "
                f"Pressure: {evidence_text}"
            ),
            recommendation=rec,
            evidence={
                "required_bytes": r.required_bytes,
                "basis": r.basis,
                "swap_total_bytes": 0,
                "peak_inactive_bytes": r.peak_inactive_bytes,
                "peak_inactive_anon_bytes": r.peak_inactive_anon_bytes,
                "page_cache_at_peak_bytes": cache,
                "pressure_signs": signs,
            },
        )
    )
