"""`make bench`, fleet figures (issues 5 and 12): generated host-weeks through ingest + analysis +
per-host reports + fleet summary, with 1 and with 2 workers.

The fleet: BASES distinct synthetic hosts (a week at 10 s, gzip'd captures; 64–512 GiB RAM, 0–16 VMs,
some with swap storms) generated once into bench-out/fleet-hosts and cloned to FLEET inputs with
their own hostnames (stream files hard-linked, facts.txt rewritten), so that every input is a
distinct host with a distinct content hash. FLEET is kept small so that `make bench` takes minutes;
the 1000-host-week figure is extrapolated from it (the per-host cost does not depend on how many
hosts there are: issue 5 measured 40 and 200 with the same rate and the same peak memory). Printed:

- fleet_hosts_per_s[N workers]: whole run (discovery, tasks, fleet.json/html/pdf), for the record;
- fleet_per_host_vs_single_ingest: worker-seconds per host in the fleet ÷ the wall time of a plain
  single-host `ingest` of one of these inputs, same run (the fleet's per-host cost of analysis,
  reports and bookkeeping on top of ingest), for the record;
- fleet_cpu_vs_csv_parse: CPU seconds per host of the whole 2-worker run (every process) ÷ the CPU
  seconds of decompressing and parsing one host-week's files with pyarrow's CSV reader on one thread
  (the floor under any reader built on it), for the record;
- fleet_1000_host_weeks_min: a run's fixed cost (a run of SMALL inputs) plus 1000 times the cost of
  each further host-week (the full run's time beyond it), on 2 workers; target ≤ 10;
- fleet_scaling_2_vs_1: throughput of 2 workers on 2 cores ÷ 1 worker confined to 1 core (CPU affinity),
  same inputs, each a whole `memreport fleet` process; target ≥ 1.8;
- fleet_worker_peak_rss_mib: the largest RSS any process of the 2-worker run reached (the fleet process,
  its fork server and workers); target ≤ 600 (a host-week with 16 VMs).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from figures import MEMREPORT, figure  # noqa: E402

from memreport.ingest.run import ingest  # noqa: E402
from memreport.synthetic import GIB, MIB, HostSpec, Thrash, write_capture  # noqa: E402

OUT = ROOT / "bench-out"
HOSTS = OUT / "fleet-hosts"
VERSION = "v1"  # bump when the generated fleet changes
BASES, FLEET = 8, 24
SMALL = 4  # the small run that tells a run's fixed cost
TARGET_1000_MIN, TARGET_SCALING, TARGET_WORKER_MIB = 10.0, 1.8, 600.0


def base_spec(i: int) -> HostSpec:
    vms = (0, 4, 8, 12, 16)[i % 5]
    sizes = tuple((2, 4, 8, 16)[j % 4] for j in range(vms))
    return HostSpec(
        hostname=f"base{i:02d}",
        seed=1000 + i,
        days=7,
        interval_s=10,
        ram_bytes=(64, 128, 192, 256, 512)[i % 5] * GIB,
        swap_bytes=(4, 8, 16, 32)[i % 4] * GIB,
        vm_sizes_gib=sizes,
        with_vms=vms > 0,
        thrash=(Thrash(2.5 * 86400, 30 * 60, 40 * MIB, 20 * MIB),) if i % 3 == 0 else (),
    )


def _gen(i: int) -> None:
    write_capture(base_spec(i), HOSTS / ".bases" / f"base{i:02d}", gz=True)


def fleet_hosts() -> list[Path]:
    """The 200 inputs, generated once and reused by later runs."""
    stamp = HOSTS / f".complete-{VERSION}-{BASES}-{FLEET}"
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
    workers), sampled from /proc every 0.2 s while a run goes on: the whole tree's and the largest
    child's (a worker's)."""

    def __init__(self) -> None:
        self.peak_total = self.peak_child = 0
        self.cpu_ticks: dict[int, int] = {}  # the last CPU time seen of each process (a worker's last 0.2 s may be missed)
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
        sizes = {}
        for pid in self._tree():
            try:
                sizes[pid] = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                self.cpu_ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
            except (OSError, ValueError, IndexError):
                continue
        self.peak_total = max(self.peak_total, sum(sizes.values()))
        self.peak_child = max([self.peak_child, *(v for pid, v in sizes.items() if pid != os.getpid())])

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_s(self) -> float:
        """CPU seconds of every process of the tree but this one."""
        return sum(t for pid, t in self.cpu_ticks.items() if pid != os.getpid()) / os.sysconf("SC_CLK_TCK")


