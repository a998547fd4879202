"""Swap sizing and active memory on constructed series (issue 3, rules 1 and 2)."""

from __future__ import annotations

import pandas as pd
from helpers import synthetic as S
from helpers.synthetic import GIB, MIB, T0

from memreport.analyze import analyze
from memreport.analyze.report_json import build
from memreport.config import load_thresholds
from memreport.model import Severity


def _with_inactive_peak(peak: int, anon_peak: int, swap_total: int) -> pd.DataFrame:
    df = S.samples(n=721, swap_total=swap_total, inactive=4 * GIB, inactive_anon=3 * GIB)
    i = S.at(df, 4500)
    df.loc[i, "mem_Inactive"] = peak
    df.loc[i, "mem_Inactive_anon"] = anon_peak
    return df


def test_deficit_says_how_much_swap_to_add() -> None:
    df = _with_inactive_peak(int(14.5 * GIB), 6 * GIB, swap_total=8 * GIB)
    a = analyze(S.host(df))
    doc = build(a)
    assert doc["peak_inactive_bytes"] == int(14.5 * GIB)
    assert doc["peak_inactive_at"] == "2026-11-20T01:15:00Z"
    assert doc["peak_inactive_anon_bytes"] == 6 * GIB
    assert doc["swap_total_bytes"] == 8 * GIB
    assert doc["swap_deficit_bytes"] == int(6.5 * GIB)
    f = next(f for f in a.findings if f.id == "swap.deficit")
    assert f.severity == Severity.WARN  # Inactive(anon) still fits: conservative rule only
    assert f.title == "Swap too small: 6.5 GiB short of the peak Inactive"
    # The advice is the answer's one figure: 6.5 GiB rounded up to whole GiB.
    assert f.recommendation.startswith("Add 7 GiB of swap: peak Inactive 14.5 GiB needs 6.5 GiB more than the 8 GiB configured")
    assert doc["answer"]["swap_to_add_bytes"] == 7 * GIB and doc["answer"]["swap_to_add_rule"] == "peak_inactive"
    assert doc["verdict"] == "WARN"


def test_deficit_is_critical_when_even_anonymous_inactive_does_not_fit() -> None:
    df = _with_inactive_peak(int(14.5 * GIB), 9 * GIB, swap_total=8 * GIB)
    # Six hours of data is low confidence: a peak-based finding then claims at most WARN.
    low = analyze(S.host(df))
    f = next(f for f in low.findings if f.id == "swap.deficit")
    assert low.confidence.level == "low" and f.severity == Severity.WARN
    assert "collect at least a week" in f.recommendation
    # The same peak in a week of data every 5 minutes is high confidence, and CRIT.
    week = S.samples(n=721, interval_s=840, swap_total=8 * GIB, inactive=4 * GIB, inactive_anon=3 * GIB)  # 7 days
    week.loc[300, "mem_Inactive"], week.loc[300, "mem_Inactive_anon"] = int(14.5 * GIB), 9 * GIB
    mid = analyze(S.host(week))
    assert mid.confidence.level == "medium"  # a week, but 14 min apart is too coarse for high
    assert next(f for f in mid.findings if f.id == "swap.deficit").severity == Severity.CRIT
    assert mid.swap.anon_deficit_bytes == 1 * GIB


def test_surplus_says_how_much_is_spare() -> None:
    df = _with_inactive_peak(8 * GIB - int(2.1 * GIB), 3 * GIB, swap_total=8 * GIB)
    a = analyze(S.host(df))
    assert a.swap.deficit_bytes == -int(2.1 * GIB)
    f = next(f for f in a.findings if f.id == "swap.sufficient")
    assert f.title == "Swap sufficient with 2.1 GiB to spare"
    assert f.severity == Severity.OK


def test_percentiles_of_inactive() -> None:
    df = S.samples(n=101)
    df["mem_Inactive"] = [i * GIB // 100 for i in range(101)]  # 0, 1/100 GiB, … 1 GiB
    a = analyze(S.host(df))
    assert a.swap.p99_inactive_bytes == 99 * GIB // 100  # exactly the 100th of 101 samples
    assert a.swap.p95_inactive_bytes == 95 * GIB // 100
    assert a.swap.peak_inactive_bytes == GIB and a.swap.peak_inactive_at == df["ts"].iloc[100]


def test_basis_inactive_anon_uses_the_refined_figure() -> None:
    df = _with_inactive_peak(int(14.5 * GIB), 6 * GIB, swap_total=8 * GIB)
    a = analyze(S.host(df), load_thresholds(None, ["swap.basis=inactive_anon"]))
    assert a.swap.deficit_bytes == -2 * GIB
    assert a.swap.findings[0].id == "swap.sufficient"


def test_no_swap_at_all_and_no_pressure_is_not_critical() -> None:
    """Regression (issue 9): an idle swapless host read CRIT because Inactive(anon) exceeded 0 B of swap."""
    df = _with_inactive_peak(5 * GIB, 4 * GIB, swap_total=0)
    a = analyze(S.host(df))
    assert not any(f.id == "swap.deficit" for f in a.findings)
    f = next(f for f in a.findings if f.id == "swap.none")
    assert f.severity == Severity.OK
    # Sized from Inactive(anon), what can really go to swap; the rest of the peak is page cache.
    assert a.swap.required_bytes == 4 * GIB and a.swap.basis == "inactive_anon"
    assert "1 GiB of the peak Inactive (5 GiB) was page cache" in f.detail
    assert a.answer.swap_to_add_bytes == 4 * GIB and a.answer.swap_to_add_rule == "peak_inactive_anon"
    assert a.answer.lines[0].startswith("Optional (the host runs without swap and showed no memory pressure): add 4 GiB")
    assert a.verdict < Severity.CRIT


def test_no_swap_under_pressure_is_critical() -> None:
    df = _with_inactive_peak(5 * GIB, 4 * GIB, swap_total=0)
    df.loc[S.at(df, 6000), "mem_MemAvailable"] = 128 * MIB  # under 2 % of 16 GiB
    a = analyze(S.host(df))
    f = next(f for f in a.findings if f.id == "swap.none")
    assert f.severity == Severity.CRIT and "MemAvailable fell to 0.8 % of RAM" in f.detail


def test_active_near_memtotal() -> None:
    df = S.samples(n=361, mem_total=16 * GIB)
    df.loc[S.at(df, 1200), "mem_Active"] = int(15.8 * GIB)  # 98.75 %
    a = analyze(S.host(df))
    f = next(f for f in a.findings if f.id == "active.near_total")
    assert f.severity == Severity.CRIT
    assert a.active.peak_active_at == T0 + pd.Timedelta(seconds=1200)
    df.loc[S.at(df, 1200), "mem_Active"] = int(14.6 * GIB)  # 91.25 %
    assert next(f for f in analyze(S.host(df)).findings if f.id == "active.near_total").severity == Severity.WARN


def test_swapped_out_and_back_in() -> None:
    df = S.samples(n=361)
    S.plant_rate(df, 600, 700, swapin=100 * 1024, swapout=200 * 1024)  # 10 intervals, both directions
    S.plant_rate(df, 900, 1000, swapin=0, swapout=2 * MIB)  # out only: not a round trip
    a = analyze(S.host(df))
    assert a.active.roundtrip_intervals == 10 and a.active.roundtrip_seconds == 100
    assert a.active.roundtrip_swapin_bytes == 100 * 1024 * 100
    f = next(f for f in a.findings if f.id == "active.roundtrip")
    assert f.severity == Severity.WARN
