"""`make fuzz`: every parser against 100,000+ mutated real files (tests/helpers/fuzz_targets.py).

    python tests/fuzz.py                      # every target, FUZZ_CASES (default 100000) cases each
    python tests/fuzz.py sadf vmstat -n 5000  # some targets, fewer cases
    python tests/fuzz.py --seed 7             # another sequence (the default seed repeats the last run)

Each target runs in its own process (two at a time: `-j`), so its peak memory (ru_maxrss) is its
own. The cases come from the same mutations as the hypothesis tests in tests/test_fuzz.py, with
the choices drawn from a seeded PRNG: hypothesis' engine costs milliseconds per case, too slow for
100,000s. A failure is printed with the case's seed file, its index (rerun it with --case) and the
exception; the exit code is 1 when any target failed.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "helpers"))


def case_rng(seed: int, target: str, i: int) -> random.Random:
    return random.Random(f"{seed}:{target}:{i}")


def run_target(name: str, cases: int, seed: int, only: int | None = None) -> dict[str, object]:
    """In a worker process: run `cases` cases; return count, failures (first few in full), peak RSS."""
    warnings.simplefilter("ignore")  # numpy/pandas RuntimeWarnings on hostile numbers are expected noise
    import fuzz_targets as F

    target = F.TARGETS[name]
    seeds = target.seeds()
    t0 = time.perf_counter()
    failures: dict[str, dict[str, object]] = {}  # one entry per distinct (exception type, where)
    n_failed = 0
    indices = [only] if only is not None else range(cases)
    for i in indices:
        case = F.mutate(F.RandomChooser(case_rng(seed, name, i)), seeds)
        err = F.check(target, case)
        if err is None:
            continue
        n_failed += 1
        tb = traceback.extract_tb(err.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        key = f"{type(err).__name__} at {where}"
        if key not in failures:
            failures[key] = {
                "count": 0,
                "first_case": i,
                "seed_file": case[0],
                "message": str(err)[:200],
                "traceback": "".join(traceback.format_exception(err, limit=-6)),
            }
        failures[key]["count"] = int(failures[key]["count"]) + 1  # type: ignore[call-overload]
    return {
        "target": name,
        "what": target.what,
        "cases": len(indices),
        "failed": n_failed,
        "failures": failures,
        "seconds": time.perf_counter() - t0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    import fuzz_targets as F

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help=f"targets (default: all): {', '.join(F.TARGETS)}")
    ap.add_argument("-n", "--cases", type=int, default=int(os.environ.get("FUZZ_CASES", "100000")))
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("FUZZ_JOBS", "2")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "1")))
    ap.add_argument("--case", type=int, help="run only this case index (to reproduce a failure)")
    args = ap.parse_args()
    names = args.targets or list(F.TARGETS)
    unknown = [n for n in names if n not in F.TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {unknown}: {', '.join(F.TARGETS)}")
    print(
        f"fuzz: {len(names)} target(s) × {args.cases if args.case is None else 1} cases, seed {args.seed}, {args.jobs} at a time",
        flush=True,
    )
    t0 = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=args.jobs, max_tasks_per_child=1) as pool:
        futs = [pool.submit(run_target, n, args.cases, args.seed, args.case) for n in names]
        for fut in as_completed(futs):
            r = fut.result()
            results.append(r)
            print(
                f"  {r['target']:<14} {r['cases']:>8,} cases  {r['failed']:>6,} failed  peak {r['peak_rss_mib']:>7.1f} MiB  "
                f"{r['seconds']:>7.1f} s",
                flush=True,
            )
    results.sort(key=lambda r: names.index(str(r["target"])))
    print()
    print(f"{'target':<14} {'cases':>9} {'failures':>9} {'peak RSS':>10}  what")
    for r in results:
        print(f"{r['target']:<14} {r['cases']:>9,} {r['failed']:>9,} {r['peak_rss_mib']:>7.1f} MiB  {r['what']}")
    bad = [r for r in results if r["failed"]]
    for r in bad:
        for key, f in r["failures"].items():  # type: ignore[attr-defined]
            print(
                f"\nFAILED {r['target']}: {key} ×{f['count']} (first: case {f['first_case']}, seed file {f['seed_file']}; "
                f"rerun: python tests/fuzz.py {r['target']} --seed {args.seed} --case {f['first_case']})\n  {f['message']}"
            )
            print("  " + f["traceback"].replace("\n", "\n  ").rstrip())
    total = sum(int(r["cases"]) for r in results)  # type: ignore[call-overload]
    print(f"\n{total:,} cases in {time.perf_counter() - t0:.0f} s: {'no failure' if not bad else f'{len(bad)} target(s) failed'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