def _run(inputs: list[Path], workers: int, rss: TreeRss | None = None, cores: set[int] | None = None) -> float:
    """Wall seconds of one whole `memreport fleet` process over the inputs with `workers` workers,
    confined to `cores` (CPU affinity, inherited by its workers; None: every core)."""
    out = Path(tempfile.mkdtemp(prefix="bench-fleet-", dir=OUT))
    listing = out / "inputs.txt"
    listing.write_text("".join(f"{p}\n" for p in inputs))
    try:
        t = time.perf_counter()
        with rss or contextlib.nullcontext():
            proc = subprocess.run(
                [*MEMREPORT, "fleet", f"@{listing}", "-o", str(out / "fleet"), "--jobs", str(workers)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
                check=False,
            )
        elapsed = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"memreport fleet ({workers} workers) failed ({proc.returncode}): {proc.stderr[-2000:]}")
        doc = json.loads((out / "fleet" / "fleet.json").read_text())
        assert len(doc["hosts"]) == len(inputs), (len(doc["hosts"]), len(inputs))
        return elapsed
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> bool:
    OUT.mkdir(exist_ok=True)
    inputs = fleet_hosts()
    size = sum(f.stat().st_size for f in (HOSTS / ".bases").rglob("*") if f.is_file()) / BASES / 1e6
    print(
        f"# fleet: {len(inputs)} host-weeks at 10 s ({BASES} distinct), gzip'd captures, {size:.0f} MB each on average, 0–16 VMs"
    )
    store = Path(tempfile.mkdtemp(prefix="bench-single-", dir=OUT))
    try:
        one = inputs[3]  # a 12-VM host: the fleet's average-to-heavy case
        single = min(_time(lambda: ingest([one], store / "s")) for _ in range(3))
    finally:
        shutil.rmtree(store, ignore_errors=True)
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        print(f"# fleet: this process may use {len(cores)} core: the 2-core figures need 2")
    # 1 worker on one core against 2 workers on two: what the second core buys the fleet (a lone
    # worker on both cores would read with two threads, and the figure would say how well threads
    # scale inside one ingest instead).
    t1 = _run(inputs, 1, cores=set(cores[:1]))
    rss = TreeRss()
    t2 = _run(inputs, 2, rss, cores=set(cores[:2]))
    # What a run costs whatever its size (start-up, the summary, fleet.pdf), from a run of SMALL
    # inputs: 1000 host-weeks are that plus 1000 times what each further host costs.
    small = _run(inputs[:SMALL], 2, cores=set(cores[:2]))
    per_more = (t2 - small) / (len(inputs) - SMALL)
    rate1, rate2 = len(inputs) / t1, len(inputs) / t2
    per_host = t2 * 2 / len(inputs)
    minutes_1000 = (small + (1000 - SMALL) * per_more) / 60
    mib = 1024 * 1024
    cpu_per_host = rss.cpu_s() / len(inputs)
    parse = csv_parse_cpu_s()
    print(
        f"# single-host ingest {single:.2f} s; fleet of {len(inputs)}: 1 worker {t1:.1f} s, 2 workers {t2:.1f} s "
        f"({SMALL} hosts: {small:.1f} s, so {per_more:.2f} s per further host); "
        f"peak RSS of the whole tree {rss.peak_total / mib:.0f} MiB"
    )
    figure(
        "fleet_cpu_vs_csv_parse",
        cpu_per_host / parse,
        against=f"{cpu_per_host:.2f} CPU s per host in the fleet; decompressing and parsing its TSVs alone "
        f"(isal, pyarrow read_csv, one thread) {parse:.2f} CPU s",
    )
    figure("fleet_hosts_per_s[1 worker]", rate1)
    figure("fleet_hosts_per_s[2 workers]", rate2)
    figure(
        "fleet_per_host_vs_single_ingest",
        per_host / single,
        against=f"{per_host:.2f} worker-s per host, single ingest {single:.2f} s",
    )
    ok = figure(
        "fleet_1000_host_weeks_min",
        minutes_1000,
        TARGET_1000_MIN,
        against=f"runs of {SMALL} and {len(inputs)} host-weeks on 2 workers, extrapolated",
    )
    ok &= figure(
        "fleet_scaling_2_vs_1",
        rate2 / rate1,
        TARGET_SCALING,
        at_least=True,
        against=f"1 worker on 1 core {t1:.1f} s, 2 workers on 2 cores {t2:.1f} s",
    )
    ok &= figure("fleet_worker_peak_rss_mib", rss.peak_child / mib, TARGET_WORKER_MIB, unit=" MiB")
    return ok


def csv_parse_cpu_s() -> float:
    """The floor under a host's cost: CPU seconds to decompress and parse one host-week's stream files
    (every day of every stream, pyarrow's CSV reader on one thread, column types as memreport gives
    them), averaged over the distinct hosts."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from memreport.ingest import capture, streams

    total = 0.0
    for i in range(BASES):
        t = time.thread_time()
        for f in sorted((HOSTS / ".bases" / f"base{i:02d}").glob("*.tsv.gz")):
            data = streams.read_bytes(f)
            nl = data.find(b"\n")
            header = data[1:nl].decode().split("\t")
            ro, po, co = streams._options(header, capture._type_of)  # noqa: SLF001 - the reader's own options
            pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(memoryview(data)[nl + 1 :])), read_options=ro, parse_options=po, convert_options=co
            )
        total += time.thread_time() - t
    return total / BASES


def _time(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
