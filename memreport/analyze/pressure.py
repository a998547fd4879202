"""Evidence that a host was short of memory, gathered once for the checks that weigh it.

A rule alone (swap ≥ peak Inactive) does not make a host in trouble: a host without swap that never
ran low on memory is healthy by choice. These are the signs an administrator would look for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from memreport.analyze._util import column, rate_values, valid_intervals
from memreport.config import Thresholds


@dataclass(frozen=True)
class Pressure:
    lowest_available_percent: float | None  # lowest MemAvailable ÷ MemTotal × 100
    psi_full_peak_percent: float | None  # highest per-interval PSI memory full, % of time
    oom_kills: int | None  # Σ oom_kill deltas
    allocated_over_ram_bytes: int | None  # VM allocations − MemTotal (positive = beyond RAM)

    def signs(self, t: Thresholds) -> tuple[int, list[str]]:
        """(level 0 none / 1 some / 2 severe, the signs in words)."""
        level, words = 0, []
        if self.oom_kills:
            level = 2
            words.append(f"the OOM killer ran {self.oom_kills} time{'s' if self.oom_kills != 1 else ''}")
        if self.lowest_available_percent is not None and self.lowest_available_percent < t.oom_available_warn_percent:
            level = max(level, 2 if self.lowest_available_percent < t.oom_available_crit_percent else 1)
            words.append(f"MemAvailable fell to {self.lowest_available_percent:.1f} % of RAM")
        if self.psi_full_peak_percent is not None and self.psi_full_peak_percent >= t.swap_pressure_psi_full_percent:
            level = max(level, 1)
            words.append(f"tasks stalled on memory {self.psi_full_peak_percent:.1f} % of an interval (PSI full)")
        if self.allocated_over_ram_bytes is not None and self.allocated_over_ram_bytes > 0:
            level = max(level, 1)
            words.append("VMs are allocated more than RAM")
        return level, words


def measure(samples: pd.DataFrame, vm_allocated_bytes: int | None, t: Thresholds) -> Pressure:
    total, avail = column(samples, "mem_MemTotal"), column(samples, "mem_MemAvailable")
    lowest = None
    if total is not None and avail is not None:
        share = (avail / total.where(total > 0) * 100).dropna()
        lowest = None if share.empty else float(share.min())
    psi = rate_values(samples, "psi_full_share", valid_intervals(samples, t.thrash_max_interval_s))
    psi_peak = None if psi is None or np.isnan(psi).all() else float(np.nanmax(psi)) * 100
    kills = column(samples, "oom_kills")
    over = None
    if vm_allocated_bytes is not None and total is not None:
        over = vm_allocated_bytes - int(total.dropna().iloc[-1])
    return Pressure(lowest, psi_peak, None if kills is None else int(kills.clip(lower=0).sum()), over)
