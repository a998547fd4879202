"""report.pdf and fleet.pdf: weasyprint from the same HTML, print CSS in the template. Fetches nothing.

With a deadline (the setting render.pdf_timeout_s), weasyprint runs in a forked child process that
is killed when the deadline passes: a weasyprint call cannot be interrupted in its thread, and a
pathological layout (issue 11: one long word in an automatic-layout table took minutes) must not
hold a report, or a fleet worker, for ever. Fork works where multiprocessing may not start a child:
in a daemonic fleet worker, and in a dask worker's thread.

The child is forked either when the HTML is ready (it starts with the HTML and with whatever the
parent imported: the fleet's fork server preloads weasyprint), or early, by start_renderer(): the
command line forks it before it reads its inputs, the child imports weasyprint (≈ 0.3 s) on the
second core meanwhile and then waits for the HTML on a pipe (issue 12). The next render_pdf takes
that child; the deadline runs from that call either way. A waiting child can be given a part of the
report that depends on the settings only (lay_out_ahead: the appendix) to lay out while the parent
still reads the host; render/weasy.py puts its pages in place when the whole HTML comes.

On that pipe each message is a kind byte and, for a part, its length: `A` + 8 bytes + the part, then
`H` + the HTML up to the end of the pipe.

weasyprint is imported by memreport.render.weasy, never at this module's import: a parent that
leaves the PDF to a warm child does not load it at all; one that renders without a warm child (the
API's write_report) loads it before its first fork, so that each later child starts with it.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import struct
import sys
import time
from typing import TYPE_CHECKING

from memreport.errors import RenderError

if TYPE_CHECKING:
    from memreport.render.weasy import LaidOut

_OK, _FAILED = b"P", b"E"  # the child's first byte: a PDF follows, or a pickled exception
_PART, _HTML = b"A", b"H"  # what the parent sends a waiting child: a part to lay out ahead, the HTML
_LENGTH = struct.Struct(">Q")
_CHUNK = 1 << 20
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _render(html: str, ahead: LaidOut | None = None) -> bytes:
    from memreport.render.weasy import render

    return render(html, ahead)


class _Renderer:
    """A forked child that renders one PDF. Given `html`, it has it from the fork; without, it
    imports weasyprint at once and then reads the HTML from a pipe (render() sends it)."""

    def __init__(self, html: str | None = None) -> None:
        parent = os.getpid()
        read_end, write_end = os.pipe()
        html_read, html_write = os.pipe() if html is None else (-1, -1)
        pid = os.fork()
        if pid == 0:  # the child: render, send, and leave without running anything of the parent's
            os.close(read_end)
            if html_write >= 0:
                os.close(html_write)
            _child(write_end, parent, html, html_read)
        os.close(write_end)
        if html_read >= 0:
            os.close(html_read)
        self.pid, self._result, self._html = pid, read_end, html_write
        self._reaped = False

    def lay_out_ahead(self, part: str) -> None:
        """Send a waiting child a part of the report to lay out before the HTML comes (see weasy.py).
        Nothing is lost when it cannot take it: the HTML holds the part too."""
        if self._html < 0:
            return
        data = part.encode("utf-8")
        try:  # blocks at most until the child has imported weasyprint and reads
            _write_all(self._html, _PART + _LENGTH.pack(len(data)) + data)
        except BrokenPipeError:  # the child has ended: render() says why
            pass

    def render(self, html: str, timeout_s: float | None) -> bytes:
        """The PDF; RenderError when the deadline passes (the child is killed) or the child dies."""
        deadline = time.monotonic() + timeout_s if timeout_s else None
        try:
            if self._html >= 0 and not _send_until(self._html, _HTML + html.encode("utf-8"), deadline):
                raise _late(timeout_s)
            self._close_html()
            data = _read_until(self._result, deadline)
            if data is None:
                raise _late(timeout_s)
            _, status = os.waitpid(self.pid, 0)  # it has sent everything: it is ending
            self._reaped = True
            if data[:1] == _OK:
                return data[1:]
            if data[:1] == _FAILED:
                raise pickle.loads(data[1:])  # noqa: S301 - our own child's bytes
            raise RenderError(f"the process rendering the PDF ended before it was done ({_ended(status)})")
        finally:
            self.close()

    def _close_html(self) -> None:
        if self._html >= 0:
            os.close(self._html)  # the child reads to its end
            self._html = -1

    def close(self) -> None:
        """Ends the child if it is still there (at the deadline, or a warm child never used) and reaps it."""
        self._close_html()
        if self._result >= 0:
            os.close(self._result)
            self._result = -1
        if not self._reaped:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(self.pid, 0)
            self._reaped = True


_warm: _Renderer | None = None  # forked by start_renderer, taken by the next render_pdf
_ahead: str | None = None  # the part of lay_out_ahead, given to every child start_renderer forks


def start_renderer() -> None:
    """Fork the child that will render the next PDF now, so that it imports weasyprint while this
    process does other work. Call it where no other thread runs (a fork copies only the caller's
    thread), and stop_renderer() when the process may end without rendering. Does nothing when
    one is waiting already."""
    global _warm
    if _warm is None:
        _warm = _Renderer()
        if _ahead is not None:
            _warm.lay_out_ahead(_ahead)


def lay_out_ahead(part: str) -> None:
    """Have the waiting child (and the children start_renderer forks after it) lay out `part`, a
    section that ends the report and depends on the settings only (html.render_appendix), while
    this process reads the host. A later HTML that does not hold it exactly is rendered whole."""
    global _ahead
    _ahead = part
    if _warm is not None:
        _warm.lay_out_ahead(part)


def stop_renderer() -> None:
    """End and reap a child of start_renderer() that no render_pdf took, and forget lay_out_ahead's part."""
    global _warm, _ahead
    warm, _warm, _ahead = _warm, None, None
    if warm is not None:
        warm.close()


