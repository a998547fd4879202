"""Where fleet tasks run: a supervised local process pool (default, pool.py) or a dask.distributed cluster.

Both take the same task function (tasks.run_task for inputs, tasks.run_host_task for hosts) and
report each finished task's small result dict to `on_result` as it arrives. A task whose worker
dies (a crash, the kernel's OOM killer, a lost dask worker) or that outlives the input timeout is
recorded as failed, with the reason, and the next run retries it; the other tasks go on.
"""

from __future__ import annotations

import functools
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memreport import cpus
from memreport.errors import MemreportError
from memreport.fleet import state
from memreport.fleet.pool import Pool, start_fork_server
from memreport.fleet.tasks import STAGED, WORK, TaskOptions, run_task
from memreport.host_dirs import host_dir_name
from memreport.ingest import init_worker

OnResult = Callable[[dict[str, Any]], None]
# Imported once in the fork server, so that each worker starts warm instead of importing pandas,
# pyarrow and weasyprint again.
_PRELOAD = [
    "memreport.fleet.tasks",
    "memreport.ingest.sources",
    "memreport.ingest.store",
    "memreport.analyze",
    "memreport.render.report",
]


def _preload(pdf: bool) -> list[str]:
    """What the workers' fork server imports: weasyprint (≈ 0.45 s) only when the workers write
    report.pdf (--pdf); without it the first worker starts that much sooner."""
    return [*_PRELOAD, "memreport.render.weasy"] if pdf else list(_PRELOAD)


@dataclass(frozen=True)
class Job:
    path: Path  # absolute: the input (run_task) or the host's spec file (run_host_task)
    label: str  # as the user named it
    key: str | None = None  # where a lost task's failure marker goes (state.marker_path); None: the input's key


Task = Callable[[str, str, TaskOptions, str], dict[str, Any]]


class SchedulerError(MemreportError):
    """The dask scheduler could not be reached or the cluster could not start."""


def _key(job: Job) -> str:
    return job.key or state.input_key(job.path)


def _lost(job: Job, outdir: Path, opts: TaskOptions, why: str, pid: int | None = None) -> dict[str, Any]:
    """A failure marker for a task whose worker died or timed out: retried by the next run (the
    cause, memory or a hung read, may be gone by then). Its half-written work is removed."""
    key = _key(job)
    if job.key is None:  # an input: what it had staged
        shutil.rmtree(outdir / WORK / STAGED / key, ignore_errors=True)
    elif pid is not None:  # a host: its merge directory
        shutil.rmtree(outdir / WORK / "merge" / f"{host_dir_name(job.label)}-{pid}", ignore_errors=True)
    doc: dict[str, Any] = {
        "input": job.label,
        "key": key,
        "signature": None,
        "hash": None,
        "settings": opts.fingerprint(),
        "status": "failed",
        "error": f"{job.label}: {why}",
        "retry": True,
        "hosts": [],
    }
    state.write_marker(outdir, key, doc)
    return {**doc, "outcome": "failed", "elapsed_s": 0.0}


def _task_args(job: Job, outdir: Path, opts: TaskOptions) -> tuple[Any, ...]:
    return (str(job.path), str(outdir), opts, job.label)


def warm_up_local(pdf: bool) -> None:
    """Start the local workers' fork server with its imports before the inputs are listed (pool.py);
    pdf: the workers will write report.pdf."""
    start_fork_server(_preload(pdf))


