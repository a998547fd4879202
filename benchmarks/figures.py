"""What every benchmark prints: one line per figure, `name=value`, the floor or peer it was divided
by, the target beside it and PASS or MISS. benchmarks/run.py collects these lines into the table
at the end of `make bench`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-out"
MEMREPORT = [str(ROOT / ".venv" / "bin" / "memreport")]


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of `repeat` runs: the figure least disturbed by other work on the machine."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def shell(cmd: str) -> Callable[[], object]:
    return lambda: subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)


def run(*cmd: str) -> Callable[[], object]:
    return lambda: subprocess.run(list(cmd), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def figure(
    name: str, value: float, target: float | None = None, *, at_least: bool = False, unit: str = "", against: str = ""
) -> bool:
    """Print one figure; True when it meets its target (or has none)."""
    if target is None:
        ok, verdict = True, "record"
    else:
        ok = value >= target if at_least else value <= target
        verdict = f"target {'≥' if at_least else '≤'} {target:g}{unit}: {'PASS' if ok else 'MISS'}"
    note = f"; {against}" if against else ""
    print(f"{name}={value:.2f}{unit}  ({verdict}{note})", flush=True)
    return ok
