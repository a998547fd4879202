"""`make bench`: speed figures, each printed as a ratio against a floor measured in the same run.

Ingest (issue 2): a synthetic host-week (60,480 samples at 10 s of full meminfo + vmstat + KSM in
the collector's own format) ingested plain and gzip'd, against `wc -l` and `gzip -dc | wc -l` over
the same files. Every timing is the best of REPEAT runs, for the floors and for memreport alike.
Peak RSS is read from a separate `memreport ingest` process. CPU per collector sample is measured
on this host with both collectors.
"""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memreport.ingest.run import ingest  # noqa: E402
from memreport.synthetic import HostSpec, write_capture  # noqa: E402

OUT = ROOT / "bench-out"
REPEAT = 3
TARGETS = {"ingest_plain_vs_wc_l": 25.0, "ingest_gzip_vs_gzip_dc": 1.5, "ingest_peak_rss_mib": 1024.0}
WEEK = HostSpec(hostname="bench-week", days=7, interval_s=10, with_vms=False, with_psi=False)


def best(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def shell(cmd: str) -> Callable[[], object]:
    return lambda: subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)


def report(name: str, value: float, unit: str = "", target: float | None = None) -> bool:
    ok = target is None or value <= target
    verdict = "" if target is None else (f"  (target ≤ {target:g}: {'ok' if ok else 'MISSED'})")
    print(f"{name}={value:.2f}{unit}{verdict}", flush=True)
    return ok


def week_captures() -> tuple[Path, Path]:
    plain, gz = OUT / "week-plain", OUT / "week-gzip"
    if not (plain / "facts.txt").exists() or not (gz / "facts.txt").exists():
        shutil.rmtree(plain, ignore_errors=True)
        shutil.rmtree(gz, ignore_errors=True)
        write_capture(WEEK, plain)
        write_capture(WEEK, gz, gz=True)
    return plain, gz


def bench_ingest() -> bool:
    plain, gz = week_captures()
    # quoted: the checkout's path may hold spaces (issue 16)
    files = " ".join(shlex.quote(str(p)) for p in sorted(plain.glob("*.tsv")))
    gzfiles = " ".join(shlex.quote(str(p)) for p in sorted(gz.glob("*.tsv.gz")))
    size = sum(p.stat().st_size for p in plain.glob("*.tsv")) / 1e6
    gzsize = sum(p.stat().st_size for p in gz.glob("*.gz")) / 1e6
    print(f"# host-week: {WEEK.samples} samples, {size:.0f} MB plain, {gzsize:.1f} MB gzip'd")
    store = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        wc = best(shell(f"cat {files} | wc -l"))
        gzdc = best(shell(f"gzip -dc {gzfiles} | wc -l"))
        t_plain = best(lambda: ingest([plain], store / "s"))
        t_gz = best(lambda: ingest([gz], store / "s"))
        print(f"# wc -l {wc:.3f} s, gzip -dc | wc -l {gzdc:.3f} s, ingest plain {t_plain:.3f} s, ingest gzip {t_gz:.3f} s")
        ok = report("ingest_plain_vs_wc_l", t_plain / wc, "", TARGETS["ingest_plain_vs_wc_l"])
        ok &= report("ingest_gzip_vs_gzip_dc", t_gz / gzdc, "", TARGETS["ingest_gzip_vs_gzip_dc"])
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run(
            [sys.executable, "-m", "memreport", "ingest", str(gz), "-o", str(store / "rss")],
            check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
        )
        rss = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        ok &= report("ingest_peak_rss_mib", rss, " MiB", TARGETS["ingest_peak_rss_mib"])
        return ok
    finally:
        shutil.rmtree(store, ignore_errors=True)


def bench_collectors() -> None:
    """CPU time per sample of each collector on this host (user+sys of the collector process)."""
    samples = 20
    for name, cmd in (
        ("memsnap.py", [sys.executable, str(ROOT / "collectors" / "memsnap.py")]),
        ("memsnap.sh", ["dash", str(ROOT / "collectors" / "memsnap.sh")]),
    ):
        if not Path(cmd[-1]).exists() or shutil.which(cmd[0]) is None:
            print(f"# {name}: not available, skipped")
            continue
        out = Path(tempfile.mkdtemp(prefix="bench-collect-"))
        try:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(
                [*cmd, "--interval", "0.05", "--duration", str(samples * 0.05), "--output", str(out / "cap")],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            got = max(1, sum(1 for _ in open(next((out / "cap").glob("meminfo.*.tsv")))) - 1)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"collector_cpu_ms_per_sample[{name}]={cpu / got * 1000:.1f}  (# {got} samples in {wall:.1f} s wall)")
        finally:
            shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    OUT.mkdir(exist_ok=True)
    ok = bench_ingest()
    bench_collectors()
    # Each later stage adds its figures as benchmarks/bench_<stage>.py with main() -> bool (targets met).
    import runpy

    for extra in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        print(f"# {extra.stem}")
        ok &= bool(runpy.run_path(str(extra))["main"]())
    print("all targets met" if ok else "some targets MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
