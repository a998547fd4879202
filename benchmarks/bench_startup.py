"""`make bench`, start-up and the sample's report as a user runs them (issue 12): whole processes.

- help_s: `memreport --help` (best of 5), beside the interpreter's own start-up (`python -c pass`);
  target ≤ 0.3 s.
- report_cli_s: `memreport report sample_data/kvm-sample` (HTML + PDF + JSON; best of 3); target ≤ 1.5 s
  on the project's machines, where the CPU unit below takes ≈ 0.95 s.
- report_vs_cpu_unit: report_cli_s ÷ a fixed pure-Python loop, `sum(i*i for i in range(10**7))`, timed
  in this run (best of 3): the same target as a ratio that holds on a faster or slower machine,
  1.5 / 0.95 ≈ 1.6.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import MEMREPORT, OUT, ROOT, best, figure, run  # noqa: E402

TARGET_HELP_S, TARGET_REPORT_S, TARGET_REPORT_UNITS = 0.3, 1.5, 1.6


def cpu_unit() -> None:
    sum(i * i for i in range(10**7))


def main() -> bool:
    OUT.mkdir(exist_ok=True)
    python = best(run(sys.executable, "-c", "pass"), 5)
    help_s = best(run(*MEMREPORT, "--help"), 5)
    ok = figure("help_s", help_s, TARGET_HELP_S, unit=" s", against=f"python -c pass {python:.2f} s")
    out = Path(tempfile.mkdtemp(prefix="bench-report-cli-", dir=OUT))
    try:
        report = best(run(*MEMREPORT, "report", str(ROOT / "sample_data" / "kvm-sample"), "-o", str(out / "r")))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    unit = best(cpu_unit)
    ok &= figure("report_cli_s", report, TARGET_REPORT_S, unit=" s", against="HTML + PDF + JSON of sample_data/kvm-sample")
    ok &= figure("report_vs_cpu_unit", report / unit, TARGET_REPORT_UNITS, against=f"CPU unit {unit:.2f} s")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
