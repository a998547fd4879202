"""The store's check for repeated rows (store._maybe_repeats): rows already in (time, key) order are
judged without a sort (issue 12: 40 ms of a 16-VM host-week), anything else by the sorted check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memreport.ingest import store


def _frame(ts: list[int], pid: list[float | None]) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame(
        {"ts": pd.to_datetime(ts, unit="s", utc=True), "pid": pd.array(pid, dtype="Int64"), "name": ["vm"] * len(ts)}
    )
    return frame, frame["ts"].dt.as_unit("ms").astype("int64").to_numpy()


@pytest.mark.parametrize(
    ("ts", "pid", "repeats"),
    [
        ([1, 1, 2, 2], [5, 7, 5, 7], False),  # a capture's order: by time, then by pid
        ([1, 1, 2, 2], [7, 5, 7, 5], False),  # not in pid order, but no pair twice
        ([1, 1, 1, 2], [5, 7, 5, 7], True),  # (1, 5) twice, not next to each other
        ([1, 1, 2], [5, 5, 5], True),  # (1, 5) twice in a row
        ([1, 1, 2], [None, None, 5], True),  # two unknown pids at one time compare equal
        ([1, 2, 3], [None, None, None], False),
    ],
)
def test_repeats_are_found_in_any_order(ts: list[int], pid: list[float | None], repeats: bool) -> None:
    frame, t = _frame(ts, pid)
    assert store._maybe_repeats(frame, t, ["ts", "pid", "name"]) is repeats  # noqa: SLF001


def test_slices_are_cut_between_times(monkeypatch: pytest.MonkeyPatch) -> None:
    # A repeat whose two rows would fall on both sides of a slice boundary is still found.
    monkeypatch.setattr(store, "CHECK_ROWS", 4)
    frame, t = _frame([1, 1, 2, 2, 2, 2, 3], [1, 2, 1, 2, 3, 1, 1])
    assert store._maybe_repeats(frame, t, ["ts", "pid"]) is True  # noqa: SLF001
    frame, t = _frame([1, 1, 2, 2, 2, 3, 3], [1, 2, 1, 2, 3, 1, 2])
    assert store._maybe_repeats(frame, t, ["ts", "pid"]) is False  # noqa: SLF001
