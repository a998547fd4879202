"""memreport fleet: many inputs in parallel, one task per input (docs/FLEET.md).

    result = run_fleet(["bundles/"], Path("out"), FleetOptions(jobs=4))
    result.fleet          # the fleet.json dict
    result.failed         # inputs that failed (listed in fleet.json with their error)

OUTDIR/
  store/                 the fleet dataset: the single-host store layout (docs/STORE.md), one
                         hive partition per host, written by the worker that read the host
  hosts/<host>/          report.html, report.json (report.pdf with --pdf)
  state/                 done-markers per input (state.py) and host claims
  fleet.json, fleet.html, fleet.pdf
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memreport.atomic import output
from memreport.config import Thresholds
from memreport.errors import InputError
from memreport.fleet import state, summary
from memreport.fleet.discover import discover
from memreport.fleet.runner import Job, SchedulerError, probe_scheduler, run_dask, run_local
from memreport.fleet.tasks import HOSTS, STORE, WORK, TaskOptions, release

__all__ = ["FleetOptions", "FleetResult", "run_fleet", "SchedulerError"]

STAMP = ".memreport-fleet"  # marks a fleet OUTDIR: --force only ever deletes inside one of these


@dataclass(frozen=True)
class FleetOptions:
    jobs: int | None = None  # local pool size; None = all cores
    scheduler: str | None = None  # tcp://host:port of a dask scheduler
    dask_local: int | None = None  # start a dask LocalCluster of N worker processes on 127.0.0.1
    force: bool = False  # redo every input
    pdf: bool = False  # per-host report.pdf
    fleet_pdf: bool = True  # fleet.pdf
    vm_size_bytes: int = summary.DEFAULT_VM_SIZE
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def executor(self) -> str:
        if self.scheduler:
            return "dask"
        if self.dask_local:
            return "dask-local"
        return "local"

    @property
    def workers(self) -> int:
        if self.dask_local:
            return self.dask_local
        return self.jobs or os.cpu_count() or 1


@dataclass
class FleetResult:
    inputs: int
    processed: int
    unchanged: int
    failed: list[dict[str, Any]]
    elapsed_s: float
    fleet: dict[str, Any]
    paths: dict[str, Path]


# (event, result dict or None, done, total): "start" once, then "done" per input.
Progress = Callable[[str, dict[str, Any] | None, int, int], None]


def _prepare(outdir: Path, force: bool) -> Any:
    """Create or reuse OUTDIR, take its lock (one run at a time), clear leftovers of a killed run."""
    with output(outdir):
        outdir.mkdir(parents=True, exist_ok=True)
        stamp = outdir / STAMP
        if not stamp.exists() and any(outdir.iterdir()):
            raise InputError(outdir, "exists and is not a memreport fleet directory (no .memreport-fleet); refusing to write into it")
        lock = open(stamp, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise InputError(outdir, "another memreport fleet run is writing this directory") from None
    shutil.rmtree(outdir / WORK, ignore_errors=True)
    if force:
        for name in ("state", STORE, HOSTS):
            shutil.rmtree(outdir / name, ignore_errors=True)
    return lock


def _prune(outdir: Path, keys: set[str]) -> None:
    """Inputs of an earlier run that are not in this one: their hosts leave the store and reports."""
    for p in sorted((outdir / "state").glob("*.json")):
        if p.stem in keys:
            continue
        m = state.read_marker(outdir, p.stem)
        for h in (m or {}).get("hosts", []):
            release(outdir, h["host"])
        p.unlink(missing_ok=True)


def _manifest(outdir: Path, hosts: list[str]) -> None:
    """The store's manifest.json, so that `memreport report OUTDIR/store` reads the fleet dataset."""
    from memreport.ingest import schema

    state.write_json_atomic(outdir / STORE / "manifest.json", {"format": schema.STORE_FORMAT, "hosts": sorted(hosts)})


def run_fleet(inputs: Sequence[str | Path], outdir: Path, opts: FleetOptions, progress: Progress | None = None) -> FleetResult:
    t0 = time.perf_counter()
    if opts.scheduler:
        probe_scheduler(opts.scheduler)  # before any work: a wrong address is a usage error
    paths = discover(inputs)
    if not paths:
        raise InputError(" ".join(str(i) for i in inputs) or "-", "no inputs found")
    outdir = Path(outdir).absolute()
    lock = _prepare(outdir, opts.force)
    try:
        task_opts = TaskOptions(thresholds=opts.thresholds, pdf=opts.pdf)
        settings = task_opts.fingerprint()
        jobs, keys, todo = [], [], []
        unchanged = 0
        for p in paths:
            job = Job(path=p.absolute(), label=str(p))
            key = state.input_key(job.path)
            jobs.append(job)
            keys.append(key)
            m = state.read_marker(outdir, key)
            if m and m.get("settings") == settings and not m.get("retry") and state.is_current(m, state.stat_signature(job.path)):
                unchanged += 1
            else:
                todo.append(job)
        total = len(jobs)
        done = unchanged
        counts = {"processed": 0, "unchanged": unchanged, "failed": 0}
        if progress:
            progress("start", None, done, total)

        def on_result(res: dict[str, Any]) -> None:
            nonlocal done
            done += 1
            counts[res.get("outcome", "failed")] = counts.get(res.get("outcome", "failed"), 0) + 1
            if progress:
                progress("done", res, done, total)

        if opts.scheduler or opts.dask_local:
            run_dask(todo, outdir, task_opts, on_result, scheduler=opts.scheduler, local_workers=opts.dask_local)
        else:
            run_local(todo, outdir, task_opts, opts.workers, on_result)

        _prune(outdir, set(keys))
        markers = []
        for job, key in zip(jobs, keys):
            m = state.read_marker(outdir, key)
            if m is None:  # cannot happen unless the disk lost it: list it rather than drop it
                m = {"input": job.label, "status": "failed", "error": "no result recorded", "hosts": []}
            markers.append({**m, "input": job.label})
        run = {
            "executor": opts.executor,
            "workers": opts.workers,
            "inputs": total,
            "processed": counts["processed"],
            "unchanged": counts["unchanged"],
            "failed_this_run": counts["failed"],
            "elapsed_s": None,
        }
        doc = summary.build(markers, opts.vm_size_bytes, run=run)
        _manifest(outdir, [r["host"] for r in doc["hosts"]])
        run["elapsed_s"] = round(time.perf_counter() - t0, 3)
        written = summary.write(doc, outdir, pdf=opts.fleet_pdf)
        return FleetResult(
            inputs=total,
            processed=counts["processed"],
            unchanged=counts["unchanged"],
            failed=doc["failed"],
            elapsed_s=time.perf_counter() - t0,
            fleet=doc,
            paths=written,
        )
    finally:
        lock.close()
