"""Find what an input is and hand it to the reader that understands it.

An input is a directory, a tar archive (any compression) or a single file. Archives are opened
safely into a private temporary directory (archive.py); then each reader in READERS is asked, in
order, whether it recognises the root (`sniff`), and the first that does reads it into HostData.
Support-bundle readers slot in by adding a module to READERS: nothing else changes.
"""

from __future__ import annotations

import contextvars
import dataclasses
import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Protocol

from memreport.errors import InputError
from memreport.ingest import archive
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.model import HostData, LogEntry

# Most specific first. Each module has `KIND`, `sniff(path) -> bool`,
# `read(path, label, opts) -> list[HostData]`.
READERS = (
    "memreport.ingest.capture",
    "memreport.ingest.sosreport",
    "memreport.ingest.supportconfig",
    "memreport.ingest.snapshots",
    "memreport.ingest.sar",
    "memreport.ingest.vmstat",
)


# Readers of big inputs report their files as they go: (files done, files in all). Set by the
# ingest around each input so a long capture moves the progress bar too.
FILE_PROGRESS: contextvars.ContextVar[Callable[[int, int], None] | None] = contextvars.ContextVar("file_progress", default=None)


def report_files(done: int, total: int) -> None:
    hook = FILE_PROGRESS.get()
    if hook is not None:
        hook(done, total)


class Reader(Protocol):
    KIND: str

    def sniff(self, path: Path) -> bool: ...

    def read(self, path: Path, label: str, opts: IngestOptions = DEFAULT) -> list[HostData]: ...


def _readers() -> Iterator[ModuleType]:
    for name in READERS:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # a real import error inside an existing reader must surface
                raise


def read_input(path: Path, opts: IngestOptions = DEFAULT) -> list[HostData]:
    """Every host the input holds. Raises InputError with one clear line when nothing reads it.
    `opts` carries what the user told about inputs that cannot tell it (--page-size, --start)."""
    path = Path(path)
    label = str(path)
    if not path.exists():
        raise InputError(path, "no such file or directory")
    if path.is_file() and archive.compression_of(path) is not None and _is_tar(path):
        with archive.extracted(path) as tmp:
            # Inside a bundle a file is named `bundle.tar.xz:member/path`: the temporary copy is
            # gone by the time anyone reads the message.
            try:
                hosts = _read_root(archive.single_top(tmp), label, opts)
            except InputError as e:
                raise _relabeled_error(e, tmp, label) from None
            return [_relabeled_host(h, tmp, label) for h in hosts]
    return _read_root(path, label, opts)


def _relabel(text: str, tmp: Path, label: str) -> str:
    return text.replace(f"{tmp}/", f"{label}:").replace(str(tmp), label)


def _relabeled_log(log: list[LogEntry], tmp: Path, label: str) -> list[LogEntry]:
    return [
        dataclasses.replace(
            e, file=None if e.file is None else _relabel(e.file, tmp, label), detail=_relabel(e.detail, tmp, label)
        )
        for e in log
    ]


def _relabeled_error(e: InputError, tmp: Path, label: str) -> InputError:
    out = type(e)(
        _relabel(e.path, tmp, label), _relabel(e.reason, tmp, label), line=e.line, log=_relabeled_log(e.log, tmp, label)
    )
    out.__cause__ = e.__cause__
    return out


def _relabeled_host(h: HostData, tmp: Path, label: str) -> HostData:
    h.log = _relabeled_log(h.log, tmp, label)
    h.contributions = [dataclasses.replace(c, summary=_relabel(c.summary, tmp, label)) for c in h.contributions]
    return h


def _is_tar(path: Path) -> bool:
    """A compressed single file (sa01.gz, vmstat.txt.xz) is not a tar: readers take those themselves."""
    kind = archive.compression_of(path)
    if kind == "tar":
        return True
    name = path.name.lower()
    return any(name.endswith(s) for s in (".tar", ".tgz", ".txz", ".tar.gz", ".tar.xz", ".tar.zst", ".tzst", ".tar.bz2", ".tbz2"))


def _read_root(root: Path, label: str, opts: IngestOptions) -> list[HostData]:
    for reader in _readers():
        if reader.sniff(root):
            hosts: list[HostData] = reader.read(root, label, opts)
            return hosts
    what = "directory" if root.is_dir() else "file"
    raise InputError(
        label,
        f"{what} not recognised: expected a memsnap capture, a snapshot tree, a sosreport, a supportconfig, "
        "sar output or vmstat output",
    )
