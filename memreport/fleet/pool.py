"""A supervised process pool for fleet tasks: one task at a time per worker, a deadline per task,
and a worker that dies costs only the task it was running.

concurrent.futures' ProcessPoolExecutor marks the whole pool broken when one worker dies (the
kernel's OOM killer sends SIGKILL): every queued task fails with it, and it cannot stop a task
that hangs (a FIFO that never delivers, a hung NFS read). Here the parent hands each worker one
task over its own pipe and watches the pipe, the process and the clock:

- a result comes back: the worker takes the next task;
- the process ends before its result: that task fails ("worker killed: out of memory?" for
  SIGKILL) and a fresh worker takes the next one;
- the deadline passes: the worker gets SIGTERM, SIGKILL after a grace period, the task fails
  ("timed out after N s") and a fresh worker takes the next one.

Workers die with the parent (`kill -9` of the fleet included): PR_SET_PDEATHSIG on Linux, and a
thread that waits on a pidfd of the parent (or polls its pid) as the fallback.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

STOP_GRACE_S = 5.0  # SIGTERM → SIGKILL: time for a worker to remove its temporary files
PARENT_POLL_S = 1.0  # the watchdog's poll interval where pidfds are not available
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def death_reason(exitcode: int | None) -> str:
    """Why a worker ended before returning its task's result, in the words the fleet summary shows."""
    if exitcode == -signal.SIGKILL:
        return "worker killed: out of memory? (SIGKILL while processing this input; the kernel log names the OOM killer)"
    if exitcode is not None and exitcode < 0:
        return f"worker killed by {_signal_name(-exitcode)} while processing this input"
    return f"worker process ended (exit code {exitcode}) while processing this input"


# ---------------------------------------------------------------- in the worker


def _parent_gone() -> None:
    """SIGTERM ourselves, so that a cleanup handler can run; then exit whatever happened."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_GRACE_S)
    os._exit(1)


def _watch_parent(parent_pid: int) -> None:
    try:
        fd = os.pidfd_open(parent_pid)  # Linux ≥ 5.3: readable when the process ends, immune to pid reuse
    except ProcessLookupError:
        _parent_gone()
        return
    except (OSError, AttributeError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
        _parent_gone()
        return
    ppid = os.getppid()
    while True:
        time.sleep(PARENT_POLL_S)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            _parent_gone()
        except PermissionError:
            pass  # alive (or a reused pid of another user): keep watching the direct parent too
        if os.getppid() != ppid:
            _parent_gone()


def die_with_parent(parent_pid: int) -> None:
    """Make this process end when `parent_pid` ends, even by SIGKILL.

    The kernel's PR_SET_PDEATHSIG fires when the direct parent ends; here that is the fork server,
    which itself exits when the fleet process is gone. The watchdog thread covers other platforms
    and the chain's gaps: it waits on the fleet process itself.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still works
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def _worker_main(conn: Connection, parent_pid: int, fn: Callable[..., Any], init: Callable[[], None] | None = None) -> None:
    die_with_parent(parent_pid)
    if init is not None:
        init()
    try:
        while True:
            try:
                args = conn.recv()
            except EOFError:  # the parent closed our pipe: nothing more to do
                return
            if args is None:
                return
            try:
                result: tuple[str, Any] = ("ok", fn(*args))
            except Exception as e:  # noqa: BLE001 - reported to the parent as this task's failure
                result = ("error", f"internal error: {type(e).__name__}: {' '.join(str(e).split()) or type(e).__name__}")
            conn.send(result)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent reports it
        sys.exit(130)


# ---------------------------------------------------------------- in the parent


@dataclass
class _Worker:
    process: Any  # multiprocessing Process
    conn: Connection
    task: Any = None  # the item being processed, None when idle
    started: float = 0.0
    stopping: str | None = None  # why we are stopping it (a timeout), None while it works
    kill_at: float = 0.0


