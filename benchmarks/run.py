"""`make bench`: every speed figure, each a ratio against a floor or peer measured in the same run,
its target beside it, PASS or MISS, and a table of them all at the end.

Each benchmarks/bench_<stage>.py runs as its own process (`python benchmarks/bench_x.py`): its
module is then `__main__`, which a process pool can pickle functions from (runpy's namespace cannot
be), and one stage's imports and caches do not colour the next one's figures. `make bench ONLY=ingest`
runs one stage.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The issue 12 contract first, then the figures of earlier issues.
ORDER = ("startup", "ingest", "report", "longrun", "fleet", "archive")
FIGURE = re.compile(r"^(?P<name>[a-z_0-9]+(?:\[[^\]]*\])?)=(?P<rest>.*)$")


def stages(only: str | None) -> list[Path]:
    found = {p.stem.removeprefix("bench_"): p for p in HERE.glob("bench_*.py")}
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    if only:
        names = [n for n in names if n in only.split(",")]
    return [found[n] for n in names]


def main() -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    lines: list[str] = []
    ok = True
    t0 = time.perf_counter()
    for path in stages(os.environ.get("ONLY")):
        print(f"# {path.stem}", flush=True)
        proc = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        mine = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            if FIGURE.match(line):
                mine.append(line.rstrip())
        lines += mine
        if proc.wait() != 0:
            ok = False
            if not any("MISS" in line for line in mine):  # exit 1 without a MISS: the stage broke
                lines.append(f"{path.stem}: FAILED (exit {proc.returncode}), see its output above")
    width = max((len(FIGURE.match(line)["name"]) for line in lines if FIGURE.match(line)), default=0)  # type: ignore[index]
    print(f"\n# summary ({time.perf_counter() - t0:.0f} s; 2 cores shared with other work make figures noisy)")
    for line in lines:
        m = FIGURE.match(line)
        print(f"{m['name']:<{width}}  {m['rest']}" if m else line)
    print("all targets met" if ok else "some targets MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
