"""Small helpers shared by the checks: columns that may be absent or all-null, weighted means."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def column(df: pd.DataFrame | None, name: str) -> pd.Series | None:
    """The column as float64, or None when absent or entirely null (never a fake 0)."""
    if df is None or name not in df.columns:
        return None
    s = pd.to_numeric(df[name], errors="coerce").astype("float64")
    if s.notna().sum() == 0:
        return None
    return s


def has(df: pd.DataFrame | None, name: str) -> bool:
    return column(df, name) is not None


def peak(df: pd.DataFrame, s: pd.Series) -> tuple[int | None, pd.Timestamp | None]:
    """Max value (as int bytes) and the time of its first occurrence."""
    i = argmax(s)
    if i is None:
        return None, None
    return int(s.iloc[i]), df["ts"].iloc[i]


def trough(df: pd.DataFrame, s: pd.Series) -> tuple[int | None, pd.Timestamp | None]:
    a = s.to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(a).all():
        return None, None
    i = int(np.nanargmin(a))
    return int(s.iloc[i]), df["ts"].iloc[i]


def argmax(s: pd.Series) -> int | None:
    """Position of the first maximum, ignoring nulls; None when all null."""
    a = s.to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(a).all():
        return None
    return int(np.nanargmax(a))


def quantile(s: pd.Series, q: float) -> int | None:
    """pandas' default (linear) quantile, rounded to whole bytes."""
    valid = s.dropna()
    if valid.empty:
        return None
    return int(round(float(valid.quantile(q))))


def last(s: pd.Series | None) -> float | None:
    if s is None:
        return None
    valid = s.dropna()
    return None if valid.empty else float(valid.iloc[-1])


def as_int(v: Any) -> int | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else int(round(f))


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float | None:
    ok = ~np.isnan(values) & ~np.isnan(weights) & (weights > 0)
    if not ok.any():
        return None
    return float(np.sum(values[ok] * weights[ok]) / np.sum(weights[ok]))


def valid_intervals(df: pd.DataFrame, max_interval_s: float) -> np.ndarray:
    """Rows whose rates describe a real interval: known, positive and not a gap in the data.

    Ingest leaves rates null on a segment's first sample (reboot, counter reset); an interval longer
    than `max_interval_s` is a gap (collector stopped, sar file missing) and gives no rate either.
    """
    if "interval_s" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    iv = pd.to_numeric(df["interval_s"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return ~np.isnan(iv) & (iv > 0) & (iv <= max_interval_s)


def rate_values(df: pd.DataFrame, name: str, mask: np.ndarray) -> np.ndarray | None:
    """A rate column as a float array, NaN where unknown, masked, negative or non-finite."""
    s = column(df, name)
    if s is None:
        return None
    a = s.to_numpy(dtype="float64", na_value=np.nan).copy()
    bad = ~mask | ~np.isfinite(a) | (a < 0)
    a[bad] = np.nan
    return a
