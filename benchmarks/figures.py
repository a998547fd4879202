"""What every benchmark prints: one line per figure, `name=value`, the floor or peer it was divided
by, the target beside it and PASS or MISS. benchmarks/run.py collects these lines into the table
at the end of `make bench`."""

from __future__ import annotations

import multiprocessing
import os
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> None:
    """fn(*args) in a new interpreter (spawn), for generating inputs.

    A child's ru_maxrss (os.wait4, RUSAGE_CHILDREN) is never below the RSS its launcher had when it
    started it: the kernel records the high-water mark of the memory the child leaves at exec, and a
    fork or vfork child leaves its parent's. A benchmark that generated a capture in its own process
    (hundreds of MB) and then timed `memreport report` measured its own peak, not the report's. So
    inputs are generated elsewhere and the launcher stays small (check_launcher)."""
    proc = multiprocessing.get_context("spawn").Process(target=fn, args=args)
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"generating inputs failed ({fn.__name__}{args}: exit {proc.exitcode})")


def launcher_mib() -> float:
    """This process's own peak RSS: the floor under every peak-RSS figure of a command it starts."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measured(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, user+sys CPU s, peak RSS MiB) of one process (and the children it waited for)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
