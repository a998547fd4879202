"""Report speed (issue 3): a full host-week report (ingest + analysis + HTML + PDF) against the
ingest alone, same run. The host-week is realistic: 60,480 samples at 10 s with 30 VMs, PSI, KSM
and swaps, gzip'd as a collector's rotation leaves it. Best of REPEAT runs each."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from figures import figure  # noqa: E402

from memreport.analyze import analyze  # noqa: E402
from memreport.config import Thresholds  # noqa: E402
from memreport.ingest import store  # noqa: E402
from memreport.ingest.run import load  # noqa: E402
from memreport.render.report import write_report  # noqa: E402
from memreport.synthetic import HostSpec, write_capture  # noqa: E402

REPEAT = 3
TARGET_S = 3.0
SPEC = HostSpec(hostname="report-week", days=7, interval_s=10)


def capture() -> Path:
    cap = ROOT / "bench-out" / "report-week"
    if not (cap / "facts.txt").exists():
        shutil.rmtree(cap, ignore_errors=True)
        write_capture(SPEC, cap, gz=True)
    return cap


def main() -> bool:
    cap = capture()
    out = Path(tempfile.mkdtemp(prefix="bench-report-", dir=ROOT / "bench-out"))
    try:
        ingest_times, report_times = [], []
        for _ in range(REPEAT):
            t = time.perf_counter()
            load([cap])
            ingest_times.append(time.perf_counter() - t)
        for _ in range(REPEAT):
            t = time.perf_counter()
            data = store.frame(load([cap]).hosts[0])
            a = analyze(data, Thresholds())
            write_report(data, out, Thresholds(), analysis=a, pdf=True)
            report_times.append(time.perf_counter() - t)
        t_ingest, t_report = min(ingest_times), min(report_times)
        print(f"# host-week with {len(SPEC.vm_sizes_gib)} VMs: ingest {t_ingest:.2f} s, full report {t_report:.2f} s")
        figure("report_vs_ingest", t_report / t_ingest, against=f"ingest {t_ingest:.2f} s")
        return figure(
            "report_host_week_seconds", t_report, TARGET_S, unit=" s", against="in-process: ingest + analysis + HTML + PDF"
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