def render_pdf(html: str, timeout_s: float | None = None) -> bytes:
    """The PDF of `html`. With `timeout_s`, rendered in a child process: RenderError when it is not
    done within `timeout_s` seconds (the child is killed) or when the child dies; an exception of
    weasyprint's (a forbidden fetch) is raised here as it was raised there. The child of
    start_renderer(), when one waits, renders it (with the deadline, if any)."""
    global _warm
    child, _warm = _warm, None
    if child is None:
        if not timeout_s:
            return _render(html)
        # weasyprint imported here, before the fork: this child and every later one start with it
        # (≈ 0.4 s each otherwise: a program that writes several reports through the API).
        import memreport.render.weasy  # noqa: F401

        child = _Renderer(html)
    return child.render(html, timeout_s)


def _late(timeout_s: float | None) -> RenderError:
    return RenderError(f"rendering took longer than its {timeout_s:g} s deadline (setting render.pdf_timeout_s)")


def _send_until(fd: int, data: bytes, deadline: float | None) -> bool:
    """Write `data` to the child; False when the deadline passes first. A child that has ended
    (its pipe is broken) stops the sending: what it sent before ending says why."""
    os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    view = memoryview(data)
    while view:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        if not poller.poll(None if left is None else left * 1000):
            return False
        try:
            view = view[os.write(fd, view[:_CHUNK]) :]
        except BlockingIOError:
            continue
        except BrokenPipeError:
            return True
    return True


def _read_until(fd: int, deadline: float | None) -> bytes | None:
    """All the child sends, up to its end of the pipe closing; None when the deadline passes first."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    chunks: list[bytes] = []
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return None
        if not poller.poll(None if left is None else left * 1000):
            return None
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, _CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_exact(fd: int, n: int) -> bytes:
    """`n` bytes, or fewer when the pipe ends first."""
    chunks, left = [], n
    while left and (chunk := os.read(fd, min(left, _CHUNK))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:_CHUNK]) :]


def _receive(fd: int) -> tuple[str | None, LaidOut | None]:
    """In a waiting child: the HTML (None when the parent closed the pipe without one) and the part
    laid out ahead, if one came and could be laid out."""
    ahead: LaidOut | None = None
    while True:
        kind = _read_exact(fd, 1)
        if kind == _PART:
            (n,) = _LENGTH.unpack(_read_exact(fd, _LENGTH.size))
            part = _read_exact(fd, n).decode("utf-8")
            try:
                from memreport.render.weasy import lay_out

                ahead = lay_out(part)
            except BaseException:  # noqa: BLE001 - then the whole HTML is laid out, as without a part, and
                ahead = None  # an error of weasyprint's (a fetch error is a BaseException) is raised there
        elif kind == _HTML:
            return _read_all(fd).decode("utf-8"), ahead
        else:  # the pipe closed without a page: nothing to render
            return None, None


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        return f"killed by {name}" + (": out of memory?" if sig == signal.SIGKILL else "")
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _child(fd: int, parent: int, html: str | None, html_fd: int) -> None:
    """In the forked child: render `html`, or (None) what arrives on `html_fd` once weasyprint is
    imported. Never returns: os._exit skips the parent's atexit handlers, finalizers and `finally`
    blocks (a fleet task's cleanup, a dask worker's shutdown)."""
    code = 1
    ahead: LaidOut | None = None
    try:
        # The parent's handlers are not ours: terminate.unwinding's would raise into weasyprint and
        # run the parent's cleanup. A signal now simply ends this process.
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        _die_with_parent(parent)
        # No cyclic garbage collection: this process renders one PDF and ends. Its full passes over
        # weasyprint's box trees cost ≈ 0.17 s of the sample's 1 s render, for ≈ 3 MB they would
        # have freed (weasyprint's garbage is freed by reference counting).
        gc.disable()
        if html is None:
            try:
                import memreport.render.weasy  # noqa: F401 - the slow part, done before the HTML is there
            except BaseException:  # noqa: BLE001, S110 - _render below raises it again, and it is sent
                pass
            html, ahead = _receive(html_fd)
            os.close(html_fd)
            if html is None:
                code = 0
                return
        try:
            payload = _OK + _render(html, ahead)
        except BaseException as e:  # noqa: BLE001 - sent to the parent, which raises it (weasyprint's
            # FatalURLFetchingError is a BaseException)
            try:
                payload = _FAILED + pickle.dumps(e)
            except Exception:  # noqa: BLE001 - an exception that does not pickle: its words
                payload = _FAILED + pickle.dumps(RuntimeError(f"{type(e).__name__}: {e}"))
        _write_all(fd, payload)
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


__all__ = ["lay_out_ahead", "render_pdf", "start_renderer", "stop_renderer"]
