"""How far the data can be trusted for a host's peaks: from the period it covers and its sampling.

A peak of five seconds of data is not the host's peak. Levels (settings `confidence.*`):

- high: at least `confidence.high_days` covered, sampled at most every `confidence.high_max_interval_s`;
- medium: at least `confidence.medium_days` covered (or a long period sampled too coarsely for high);
- low: less, or a single snapshot. Findings that rest on a peak are then at most WARN.

Covered time counts only real intervals: an interval longer than both `thrash.max_interval_s` and
twice the median interval is a gap (collector stopped, sar day missing) and does not count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from memreport.analyze.wording import fmt_duration
from memreport.config import Thresholds

HIGH, MEDIUM, LOW = "high", "medium", "low"
COLLECT = "collect at least a week: sh memsnap.sh --interval 60 --output DIR, left running for 7 days"


@dataclass(frozen=True)
class Confidence:
    level: str  # high | medium | low
    reason: str  # "7 days of samples every 60 s"
    covered_s: float  # seconds of real intervals (gaps left out)
    needs: str | None  # what to collect for high confidence; None when high


def _span_words(covered_s: float) -> str:
    days = covered_s / 86400
    if days >= 2:
        return f"{days:.0f} days" if abs(days - round(days)) < 0.05 else f"{days:.1f} days"
    return fmt_duration(covered_s)


def assess(samples: pd.DataFrame, median_interval_s: float | None, t: Thresholds) -> Confidence:
    n = len(samples)
    if n == 0:
        return Confidence(LOW, "no samples", 0.0, COLLECT)
    if n == 1:
        return Confidence(LOW, "a single snapshot: one moment, not the host's peaks", 0.0, COLLECT)
    iv = (
        pd.to_numeric(samples["interval_s"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        if "interval_s" in samples.columns
        else np.full(n, np.nan)
    )
    limit = max(t.thrash_max_interval_s, 2 * (median_interval_s or 0.0))
    real = iv[~np.isnan(iv) & (iv > 0) & (iv <= limit)]
    # n samples stand for n intervals: the first one's interval lies before the data, count it once.
    covered = float(real.sum()) + (median_interval_s or 0.0)
    ts = samples["ts"]
    span = float((ts.iloc[-1] - ts.iloc[0]).total_seconds()) if n else 0.0
    every = f" every {fmt_duration(median_interval_s)}" if median_interval_s else ""
    gaps = f" (period {_span_words(span)}, with gaps)" if span > 0 and covered < 0.9 * span else ""
    reason = f"{_span_words(covered)} of samples{every}{gaps}"
    if covered >= t.confidence_high_days * 86400:
        if median_interval_s is not None and median_interval_s <= t.confidence_high_max_interval_s:
            return Confidence(HIGH, reason, covered, None)
        return Confidence(
            MEDIUM,
            reason + f": too coarse for short peaks (high needs samples at least every "
            f"{fmt_duration(t.confidence_high_max_interval_s)})",
            covered,
            f"sample at least every {fmt_duration(t.confidence_high_max_interval_s)}",
        )
    if covered >= t.confidence_medium_days * 86400:
        return Confidence(MEDIUM, reason, covered, COLLECT)
    return Confidence(LOW, reason + ": too short for a host's peaks", covered, COLLECT)
