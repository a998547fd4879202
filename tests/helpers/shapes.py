"""Inputs of every time span a report must read well at (issue 15): a few seconds, one minute, a day
with a 12-minute gap and a lone last point, a single snapshot, a week. Each is HostData as ingest gives it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers import synthetic as S
from memreport.model import HostData

ROOT = Path(__file__).resolve().parents[2]
KVM_SAMPLE = ROOT / "sample_data" / "kvm-sample"
REAL_CAPTURE = ROOT / "sample_data" / "real-capture"


def seconds() -> HostData:
    """A 5-second capture: six samples a second apart, some swap traffic."""
    df = S.samples(n=6, interval_s=1.0, swap_free=7 * S.GIB)
    S.plant_rate(df, 1, 4, 3 * S.MIB, 2 * S.MIB)
    return S.host(df, S.vms(df["ts"], [("vm-a", 4 * S.GIB, 3 * S.GIB, 0)]), name="kvm-seconds")


def minute() -> HostData:
    """The collector's real capture: about two minutes at 2 s (sample_data/real-capture)."""
    from memreport.api import load

    return load(REAL_CAPTURE)[0]


def day_with_gap() -> HostData:
    """A day at 60 s whose history stops 12 minutes before one last /proc snapshot (a sosreport's sar
    history and its /proc), and a 12-minute hole in the middle."""
    df = S.samples(n=24 * 60, interval_s=60.0, swap_free=6 * S.GIB)
    t = np.arange(len(df)) * 60.0
    df["mem_Inactive"] = (4 * S.GIB + S.GIB * np.sin(t / 9000)).astype("int64")
    S.plant_rate(df, 6 * 3600, 6 * 3600 + 15 * 60, 20 * S.MIB, 10 * S.MIB)
    keep = ~((t > 12 * 3600) & (t < 12 * 3600 + 12 * 60))  # the hole: rates across it are not rates
    df = df[keep].reset_index(drop=True)
    df.loc[np.flatnonzero((df["ts"].diff().dt.total_seconds() > 120).to_numpy()), "interval_s"] = 13 * 60.0
    last = df.iloc[[-1]].copy()
    last["ts"] = last["ts"] + pd.Timedelta(minutes=12)
    last["interval_s"] = np.nan
    for c in S.RATE_COLS:
        last[c] = np.nan
    last["source"] = "procfs"
    df = pd.concat([df, last], ignore_index=True)
    df["ts"] = df["ts"].astype("datetime64[ms, UTC]")
    return S.host(
        df,
        S.vms(df["ts"].iloc[::30], [("vm-a", 8 * S.GIB, 5 * S.GIB, 0), ("vm-b", 16 * S.GIB, 9 * S.GIB, S.GIB)]),
        name="kvm-day",
    )


def snapshot() -> HostData:
    """One /proc snapshot: no rates, one point of everything; facts the input did not give are unknown."""
    df = S.samples(n=1)
    return S.host(df, S.vms(df["ts"], [("vm-a", 4 * S.GIB, 3 * S.GIB, 0)]), name="kvm-snapshot", kernel=None, cpus=None)


def week() -> HostData:
    from memreport.api import load

    return load(KVM_SAMPLE)[0]


SHAPES = {"seconds": seconds, "minute": minute, "day-gap": day_with_gap, "snapshot": snapshot, "week": week}
