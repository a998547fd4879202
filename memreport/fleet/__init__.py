"""memreport fleet: many inputs in parallel, one report per host (docs/FLEET.md).

    result = run_fleet(["bundles/"], Path("out"), FleetOptions(jobs=4))
    result.fleet          # the fleet.json dict
    result.failed         # inputs (and merged hosts) that failed, listed in fleet.json with their error

A run: (1) one task per changed input reads it and stages each host it holds as if alone
(tasks.run_task); (2) the parent groups the hosts of all inputs by identity (machine-id, then name:
ingest/hosts.py, the rule `memreport report A B` follows); (3) a host whose only input was staged
under its final name is moved into place, every other changed host gets a task that merges its
inputs (tasks.run_host_task).

OUTDIR/
  store/                 the fleet dataset: the single-host store layout (docs/STORE.md), one
                         hive partition per host, written by the worker that read the host
  hosts/<host>/          report.html, report.json (report.pdf with --pdf)
  state/                 done-markers per input (state.py), state/hosts/ one marker per host
  fleet.json, fleet.html, fleet.pdf
"""

from __future__ import annotations

import fcntl
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memreport import cpus
from memreport.atomic import output
from memreport.config import Thresholds
from memreport.errors import InputError
from memreport.fleet import state, summary
from memreport.fleet.discover import discover
from memreport.fleet.runner import Job, SchedulerError, probe_scheduler, run_dask, run_local, warm_up_local
from memreport.fleet.settings import DEFAULT_INPUT_TIMEOUT_S
from memreport.fleet.tasks import (
    HOST_MARKERS,
    HOSTS,
    STAGED,
    STORE,
    WORK,
    TaskOptions,
    host_marker_key,
    is_staged,
    promote,
    release,
    run_host_task,
)
from memreport.ingest.options import IngestOptions
from memreport.render import pdf as pdf_renderer

if TYPE_CHECKING:
    from memreport.analyze.what_if import Change

__all__ = ["FleetOptions", "FleetResult", "run_fleet", "SchedulerError"]

STAMP = ".memreport-fleet"  # marks a fleet OUTDIR: --force only ever deletes inside one of these


@dataclass(frozen=True)
class FleetOptions:
    jobs: int | None = None  # local pool size; None = all cores
    scheduler: str | None = None  # tcp://host:port of a dask scheduler
    dask_local: int | None = None  # start a dask LocalCluster of N worker processes on 127.0.0.1
    force: bool = False  # redo every input
    pdf: bool = False  # per-host report.pdf
    host: str | None = None  # --host: the name of inputs that give none
    fleet_pdf: bool = True  # fleet.pdf
    vm_size_bytes: int = summary.DEFAULT_VM_SIZE
    input_timeout_s: float | None = DEFAULT_INPUT_TIMEOUT_S  # per input; None = no limit
    thresholds: Thresholds = field(default_factory=Thresholds)
    ingest: IngestOptions = field(default_factory=IngestOptions)  # --page-size, --start, --end for every input
    change: Change | None = None  # --add-vms/--remove-vm/--swap/--ksm: fleet.json ranks the hosts that take it

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
        return self.jobs or cpus.usable()


@dataclass
class FleetResult:
    inputs: int
    processed: int  # inputs read this run
    unchanged: int
    failed: list[dict[str, Any]]  # fleet.json's `failed`: inputs, and hosts whose merge failed
    elapsed_s: float
    fleet: dict[str, Any]
    paths: dict[str, Path]
    pdf_errors: list[str] = field(default_factory=list)  # one line per PDF not written (a host's report.pdf, fleet.pdf)


# (event, result dict or None, done, total): "start" once, "done" per input, then "host" per merged host.
Progress = Callable[[str, dict[str, Any] | None, int, int], None]


