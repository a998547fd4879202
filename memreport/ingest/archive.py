"""Untrusted archives, opened safely: extraction only inside a private temporary directory.

Customer bundles are hostile until proven otherwise. Members are checked before anything is
written: no absolute or `..` paths, no links leaving the tree, no devices or FIFOs; and reading is
bounded by member count, total uncompressed size and compression ratio, so a small archive that
expands to gigabytes is refused early instead of filling the disk.
"""

from __future__ import annotations

import contextlib
import io
import lzma
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from memreport import terminate
from memreport.errors import InputError, UnsafeArchiveError

MAGIC = {
    b"\x1f\x8b": "gz",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zst",
    b"BZh": "bz2",
}


@dataclass(frozen=True)
class ArchiveLimits:
    # A full sosreport (every plugin, big host) has ~30 000 members; 100 000 empty files still
    # extract in a few seconds, so "a million empty members" is refused early.
    max_members: int = 100_000
    max_total_bytes: int = 8 * 1024**3  # uncompressed, headers included
    max_member_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0  # uncompressed / compressed, checked once past ratio_floor_bytes
    ratio_floor_bytes: int = 64 * 1024**2
    max_seconds: float = 300.0  # wall time for the whole extraction
    max_name_bytes: int = 4096


DEFAULT_LIMITS = ArchiveLimits()


def compression_of(path: Path) -> str | None:
    """'gz' | 'xz' | 'zst' | 'bz2' | 'tar' | None (not an archive), by content, not by name."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


class _CountingReader(io.RawIOBase):
    """Wraps the decompressed stream to enforce the total-size and ratio limits while reading."""

    def __init__(self, raw: io.BufferedIOBase, path: Path, compressed_size: int, limits: ArchiveLimits) -> None:
        self.raw = raw
        self.path = path
        self.compressed = max(compressed_size, 1)
        self.limits = limits
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b):  # type: ignore[no-untyped-def]
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        if self.count > self.limits.max_total_bytes:
            raise UnsafeArchiveError(self.path, f"expands beyond {self.limits.max_total_bytes // 1024**2} MiB: refused")
        if self.count > self.limits.ratio_floor_bytes and self.count / self.compressed > self.limits.max_ratio:
            raise UnsafeArchiveError(
                self.path, f"compression ratio above {self.limits.max_ratio:.0f}:1 (a decompression bomb?): refused"
            )
        return n


def _decompressed(path: Path, kind: str) -> io.BufferedIOBase:
    if kind == "gz":
        try:
            from isal import igzip  # 2-3x faster than zlib for big bundles

            return igzip.open(path, "rb")  # type: ignore[return-value]
        except ImportError:  # pragma: no cover - isal is a dependency
            import gzip

            return gzip.open(path, "rb")  # type: ignore[return-value]
    if kind == "xz":
        import lzma

        return lzma.open(path, "rb")  # type: ignore[return-value]
    if kind == "bz2":
        import bz2

        return bz2.open(path, "rb")  # type: ignore[return-value]
    if kind == "zst":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))  # type: ignore[return-value]
    return open(path, "rb")


def _check_member(m: tarfile.TarInfo, path: Path, limits: ArchiveLimits) -> str | None:
    """None if the member may be extracted; else the reason it is unsafe."""
    name = m.name
    if len(name.encode("utf-8", "surrogateescape")) > limits.max_name_bytes:
        return f"member name of {len(name)} characters"
    if "\0" in name or "\0" in m.linkname:
        return f"member {name[:80]!r} has a NUL byte in its name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"member {name!r} has an absolute path"
    parts = Path(name).parts
    if ".." in parts or ".." in name.split("\\"):
        return f"member {name!r} leaves the archive (..)"
    if m.isdev() or m.isfifo():
        return f"member {name!r} is a device or FIFO"
    if not (m.isreg() or m.isdir() or m.issym() or m.islnk()):
        return f"member {name!r} has unsupported type {m.type!r}"
    if m.issym() or m.islnk():
        target = m.linkname
        if target.startswith("/"):
            return f"member {name!r} links to an absolute path {target!r}"
        base = Path(name).parent if m.issym() else Path()  # hard link targets are archive paths
        depth = 0
        for p in (base / target).parts:
            depth += -1 if p == ".." else (0 if p == "." else 1)
            if depth < 0:
                return f"member {name!r} links outside the archive ({target!r})"
    if m.size > limits.max_member_bytes:
        return f"member {name!r} is {m.size // 1024**2} MiB, above the {limits.max_member_bytes // 1024**2} MiB limit"
    return None


def _norm(name: str) -> str:
    return "/".join(p for p in name.split("/") if p not in ("", "."))


def _through_link(name: str, links: set[str]) -> str | None:
    """The earlier link member that `name` would be written through (a/b when a is a symlink)."""
    parts = _norm(name).split("/")
    for i in range(1, len(parts)):
        prefix = "/".join(parts[:i])
        if prefix in links:
            return prefix
    return None


@contextlib.contextmanager
def extracted(path: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> Iterator[Path]:
    """Extract a tar archive into a private temporary directory, yield that root, remove it after.

    Two passes over the stream. The first writes nothing: it checks every member header and the
    whole stream, so a bomb or a million empty members is refused after reading headers only
    (seconds), before a single file exists. The second extracts, re-running the same checks and
    tarfile's `filter='data'` (which re-checks each member against the real tree on disk and strips
    modes and owners; _extract_unfiltered where Python has no filters). Checks per member: count,
    time, names (absolute, `..`, NUL, length), type (no devices, FIFOs or unknown types), links (no
    absolute or escaping targets), a member written through an earlier link or replacing one, size;
    while reading: total uncompressed size and compression ratio. Raises UnsafeArchiveError naming
    the archive and the member.
    """
    path = Path(path)
    kind = compression_of(path)
    if kind is None:
        raise InputError(path, "not a tar archive (.tar, .tar.gz, .tgz, .tar.xz, .tar.zst)")
    started = time.monotonic()
    _pass(path, kind, limits, None, started)
    # SIGTERM/SIGHUP (a service stop, a closed terminal) would end the process before `finally`:
    # the unpacked customer data would stay in TMPDIR. Within unwinding() they run it first.
    with terminate.unwinding(), terminate.private_dir("memreport-bundle-") as tmp:
        _pass(path, kind, limits, tmp, started)
        _make_readable(tmp)
        yield tmp


def _pass(path: Path, kind: str, limits: ArchiveLimits, dest: Path | None, started: float) -> None:
    """Walk the archive's members with every check; extract them into dest unless it is None."""
    raw = _decompressed(path, kind)
    counted = io.BufferedReader(_CountingReader(raw, path, path.stat().st_size, limits), buffer_size=1 << 20)
    try:
        with tarfile.open(fileobj=counted, mode="r|") as tar:
            members = 0
            declared = 0
            links: set[str] = set()
            seen: set[str] = set()
            for m in tar:
                members += 1
                if members > limits.max_members:
                    raise UnsafeArchiveError(path, f"more than {limits.max_members} members: refused")
                if members % 512 == 0 and time.monotonic() - started > limits.max_seconds:
                    raise UnsafeArchiveError(path, f"reading took more than {limits.max_seconds:.0f} s: refused")
                reason = _check_member(m, path, limits)
                if reason is None:
                    name = _norm(m.name)
                    via = _through_link(name, links)
                    if via is not None:
                        reason = f"member {m.name!r} would be written through the link {via!r}"
                    elif name in links or (name in seen and (m.issym() or m.islnk())):
                        reason = f"member {m.name!r} replaces an earlier member with a link"
                    seen.add(name)
                    if m.issym() or m.islnk():
                        links.add(name)
                declared += m.size
                if reason is None and declared > limits.max_total_bytes:
                    reason = f"members add up to more than {limits.max_total_bytes // 1024**2} MiB"
                if reason:
                    raise UnsafeArchiveError(path, reason + ": refused")
                if dest is not None:
                    _extract(tar, m, dest, path)
            if members == 0:
                raise InputError(path, "empty archive")
    except _damaged() as e:
        if isinstance(e, InputError):
            raise
        if _FILTER_ERROR is not None and isinstance(e, _FILTER_ERROR):
            raise UnsafeArchiveError(path, f"{e}: refused") from None
        raise InputError(path, f"damaged or unreadable archive ({type(e).__name__}: {e})") from None
    finally:
        raw.close()


