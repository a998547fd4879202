"""SIGTERM and SIGHUP unwind the stack where private data sits on disk, then end the process.

By default SIGTERM and SIGHUP end a Python process on the spot: no `finally` runs, and an unpacked
customer bundle would stay in TMPDIR. Within `unwinding()` they raise Terminated instead (as
SIGINT raises KeyboardInterrupt), so cleanup runs; on the way out the signal goes to whatever
handled it before, so the process still ends by that signal (exit status 128 + n to a shell, and
a fleet pool sees its worker killed). A signal that was ignored (`nohup`) stays ignored.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived inside `unwinding()`. A BaseException: `except Exception` lets it pass."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


@contextlib.contextmanager
def unwinding() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into Terminated for the block, then re-deliver the signal.

    Only the main thread can take signals: elsewhere (a dask worker's task thread) this does
    nothing. Nested use is fine: the inner block re-delivers to the outer one's handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if caught:  # a second signal while cleaning up: let the cleanup finish
            return
        caught.append(signum)
        raise Terminated(signum)

    previous = {}
    for sig in SIGNALS:
        old = signal.getsignal(sig)
        if old in (signal.SIG_IGN, None):  # ignored on purpose, or set outside Python: leave it
            continue
        previous[sig] = old
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if caught:
            signal.raise_signal(caught[0])  # by default the process ends here, by that signal


@contextlib.contextmanager
def private_dir(prefix: str) -> Iterator[Path]:
    """A fresh mkdtemp directory (mode 0700), removed however the block ends.

    Signals are held while it is made: one arriving between mkdir and the `try` would otherwise
    leave it behind (the moment a watcher sees the directory appear is exactly that moment)."""
    held = {signal.SIGINT, *SIGNALS}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, held) if threading.current_thread() is threading.main_thread() else None
    tmp: Path | None = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=prefix))
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a held signal is taken now, inside the try
            mask = None
        yield tmp
    finally:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["SIGNALS", "Terminated", "private_dir", "unwinding"]
