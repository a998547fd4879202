"""Customer archives are untrusted (issue 4, "Safety"): every malicious archive is refused with its
own one-line message, and nothing is created outside the private temporary directory (which is
removed too). How fast a bomb is refused is measured by `make bench` (benchmarks/bench_archive.py),
not here: a busy machine must not fail the suite (issue 11)."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from memreport.errors import InputError, UnsafeArchiveError
from memreport.ingest import archive
from memreport.ingest.sources import read_input


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A private TMPDIR for the extraction and a watched 'outside' directory next to it."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    monkeypatch.chdir(outside)  # a relative write would land here
    return {"root": tmp_path, "tmp": tmpdir, "outside": outside}


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x\n") -> tuple[tarfile.TarInfo, bytes]:
    i = tarfile.TarInfo(name)
    i.size = len(data)
    return i, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    i = tarfile.TarInfo(name)
    i.type = kind
    i.linkname = target
    return i, None


def _dev(name: str) -> tuple[tarfile.TarInfo, None]:
    i = tarfile.TarInfo(name)
    i.type = tarfile.CHRTYPE
    i.devmajor, i.devminor = 1, 3
    return i, None


def _fifo(name: str) -> tuple[tarfile.TarInfo, None]:
    i = tarfile.TarInfo(name)
    i.type = tarfile.FIFOTYPE
    return i, None


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "traversal": (
        lambda d: _tar(d / "a.tar.gz", [_file("sosreport-x/ok"), _file("sosreport-x/../../evil")]),
        "leaves the archive (..)",
    ),
    # absolute, into the watched sandbox (a fixed /tmp path could be left by anything)
    "absolute path": (lambda d: _tar(d / "a.tar.gz", [_file(str(d.parent / "outside" / "evil-abs"))]), "has an absolute path"),
    "absolute symlink": (
        lambda d: _tar(d / "a.tar.gz", [_link("sosreport-x/etc/passwd", "/etc/passwd")]),
        "links to an absolute path",
    ),
    "escaping symlink": (lambda d: _tar(d / "a.tar.gz", [_link("s/up", "../../..")]), "links outside the archive"),
    "escaping hard link": (
        lambda d: _tar(d / "a.tar.gz", [_link("s/h", "../outside/f", tarfile.LNKTYPE)]),
        "links outside the archive",
    ),
    "device file": (lambda d: _tar(d / "a.tar.gz", [_dev("sosreport-x/dev/null")]), "is a device or FIFO"),
    "fifo": (lambda d: _tar(d / "a.tar.gz", [_fifo("sosreport-x/pipe")]), "is a device or FIFO"),
    # a directory member replaced by a symlink (inside the tree), then a file written through it
    "write through a link": (
        lambda d: _tar(d / "a.tar.gz", [_file("s/dir/a"), _link("s/dir2", "dir"), _file("s/dir2/b")]),
        "would be written through the link",
    ),
    "link replaces a file": (
        lambda d: _tar(d / "a.tar.gz", [_file("s/f"), _link("s/f", "g")]),
        "replaces an earlier member with a link",
    ),
}


# Both ways a member is extracted: with tarfile's 'data' filter where this Python has it (3.11.4 and
# later), and with memreport's own checks alone, as on a Python without it (Debian 12's 3.11.2).
EXTRACTIONS = ["tarfile filter", "own checks"] if archive._FILTERS else ["own checks"]


@pytest.fixture(params=EXTRACTIONS)
def extraction(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(archive, "_FILTERS", request.param == "tarfile filter")
    return str(request.param)


@pytest.mark.parametrize("case", list(CASES))
def test_malicious_member_refused(sandbox: dict[str, Path], case: str, extraction: str) -> None:
    make, message = CASES[case]
    src = sandbox["root"] / "src"
    src.mkdir()
    bad = make(src)
    before = _snapshot(sandbox["root"])
    with pytest.raises(UnsafeArchiveError) as e:
        with archive.extracted(bad):
            pass
    assert message in str(e.value) and str(bad) in str(e.value) and "\n" not in str(e.value)
    assert _snapshot(sandbox["root"]) == before  # nothing outside, and the temp dir is gone
    # through the public entry point: the same one-line error, an InputError the CLI reports alone
    with pytest.raises(InputError):
        read_input(bad)


def test_decompression_bomb(sandbox: dict[str, Path]) -> None:
    """A 1 GiB member of zeros in a ~1 MiB gzip: refused on the ratio while reading, nothing kept."""
    bomb = sandbox["root"] / "bomb.tar.gz"
    size = 1024**3
    with gzip.open(bomb, "wb", compresslevel=9) as g:
        info = tarfile.TarInfo("sosreport-x/var/log/huge")
        info.size = size
        g.write(info.tobuf(format=tarfile.GNU_FORMAT))
        zeros = b"\0" * (1 << 20)
        for _ in range(size >> 20):
            g.write(zeros)
        g.write(b"\0" * 1024)
    assert bomb.stat().st_size < 2 * 1024**2
    before = _snapshot(sandbox["root"])
    with pytest.raises(UnsafeArchiveError) as e:
        with archive.extracted(bomb):
            pass
    assert "compression ratio above 200:1" in str(e.value)
    assert _snapshot(sandbox["root"]) == before


def test_size_limits(sandbox: dict[str, Path]) -> None:
    a = _tar(sandbox["root"] / "big.tar", [_file("s/a", b"a" * 5000), _file("s/b", b"b" * 5000)], mode="w")
    with pytest.raises(UnsafeArchiveError, match="above the 0 MiB limit"):
        with archive.extracted(a, archive.ArchiveLimits(max_member_bytes=4096)):
            pass
    with pytest.raises(UnsafeArchiveError, match="add up to more than|expands beyond"):
        with archive.extracted(a, archive.ArchiveLimits(max_total_bytes=8000)):
            pass


def test_a_million_empty_members(sandbox: dict[str, Path]) -> None:
    """1 000 000 members (~500 MB of headers, 4 MB compressed): refused on the count after reading
    headers only: not one file is created."""
    many = sandbox["root"] / "many.tar.gz"
    with gzip.open(many, "wb", compresslevel=1) as g:
        for i in range(150_000):
            g.write(tarfile.TarInfo(f"sosreport-x/f{i:07d}").tobuf(format=tarfile.USTAR_FORMAT))
        same = tarfile.TarInfo("sosreport-x/same").tobuf(format=tarfile.USTAR_FORMAT) * 1000
        for _ in range(850):
            g.write(same)
        g.write(b"\0" * 1024)
    before = _snapshot(sandbox["root"])
    with pytest.raises(UnsafeArchiveError) as e:
        with archive.extracted(many):
            pass
    assert "more than 100000 members" in str(e.value)
    assert _snapshot(sandbox["root"]) == before
    assert not list(sandbox["tmp"].iterdir())  # refused before the temp dir was even made


def test_damaged_archive_is_one_clear_line(sandbox: dict[str, Path]) -> None:
    good = _tar(sandbox["root"] / "s.tar.gz", [_file("s/proc/meminfo", b"MemTotal: 1 kB\n" * 2000)])
    cut = sandbox["root"] / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:60])
    with pytest.raises(InputError) as e:
        with archive.extracted(cut):
            pass
    assert "damaged or unreadable archive" in str(e.value) and "\n" not in str(e.value)
    assert not list(sandbox["tmp"].iterdir())


def test_safe_archive_extracts_in_private_dir_and_is_removed(sandbox: dict[str, Path], extraction: str) -> None:
    meminfo, data = _file("s/proc/meminfo", b"MemTotal: 1 kB\n")
    # What a member must not bring along: setuid and other-writable bits, an owner (root, when we are).
    meminfo.mode, meminfo.uid, meminfo.gid, meminfo.uname, meminfo.gname = 0o4777, 4242, 4242, "nobody-here", "nobody-here"
    meminfo.mtime = 1_700_000_000  # a single snapshot's time is its meminfo's mtime: kept
    hard, _ = _link("s/meminfo-again", "s/proc/meminfo", tarfile.LNKTYPE)
    hard.mtime = meminfo.mtime  # one inode: tar gives its links the file's time
    a = _tar(sandbox["root"] / "ok.tar.xz", [(meminfo, data), _link("s/free", "proc/meminfo"), (hard, None)], mode="w:xz")
    with archive.extracted(a) as root:
        assert root.parent == sandbox["tmp"]
        assert oct(root.stat().st_mode & 0o777) == "0o700"
        assert (root / "s/free").read_text() == "MemTotal: 1 kB\n"
        assert (root / "s/meminfo-again").read_text() == "MemTotal: 1 kB\n"
        st = (root / "s/proc/meminfo").stat()
        assert (st.st_mode & 0o7777, st.st_uid, int(st.st_mtime)) == (0o600, os.getuid(), 1_700_000_000)
    assert not root.exists()
    assert os.listdir(sandbox["outside"]) == []


def test_own_checks_resolve_what_is_on_disk(tmp_path: Path) -> None:
    """Without tarfile's filter, a member is checked against the tree already written: a path that a
    link on disk would carry outside is refused, whatever its name says."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "s").symlink_to(outside)
    a = _tar(tmp_path / "a.tar", [_file("s/evil"), _link("t/up", "../s/x")], mode="w")
    with tarfile.open(a) as tar:
        evil, up = tar.getmembers()
        with pytest.raises(UnsafeArchiveError, match="would be written outside the archive"):
            archive._extract_unfiltered(tar, evil, dest, a)
        with pytest.raises(UnsafeArchiveError, match="links outside the archive"):
            archive._extract_unfiltered(tar, up, dest, a)
    assert os.listdir(outside) == [] and os.listdir(dest) == ["s"]


