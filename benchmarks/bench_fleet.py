"""`make bench`, fleet figures (issue 5): 200 generated host-weeks through ingest + analysis + fleet summary.

The fleet: 20 distinct synthetic hosts (a week at 10 s, gzip'd captures; 64–512 GiB RAM, 0–16 VMs,
some with swap storms) generated once into bench-out/fleet-hosts and cloned to 200 inputs with their
own hostnames (stream files hard-linked, facts.txt rewritten), so that every input is a distinct host
with a distinct content hash. Printed:

- fleet_hosts_per_s[N workers]: whole run (discovery, tasks, fleet.json/html/pdf) with 1 and 2 workers;
- fleet_per_host_vs_single_ingest: worker-seconds per host in the fleet ÷ the wall time of a plain
  single-host `ingest` of one of these inputs, same run (the fleet's per-host cost of analysis,
  reports and bookkeeping on top of ingest);
- fleet_1000_host_weeks_min: 1000 host-weeks extrapolated from the 2-worker rate (target ≤ 20 min);
- fleet_scaling_2_vs_1: throughput with 2 workers ÷ with 1 (should be > 1 on 2 cores);
- fleet_peak_rss_mib[N hosts]: peak of the summed RSS of the whole process tree (parent, fork server,
  workers) for 40 and for 200 hosts: it must not grow with the fleet.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memreport.fleet import FleetOptions, run_fleet  # noqa: E402
from memreport.ingest.run import ingest  # noqa: E402
from memreport.synthetic import GIB, MIB, HostSpec, Thrash, write_capture  # noqa: E402

OUT = ROOT / "bench-out"
HOSTS = OUT / "fleet-hosts"
VERSION = "v1"  # bump when the generated fleet changes
BASES, FLEET, SCALING_SUBSET = 20, 200, 40
TARGET_1000_MIN = 20.0


def base_spec(i: int) -> HostSpec:
    vms = (0, 4, 8, 12, 16)[i % 5]
    sizes = tuple((2, 4, 8, 16)[j % 4] for j in range(vms))
    return HostSpec(
        hostname=f"base{i:02d}", seed=1000 + i, days=7, interval_s=10,
        ram_bytes=(64, 128, 192, 256, 512)[i % 5] * GIB, swap_bytes=(4, 8, 16, 32)[i % 4] * GIB,
        vm_sizes_gib=sizes, with_vms=vms > 0,
        thrash=(Thrash(2.5 * 86400, 30 * 60, 40 * MIB, 20 * MIB),) if i % 3 == 0 else (),
    )


def _gen(i: int) -> None:
    write_capture(base_spec(i), HOSTS / ".bases" / f"base{i:02d}", gz=True)


def fleet_hosts() -> list[Path]:
    """The 200 inputs, generated once and reused by later runs."""
    stamp = HOSTS / f".complete-{VERSION}"
    inputs = [HOSTS / f"host{n:03d}" for n in range(FLEET)]
    if stamp.exists():
        return inputs
    shutil.rmtree(HOSTS, ignore_errors=True)
    (HOSTS / ".bases").mkdir(parents=True)
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(_gen, range(BASES)))
    for n, d in enumerate(inputs):
        base = HOSTS / ".bases" / f"base{n % BASES:02d}"
        d.mkdir()
        for f in base.iterdir():
            if f.name == "facts.txt":
                text = f.read_text().replace(f"hostname=base{n % BASES:02d}", f"hostname=kvm-{n:03d}")
                (d / f.name).write_text(text)
            else:
                os.link(f, d / f.name)
    stamp.touch()
    print(f"# generated {BASES} host-weeks, cloned to {FLEET} inputs in {time.perf_counter() - t:.0f} s")
    return inputs


class TreeRss:
    """Peak resident memory of this process and all its descendants (the pool's fork server and
    workers), sampled from /proc every 0.2 s while a run goes on: the fleet's memory must not grow
    with the number of hosts."""

    def __init__(self) -> None:
        self.peak_total = self.peak_one = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def _tree() -> list[int]:
        parent: dict[int, int] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                    parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        tree, frontier = [os.getpid()], [os.getpid()]
        while frontier:
            frontier = [p for p, pp in parent.items() if pp in frontier]
            tree += frontier
        return tree

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        sizes = []
        for pid in self._tree():
            try:
                sizes.append(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page)
            except (OSError, ValueError, IndexError):
                continue
        self.peak_total = max(self.peak_total, sum(sizes))
        self.peak_one = max([self.peak_one, *sizes])

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self) -> "TreeRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _run(inputs: list[Path], workers: int, rss: TreeRss | None = None) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-fleet-", dir=OUT))
    try:
        t = time.perf_counter()
        with rss or contextlib.nullcontext():
            result = run_fleet([str(p) for p in inputs], out / "fleet", FleetOptions(jobs=workers))
        elapsed = time.perf_counter() - t
        assert result.processed == len(inputs) and not result.failed, result.failed
        return elapsed
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> bool:
    OUT.mkdir(exist_ok=True)
    inputs = fleet_hosts()
    size = sum(f.stat().st_size for f in (HOSTS / ".bases").rglob("*") if f.is_file()) / BASES / 1e6
    print(f"# fleet: {len(inputs)} host-weeks at 10 s, gzip'd captures, {size:.0f} MB each on average, 0–16 VMs")
    store = Path(tempfile.mkdtemp(prefix="bench-single-", dir=OUT))
    try:
        one = inputs[3]  # a 12-VM host: the fleet's average-to-heavy case
        single = min(_time(lambda: ingest([one], store / "s")) for _ in range(3))
    finally:
        shutil.rmtree(store, ignore_errors=True)
    subset = inputs[:SCALING_SUBSET]
    t1 = _run(subset, 1)
    rss_sub, rss_all = TreeRss(), TreeRss()
    t2_sub = _run(subset, 2, rss_sub)
    t2 = _run(inputs, 2, rss_all)
    rate1, rate2_sub, rate2 = len(subset) / t1, len(subset) / t2_sub, len(inputs) / t2
    per_host = t2 * 2 / len(inputs)
    minutes_1000 = 1000 / rate2 / 60
    print(f"# single-host ingest {single:.2f} s; fleet {len(subset)} hosts: 1 worker {t1:.1f} s, 2 workers {t2_sub:.1f} s; "
          f"{len(inputs)} hosts with 2 workers {t2:.1f} s")
    print(f"fleet_hosts_per_s[1 worker]={rate1:.2f}")
    print(f"fleet_hosts_per_s[2 workers]={rate2:.2f}")
    print(f"fleet_scaling_2_vs_1={rate2_sub / rate1:.2f}  (target > 1: {'ok' if rate2_sub > rate1 else 'MISSED'})")
    print(f"fleet_per_host_vs_single_ingest={per_host / single:.2f}  (# {per_host:.2f} worker-s per host in the fleet)")
    mib = 1024 * 1024
    print(f"fleet_peak_rss_mib[{len(subset)} hosts]={rss_sub.peak_total / mib:.0f}  (# largest process {rss_sub.peak_one / mib:.0f} MiB)")
    print(f"fleet_peak_rss_mib[{len(inputs)} hosts]={rss_all.peak_total / mib:.0f}  (# largest process {rss_all.peak_one / mib:.0f} MiB; "
          f"bounded: {'ok' if rss_all.peak_total <= 1.5 * rss_sub.peak_total else 'GREW with the fleet'})")
    ok = minutes_1000 <= TARGET_1000_MIN and rate2_sub > rate1 and rss_all.peak_total <= 1.5 * rss_sub.peak_total
    print(f"fleet_1000_host_weeks_min={minutes_1000:.1f}  (target ≤ {TARGET_1000_MIN:g}: "
          f"{'ok' if minutes_1000 <= TARGET_1000_MIN else 'MISSED'})", flush=True)
    return ok


def _time(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
