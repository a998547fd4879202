"""Turn the fleet command's arguments into a sorted list of inputs, one read task each.

An argument is
- an input itself: a capture directory, a snapshot tree, an unpacked sosreport or supportconfig, a
  bundle file (.tar.*), sar or vmstat output: anything a reader recognises (ingest/sources.py);
  or a memreport store (`memreport ingest … -o STORE`), whose hosts become fleet hosts;
- a directory of inputs (no reader recognises it): each entry is an input, sub-directories that no
  reader recognises are searched in turn; hidden entries (`.name`) are skipped;
- a glob (`'bundles/*.tar.xz'`, `**` allowed) when no file of that name exists;
- `@FILE`: a text file listing inputs, one per line (blank lines and `#` comments skipped;
  relative paths are relative to the list file).

An argument that names nothing is kept as an input: its task fails with "no such file or
directory" and the fleet summary lists it, like any other bad input.
"""

from __future__ import annotations

import glob
import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from memreport.errors import InputError
from memreport.ingest import sources

_GLOB_CHARS = set("*?[")
MAX_DEPTH = 8  # directories of directories of bundles …, never an endless walk through symlinks


def _recognised(path: Path) -> bool:
    """True when some reader takes this directory as one input (or it is a store)."""
    from memreport.ingest import store  # here, not at import: importing memreport.fleet loads no pandas

    if store.is_store(path):
        return True
    for name in sources.READERS:
        try:
            reader = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        try:
            if reader.sniff(path):
                return True
        except Exception:  # noqa: BLE001 - a sniffer tripping over one bad file in a directory of
            continue  # bundles (a corrupt .gz) means "not mine", and the bad file fails on its own
    return False


def _walk(directory: Path, depth: int) -> Iterator[Path]:
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        yield directory  # unreadable: the task reports why
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not _recognised(entry) and depth < MAX_DEPTH:
            yield from _walk(entry, depth + 1)
        else:
            yield entry


def _expand(arg: str, depth: int = 0) -> Iterator[Path]:
    if arg.startswith("@") and len(arg) > 1:
        yield from _list_file(Path(arg[1:]), depth)
        return
    path = Path(arg)
    if not path.exists() and _GLOB_CHARS & set(arg):
        matches = sorted(glob.glob(arg, recursive=True))
        for m in matches:
            yield from _expand(m, depth + 1) if Path(m).is_dir() else iter([Path(m)])
        if matches:
            return
    if path.is_dir() and not _recognised(path):
        yield from _walk(path, depth)
    else:
        yield path


def _list_file(path: Path, depth: int) -> Iterator[Path]:
    if depth > MAX_DEPTH:
        raise InputError(path, "input lists nest too deep")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read the input list: {getattr(e, 'strerror', None) or e}") from None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry = line if Path(line).is_absolute() or line.startswith("@") else str(path.parent / line)
        if line.startswith("@") and not Path(line[1:]).is_absolute():
            entry = "@" + str(path.parent / line[1:])
        yield from _expand(entry, depth + 1)


def discover(args: Iterable[str | Path]) -> list[Path]:
    """Every input named by the arguments, each once (by resolved path), sorted by path."""
    seen: dict[Path, Path] = {}
    for arg in args:
        for p in _expand(str(arg)):
            key = p.resolve() if p.exists() else p.absolute()
            seen.setdefault(key, p)
    return sorted(seen.values(), key=str)
