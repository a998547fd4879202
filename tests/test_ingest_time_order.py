"""A capture whose clock misbehaves (issue 11, defect 4): two samples with one timestamp are a
`duplicate` log row; a clock stepped back is a `clock_step` — not reboots — with the samples that
fall in time already covered dropped and counted, the rest kept, and no rate across the step.
Before the fix: the repeat vanished without a row; a 30 s step lost 3 samples silently, and an
unaligned one was logged as reboots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memreport.synthetic import HostSpec, write_capture

SPEC = HostSpec(hostname="clocky", days=0.02, interval_s=10, with_vms=False)  # 173 samples, 10 s apart
ONE_ROW_STREAMS = ("meminfo", "vmstat", "clock", "ksm", "psi")


def rewrite_rows(cap: Path, fn) -> None:
    """fn(row index, line) -> lines, applied to every data row of every one-row-per-sample stream."""
    for source in ONE_ROW_STREAMS:
        for f in cap.glob(f"{source}.*.tsv"):
            out, i = [], 0
            for line in f.read_text().splitlines():
                if line.startswith("#"):
                    out.append(line)
                    continue
                out.extend(fn(i, line))
                i += 1
            f.write_text("\n".join(out) + "\n")


def shift(line: str, seconds: float) -> str:
    ts, rest = line.split("\t", 1)
    return f"{float(ts) + seconds:.3f}\t{rest}"


def ingest(cap: Path, tmp_path: Path, cli) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    proc = cli("ingest", cap, "-o", tmp_path / "store")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return pd.read_parquet(tmp_path / "store" / "samples"), pd.read_parquet(tmp_path / "store" / "log"), proc.stderr


def test_two_samples_with_one_timestamp_are_a_duplicate_row(tmp_path, cli):
    cap = write_capture(SPEC, tmp_path / "cap")
    rewrite_rows(cap, lambda i, line: [line, line] if i == 7 else [line])
    samples, log, stderr = ingest(cap, tmp_path, cli)
    assert len(samples) == SPEC.samples
    dup = log[log["event"] == "duplicate"]
    assert dup[["level", "count", "file"]].values.tolist() == [["warn", 1, str(cap)]]
    assert "1 sample(s) repeated the timestamp of the one before" in dup["detail"].iloc[0]
    assert f"warning: {cap}: 1 sample(s) repeated the timestamp" in stderr


@pytest.mark.parametrize("back_s, dropped", [(30.0, 3), (35.0, 3), (95.0, 9)])
def test_clock_step_back_is_one_clock_step_not_reboots(back_s, dropped, tmp_path, cli):
    """From sample 40 on, the wall clock reads `back_s` less; uptime keeps counting (clock stream)."""
    cap = write_capture(SPEC, tmp_path / "cap")
    rewrite_rows(cap, lambda i, line: [shift(line, -back_s) if i >= 40 else line])
    samples, log, stderr = ingest(cap, tmp_path, cli)
    assert not log["event"].isin(["reboot", "reset"]).any(), log[["event", "detail"]].to_string()
    steps = log[log["event"] == "clock_step"]
    kept = steps[steps["detail"].str.contains("dropped")]
    assert kept[["level", "count"]].values.tolist() == [["warn", dropped]]
    assert f"the clock stepped back about {back_s:.0f} s after" in kept["detail"].iloc[0]
    assert len(samples) == SPEC.samples - dropped  # only the samples in time already covered are lost
    assert samples["ts"].is_monotonic_increasing and samples["ts"].is_unique
    # One segment boundary, exactly at the first sample kept after the step: no rate spans it.
    first_after = 40  # the 40 samples before the step come first in the kept series
    assert samples["segment"].tolist() == [0] * first_after + [1] * (len(samples) - first_after)
    assert np.isnan(samples["interval_s"].iloc[first_after]) and np.isnan(samples["swapout_Bps"].iloc[first_after])
    assert (samples["interval_s"].dropna() == 10.0).all()
    assert "clock stepped back" in stderr and "reboot" not in stderr