def _prepare(outdir: Path, force: bool) -> Any:
    """Create or reuse OUTDIR, take its lock (one run at a time), clear leftovers of a killed run."""
    with output(outdir):
        outdir.mkdir(parents=True, exist_ok=True)
        stamp = outdir / STAMP
        if not stamp.exists() and any(outdir.iterdir()):
            raise InputError(
                outdir, "exists and is not a memreport fleet directory (no .memreport-fleet); refusing to write into it"
            )
        lock = open(stamp, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise InputError(outdir, "another memreport fleet run is writing this directory") from None
    for leftover in (outdir / WORK).glob("*"):  # of a killed run; staged hosts are kept for the resume
        if leftover.name != STAGED:
            shutil.rmtree(leftover, ignore_errors=True)
    if (outdir / "state" / "claims").is_dir():  # an OUTDIR of memreport before state format 2: start afresh
        force = True
    if force:
        for name in ("state", STORE, HOSTS, WORK):
            shutil.rmtree(outdir / name, ignore_errors=True)
    return lock


def _prune(outdir: Path, keys: set[str]) -> None:
    """Markers of inputs of an earlier run that are not in this one (their hosts go in _hosts)."""
    for p in sorted((outdir / "state").glob("*.json")):
        if p.stem not in keys:
            p.unlink(missing_ok=True)


def _old_hosts(outdir: Path) -> dict[str, dict[str, Any]]:
    """Host markers of earlier runs, by host name."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted((outdir / "state" / HOST_MARKERS).glob("*.json")):
        m = state.read_marker(outdir, f"{HOST_MARKERS}/{p.stem}")
        name = (m or {}).get("host") or (m or {}).get("input")  # a lost task's marker (runner._lost): its label
        if m is not None and isinstance(name, str):
            out[name] = m
    return out


def _manifest(outdir: Path, hosts: list[str]) -> None:
    """The store's manifest.json, so that `memreport report OUTDIR/store` reads the fleet dataset."""
    from memreport.ingest import schema

    state.write_json_atomic(outdir / STORE / "manifest.json", {"format": schema.STORE_FORMAT, "hosts": sorted(hosts)})


def run_fleet(inputs: Sequence[str | Path], outdir: Path, opts: FleetOptions, progress: Progress | None = None) -> FleetResult:
    t0 = time.perf_counter()
    if opts.scheduler:
        probe_scheduler(opts.scheduler)  # before any work: a wrong address is a usage error
    # Local workers: fleet.pdf's renderer forked now (it imports weasyprint while the workers work,
    # not after them; a fork copies only the calling thread, so only where no other runs), then the
    # workers' fork server started, whose imports (≈ 1 s) run while the inputs are listed.
    local = not opts.scheduler and not opts.dask_local
    if local and opts.fleet_pdf and threading.active_count() == 1:
        pdf_renderer.start_renderer()
    try:
        if local:
            warm_up_local(opts.pdf)
        return _run_fleet(inputs, outdir, opts, progress, t0)
    finally:
        pdf_renderer.stop_renderer()


def _run_fleet(
    inputs: Sequence[str | Path], outdir: Path, opts: FleetOptions, progress: Progress | None, t0: float
) -> FleetResult:
    paths = discover(inputs)
    if not paths:
        raise InputError(" ".join(str(i) for i in inputs) or "-", "no inputs found")
    outdir = Path(outdir).absolute()
    lock = _prepare(outdir, opts.force)
    try:
        change = opts.change if opts.change is not None and not opts.change.empty else None
        task_opts = TaskOptions(thresholds=opts.thresholds, pdf=opts.pdf, ingest=opts.ingest, host=opts.host, change=change)
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

        _run(todo, outdir, task_opts, opts, on_result)
        _prune(outdir, set(keys))
        markers = []
        for job, key in zip(jobs, keys):
            m = state.read_marker(outdir, key)
            if m is None:  # cannot happen unless the disk lost it: list it rather than drop it
                m = {"input": job.label, "status": "failed", "error": "no result recorded", "parts": []}
            markers.append({**m, "input": job.label, "path": str(job.path), "key": key})
        rows, failed_hosts = _hosts(markers, outdir, task_opts, opts, progress)
        run = {
            "executor": opts.executor,
            "workers": opts.workers,
            "input_timeout_s": opts.input_timeout_s,
            "inputs": total,
            "processed": counts["processed"],
            "unchanged": counts["unchanged"],
            "failed_this_run": counts["failed"],
            "hosts_merged": sum(1 for r in rows if len(r["inputs"]) > 1),
            "elapsed_s": None,
        }
        doc = summary.build(markers, rows, failed_hosts, opts.vm_size_bytes, run=run, change=change)
        _manifest(outdir, [r["host"] for r in doc["hosts"]])
        run["elapsed_s"] = round(time.perf_counter() - t0, 3)
        written = summary.write(doc, outdir, pdf=opts.fleet_pdf, pdf_timeout_s=opts.thresholds.render_pdf_timeout_s or None)
        shutil.rmtree(outdir / WORK, ignore_errors=True)
        return FleetResult(
            inputs=total,
            processed=counts["processed"],
            unchanged=counts["unchanged"],
            failed=doc["failed"],
            elapsed_s=time.perf_counter() - t0,
            fleet=doc,
            paths=written,
            pdf_errors=[r["pdf_error"] for r in doc["hosts"] if r.get("pdf_error")]
            + [e for e in [doc["run"].get("fleet_pdf_error")] if e],
        )
    finally:
        lock.close()


def _run(
    jobs: list[Job],
    outdir: Path,
    task_opts: TaskOptions,
    opts: FleetOptions,
    on_result: Callable[[dict[str, Any]], None],
    task: Any = None,
) -> None:
    extra: dict[str, Any] = {"input_timeout": opts.input_timeout_s}
    if task is not None:
        extra["task"] = task
    if opts.scheduler or opts.dask_local:
        run_dask(jobs, outdir, task_opts, on_result, scheduler=opts.scheduler, local_workers=opts.dask_local, **extra)
    else:
        run_local(jobs, outdir, task_opts, opts.workers, on_result, **extra)


def _hosts(
    markers: list[dict[str, Any]], outdir: Path, task_opts: TaskOptions, opts: FleetOptions, progress: Progress | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Group the inputs' hosts by identity, bring each host up to date, and return its summary row
    (with `inputs`), and the hosts whose merge failed."""
    from memreport.ingest import hosts

    settings = task_opts.fingerprint()
    parts = [(m, p) for m in markers if m.get("status") == "ok" for p in m.get("parts", [])]
    names, notes = hosts.assign([hosts.Identity(p["name"], p["machine_id"], p["last_ms"]) for _, p in parts])
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    old = _old_hosts(outdir)
    for gone in sorted(set(old) - set(groups)):
        release(outdir, gone)
    jobs: list[Job] = []
    for name, members in sorted(groups.items()):
        signature = [[parts[i][0]["key"], parts[i][1]["part"], parts[i][0]["hash"]] for i in members]
        labels = list(dict.fromkeys(parts[i][0]["input"] for i in members))
        m, p = parts[members[0]]
        if len(members) == 1 and not notes.get(members[0]) and p["host"] == name and is_staged(outdir, m, p["part"]):
            promote(outdir, m, p["part"], name)
            state.write_marker(
                outdir,
                host_marker_key(name),
                {
                    "host": name,
                    "members": signature,
                    "inputs": labels,
                    "settings": settings,
                    "status": "ok",
                    "error": None,
                    "retry": bool(p["row"].get("pdf_error")),
                    "row": p["row"],
                },
            )
            continue
        hm = old.get(name)
        if (
            hm
            and hm.get("status") == "ok"
            and not hm.get("retry")
            and hm.get("settings") == settings
            and hm.get("members") == signature
        ):
            continue
        spec = {
            "host": name,
            "members_signature": signature,
            "inputs": labels,
            "members": [
                {
                    "path": parts[i][0]["path"],
                    "label": parts[i][0]["input"],
                    "part": parts[i][1]["part"],
                    "name": parts[i][1]["name"],
                    "machine_id": parts[i][1]["machine_id"],
                    "notes": [{"level": e.level, "event": e.event, "detail": e.detail} for e in notes.get(i, [])],
                }
                for i in members
            ],
        }
        spec_path = outdir / WORK / "specs" / (host_marker_key(name).split("/", 1)[1] + ".json")  # one per host
        state.write_json_atomic(spec_path, spec)
        jobs.append(Job(path=spec_path, label=name, key=host_marker_key(name)))
    if jobs:
        done = 0

        def on_result(res: dict[str, Any]) -> None:
            nonlocal done
            done += 1
            if progress:
                progress("host", res, done, len(jobs))

        _run(jobs, outdir, task_opts, opts, on_result, task=run_host_task)
    rows, failed = [], []
    for name in sorted(groups):
        hm = state.read_marker(outdir, host_marker_key(name)) or {"status": "failed", "error": "no result recorded"}
        labels = list(dict.fromkeys(parts[i][0]["input"] for i in groups[name]))
        if hm.get("status") == "ok" and hm.get("row"):
            rows.append({**hm["row"], "inputs": labels})
        else:
            error = hm.get("error") or "failed"
            failed.append(
                {
                    "input": ", ".join(labels),
                    "host": name,
                    "error": error,
                    "reason": error.removeprefix(f"{name}: ").removeprefix(f"host {name}: "),
                }
            )
            release(outdir, name)
            state.write_marker(outdir, host_marker_key(name), {**hm, "host": name})  # release took it: keep the failure
    return rows, failed
