"""Incremental and resumable runs: one done-marker per input under OUTDIR/state/.

An input's identity is its resolved path (`input_key`); whether it changed is decided by the
SHA-256 of its content (`content_hash`: the file's bytes, or every file of a directory with its
relative path). Hashing a large bundle costs a read of it, so a marker also keeps a cheap stat
signature (size and mtime of every file): when the signature is unchanged the parent skips the
input without reading it (as make and rsync do); when it changed the worker hashes the content and
only processes the input when the hash changed too.

A marker is written (atomically) after the input's store partitions and reports are in place, so a
run killed at any instant resumes with exactly the inputs that have no marker, or a stale one.
Failures caused by the input (an InputError) are recorded too: the same bytes fail the same way,
so they are not retried until they change or `--force` is given.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from memreport.atomic import write_json

STATE_FORMAT = 2  # 2: input markers hold host identities (`parts`), hosts have markers of their own
_CHUNK = 1 << 20


def input_key(path: Path) -> str:
    p = Path(path)
    ident = str(p.resolve() if p.exists() else p.absolute())
    return hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        out = []
        for root, dirs, files in os.walk(path, followlinks=False):
            dirs.sort()
            for f in sorted(files):
                out.append(Path(root) / f)
        return out
    return [path]


def stat_signature(path: Path) -> str | None:
    """Size and mtime of every file of the input, hashed; None when the input cannot be stat'ed."""
    path = Path(path)
    h = hashlib.sha256()
    try:
        for f in _files(path):
            st = f.lstat()
            rel = str(f.relative_to(path)) if f != path else f.name
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    except OSError:
        return None
    return h.hexdigest()


def content_hash(path: Path) -> str:
    """SHA-256 over the input's content (a directory: every file's relative path and bytes)."""
    path = Path(path)
    h = hashlib.sha256()
    for f in _files(path):
        rel = str(f.relative_to(path)) if f != path else ""
        h.update(f"{rel}\0".encode("utf-8", "surrogateescape"))
        if f.is_symlink():
            h.update(b"link:" + os.readlink(f).encode("utf-8", "surrogateescape"))
            continue
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def marker_path(outdir: Path, key: str) -> Path:
    return Path(outdir) / "state" / f"{key}.json"


def read_marker(outdir: Path, key: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(marker_path(outdir, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == STATE_FORMAT else None


def write_json_atomic(path: Path, doc: Any) -> None:
    write_json(path, doc, indent=1)


def write_marker(outdir: Path, key: str, doc: dict[str, Any]) -> None:
    write_json_atomic(marker_path(outdir, key), {"format": STATE_FORMAT, **doc})


def is_current(marker: dict[str, Any] | None, signature: str | None) -> bool:
    """The parent's cheap check: a marker whose stat signature still matches the input."""
    return bool(marker) and signature is not None and marker.get("signature") == signature  # type: ignore[union-attr]
