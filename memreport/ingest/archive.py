"""Untrusted archives, opened safely: extraction only inside a private temporary directory.

Customer bundles are hostile until proven otherwise. Members are checked before anything is
written: no absolute or `..` paths, no links leaving the tree, no devices or FIFOs; and reading is
bounded by member count, total uncompressed size and compression ratio, so a small archive that
expands to gigabytes is refused early instead of filling the disk.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from memreport.errors import InputError, UnsafeArchiveError

MAGIC = {
    b"\x1f\x8b": "gz",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zst",
    b"BZh": "bz2",
}


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 200_000
    max_total_bytes: int = 8 * 1024**3  # uncompressed
    max_member_bytes: int = 4 * 1024**3
    max_ratio: float = 200.0  # uncompressed / compressed, checked once past ratio_floor_bytes
    ratio_floor_bytes: int = 64 * 1024**2


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
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"member {name!r} has an absolute path"
    parts = Path(name).parts
    if ".." in parts:
        return f"member {name!r} leaves the archive (..)"
    if m.isdev() or m.isfifo():
        return f"member {name!r} is a device or FIFO"
    if m.issym() or m.islnk():
        target = m.linkname
        if target.startswith("/"):
            return f"member {name!r} links to an absolute path {target!r}"
        base = Path(name).parent if m.issym() else Path()
        depth = 0
        for p in (base / target).parts:
            depth += -1 if p == ".." else (0 if p == "." else 1)
            if depth < 0:
                return f"member {name!r} links outside the archive ({target!r})"
    if m.size > limits.max_member_bytes:
        return f"member {name!r} is {m.size // 1024**2} MiB, above the {limits.max_member_bytes // 1024**2} MiB limit"
    return None


@contextlib.contextmanager
def extracted(path: Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> Iterator[Path]:
    """Extract a tar archive into a private temporary directory, yield that root, remove it after.

    Raises UnsafeArchiveError (naming the archive and the member) before writing an unsafe member.
    """
    path = Path(path)
    kind = compression_of(path)
    if kind is None:
        raise InputError(path, "not a tar archive (.tar, .tar.gz, .tgz, .tar.xz, .tar.zst)")
    tmp = Path(tempfile.mkdtemp(prefix="memreport-bundle-"))
    tmp.chmod(0o700)
    try:
        raw = _decompressed(path, kind)
        counted = io.BufferedReader(_CountingReader(raw, path, path.stat().st_size, limits), buffer_size=1 << 20)
        try:
            with tarfile.open(fileobj=counted, mode="r|") as tar:
                members = 0
                for m in tar:
                    members += 1
                    if members > limits.max_members:
                        raise UnsafeArchiveError(path, f"more than {limits.max_members} members: refused")
                    reason = _check_member(m, path, limits)
                    if reason:
                        raise UnsafeArchiveError(path, reason + ": refused")
                    # filter='data' re-checks everything above and strips modes and owners.
                    tar.extract(m, tmp, filter="data", set_attrs=m.isdir() is False)
        except (tarfile.TarError, EOFError, OSError, ValueError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(path, f"damaged or unreadable archive ({type(e).__name__}: {e})") from None
        finally:
            raw.close()
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def single_top(root: Path) -> Path:
    """An archive usually holds one top directory; descend into it."""
    entries = [p for p in root.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return root
