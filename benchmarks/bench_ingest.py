"""`make bench`, ingest (issues 2 and 12): a synthetic host-week (60,480 samples at 10 s of full
meminfo + vmstat + KSM in the collector's own format, ≈ 150 MB plain) read into a store by a whole
`memreport ingest` process, plain and gzip'd, each against a floor or a peer over the same files in
the same run (best of REPEAT for all of them):

- ingest_plain_vs_wc_l: against `cat FILES | wc -l` (reading the bytes once); target ≤ 25.
- ingest_vs_polars: against a python process in which polars reads the same TSVs (all cores) and
  writes each stream to Parquet — the best general-purpose reader; target ≤ 0.5 (ahead by 2×).
- ingest_gzip_vs_gzip_dc: the gzip'd week against `gzip -dc FILES | wc -l`; target ≤ 1.
- ingest_peak_rss_mib: the gzip'd ingest process's peak RSS (a run of its own, os.wait4; the week is
  generated in another process, so that this one stays small: figures.in_fresh_process).

CPU per collector sample is measured on this host with both collectors (for the record).
"""

from __future__ import annotations

import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import MEMREPORT, OUT, best, figure, in_fresh_process, run, run_measured, shell  # noqa: E402

from memreport.synthetic import HostSpec, write_capture  # noqa: E402

TARGETS = {"ingest_plain_vs_wc_l": 25.0, "ingest_vs_polars": 0.5, "ingest_gzip_vs_gzip_dc": 1.0, "ingest_peak_rss_mib": 1024.0}
WEEK = HostSpec(hostname="bench-week", days=7, interval_s=10, with_vms=False, with_psi=False)


# polars at its best: the schema read from the first day and reused for the others (inferring it
# per file, or concatenating with relaxed schemas, costs polars 2-5× more).
POLARS = """
import sys
from pathlib import Path
import polars as pl
src, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(exist_ok=True)
for kind in sorted({p.name.split(".")[0] for p in src.glob("*.tsv")}):
    files = sorted(src.glob(kind + ".*.tsv"))
    schema = pl.read_csv(files[0], separator="\\t").schema
    frames = [pl.read_csv(p, separator="\\t", schema=schema) for p in files]
    pl.concat(frames).write_parquet(out / (kind + ".parquet"))
"""


def _write_weeks(plain: Path, gz: Path) -> None:
    write_capture(WEEK, plain)
    write_capture(WEEK, gz, gz=True)


def week_captures() -> tuple[Path, Path]:
    plain, gz = OUT / "week-plain", OUT / "week-gzip"
    if not (plain / "facts.txt").exists() or not (gz / "facts.txt").exists():
        shutil.rmtree(plain, ignore_errors=True)
        shutil.rmtree(gz, ignore_errors=True)
        in_fresh_process(_write_weeks, plain, gz)  # this process stays small (figures.in_fresh_process)
    return plain, gz


def bench_ingest() -> bool:
    plain, gz = week_captures()
    # quoted: the checkout's path may hold spaces (issue 16)
    files = " ".join(shlex.quote(str(p)) for p in sorted(plain.glob("*.tsv")))
    gzfiles = " ".join(shlex.quote(str(p)) for p in sorted(gz.glob("*.tsv.gz")))
    size = sum(p.stat().st_size for p in plain.glob("*.tsv")) / 1e6
    gzsize = sum(p.stat().st_size for p in gz.glob("*.gz")) / 1e6
    print(f"# host-week: {WEEK.samples} samples, {size:.0f} MB plain, {gzsize:.1f} MB gzip'd")
    store = Path(tempfile.mkdtemp(prefix="bench-store-", dir=OUT))
    try:
        wc = best(shell(f"cat {files} | wc -l"))
        gzdc = best(shell(f"gzip -dc {gzfiles} | wc -l"))
        polars = best(run(sys.executable, "-c", POLARS, str(plain), str(store / "polars")))
        t_plain = best(run(*MEMREPORT, "ingest", str(plain), "-o", str(store / "s")))
        t_gz = best(run(*MEMREPORT, "ingest", str(gz), "-o", str(store / "s")))
        rss = run_measured([*MEMREPORT, "ingest", str(gz), "-o", str(store / "s")])[2]
        print(
            f"# whole processes: wc -l {wc:.3f} s, gzip -dc | wc -l {gzdc:.3f} s, polars {polars:.3f} s, "
            f"memreport ingest plain {t_plain:.3f} s, gzip'd {t_gz:.3f} s"
        )
        ok = figure("ingest_plain_vs_wc_l", t_plain / wc, TARGETS["ingest_plain_vs_wc_l"], against=f"wc -l {wc:.2f} s")
        ok &= figure("ingest_vs_polars", t_plain / polars, TARGETS["ingest_vs_polars"], against=f"polars {polars:.2f} s")
        ok &= figure("ingest_gzip_vs_gzip_dc", t_gz / gzdc, TARGETS["ingest_gzip_vs_gzip_dc"], against=f"gzip -dc {gzdc:.2f} s")
        ok &= figure("ingest_peak_rss_mib", rss, TARGETS["ingest_peak_rss_mib"], unit=" MiB")
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
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            got = max(1, sum(1 for _ in open(next((out / "cap").glob("meminfo.*.tsv")))) - 1)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"collector_cpu_ms_per_sample[{name}]={cpu / got * 1000:.1f}  (# {got} samples in {wall:.1f} s wall)")
        finally:
            shutil.rmtree(out, ignore_errors=True)


def main() -> bool:
    OUT.mkdir(exist_ok=True)
    ok = bench_ingest()
    bench_collectors()
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
