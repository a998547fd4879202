"""Where fleet tasks run: a local process pool (default) or a dask.distributed cluster.

Both take the same task function (tasks.run_task) and report each finished task's small result
dict to `on_result` as it arrives. A task that dies with its worker (a crash, the kernel's OOM
killer, a lost dask worker) is recorded as a failed input that the next run retries.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memreport.errors import MemreportError
from memreport.fleet import state
from memreport.fleet.tasks import TaskOptions, run_task

OnResult = Callable[[dict[str, Any]], None]
# Imported once in the fork server, so that each worker starts warm instead of importing pandas,
# pyarrow and weasyprint again.
_PRELOAD = ["memreport.fleet.tasks", "memreport.ingest.sources", "memreport.ingest.store", "memreport.analyze",
            "memreport.render.report"]


@dataclass(frozen=True)
class Job:
    path: Path  # absolute: the input (run_task) or the host's spec file (run_host_task)
    label: str  # as the user named it
    key: str | None = None  # where a lost task's failure marker goes (state.marker_path); None: the input's key


Task = Callable[[str, str, TaskOptions, str], dict[str, Any]]


class SchedulerError(MemreportError):
    """The dask scheduler could not be reached or the cluster could not start."""


def _lost(job: Job, outdir: Path, opts: TaskOptions, why: str) -> dict[str, Any]:
    """A failure marker for a task whose worker died: retried by the next run."""
    key = job.key or state.input_key(job.path)
    doc: dict[str, Any] = {"input": job.label, "key": key, "signature": None, "hash": None,
                           "settings": opts.fingerprint(), "status": "failed", "error": why, "retry": True, "hosts": []}
    state.write_marker(outdir, key, doc)
    return {**doc, "outcome": "failed", "elapsed_s": 0.0}


def run_local(jobs: Sequence[Job], outdir: Path, opts: TaskOptions, workers: int, on_result: OnResult,
              task: Task = run_task) -> None:
    if not jobs:
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    # No max_tasks_per_child: on CPython 3.11 a pool that replaces its workers can hang for good
    # once they exit (seen here after 2 × 50 inputs). Workers free each host's data before the next.
    pool = ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs))), mp_context=ctx)
    try:
        futures = {pool.submit(task, str(j.path), str(outdir), opts, j.label): j for j in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                res = fut.result()
            except BrokenProcessPool:
                res = _lost(job, outdir, opts, "worker process died (killed, or out of memory?) while the pool ran this input")
            except Exception as e:  # noqa: BLE001 - a task error never stops the fleet
                res = _lost(job, outdir, opts, f"internal error: {type(e).__name__}: {e}")
            on_result(res)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


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


def run_dask(jobs: Sequence[Job], outdir: Path, opts: TaskOptions, on_result: OnResult,
             scheduler: str | None = None, local_workers: int | None = None, task: Task = run_task) -> None:
    """On a running cluster (`scheduler`: tcp://host:port) or a LocalCluster of `local_workers`
    processes on 127.0.0.1. Workers must see the inputs and OUTDIR at the same paths."""
    if not jobs:
        return
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError as e:  # pragma: no cover - dask[distributed] is a dependency
        raise SchedulerError(f"dask.distributed is not installed: {e}") from None
    cluster = None
    if scheduler:
        probe_scheduler(scheduler)
    try:
        if scheduler:
            client = Client(scheduler, timeout="20s")
        else:
            cluster = LocalCluster(n_workers=local_workers or 1, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError) as e:
        if cluster is not None:
            cluster.close()
        raise SchedulerError(f"cannot reach the dask scheduler {scheduler or '(local)'}: {e}") from None
    token = uuid.uuid4().hex[:8]
    try:
        futures = {}
        for j in jobs:
            f = client.submit(task, str(j.path), str(outdir), opts, j.label,
                              key=f"memreport-fleet-{state.input_key(j.path)}-{token}", retries=0)
            futures[f.key] = (f, j)
        for fut in dask_completed([f for f, _ in futures.values()]):
            job = futures[fut.key][1]
            try:
                res = fut.result()
            except Exception as e:  # noqa: BLE001 - KilledWorker, CancelledError …: this input only
                res = _lost(job, outdir, opts, f"dask task failed: {type(e).__name__}: {e}")
            fut.release()
            on_result(res)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
