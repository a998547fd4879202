"""Long periods in bounded memory (issue 17): the peak RSS of whole `memreport report` processes
(HTML + PDF + JSON) for the sample week and for a year of it, and how the time grows.

The year is sample_data/kvm-sample repeated over 52 weeks with shifted timestamps and counters that
run on (memreport.synthetic.repeat_capture): 524,160 samples at 60 s, 15.7 M per-VM rows. It is
generated once into bench-out/year-sample (about a minute and a half).

- report_peak_rss_mib[week], report_peak_rss_mib[year]: ru_maxrss of the report process (os.wait4),
  started by this process while it is small: the captures are generated in another process
  (figures.in_fresh_process says why).
- report_peak_rss_mib[28 days at 10 s]: the same for a generated capture of 28 days at 10 s with the
  sample's 30 VMs (241,920 samples, 7.3 M per-VM rows; memreport.synthetic.write_capture), generated
  once into bench-out/month-10s.
- report_year_vs_week: the year's report time over the week's (the week best of 3, the year once:
  one run is a minute).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from figures import MEMREPORT, OUT, figure, in_fresh_process, launcher_mib, run_measured  # noqa: E402

from memreport.synthetic import HostSpec, repeat_capture, write_capture  # noqa: E402

SAMPLE = ROOT / "sample_data" / "kvm-sample"
WEEKS = 52
TARGET_MIB = 600.0


def year_capture() -> Path:
    cap = OUT / "year-sample"
    done = cap / ".complete"
    if not done.exists():  # a generation cut short is redone, not half used
        shutil.rmtree(cap, ignore_errors=True)
        t = time.perf_counter()
        in_fresh_process(repeat_capture, SAMPLE, cap, WEEKS)
        done.write_text(f"{WEEKS}\n")
        print(f"# generated {cap} ({WEEKS} weeks) in {time.perf_counter() - t:.0f} s", flush=True)
    return cap


def month_capture() -> Path:
    """28 days at 10 s of a host like the sample (its 30 VMs, its RAM and swap)."""
    cap = OUT / "month-10s"
    done = cap / ".complete"
    if not done.exists():
        shutil.rmtree(cap, ignore_errors=True)
        t = time.perf_counter()
        in_fresh_process(_write_month, cap)
        done.write_text("28 days at 10 s\n")
        print(f"# generated {cap} (28 days at 10 s) in {time.perf_counter() - t:.0f} s", flush=True)
    return cap


def _write_month(cap: Path) -> None:
    write_capture(HostSpec(hostname="month-10s", days=28, interval_s=10, seed=28), cap, gz=True)


def report(capture: Path) -> tuple[float, float, float]:
    """(wall s, user+sys CPU s, peak RSS MiB) of one `memreport report` process."""
    out = Path(tempfile.mkdtemp(prefix="bench-longrun-", dir=OUT))
    try:
        return run_measured([*MEMREPORT, "report", str(capture), "-o", str(out)])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> bool:
    OUT.mkdir(exist_ok=True)
    year = year_capture()
    weeks = [report(SAMPLE) for _ in range(3)]
    week_wall = min(w for w, _, _ in weeks)
    week_rss = max(r for _, _, r in weeks)
    year_wall, year_cpu, year_rss = report(year)
    print(f"# week: {week_wall:.1f} s ({min(c for _, c, _ in weeks):.1f} s CPU); year: {year_wall:.1f} s ({year_cpu:.1f} s CPU)")
    print(f"# this launcher's own peak RSS: {launcher_mib():.0f} MiB (no figure below can be lower)")
    ok = figure("report_peak_rss_mib[week]", week_rss, TARGET_MIB, unit=" MiB", against="sample week, 10,080 samples")
    ok &= figure(
        "report_peak_rss_mib[year]",
        year_rss,
        TARGET_MIB,
        unit=" MiB",
        against=f"the sample repeated {WEEKS} weeks: 524,160 samples, 15.7 M per-VM rows",
    )
    figure("report_year_vs_week", year_wall / week_wall, against=f"week {week_wall:.1f} s (best of 3), year once")
    month_wall, month_cpu, month_rss = report(month_capture())
    print(f"# 28 days at 10 s: {month_wall:.1f} s ({month_cpu:.1f} s CPU)")
    ok &= figure(
        "report_peak_rss_mib[28 days at 10 s]",
        month_rss,
        TARGET_MIB,
        unit=" MiB",
        against="a generated capture, 241,920 samples, 7.3 M per-VM rows",
    )
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
