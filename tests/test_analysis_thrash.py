"""Thrash windows on constructed series with known answers (issue 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic as S
from helpers.synthetic import GIB, MIB, T0

from memreport.analyze import analyze
from memreport.analyze.report_json import build
from memreport.analyze.thrash import check_thrash
from memreport.config import Thresholds, load_thresholds
from memreport.model import Severity


def test_planted_five_minute_window_found_with_exact_start_and_end() -> None:
    df = S.samples(n=721)  # 2 hours at 10 s
    S.plant_rate(df, 1800, 2100, swapin=10 * MIB, swapout=10 * MIB)  # 20 MiB/s for 5 minutes
    r = check_thrash(df, Thresholds())
    assert len(r.windows) == 1
    w = r.windows[0]
    assert w.start == T0 + pd.Timedelta(seconds=1800)
    assert w.end == T0 + pd.Timedelta(seconds=2100)
    assert w.duration_s == 300
    assert w.peak_swapin_bytes_per_s == 10 * MIB and w.peak_swapout_bytes_per_s == 10 * MIB
    assert w.mean_swapin_bytes_per_s == pytest.approx(10 * MIB)
    assert w.swapin_bytes == 10 * MIB * 300 and w.swapout_bytes == 10 * MIB * 300
    assert w.swapped_bytes == 20 * MIB * 300
    assert r.findings[0].id == "thrash.windows" and r.findings[0].severity == Severity.WARN


def test_thirty_second_burst_is_not_a_window() -> None:
    df = S.samples(n=721)
    S.plant_rate(df, 600, 630, swapin=20 * MIB, swapout=20 * MIB)
    r = check_thrash(df, Thresholds())
    assert r.windows == []
    assert r.peak_swapin_bytes_per_s == 20 * MIB  # seen, but not a window
    assert [f.id for f in r.findings] == ["thrash.none"]


def test_window_and_burst_together_in_report_json() -> None:
    df = S.samples(n=721)
    S.plant_rate(df, 1800, 2100, swapin=20 * MIB, swapout=0)
    S.plant_rate(df, 3600, 3630, swapin=20 * MIB, swapout=0)
    doc = build(analyze(S.host(df)))
    assert doc["thrash_windows"] == [
        {
            "start": "2026-11-20T00:30:00Z",
            "end": "2026-11-20T00:35:00Z",
            "duration_s": 300.0,
            "peak_swapin_bytes_per_s": 20 * MIB,
            "peak_swapout_bytes_per_s": 0.0,
            "mean_swapin_bytes_per_s": 20 * MIB,
            "mean_swapout_bytes_per_s": 0.0,
            "swapin_bytes": 20 * MIB * 300,
            "swapout_bytes": 0,
            "swapped_bytes": 20 * MIB * 300,
            "psi_full_mean_percent": 0.0,
            "refaults_per_s_mean": 0.0,
            "majfaults_per_s_mean": 0.0,
            # MemAvailable stayed at half of RAM: the swapping was forced by a limit, not a shortage.
            "min_available_bytes": 8 * GIB,
            "min_available_percent": 50.0,
            "peak_active_percent": 37.5,
            "cause": "memory_limit",
        }
    ]


def test_neighbours_closer_than_gap_are_merged() -> None:
    df = S.samples(n=721)
    # Two 40 s runs 30 s apart: each shorter than 60 s, merged into one 110 s window.
    S.plant_rate(df, 1000, 1040, swapin=0, swapout=5 * MIB)
    S.plant_rate(df, 1070, 1110, swapin=0, swapout=5 * MIB)
    r = check_thrash(df, Thresholds())
    assert [(w.start, w.end) for w in r.windows] == [(T0 + pd.Timedelta(seconds=1000), T0 + pd.Timedelta(seconds=1110))]
    assert r.windows[0].swapout_bytes == 5 * MIB * 80  # the quiet interval between adds nothing
    # With a smaller gap they stay apart, and both are too short.
    r = check_thrash(df, load_thresholds(None, ["thrash.merge_gap_s=20"]))
    assert r.windows == []


def test_reboot_in_the_middle_gives_no_negative_or_giant_rate() -> None:
    df = S.samples(n=721)
    S.plant_rate(df, 3000, 3900, swapin=20 * MIB, swapout=0)  # 15 minutes, reboot at +3500 s
    df = S.reboot(df, at_s=3500, down_s=120)
    r = check_thrash(df, Thresholds())
    # The window ends at the last sample before the reboot; a new one starts after the first
    # sample of the new boot (which has no rate), never bridging the reboot.
    assert [(w.start, w.end) for w in r.windows] == [
        (T0 + pd.Timedelta(seconds=3000), T0 + pd.Timedelta(seconds=3490)),
        (T0 + pd.Timedelta(seconds=3500 + 120), T0 + pd.Timedelta(seconds=3900 + 120)),
    ]
    doc = build(analyze(S.host(df)))
    rates = [w[k] for w in doc["thrash_windows"] for k in ("peak_swapin_bytes_per_s", "peak_swapout_bytes_per_s")]
    assert all(0 <= x <= 20 * MIB for x in rates)
    assert doc["peak_swapin_bytes_per_s"] == 20 * MIB


def test_rate_over_a_gap_is_ignored() -> None:
    df = S.samples(n=721)
    # An interval of 2 hours (the collector stopped) with a rate that would be a thrash window.
    i = S.at(df, 3600)
    df.loc[i, "interval_s"] = 7200.0
    df.loc[i, "swapin_Bps"] = 5e12  # giant: a counter misread across the gap
    df.loc[i + 1, "swapout_Bps"] = -3e9  # negative: never a rate
    r = check_thrash(df, Thresholds())
    assert r.windows == []
    assert r.peak_swapin_bytes_per_s == 0.0 and r.peak_swapout_bytes_per_s == 0.0
    assert r.ignored_intervals == 3  # in + out over the gap, and the negative out


def test_psi_corroboration_makes_it_critical() -> None:
    df = S.samples(n=721)
    S.plant_rate(df, 1800, 2100, swapin=20 * MIB, swapout=20 * MIB)
    t = (df["ts"] - T0).dt.total_seconds()
    df.loc[(t > 1800) & (t <= 2100), "psi_full_share"] = 0.08
    df.loc[(t > 1800) & (t <= 2100), "majfault_per_s"] = 700.0
    r = check_thrash(df, Thresholds())
    w = r.windows[0]
    assert w.psi_full_mean_percent == pytest.approx(8.0)
    assert w.psi_full_peak_percent == pytest.approx(8.0)
    assert w.majfaults_per_s_mean == pytest.approx(700.0)
    assert r.findings[0].severity == Severity.CRIT


def test_sar_like_input_without_rates_is_not_a_fake_zero() -> None:
    df = S.samples(n=50).drop(columns=["swapin_Bps", "swapout_Bps"])
    r = check_thrash(df, Thresholds())
    assert not r.available and r.missing
    doc = build(analyze(S.host(df)))
    assert doc["thrash_windows"] is None and doc["peak_swapin_bytes_per_s"] is None


def test_ten_minute_sar_intervals_still_give_windows() -> None:
    df = S.samples(n=145, interval_s=600)  # a day of sar at 10 min
    S.plant_rate(df, 6000, 7200, swapin=3 * MIB, swapout=0)
    r = check_thrash(df, Thresholds())
    assert [(w.start, w.end) for w in r.windows] == [(T0 + pd.Timedelta(seconds=6000), T0 + pd.Timedelta(seconds=7200))]
    assert r.windows[0].swapin_bytes == 3 * MIB * 1200
    assert np.isclose(r.windows[0].mean_swapin_bytes_per_s, 3 * MIB)


def _thrash_host(available_during: int) -> pd.DataFrame:
    """20 minutes of swapping on a 16 GiB host, MemAvailable at `available_during` meanwhile."""
    df = S.samples(n=721)
    S.plant_rate(df, 1800, 3000, swapin=30 * MIB, swapout=30 * MIB)
    t = (df["ts"] - df["ts"].iloc[0]).dt.total_seconds()
    df.loc[(t > 1800) & (t <= 3000), "mem_MemAvailable"] = available_during
    return df


def test_swapping_with_memory_available_is_a_memory_limit() -> None:
    """Regression (issue 9): cgroup-limited swapping was told "memory in use exceeds RAM"."""
    a = analyze(S.host(_thrash_host(available_during=12 * GIB)))  # 75 % of RAM available throughout
    assert a.thrash.cause == "memory_limit" and a.answer.thrash.cause == "memory_limit"
    f = next(f for f in a.findings if f.id == "thrash.windows")
    assert f.title.startswith("Swap thrash forced by a memory limit")
    text = f.detail + f.recommendation + " ".join(a.answer.lines)
    assert "exceeds RAM" not in text and "memtune" in text
    assert "per-VM table" not in text  # this host has no per-VM data, so no table to point to
    assert "while 12 GiB stayed available" in a.answer.lines[1]


def test_memory_limit_thrash_names_the_vm_at_its_hard_limit() -> None:
    """Issue 18: the VM whose resident memory sits at its libvirt hard limit is the limit that forced it."""
    df = _thrash_host(available_during=12 * GIB)
    vms = pd.DataFrame(
        {
            "ts": [df["ts"].iloc[-1]] * 2,
            "name": ["db01", "web01"],
            "uuid": ["a", "b"],
            "allocated_bytes": [8 * GIB, 4 * GIB],
            "rss_bytes": [2000 * MIB, 1 * GIB],
            "hard_limit_bytes": [2 * GIB, None],
        }
    )
    a = analyze(S.host(df, vms))
    f = next(f for f in a.findings if f.id == "thrash.windows")
    assert f.recommendation.startswith("Raise the hard limit of db01: resident at its hard limit")
    (limit,) = [f for f in a.findings if f.id == "vms.hard_limit"]
    assert limit.evidence["vms"] == [{"name": "db01", "resident_max_bytes": 2000 * MIB, "hard_limit_bytes": 2 * GIB}]


def test_swapping_with_memory_short_is_a_host_shortage() -> None:
    a = analyze(S.host(_thrash_host(available_during=400 * MIB)))  # 2.4 % of RAM
    assert a.thrash.cause == "host_memory_short"
    assert a.thrash.windows[0].min_available_bytes == 400 * MIB
    assert a.answer.thrash == type(a.answer.thrash)(1, 1200.0, "host_memory_short")
    assert "host memory is short (MemAvailable fell to 2.4 % of RAM)" in a.answer.lines[1]


def test_limit_threshold_is_a_setting() -> None:
    df = _thrash_host(available_during=3 * GIB)  # 18.75 %: short by the default 20 %
    assert analyze(S.host(df)).thrash.cause == "host_memory_short"
    t = load_thresholds(None, ["thrash.limit_available_percent=15"])
    assert analyze(S.host(df), t).thrash.cause == "memory_limit"


def test_no_rates_is_not_ok() -> None:
    """Regression (issue 9): sadf CSV without page size gave no swap rates and read OK."""
    df = S.samples(n=721).drop(columns=["swapin_Bps", "swapout_Bps"])
    a = analyze(S.host(df))
    f = next(f for f in a.findings if f.id == "thrash.unknown")
    assert f.severity == Severity.WARN and "sar -W" in f.recommendation
    assert a.answer.thrash.cause == "unknown" and a.verdict >= Severity.WARN


def test_single_sample_rates_are_not_ok() -> None:
    df = S.samples(n=2)  # counters present, but the only interval has no rate
    df.loc[1, ["swapin_Bps", "swapout_Bps", "interval_s"]] = np.nan
    a = analyze(S.host(df))
    assert any(f.id == "thrash.unknown" and f.severity == Severity.WARN for f in a.findings)