LAUGHS = (
    '<!DOCTYPE sysstat [<!ENTITY a "hahahahahahahahahahaha">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + ']>\n<sysstat><host nodename="&i;"/></sysstat>\n'
)


@pytest.mark.parametrize("padding", [0, 20_000])  # a long comment first pushes the DTD down
def test_xml_entities_are_refused_in_sadf_and_domain_xml(padding: int, tmp_path: Path) -> None:
    """Billion laughs: in `sadf -x` output and in libvirt domain XML, anywhere in the file."""
    from memreport.ingest.procfs import ParseError
    from memreport.ingest.sadf import parse_sadf_xml
    from memreport.ingest.virsh import parse_domain_xml

    text = '<?xml version="1.0"?>\n' + f"<!-- {'x' * padding} -->\n" + LAUGHS
    with pytest.raises(ParseError, match="XML declares entities: refused"):
        parse_sadf_xml(text)
    with pytest.raises(ParseError, match="XML declares entities: refused"):
        parse_domain_xml(text.replace("sysstat", "domain"))

    from conftest import run_cli

    f = tmp_path / "sa26.xml"
    f.write_text(text)
    proc = run_cli("ingest", f, "-o", tmp_path / "store")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    # Padded past what the sniffer reads, the file is not even taken for sadf output: refused too.
    reason = "XML declares entities: refused" if not padding else "file not recognised"
    assert str(f) in proc.stderr and reason in proc.stderr, proc.stderr
