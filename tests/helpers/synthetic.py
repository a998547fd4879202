"""HostData built from constructed series whose answers are known by hand.

Columns and dtypes follow docs/STORE.md: `ts` datetime64[ms, UTC], bytes int64, rates float64,
`segment` int32, `interval_s` null on a segment's first sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from memreport.model import Contribution, HostData, HostFacts

KIB, MIB, GIB = 1024, 1024**2, 1024**3
T0 = pd.Timestamp("2026-11-20T00:00:00Z")
RATE_COLS = (
    "swapin_Bps",
    "swapout_Bps",
    "majfault_per_s",
    "refault_per_s",
    "pgscan_direct_per_s",
    "oom_kills",
    "psi_some_share",
    "psi_full_share",
    "ksmd_cpu_share",
)


def samples(
    n: int = 721,
    interval_s: float = 10.0,
    start: pd.Timestamp = T0,
    mem_total: int = 16 * GIB,
    swap_total: int = 8 * GIB,
    active: int = 6 * GIB,
    inactive: int = 4 * GIB,
    inactive_anon: int = 3 * GIB,
    available: int = 8 * GIB,
    swap_free: int | None = None,
) -> pd.DataFrame:
    """A quiet host: constant levels, zero swap traffic, one segment, samples every `interval_s`."""
    ts = pd.to_datetime(start.value // 10**6 + np.arange(n, dtype="int64") * int(interval_s * 1000), unit="ms", utc=True)
    df = pd.DataFrame({"ts": ts.astype("datetime64[ms, UTC]")})
    df["segment"] = np.zeros(n, dtype="int32")
    iv = np.full(n, float(interval_s))
    iv[0] = np.nan
    df["interval_s"] = iv
    df["source"] = "capture"
    for c in RATE_COLS:
        a = np.zeros(n)
        a[0] = np.nan
        df[c] = a
    ints = {
        "mem_MemTotal": mem_total,
        "mem_MemFree": available // 2,
        "mem_MemAvailable": available,
        "mem_Active": active,
        "mem_Inactive": inactive,
        "mem_Active_anon": active * 3 // 4,
        "mem_Inactive_anon": inactive_anon,
        "mem_SwapTotal": swap_total,
        "mem_SwapFree": swap_total if swap_free is None else swap_free,
        "mem_Committed_AS": 20 * GIB,
        "mem_CommitLimit": mem_total // 2 + swap_total,
        "ksm_pages_sharing_bytes": 2 * GIB,
        "ksm_pages_shared_bytes": 256 * MIB,
        "ksm_pages_unshared_bytes": 1 * GIB,
        "ksm_general_profit": 2 * GIB - 64 * MIB,
        "ksm_run": 1,
    }
    for c, v in ints.items():
        df[c] = np.full(n, v, dtype="int64")
    df["ksmd_cpu_share"] = np.where(np.isnan(iv), np.nan, 0.02)
    return df


def at(df: pd.DataFrame, seconds: float) -> int:
    """Row index of the sample at T0 + seconds (exact)."""
    target = df["ts"].iloc[0] + pd.Timedelta(seconds=seconds)
    idx = np.flatnonzero((df["ts"] == target).to_numpy())
    assert len(idx) == 1, f"no sample at +{seconds}s"
    return int(idx[0])


def plant_rate(df: pd.DataFrame, start_s: float, end_s: float, swapin: float, swapout: float) -> None:
    """Swap traffic over (start, end]: the samples whose interval lies inside it carry the rate."""
    t = (df["ts"] - df["ts"].iloc[0]).dt.total_seconds()
    sel = (t > start_s) & (t <= end_s)
    df.loc[sel, "swapin_Bps"] = float(swapin)
    df.loc[sel, "swapout_Bps"] = float(swapout)


def reboot(df: pd.DataFrame, at_s: float, down_s: float = 120.0) -> pd.DataFrame:
    """The host reboots: samples from T0+at_s on shift by down_s and form segment 1; the first
    sample of the new segment has no interval and no rates (as ingest gives it)."""
    df = df.copy()
    t = (df["ts"] - df["ts"].iloc[0]).dt.total_seconds()
    after = t >= at_s
    df.loc[after, "ts"] = df.loc[after, "ts"] + pd.Timedelta(seconds=down_s)
    df.loc[after, "segment"] = 1
    first = int(np.flatnonzero(after.to_numpy())[0])
    df.loc[first, "interval_s"] = np.nan
    for c in RATE_COLS:
        df.loc[first, c] = np.nan
    df["ts"] = df["ts"].astype("datetime64[ms, UTC]")
    df["segment"] = df["segment"].astype("int32")
    return df


def vms(ts: Sequence[pd.Timestamp] | pd.Series, spec: list[tuple[str, int, int, int]]) -> pd.DataFrame:
    """One row per VM per time: spec = [(name, allocated, rss, swap)], constant over time."""
    rows = []
    for t in ts:
        for i, (name, alloc, rss, swap) in enumerate(spec):
            rows.append(
                {
                    "ts": t,
                    "name": name,
                    "uuid": f"00000000-0000-4000-8000-{i:012d}",
                    "pid": 1000 + i,
                    "allocated_bytes": alloc,
                    "maxmem_bytes": None,
                    "rss_bytes": rss,
                    "swap_bytes": swap,
                    "source": "capture",
                }
            )
    df = pd.DataFrame(rows)
    df["ts"] = pd.to_datetime(df["ts"], utc=True).astype("datetime64[ms, UTC]")
    for c in ("pid", "allocated_bytes", "rss_bytes", "swap_bytes"):
        df[c] = df[c].astype("int64")
    df["maxmem_bytes"] = df["maxmem_bytes"].astype("Int64")
    return df


def host(df: pd.DataFrame, vm_frame: pd.DataFrame | None = None, name: str = "kvm-test", **facts: object) -> HostData:
    f = HostFacts(
        host=name,
        hostname=name,
        kernel="6.1.0-28-amd64",
        page_size=4096,
        clock_ticks=100,
        cpus=8,
        interval_s=float(df["interval_s"].median()) if len(df) else None,
        overcommit_memory=0,
    )
    for k, v in facts.items():
        setattr(f, k, v)
    return HostData(
        facts=f,
        samples=df,
        vms=vm_frame,
        contributions=[Contribution(input=f"/captures/{name}", kind="capture", summary="synthetic test series")],
    )


def week(name: str = "kvm-week", interval_s: float = 10.0, days: float = 7.0, n_vms: int = 12, seed: int = 7) -> HostData:
    """A realistic host-week: daily load cycle, a few thrash episodes, KSM, per-VM series (deterministic)."""
    rng = np.random.default_rng(seed)
    n = int(days * 86400 / interval_s) + 1
    df = samples(n=n, interval_s=interval_s, mem_total=64 * GIB, swap_total=16 * GIB)
    t = np.arange(n) * interval_s
    day = np.sin(2 * np.pi * (t / 86400.0 - 0.3))
    walk = rng.normal(0, 1, n).cumsum()
    noise = (walk - np.linspace(walk[0], walk[-1], n)) / max(1.0, float(np.abs(walk).max()))  # no drift
    active = (30 * GIB + 8 * GIB * day + 2 * GIB * noise).astype("int64")
    inactive = (14 * GIB - 4 * GIB * day + 1.5 * GIB * noise).astype("int64")
    bump = np.exp(-(((t - 4.6 * 86400) / 5400.0) ** 2))  # an Inactive high on day 5 (a nightly batch)
    inactive = (inactive + 5 * GIB * bump).astype("int64")
    active = (active - 3 * GIB * bump).astype("int64")
    anon = (inactive * 0.7).astype("int64")
    free = (64 * GIB - active - inactive - 6 * GIB).clip(512 * MIB).astype("int64")
    swap_used = (2 * GIB + 1 * GIB * np.clip(day, 0, None) + 0.5 * GIB * noise).clip(0).astype("int64")
    df["mem_Active"], df["mem_Inactive"], df["mem_Inactive_anon"] = active, inactive, anon
    df["mem_MemFree"] = free
    df["mem_MemAvailable"] = (free + inactive // 2).astype("int64")
    df["mem_SwapFree"] = (16 * GIB - swap_used).astype("int64")
    df["mem_Committed_AS"] = (70 * GIB + 4 * GIB * day).astype("int64")
    df["mem_CommitLimit"] = np.full(n, 48 * GIB, dtype="int64")
    # small swap traffic in about 1 % of the intervals, in and out independently
    base_in = np.where(rng.random(n) > 0.01, 0.0, rng.uniform(4 * KIB, 300 * KIB, n))
    base_out = np.where(rng.random(n) > 0.01, 0.0, rng.uniform(4 * KIB, 500 * KIB, n))
    df["swapin_Bps"], df["swapout_Bps"] = base_in, base_out
    for start_h, minutes, rate in ((26.0, 12, 24 * MIB), (75.5, 4, 8 * MIB), (122.25, 25, 40 * MIB)):
        plant_rate(df, start_h * 3600, start_h * 3600 + minutes * 60, rate * 0.6, rate * 0.4)
        sel = (t > start_h * 3600) & (t <= start_h * 3600 + minutes * 60)
        df.loc[sel, "psi_full_share"] = 0.04
        df.loc[sel, "majfault_per_s"] = 900.0
        df.loc[sel, "refault_per_s"] = 2500.0
    plant_rate(df, 50 * 3600, 50 * 3600 + 30, 30 * MIB, 30 * MIB)  # a burst, not a window
    df["psi_some_share"] = np.clip(df["psi_full_share"] * 2 + 0.001, 0, 1)
    sharing = (11.2 * GIB + 0.4 * GIB * np.sin(t / 40000.0)).astype("int64")
    df["ksm_pages_sharing_bytes"] = sharing
    df["ksm_pages_shared_bytes"] = (sharing // 9).astype("int64")
    df["ksm_pages_unshared_bytes"] = np.full(n, 3 * GIB, dtype="int64")
    df["ksm_general_profit"] = (sharing - 150 * MIB).astype("int64")
    df["ksmd_cpu_share"] = np.clip(0.03 + 0.006 * np.sin(t / 20000.0) + rng.normal(0, 0.002, n), 0, None)
    df = reboot(df, at_s=min(100 * 3600.0, days * 86400 * 0.6), down_s=180.0)
    for c in (
        "swapin_Bps",
        "swapout_Bps",
        "majfault_per_s",
        "refault_per_s",
        "psi_full_share",
        "psi_some_share",
        "ksmd_cpu_share",
    ):
        df.loc[df["interval_s"].isna(), c] = np.nan
    vm_every = max(1, int(300 / interval_s))  # per-VM rows every 5 minutes
    vts = df["ts"].iloc[::vm_every]
    sizes = [8 * GIB, 8 * GIB, 6 * GIB, 4 * GIB, 4 * GIB, 4 * GIB, 4 * GIB, 2 * GIB, 2 * GIB, 2 * GIB, 1 * GIB, 1 * GIB]
    spec = [
        (
            f"vm{i + 1:02d}-{['web', 'db', 'ci', 'mail', 'dns', 'mon'][i % 6]}",
            sizes[i % len(sizes)],
            int(sizes[i % len(sizes)] * (0.35 + 0.5 * ((i * 37) % 11) / 11)),
            int(sizes[i % len(sizes)] * 0.04 * (i % 4)),
        )
        for i in range(n_vms)
    ]
    vf = vms(list(vts), spec)
    wobble = 1 + 0.05 * np.sin(np.arange(len(vf)) / 50.0)
    vf["rss_bytes"] = (vf["rss_bytes"] * wobble).astype("int64")
    return host(df, vf, name=name)
