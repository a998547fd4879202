"""Missing data degrades gracefully: nulls in report.json, never a fake zero (issue 3)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic as S
from helpers.synthetic import GIB

from memreport.analyze import analyze, summary_lines
from memreport.analyze.report_json import build, dumps
from memreport.model import Severity

REQUIRED_KEYS = {
    "host",
    "period",
    "verdict",
    "memory_total_bytes",
    "swap_total_bytes",
    "peak_inactive_bytes",
    "peak_inactive_at",
    "peak_inactive_anon_bytes",
    "swap_deficit_bytes",
    "thrash_windows",
    "vm_allocated_bytes",
    "oom_headroom_bytes",
    "ksm_saved_bytes",
    "ksmd_cpu_percent",
    "findings",
    "thresholds",
}


def sar_like() -> pd.DataFrame:
    """What sar gives: levels and swap rates, no Inactive(anon), no KSM, no PSI, no oom_kill."""
    df = S.samples(n=145, interval_s=600)
    drop = [
        c
        for c in df.columns
        if c.startswith(("ksm", "psi_"))
        or c in ("mem_Inactive_anon", "mem_Active_anon", "oom_kills", "refault_per_s", "ksmd_cpu_share")
    ]
    return df.drop(columns=drop)


def test_sar_like_input_gives_nulls_and_says_what_is_missing() -> None:
    a = analyze(S.host(sar_like()))
    doc = build(a)
    assert REQUIRED_KEYS <= doc.keys()
    assert doc["peak_inactive_anon_bytes"] is None
    assert doc["ksm_saved_bytes"] is None and doc["ksmd_cpu_percent"] is None
    assert doc["vm_allocated_bytes"] is None and doc["oom_headroom_bytes"] is None
    assert doc["capacity_models"]["safe"]["more_vms"] is None
    assert doc["capacity_models"]["naive"]["total_vms"] == 4  # RAM ÷ 4 GiB needs no VM data
    assert doc["peak_inactive_bytes"] == 4 * GIB
    missing = doc["coverage"]["missing"]
    assert "KSM" in missing and "Per-VM data" in missing and "Inactive(anon)" in missing
    assert any("KSM not collected" in m for m in a.ksm.missing)
    json.loads(dumps(a))  # strict JSON: no NaN


def test_all_null_column_counts_as_missing() -> None:
    df = S.samples(n=60)
    df["ksm_pages_sharing_bytes"] = pd.array([pd.NA] * len(df), dtype="Int64")
    df["ksm_run"] = pd.array([pd.NA] * len(df), dtype="Int64")
    doc = build(analyze(S.host(df)))
    assert doc["ksm_saved_bytes"] is None


def test_no_samples_at_all() -> None:
    df = S.samples(n=3).iloc[0:0]
    a = analyze(S.host(df))
    assert a.verdict == Severity.WARN
    doc = build(a)
    assert doc["period"] == {"start": None, "end": None}
    assert summary_lines(a)


def test_single_snapshot() -> None:
    df = S.samples(n=1)  # a sosreport: one meminfo, no rates
    doc = build(analyze(S.host(df)))
    assert doc["peak_inactive_bytes"] == 4 * GIB
    assert doc["thrash_windows"] is None


def test_numbers_equal_an_independent_computation() -> None:
    """report.json against numpy straight from the raw samples (the issue's 'done when')."""
    h = S.week(days=2, n_vms=5)
    doc = build(analyze(h))
    s = h.samples
    inactive = s["mem_Inactive"].to_numpy()
    assert doc["peak_inactive_bytes"] == int(inactive.max())
    assert pd.Timestamp(doc["peak_inactive_at"]) == s["ts"].iloc[int(np.argmax(inactive))]
    assert doc["p99_inactive_bytes"] == round(float(np.percentile(inactive, 99)))
    assert doc["swap_deficit_bytes"] == int(inactive.max()) - int(s["mem_SwapTotal"].iloc[-1])
    last = h.vms[h.vms["ts"] == h.vms["ts"].max()]
    assert doc["vm_allocated_bytes"] == int(last["allocated_bytes"].sum())
    assert doc["oom_headroom_bytes"] == int(
        s["mem_MemTotal"].iloc[-1] + s["mem_SwapTotal"].iloc[-1] - last["allocated_bytes"].sum()
    )
    assert doc["ksm_saved_bytes"] == int(s["ksm_pages_sharing_bytes"].max())
    ok = s["interval_s"].notna()
    cpu = (s.loc[ok, "ksmd_cpu_share"] * s.loc[ok, "interval_s"]).sum() / s.loc[ok, "interval_s"].sum() * 100
    assert doc["ksmd_cpu_percent"] == pytest.approx(cpu, abs=1e-3)
    avail = s["mem_MemAvailable"].to_numpy()
    assert doc["lowest_mem_available_bytes"] == int(avail.min())
    # every thrash window: its samples' traffic is at or above the threshold at both ends
    rate = (s["swapin_Bps"] + s["swapout_Bps"]).to_numpy()
    for w in doc["thrash_windows"]:
        end = np.flatnonzero((s["ts"] == pd.Timestamp(w["end"])).to_numpy())[0]
        assert rate[end] >= doc["thresholds"]["thrash.rate_bytes_per_s"]
