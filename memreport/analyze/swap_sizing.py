"""Rule 1 of the article: swap must be at least the largest Inactive memory ever observed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from memreport.analyze._util import column, last, peak, quantile
from memreport.analyze.wording import fmt_bytes, fmt_time
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
    findings: list[Finding] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.deficit_bytes is not None


def check_swap_sizing(samples: pd.DataFrame, t: Thresholds) -> SwapSizing:
    r = SwapSizing(basis=t.swap_basis)
    inactive = column(samples, "mem_Inactive")
    anon = column(samples, "mem_Inactive_anon")
    swap_total = column(samples, "mem_SwapTotal")
    swap_free = column(samples, "mem_SwapFree")
    if inactive is not None:
        r.peak_inactive_bytes, r.peak_inactive_at = peak(samples, inactive)
        r.p99_inactive_bytes = quantile(inactive, 0.99)
        r.p95_inactive_bytes = quantile(inactive, 0.95)
    else:
        r.missing.append("Inactive memory (/proc/meminfo `Inactive`; sar -r ALL `kbinact`)")
    if anon is not None:
        r.peak_inactive_anon_bytes, r.peak_inactive_anon_at = peak(samples, anon)
        r.p99_inactive_anon_bytes = quantile(anon, 0.99)
        r.p95_inactive_anon_bytes = quantile(anon, 0.95)
    else:
        r.missing.append("Inactive(anon) (/proc/meminfo, kernel ≥ 2.6.28; not in sar)")
    if swap_total is not None:
        r.swap_total_bytes = int(last(swap_total))  # type: ignore[arg-type]
        r.swap_total_min_bytes = int(swap_total.min())
        r.swap_total_max_bytes = int(swap_total.max())
        if swap_free is not None:
            r.peak_swap_used_bytes, r.peak_swap_used_at = peak(samples, swap_total - swap_free)
    else:
        r.missing.append("SwapTotal (/proc/meminfo; sar -S gives kbswpfree + kbswpused)")

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
        r.findings.append(
            Finding(
                id="swap.deficit",
                check=CHECK,
                severity=severity,
                title=f"Swap too small: add {fmt_bytes(r.deficit_bytes, round_up=True)} of swap",
                detail=(
                    f"Peak {basis_name} was {fmt_bytes(r.required_bytes)} at {fmt_time(at)}; the host has "
                    f"{swap_text}, {fmt_bytes(r.deficit_bytes)} short.{anon_note}"
                ),
                recommendation=(
                    f"Add {fmt_bytes(r.deficit_bytes, round_up=True)} of swap (a swap file or partition) so swap "
                    f"covers the largest {basis_name} memory observed."
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