@dataclass
class Pool:
    """Run `fn(*args_of(item))` for every item on `workers` processes, each item with `timeout_s`
    (None: no deadline). `on_result(item, value)` gets each return value; `on_failure(item,
    reason, pid)` each item whose worker died, timed out or raised. `init()` runs once in each
    worker before its first item."""

    fn: Callable[..., Any]
    args_of: Callable[[Any], tuple[Any, ...]]
    on_result: Callable[[Any, Any], None]
    on_failure: Callable[[Any, str, int | None], None]
    workers: int = 1
    timeout_s: float | None = None
    preload: Sequence[str] = ()
    init: Callable[[], None] | None = None
    _ctx: Any = field(init=False, default=None)
    _pool: list[_Worker] = field(init=False, default_factory=list)

    def run(self, items: Sequence[Any]) -> None:
        if not items:
            return
        self._ctx = multiprocessing.get_context("forkserver")
        if self.preload:
            self._ctx.set_forkserver_preload(list(self.preload))
        pending = deque(items)
        size = max(1, min(self.workers, len(items)))
        try:
            while pending or any(w.task is not None for w in self._pool):
                while pending and (idle := self._idle(size)) is not None:
                    self._start(idle, pending.popleft())
                self._step()
        finally:
            self._shutdown()

    # -- workers

    def _idle(self, size: int) -> _Worker | None:
        for w in self._pool:
            if w.task is None and w.process.is_alive():
                return w
        for w in [w for w in self._pool if w.task is None and not w.process.is_alive()]:
            w.conn.close()  # died while idle (the OOM killer may pick any worker): replaced below
            self._pool.remove(w)
        if len(self._pool) < size:
            parent, child = self._ctx.Pipe()
            proc = self._ctx.Process(
                target=_worker_main, args=(child, os.getpid(), self.fn, self.init), name="memreport-fleet-worker", daemon=True
            )
            proc.start()
            child.close()  # only the worker holds its end: its death is an EOF here
            w = _Worker(proc, parent)
            self._pool.append(w)
            return w
        return None

    def _start(self, w: _Worker, item: Any) -> None:
        try:
            w.conn.send(self.args_of(item))
        except OSError:  # it died while idle: retire it, the item goes to a fresh worker
            w.task, w.started = item, time.monotonic()
            self._died(w)
            return
        w.task, w.started = item, time.monotonic()

    def _finish(self, w: _Worker) -> None:
        w.task, w.stopping = None, None

    def _died(self, w: _Worker) -> None:
        """The worker ended before sending its task's result: that task fails, the worker is retired."""
        w.process.join(STOP_GRACE_S)
        item, pid = w.task, w.process.pid
        reason = w.stopping or death_reason(w.process.exitcode)
        w.conn.close()
        self._pool.remove(w)
        if item is not None:
            self.on_failure(item, reason, pid)

    def _step(self) -> None:
        busy = [w for w in self._pool if w.task is not None]
        now = time.monotonic()
        wake = [w.kill_at for w in busy if w.stopping] + [
            w.started + self.timeout_s for w in busy if not w.stopping and self.timeout_s
        ]
        ready = set(
            wait(
                [w.conn for w in busy if not w.stopping] + [w.process.sentinel for w in busy],
                timeout=max(0.0, min(wake) - now) if wake else None,
            )
        )
        for w in busy:
            if w.conn in ready and not w.stopping:
                try:
                    status, value = w.conn.recv()
                except (EOFError, OSError):
                    self._died(w)
                    continue
                item = w.task
                self._finish(w)
                if status == "ok":
                    self.on_result(item, value)
                else:
                    self.on_failure(item, value, w.process.pid)
            elif w.process.sentinel in ready:
                self._died(w)
        now = time.monotonic()
        for w in [w for w in self._pool if w.task is not None]:
            if w.stopping and now >= w.kill_at:
                w.process.kill()
                w.kill_at = now + STOP_GRACE_S  # and then it is gone: its sentinel wakes us
            elif not w.stopping and self.timeout_s and now - w.started >= self.timeout_s and not w.conn.poll():
                w.stopping = f"timed out after {self.timeout_s:g} s (fleet input timeout)"
                w.kill_at = now + STOP_GRACE_S
                w.process.terminate()

    def _shutdown(self) -> None:
        """Stop every worker: idle ones are told to exit, busy ones (an interrupted run) terminated."""
        for w in self._pool:
            try:
                if w.task is None:
                    w.conn.send(None)
                else:
                    w.process.terminate()
            except OSError:
                pass
        deadline = time.monotonic() + STOP_GRACE_S
        for w in self._pool:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(STOP_GRACE_S)
            w.conn.close()
        self._pool = []


def start_fork_server(preload: Sequence[str]) -> None:
    """Start the workers' fork server now, so that its imports (`preload`: pandas, pyarrow, weasyprint for --pdf,
    ≈ 1 s) run on another core while the caller still lists its inputs; Pool.run then forks from it.
    Its imports done in the caller's place cost nothing when no worker is ever needed: it ends with
    the caller."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    from multiprocessing import forkserver

    forkserver.ensure_running()


__all__ = ["Pool", "death_reason", "die_with_parent", "start_fork_server"]
