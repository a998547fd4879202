"""Atomic file writes: every report, summary, marker and mail memreport writes goes through here.

A temporary file in the target's directory, fsync'd, then os.replace: a reader (or a run killed at
any instant) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
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


def write_json(path: Path, doc: Any, indent: int = 2) -> Path:
    """JSON as memreport writes it everywhere: UTF-8, no NaN (null stands for unknown), newline-ended."""
    return write_bytes(path, (json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8"))


__all__ = ["output", "write_bytes", "write_json"]