def run_local(
    jobs: Sequence[Job],
    outdir: Path,
    opts: TaskOptions,
    workers: int,
    on_result: OnResult,
    task: Task = run_task,
    input_timeout: float | None = None,
) -> None:
    """On a supervised pool of `workers` processes (pool.py): a worker that dies or a task that
    outlives `input_timeout` seconds fails that task only. A healthy worker runs task after task
    (each frees its host's data before the next); a failed one is replaced."""
    # Each worker reads with its share of the cores (at least one thread): N workers that each
    # start a thread per core only fight over the same cores (issue 12).
    share = max(1, cpus.usable() // max(1, min(workers, len(jobs))))
    pool = Pool(
        fn=task,
        args_of=lambda j: _task_args(j, outdir, opts),
        on_result=lambda _job, res: on_result(res),
        on_failure=lambda job, why, pid: on_result(_lost(job, outdir, opts, why, pid)),
        workers=workers,
        timeout_s=input_timeout or None,
        preload=_preload(opts.pdf),
        init=functools.partial(init_worker, share),
    )
    pool.run(jobs)


def probe_scheduler(address: str) -> None:
    """Fail in a moment, not after the client's 20 s of retries, when nothing listens at a tcp:// address."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        if "://" not in address:
            raise SchedulerError(f"--scheduler {address!r}: expected tcp://HOST:PORT")
        return  # another dask transport (ucx, inproc): let dask judge it
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    except OSError as e:
        raise SchedulerError(f"cannot reach the dask scheduler {address}: {e.strerror or e}") from None


START_TOPIC = "memreport-fleet-start"  # a dask task announces when it really starts (not when queued)


def dask_task(task: Task, key: str, path: str, outdir: str, opts: TaskOptions, label: str) -> dict[str, Any]:
    """`task` on a dask worker, after telling the client when and where it started (the deadline
    runs from then: a task queued behind others is not late)."""
    import importlib
    import os

    from distributed import get_worker

    for name in _PRELOAD:  # warm up first: the deadline is for the input, not for a fresh worker's imports
        importlib.import_module(name)
    worker = get_worker()
    worker.log_event(START_TOPIC, {"key": key, "worker": worker.address, "pid": os.getpid()})
    return task(path, outdir, opts, label)


async def _end_worker() -> None:
    """Runs on a dask worker whose thread is stuck in a timed-out input: end the process."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def _dask_reason(e: BaseException) -> str:
    from distributed import KilledWorker

    if isinstance(e, KilledWorker):
        return "worker killed: out of memory? (every dask worker that ran this input died while running it)"
    return f"dask task failed: {type(e).__name__}: {' '.join(str(e).split())}"


def run_dask(
    jobs: Sequence[Job],
    outdir: Path,
    opts: TaskOptions,
    on_result: OnResult,
    scheduler: str | None = None,
    local_workers: int | None = None,
    task: Task = run_task,
    input_timeout: float | None = None,
) -> None:
    """On a running cluster (`scheduler`: tcp://host:port) or a LocalCluster of `local_workers`
    processes on 127.0.0.1. Workers must see the inputs and OUTDIR at the same paths.

    A worker that dies is replaced by its nanny and dask retries its task elsewhere, up to the
    scheduler's `allowed-failures`; then the input fails as "worker killed". An input that outlives
    `input_timeout` seconds is cancelled and its worker process ended (the thread running it cannot be
    stopped otherwise; the nanny starts a fresh one)."""
    if not jobs:
        return
    try:
        import dask.distributed  # noqa: F401
    except ImportError as e:  # pragma: no cover - dask[distributed] is a dependency
        raise SchedulerError(f"dask.distributed is not installed: {e}") from None
    if scheduler:
        probe_scheduler(scheduler)
        _run_dask(jobs, outdir, opts, on_result, scheduler, None, task, input_timeout)
        return
    import dask

    # One input per worker at a time (no queue on the worker): a worker that dies, or is ended for
    # a timed-out input, takes no other input with it. And a worker whose restart is slow (a loaded
    # machine: over a minute was seen) is waited for: after the default 15 s the LocalCluster
    # dropped its nanny for good, and with the last one gone the run waited for ever.
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0, "distributed.deploy.lost-worker-timeout": "1h"}):
        _run_dask(jobs, outdir, opts, on_result, None, local_workers, task, input_timeout)


def _run_dask(
    jobs: Sequence[Job],
    outdir: Path,
    opts: TaskOptions,
    on_result: OnResult,
    scheduler: str | None,
    local_workers: int | None,
    task: Task,
    input_timeout: float | None,
) -> None:
    from dask.distributed import Client, LocalCluster, wait as dask_wait

    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="20s")
        else:
            cluster = LocalCluster(
                n_workers=local_workers or 1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
            client = Client(cluster)
    except (OSError, TimeoutError) as e:
        if cluster is not None:
            cluster.close()
        raise SchedulerError(f"cannot reach the dask scheduler {scheduler or '(local)'}: {e}") from None
    token = uuid.uuid4().hex[:8]
    started: dict[str, tuple[float, dict[str, Any]]] = {}  # input key → (monotonic start, event)

    def on_start(event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        started[msg["key"]] = (time.monotonic(), msg)

    try:
        if input_timeout:
            client.subscribe_topic(START_TOPIC, on_start)
        pending: dict[Any, Job] = {}
        for j in jobs:
            f = client.submit(
                dask_task,
                task,
                _key(j),
                *_task_args(j, outdir, opts),
                key=f"memreport-fleet-{state.input_key(j.path)}-{token}",
                retries=0,
            )
            pending[f] = j
        while pending:
            try:
                done = dask_wait(list(pending), timeout=1.0 if input_timeout else None, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            for fut in done:
                job = pending.pop(fut)
                try:
                    res = fut.result()
                except Exception as e:  # noqa: BLE001 - KilledWorker, CancelledError …: this input only
                    res = _lost(job, outdir, opts, _dask_reason(e))
                fut.release()
                on_result(res)
            if input_timeout:
                now = time.monotonic()
                for fut, job in list(pending.items()):
                    key = _key(job)
                    if key in started and now - started[key][0] >= input_timeout and not fut.done():
                        msg = started.pop(key)[1]
                        del pending[fut]
                        fut.cancel()
                        # Its nanny starts a fresh one, as after an OOM kill. (client.restart_workers
                        # hung here for good when two inputs in a row timed out on one worker.)
                        try:
                            client.run(_end_worker, workers=[msg["worker"]], wait=False)
                        except Exception:  # noqa: BLE001 - gone already: nothing to end
                            pass
                        on_result(
                            _lost(job, outdir, opts, f"timed out after {input_timeout:g} s (fleet input timeout)", msg.get("pid"))
                        )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
