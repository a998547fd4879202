"""report.pdf and fleet.pdf: weasyprint from the same HTML, print CSS in the template. Fetches nothing.

With a deadline (the setting render.pdf_timeout_s), weasyprint runs in a forked child process that
is killed when the deadline passes: a weasyprint call cannot be interrupted in its thread, and a
pathological layout (issue 11: one long word in an automatic-layout table took minutes) must not
hold a report, or a fleet worker, for ever. The child is a fork of this process, so it starts with
weasyprint already imported (the fleet's fork server preloads it), and fork works where
multiprocessing may not start a child: in a daemonic fleet worker, and in a dask worker's thread.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import time

import weasyprint
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from memreport.errors import RenderError

_OK, _FAILED = b"P", b"E"  # the child's first byte: a PDF follows, or a pickled exception
_CHUNK = 1 << 20
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class DataOnlyFetcher(URLFetcher):
    """Allows `data:` URLs only; anything else (http, file, …) stops the rendering with an error.

    The report is self-contained by construction, so any other fetch is a bug or hostile input.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"}, fail_on_errors=True)

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        if not url.lower().startswith("data:"):
            raise FatalURLFetchingError(f"report.pdf must not fetch {url!r}: only data: URLs are allowed")
        return super().fetch(url, headers)


def _render(html: str) -> bytes:
    doc = weasyprint.HTML(string=html, base_url=None, url_fetcher=DataOnlyFetcher(), media_type="print")
    return doc.write_pdf()  # type: ignore[no-any-return]


def render_pdf(html: str, timeout_s: float | None = None) -> bytes:
    """The PDF of `html`. With `timeout_s`, rendered in a child process: RenderError when it is not
    done within `timeout_s` seconds (the child is killed) or when the child dies; an exception of
    weasyprint's (a forbidden fetch) is raised here as it was raised there."""
    if not timeout_s:
        return _render(html)
    parent = os.getpid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: render, send, and leave without running anything of the parent's
        os.close(read_end)
        _child(html, write_end, parent)
    os.close(write_end)
    reaped = False
    try:
        data = _read_until(read_end, time.monotonic() + timeout_s)
        if data is None:
            raise RenderError(f"rendering took longer than its {timeout_s:g} s deadline (setting render.pdf_timeout_s)")
        _, status = os.waitpid(pid, 0)  # it has sent everything: it is ending
        reaped = True
        if data[:1] == _OK:
            return data[1:]
        if data[:1] == _FAILED:
            raise pickle.loads(data[1:])  # noqa: S301 - our own child's bytes
        raise RenderError(f"the process rendering the PDF ended before it was done ({_ended(status)})")
    finally:
        os.close(read_end)
        if not reaped:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)


def _read_until(fd: int, deadline: float) -> bytes | None:
    """All the child sends, up to its end of the pipe closing; None when the deadline passes first."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return None
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        return f"killed by {name}" + (": out of memory?" if sig == signal.SIGKILL else "")
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _child(html: str, fd: int, parent: int) -> None:
    """In the forked child. Never returns: os._exit skips the parent's atexit handlers, finalizers
    and `finally` blocks (a fleet task's cleanup, a dask worker's shutdown)."""
    code = 1
    try:
        # The parent's handlers are not ours: terminate.unwinding's would raise into weasyprint and
        # run the parent's cleanup. A signal now simply ends this process.
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        _die_with_parent(parent)
        try:
            payload = _OK + _render(html)
        except BaseException as e:  # noqa: BLE001 - sent to the parent, which raises it (weasyprint's
            # FatalURLFetchingError is a BaseException)
            try:
                payload = _FAILED + pickle.dumps(e)
            except Exception:  # noqa: BLE001 - an exception that does not pickle: its words
                payload = _FAILED + pickle.dumps(RuntimeError(f"{type(e).__name__}: {e}"))
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view[:_CHUNK]):]
        code = 0
    except BaseException:  # noqa: BLE001 - nothing may escape into the parent's code
        pass
    finally:
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """End when the process that forked us ends (a fleet worker killed by the OOM killer or at its
    input timeout): Linux's PR_SET_PDEATHSIG. Where it is missing the child still ends, at the
    latest when its rendering is done."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it ended before the prctl took effect
        os._exit(1)


__all__ = ["DataOnlyFetcher", "render_pdf"]
