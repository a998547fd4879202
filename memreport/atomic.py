"""Atomic file writes: every report, summary, marker and mail memreport writes goes through here.

A temporary file in the target's directory, fsync'd, then os.replace: a reader (or a run killed at
any instant) sees the old file or the new one, never half of one. Files that belong together (a
host's report.html, .pdf and .json) are written as one set (write_set).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memreport.errors import OutputError


@contextlib.contextmanager
def output(path: Path) -> Iterator[None]:
    """An OSError while writing `path` (no permission, not a directory, disk full) becomes one
    OutputError naming `path`, not the temporary file the OS complained about."""
    try:
        yield
    except OSError as e:
        reason = e.strerror or str(e)
        if isinstance(e, FileExistsError) and e.filename and not os.path.isdir(e.filename):
            reason = f"{e.filename} is a file, not a directory"  # mkdir's EEXIST says less
        raise OutputError(path, f"cannot write: {reason}") from e


def write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    with output(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def owned_temp_dir(parent: Path, name: str, tag: str) -> Path:
    """A fresh hidden directory beside `name` in `parent`, named for this process
    (`.NAME.TAG-PID-XXXX`), so that a later run can tell whether its owner is gone."""
    return Path(tempfile.mkdtemp(prefix=f".{name}.{tag}-{os.getpid()}-", dir=parent))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(parent: Path, name: str, tags: tuple[str, ...]) -> None:
    """Remove `.NAME.TAG-PID-*` left by a killed run: only those whose process is gone (a live
    one may be writing it now). A leftover with no pid in its name predates the pid and is stale."""
    for tag in tags:
        for p in parent.glob(f".{name}.{tag}-*"):
            pid = p.name[len(f".{name}.{tag}-") :].split("-", 1)[0]
            if pid.isdigit() and (int(pid) == os.getpid() or _pid_alive(int(pid))):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # a file system or kernel without it
        return False
    raise OSError(err, os.strerror(err), str(a))


def write_set(outdir: Path, files: dict[str, bytes], owned: tuple[str, ...]) -> dict[str, Path]:
    """Write `files` into `outdir` as one set: a reader (or a run killed at any instant) sees all
    of the old set or all of the new one, and no file of an old set survives that the new one
    lacks (a report.pdf after `--no-pdf`). `owned` names every file a set may hold.

    The set is built in a sibling directory and swapped in (one atomic exchange on Linux). If
    outdir holds anything else (a caller's own directory), those files are left alone and the
    set is written file by file instead, the stale owned files removed.
    """
    outdir = Path(outdir)
    with output(outdir):
        parent = outdir.absolute().parent
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale(parent, outdir.name, ("new", "old"))
        foreign = outdir.is_dir() and any(p.name not in owned and not p.name.startswith(".") for p in outdir.iterdir())
        if foreign or (outdir.exists() and not outdir.is_dir()):
            paths = {n: write_bytes(outdir / n, data) for n, data in files.items()}
            for stale in set(owned) - set(files):
                (outdir / stale).unlink(missing_ok=True)
            return paths
        new = owned_temp_dir(parent, outdir.name, "new")
        try:
            for n, data in files.items():
                with open(new / n, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(new / n, 0o644)
            os.chmod(new, 0o755)
            if not outdir.exists():
                os.replace(new, outdir)
            elif _exchange(new, outdir):
                shutil.rmtree(new, ignore_errors=True)  # now the old set
            else:
                old = owned_temp_dir(parent, outdir.name, "old")
                os.replace(outdir, old / "set")
                os.replace(new, outdir)
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
    return {n: outdir / n for n in files}


class WriterLock:
    """One writer at a time for a target directory (a store): an flock on `.NAME.lock` beside it,
    held until release (by the kernel, also when the process dies). A second writer fails at once
    with one line. Re-entrant within a process: `memreport ingest` takes it before reading its
    inputs, write_store again around the swap. The lock file stays (removing it would race)."""

    _held: dict[Path, list[Any]] = {}  # lock file -> [open file, depth]

    def __init__(self, target: Path, what: str) -> None:
        target = Path(target).absolute()
        self.path = target.parent.resolve() / f".{target.name}.lock"
        held = WriterLock._held.get(self.path)
        if held is not None:
            held[1] += 1
            return
        with output(target):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise OutputError(
                target, f"another {what} is writing it now ({self.path.name} is locked): run again when it has finished"
            ) from None
        WriterLock._held[self.path] = [fh, 1]

    def release(self) -> None:
        held = WriterLock._held.get(self.path)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            held[0].close()
            del WriterLock._held[self.path]

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def json_bytes(doc: Any, indent: int = 2) -> bytes:
    """JSON as memreport writes it everywhere: UTF-8, no NaN (null stands for unknown), newline-ended."""
    return (json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def write_json(path: Path, doc: Any, indent: int = 2) -> Path:
    return write_bytes(path, json_bytes(doc, indent))


__all__ = ["WriterLock", "json_bytes", "output", "owned_temp_dir", "remove_stale", "write_bytes", "write_json", "write_set"]