# tarfile's extraction filters (PEP 706) came with Python 3.11.4; Debian 12's python3 is 3.11.2, and
# there `extract(filter=...)` is a TypeError. Without them the checks above still refuse every member
# the 'data' filter would, and _extract_unfiltered adds the filter's check against the tree on disk.
_FILTERS = hasattr(tarfile, "data_filter")
_FILTER_ERROR: type[BaseException] | None = getattr(tarfile, "FilterError", None)


def _extract(tar: tarfile.TarFile, m: tarfile.TarInfo, dest: Path, path: Path) -> None:
    """One checked member into dest: tarfile's 'data' filter (modes and owners stripped) where this
    Python has it, the same checks and effect without it."""
    if _FILTERS:
        tar.extract(m, dest, filter="data", set_attrs=m.isdir() is False)
    else:
        _extract_unfiltered(tar, m, dest, path)


def _inside(root: str, target: str) -> bool:
    return os.path.commonpath([os.path.realpath(target), root]) == root


def _extract_unfiltered(tar: tarfile.TarFile, m: tarfile.TarInfo, dest: Path, path: Path) -> None:
    """What filter='data' does, for a Python without it: the member's path and a link's target are
    resolved against what is already on disk and must stay in dest; no owner and no mode is applied
    (the private copy is made readable by us alone afterwards, _make_readable); a file keeps its
    modification time (a single snapshot's time is its meminfo's, snapshots.py)."""
    root = os.path.realpath(dest)
    name = _norm(m.name)
    target = os.path.join(root, name)
    if not _inside(root, target):
        raise UnsafeArchiveError(path, f"member {m.name!r} would be written outside the archive: refused")
    if m.issym() or m.islnk():
        base = os.path.join(root, os.path.dirname(name)) if m.issym() else root
        if os.path.isabs(m.linkname) or not _inside(root, os.path.join(base, m.linkname)):
            raise UnsafeArchiveError(path, f"member {m.name!r} links outside the archive ({m.linkname!r}): refused")
    tar.extract(m, root, set_attrs=False)
    if m.isreg():
        os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)


def _damaged() -> tuple[type[BaseException], ...]:
    """What reading a damaged archive raises: tarfile's and the decompressors' errors (isal's and
    zstandard's are not OSErrors)."""
    from isal import igzip_lib
    from zstandard import ZstdError

    isal_error: type[BaseException] = igzip_lib.IsalError  # type: ignore[assignment]
    return (tarfile.TarError, EOFError, OSError, ValueError, lzma.LZMAError, isal_error, ZstdError)


def _make_readable(root: Path) -> None:
    """sos keeps modes like 0400 and d--x: make the private copy readable by us (never anything else)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
        for f in filenames:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                os.chmod(p, 0o600)


def single_top(root: Path) -> Path:
    """An archive usually holds one top directory; descend into it."""
    entries = [p for p in root.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return root
