"""Generated hostile input for every parser (issue 11): real files mutated by hypothesis.

A target is one parser (or the parser and the step the reader applies right after it, where that
step is where bad numbers would bite). Its seeds are real files: tests/fixtures, the real capture in
sample_data/, and sysstat/procps output made by the real tools. A case draws a seed and 1–4
mutations (truncate, flip a bit, insert bytes or NULs, drop / duplicate / swap lines, swap
sections, a number replaced by a huge, negative, NaN or malformed one, CRLF, UTF-16, a BOM, empty).

The property: the target returns, or raises one of the errors its reader turns into one clear line
(`allowed`: ParseError, bundle.Unreadable, a MemreportError). Anything else is a failure.

tests/test_fuzz.py runs a few cases of each in `make test`; tests/fuzz.py (`make fuzz`) runs
≥ 100,000 per target and prints the count, the failures and the peak memory.
"""

from __future__ import annotations

import io
import os
import random
import re
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from memreport.errors import MemreportError
from memreport.ingest import archive, bundle, capture, proc_pid, sadf, streams, supportconfig, virsh, vmstat
from memreport.ingest.procfs import ParseError, parse_cmdline, parse_qemu_argv
from memreport.model import LogEntry

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(FIX / "sar"))

Seed = tuple[str, bytes]  # (name that says what the file is, content)


# --- mutations -----------------------------------------------------------------------------------

# What a number can become: past int64 and uint64, negative, NaN and infinities, floats where ints
# are expected, locale forms, a non-ASCII digit (int() takes it, Arrow does not), nothing.
NUMBERS = [
    b"0",
    b"-1",
    b"-5242880",
    b"9223372036854775807",
    b"9223372036854775808",
    b"18446744073709551616",
    b"99999999999999999999999999999999999999",
    b"-9223372036854775809",
    b"NaN",
    b"nan",
    b"inf",
    b"-inf",
    b"1e308",
    b"1e309",
    b"-0",
    b"1.5",
    b"1,5",
    b"0x1f",
    b"\xd9\xa3",
    b"\xc2\xb2",
    b"",
    b"+7",
    b"1_000",
    b"1e3",
    b" ",
]
_DIGITS = re.compile(rb"[0-9]+")


class Chooser:
    """Where a mutation's choices come from: hypothesis (`make test`: shrinking, a replayable
    database) or a seeded PRNG (`make fuzz`: the same mutations at 100,000s of cases, where
    hypothesis' own engine would cost milliseconds per case)."""

    def int(self, lo: int, hi: int) -> int: ...
    def choice(self, seq: list[Any]) -> Any: ...
    def bytes(self, lo: int, hi: int) -> bytes: ...


class DrawChooser(Chooser):
    def __init__(self, draw: Callable[[Any], Any]) -> None:
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def choice(self, seq: list[Any]) -> Any:
        return self.draw(st.sampled_from(seq))

    def bytes(self, lo: int, hi: int) -> bytes:
        return bytes(self.draw(st.binary(min_size=lo, max_size=hi)))


class RandomChooser(Chooser):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq: list[Any]) -> Any:
        return seq[self.rng.randrange(len(seq))]

    def bytes(self, lo: int, hi: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(lo, hi))


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def m_truncate(c: Chooser, data: bytes) -> bytes:
    return data[: c.int(0, len(data))]


def m_flip(c: Chooser, data: bytes) -> bytes:
    if not data:
        return data
    i = c.int(0, len(data) - 1)
    return data[:i] + bytes([data[i] ^ (1 << c.int(0, 7))]) + data[i + 1 :]


def m_insert(c: Chooser, data: bytes) -> bytes:
    i = c.int(0, len(data))
    return data[:i] + c.bytes(1, 8) + data[i:]


def m_nul(c: Chooser, data: bytes) -> bytes:
    i = c.int(0, len(data))
    return data[:i] + b"\0" * c.int(1, 4) + data[i:]


def m_drop_line(c: Chooser, data: bytes) -> bytes:
    lines = _lines(data)
    del lines[c.int(0, len(lines) - 1)]
    return b"\n".join(lines)


def m_dup_line(c: Chooser, data: bytes) -> bytes:
    lines = _lines(data)
    i = c.int(0, len(lines) - 1)
    times = c.choice([1, 1, 2, 3, 500])
    return b"\n".join(lines[:i] + [lines[i]] * (times + 1) + lines[i + 1 :])


def m_swap_lines(c: Chooser, data: bytes) -> bytes:
    lines = _lines(data)
    i, j = c.int(0, len(lines) - 1), c.int(0, len(lines) - 1)
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def m_swap_sections(c: Chooser, data: bytes) -> bytes:
    """Reorder sections: blocks that start at a header-looking line (`#`, `<`, `Linux`, `{`) or a blank line."""
    lines = _lines(data)
    starts = [0] + [
        i for i, l in enumerate(lines) if i and (not l.strip() or l[:1] in (b"#", b"<", b"{") or l.startswith(b"Linux"))
    ]
    blocks = [lines[a:b] for a, b in zip(starts, starts[1:] + [len(lines)])]
    if len(blocks) < 2:
        return data
    i, j = c.int(0, len(blocks) - 1), c.int(0, len(blocks) - 1)
    blocks[i], blocks[j] = blocks[j], blocks[i]
    return b"\n".join(line for b in blocks for line in b)


def m_number(c: Chooser, data: bytes) -> bytes:
    spans = [m.span() for m in _DIGITS.finditer(data, 0, 200_000)]
    if not spans:
        return data
    a, b = spans[c.int(0, len(spans) - 1)]
    new = c.choice(NUMBERS) if c.int(0, 2) else str(c.int(-(2**70), 2**70)).encode()
    return data[:a] + new + data[b:]


def m_crlf(c: Chooser, data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def m_utf16(c: Chooser, data: bytes) -> bytes:
    return data.decode("utf-8", "replace").encode(c.choice(["utf-16", "utf-16-le", "utf-32"]))


def m_bom(c: Chooser, data: bytes) -> bytes:
    return b"\xef\xbb\xbf" + data


def m_empty(c: Chooser, data: bytes) -> bytes:
    return c.choice([b"", b"\n", b" ", b"\0", b"\xff\xfe"])


MUTATIONS = [
    m_truncate,
    m_flip,
    m_insert,
    m_nul,
    m_drop_line,
    m_dup_line,
    m_swap_lines,
    m_swap_sections,
    m_number,
    m_number,
    m_number,
    m_crlf,
    m_utf16,
    m_bom,
    m_empty,
]


def mutate(c: Chooser, seeds: list[Seed]) -> Seed:
    """A seed file and 0–4 mutations of it."""
    name, data = c.choice(seeds)
    for _ in range(c.int(0, 4)):
        data = c.choice(MUTATIONS)(c, data)
    return name, data


def mutated(seeds: list[Seed]) -> st.SearchStrategy[Seed]:
    """The hypothesis strategy: the same mutations, choices drawn by hypothesis."""
    return st.composite(lambda draw: mutate(DrawChooser(draw), seeds))()


# --- scratch files (readers take paths) ----------------------------------------------------------

_SCRATCH: Path | None = None


def scratch(name: str, data: bytes) -> Path:
    """`data` as a file of this name in a private directory (on /dev/shm when there is one)."""
    global _SCRATCH
    if _SCRATCH is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        _SCRATCH = Path(tempfile.mkdtemp(prefix="memreport-fuzz-", dir=base))
    p = _SCRATCH / name
    p.write_bytes(data)
    return p


def text_of(name: str, data: bytes) -> str:
    """The text a bundle reader would see (bundle.read_text: decompress, refuse binary, decode)."""
    return bundle.read_text(scratch(Path(name).name, data))


# --- targets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    what: str
    seeds: Callable[[], list[Seed]]
    run: Callable[[str, bytes], object]
    allowed: tuple[type[BaseException], ...] = (ParseError, bundle.Unreadable, MemreportError)


def _files(*globs: str, base: Path = FIX) -> list[Seed]:
    out = []
    for g in globs:
        for p in sorted(base.glob(g)):
            if p.is_file():
                out.append((str(p.relative_to(base)), p.read_bytes()))
    return out


# procfs: snapshot_row as every bundle reader uses it (meminfo, vmstat, PSI, swaps: one of them mutated),
# KSM files, /proc/<pid>/status and cmdline, the page-size inference.

KERNELS = ["linux-6.18", "rhel6-2.6.32", "rhel7-3.10", "rhel8-4.18", "rhel9-5.14", "fakeroot"]
_PROC = {"proc/meminfo": "meminfo", "proc/vmstat": "vmstat", "proc/pressure/memory": "psi", "proc/swaps": "swaps"}


@cache
def procfs_seeds() -> list[Seed]:
    out = []
    for k in KERNELS:
        out += _files(*(f"{k}/{rel}" for rel in _PROC), f"{k}/sys/kernel/mm/ksm/*")
    return out


@cache
def _kernel_files(kernel: str) -> dict[str, tuple[str, str]]:
    return {what: (rel, (FIX / kernel / rel).read_text()) for rel, what in _PROC.items() if (FIX / kernel / rel).is_file()}


def run_procfs(name: str, data: bytes) -> object:
    kernel, _, rel = name.partition("/")
    text = text_of(name, data)
    log: list[LogEntry] = []
    if "/ksm/" in rel:
        return bundle.snapshot_row({}, {rel.rsplit("/", 1)[1]: text}, datetime(2026, 11, 26, tzinfo=UTC), 4096, log)
    files = dict(_kernel_files(kernel))
    files[_PROC[rel]] = (rel, text)
    snap = bundle.snapshot_row(files, {}, datetime(2026, 11, 26, tzinfo=UTC), None, log)
    return [infer(snap.meminfo, snap.vmstat) for infer in page_size_inference()]


def page_size_inference() -> list[Callable[[Any, Any], object]]:
    """Every meminfo/vmstat page-size inference the package has."""
    from memreport.ingest import procfs

    out: list[Callable[[Any, Any], object]] = []
    if hasattr(bundle, "page_size_from"):
        out.append(bundle.page_size_from)
    if hasattr(procfs, "infer_page_size"):
        out.append(lambda m, v: procfs.infer_page_size(m or {}, v or {}))
    try:
        from memreport.ingest import pagesize  # type: ignore[attr-defined]

        out.append(pagesize.infer_from_pair)
    except ImportError:
        pass
    return out


# Per-process files of a snapshot tree: /proc/<pid>/{status,stat,cmdline,ksm_stat,ksm_merging_pages},
# ps listings, cgroup files; each through the parser its name calls for, and the one proc_pid.sniff picks.


@cache
def proc_pid_seeds() -> list[Seed]:
    return _files("proc-pid-6.18/**/*", "fakeroot/proc/[0-9]*/*")


def _pid_parsers(kind: str) -> Callable[[bytes], object] | None:
    text: Callable[[bytes], str] = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return {
        "status": lambda b: proc_pid.parse_pid_status(text(b)),
        "stat": lambda b: proc_pid.parse_pid_stat(text(b)),
        "ksm_stat": lambda b: proc_pid.parse_ksm_stat(text(b)),
        "ksm_merging_pages": lambda b: proc_pid.parse_count(text(b)),
        "cmdline": lambda b: parse_qemu_argv(parse_cmdline(b)),
        "ps": lambda b: proc_pid.parse_ps(text(b)),
        "cgroup_value": lambda b: proc_pid.parse_cgroup_value(text(b)),
        "cgroup_stat": lambda b: proc_pid.cgroup_anon_file(proc_pid.parse_cgroup_memory_stat(text(b))),
        "command_lines": lambda b: proc_pid.parse_command_lines(text(b)),
    }.get(kind)


def run_proc_pid(name: str, data: bytes) -> object:
    base = name.rsplit("/", 1)[-1]
    by_name = (
        "ps"
        if "/ps/" in name
        else "cgroup_stat"
        if base == "memory.stat"
        else "cgroup_value"
        if proc_pid.cgroup_value_file(base)
        else base
    )
    out = []
    for kind in dict.fromkeys([by_name, proc_pid.sniff(base, data) or ""]):
        parser = _pid_parsers(kind)
        if parser is not None:
            try:
                out.append(parser(data))
            except ParseError:
                pass
    return out


# sysstat: real sadf -x/-j/-d and sar text (three locales) of a real sa file, plus the bundles' sar
# text; each file as bundle.load_sar reads it, then sadf.to_samples (the sar, sosreport and supportconfig readers).


@cache
def _sysstat_outputs() -> dict[str, bytes]:
    import realtools

    d = Path(tempfile.mkdtemp(prefix="memreport-fuzz-sa-"))
    sa = realtools.make_sa(d, samples=3)
    mem = ["-r", "ALL", "-S", "-W", "-B", "-q", "MEM"]
    out = {
        "sa26.xml": realtools.sadf(sa, "-x", *mem).encode(),
        "sa26.json": realtools.sadf(sa, "-j", *mem).encode(),
        "sa26.csv": realtools.sadf(sa, "-d", *mem).encode(),
    }
    for loc in ("C", "en_US", "de_DE"):
        out[f"sar26.{loc}"] = realtools.sar(sa, loc, *mem).encode()
    return out


@cache
def sadf_seeds() -> list[Seed]:
    return [(n, b) for n, b in _sysstat_outputs().items() if n.startswith("sa26.")]


@cache
def sar_seeds() -> list[Seed]:
    return [(n, b) for n, b in _sysstat_outputs().items() if n.startswith("sar26.")] + _files(
        "bundles/*/sos_commands/sar/sar*", "bundles/scc_*/sar/sar*"
    )


_CONVERTED: set[object] = set()  # conversions are pure functions of the parse: run once per distinct parse


def _once(key: object, convert: Callable[[], object]) -> object:
    if key in _CONVERTED:
        return None
    if len(_CONVERTED) > 200_000:
        _CONVERTED.clear()
    result = convert()  # an exception is not remembered: the same parse raises it again next time
    _CONVERTED.add(key)
    return result


def run_sar(name: str, data: bytes) -> object:
    """What bundle.load_sar does with one file (detect, read, parse), then sadf.to_samples."""
    p = scratch("sa26" if name.startswith("sa26") else "sar26", data)
    fmt = sadf.detect(bundle.head(p))
    if fmt is None or fmt == "sa":
        return None
    parsed = sadf.parse_any(bundle.read_text(p), fmt)
    key = (
        "sar",
        tuple((t, tuple(sorted(v.items()))) for t, v in sorted(parsed.rows.items())),
        tuple(sorted(parsed.intervals.items())),
    )
    return _once(key, lambda: sadf.to_samples(parsed, 4096))


# vmstat: real procps output of several option sets (and the supportconfig's), parsed and placed as vmstat.read does.


@cache
def vmstat_seeds() -> list[Seed]:
    import realtools

    out = [
        (f"vmstat {' '.join(a)}", realtools.vmstat(*a).encode())
        for a in (["1", "2"], ["-a", "-t", "1", "2"], ["-w", "-S", "M", "1", "2"])
    ]
    out.append(("vmstat -t (de_DE)", realtools.vmstat("-t", "1", "2", locale="de_DE").encode()))
    for s in supportconfig.parse_sections((FIX / "bundles/scc_kvm02_261126_1200/memory.txt").read_text()):
        if s.what.split()[:1] and s.what.split()[0].endswith("vmstat"):
            out.append((f"supportconfig {s.what}", f"{s.what}\n{s.body}".encode()))
    return out


def run_vmstat(name: str, data: bytes) -> object:
    """What vmstat.read does with the text (parse, then samples placed by the file time)."""
    parsed = vmstat.parse_vmstat_output(text_of("vmstat.txt", data))
    key = (
        "vmstat",
        tuple((r.unit, r.interval, tuple(r.columns), r.zone, tuple((t, tuple(f)) for t, f in r.rows)) for r in parsed.runs),
    )
    return _once(key, lambda: vmstat.to_samples(parsed, datetime(2026, 11, 26, tzinfo=UTC), None, [], name))


# virsh / libvirt: domain XML, dominfo, dommemstat, ps output with qemu command lines.


@cache
def virsh_seeds() -> list[Seed]:
    out = _files(
        "bundles/*/etc/libvirt/qemu/*.xml",
        "bundles/*/run/libvirt/qemu/*.xml",
        "bundles/*/sos_commands/process/ps_auxwww",
        "bundles/*/sos_commands/virsh/virsh_-r_dominfo_*",
        "bundles/*/sos_commands/virsh/virsh_-r_dumpxml_*",
        "bundles/sosreport-libvirt-tcg/proc/*/numa_maps",
    )
    for f in ("virt.txt", "basic-health-check.txt"):
        for s in supportconfig.parse_sections((FIX / "bundles/scc_kvm02_261126_1200" / f).read_text(), f):
            out.append((f"{f}: {s.what}", s.body.encode()))
    out.append(
        (
            "dommemstat",
            b"actual 4194304\nswap_in 0\nswap_out 0\nmajor_fault 2270\nminor_fault 187410\n"
            b"unused 3646744\navailable 4029580\nusable 3712940\nlast_update 1764194627\nrss 1125448\n",
        )
    )
    out.append(
        ("memtune", b"hard_limit     : 524288\nsoft_limit     : 458752\nswap_hard_limit: 786432\nmin_guarantee  : unlimited\n")
    )
    return out


def run_virsh(name: str, data: bytes) -> object:
    text = text_of("virsh.txt", data)
    if name.endswith(".xml") or "<domain" in text[:200]:
        return virsh.parse_domain_xml(text)
    if name.endswith("numa_maps"):
        return virsh.parse_numa_maps_hugetlb(text)
    if "memtune" in name:
        return virsh.parse_memtune(text)
    if "ps" in name:
        return virsh.parse_ps_qemu(text)
    if "dommemstat" in name:
        return virsh.parse_dommemstat(text)
    return virsh.parse_dominfo(text)


# supportconfig: the section splitter and, for each section, the parser the reader gives it.


@cache
def supportconfig_seeds() -> list[Seed]:
    return _files("bundles/scc_*/*.txt")


def run_supportconfig(name: str, data: bytes) -> object:
    text = text_of(Path(name).name, data)
    log: list[LogEntry] = []
    proc: dict[str, tuple[str, str]] = {}
    for s in supportconfig.parse_sections(text, Path(name).name):
        what, cmd = s.what, s.what.split()
        prog = cmd[0].rsplit("/", 1)[-1] if cmd else ""
        if what in ("/proc/meminfo", "/proc/vmstat", "/proc/swaps", "/proc/pressure/memory"):
            proc[
                {"/proc/meminfo": "meminfo", "/proc/vmstat": "vmstat", "/proc/swaps": "swaps", "/proc/pressure/memory": "psi"}[
                    what
                ]
            ] = (f"{name}:{s.line}", s.body)
        elif prog == "free":
            bundle.parse_free(s.body)
        elif prog == "sysctl":
            bundle.parse_sysctl(s.body)
        elif prog == "date":
            bundle.parse_date_output(s.body)
        elif prog == "vmstat":
            data_ = vmstat.parse_vmstat_output(s.body)
            try:
                vmstat.to_samples(data_, datetime(2026, 11, 26, tzinfo=UTC), None, log, name)
            except ParseError:
                pass
        elif prog == "ps":
            virsh.parse_ps_qemu(s.body)
        elif what.endswith(".xml") or (prog == "virsh" and "dominfo" in cmd):
            try:
                virsh.parse_domain_xml(s.body) if what.endswith(".xml") else virsh.parse_dominfo(s.body)
            except ParseError:
                pass
    if proc:
        bundle.snapshot_row(proc, {}, datetime(2026, 11, 26, tzinfo=UTC), None, log)
    return proc


# sosreport: the text files its reader parses (date, free, ps, uname, sar: the rest are procfs/virsh).


@cache
def sosreport_seeds() -> list[Seed]:
    return _files(
        "bundles/sosreport-*/sos_commands/general/*",
        "bundles/sosreport-*/sos_commands/memory/free",
        "bundles/sosreport-*/sos_commands/process/ps_auxwww",
        "bundles/sosreport-*/version.txt",
    )


def run_sosreport(name: str, data: bytes) -> object:
    text = text_of(Path(name).name, data)
    if name.endswith("/date"):
        return bundle.parse_date_output(text)
    if name.endswith("/free"):
        return bundle.parse_free(text)
    if name.endswith("ps_auxwww"):
        return virsh.parse_ps_qemu(text)
    return bundle.parse_sysctl(text)


# The capture's TSV streams (a real collector's capture): streams.parse_stream with the capture's
# column types, and facts.txt.


@cache
def capture_seeds() -> list[Seed]:
    """The real capture's streams, cut to their first 40 records (a day of them is slow to mutate 100,000 times)."""
    return [
        (n, b"".join(d.splitlines(keepends=True)[:41]))
        for n, d in _files("real-capture/*.tsv", "real-capture/facts.txt", base=ROOT / "sample_data")
    ]


def run_capture(name: str, data: bytes) -> object:
    if name.endswith("facts.txt"):
        return capture.parse_facts(data.decode("utf-8", "replace"))
    return streams.parse_stream(data, Path(name), capture._type_of)


# Archives: the bundles packed as tar (plain, gz, xz, bz2, zst), the tar or the compressed bytes
# mutated, unpacked by archive.extracted (the safety rules: traversal, links, devices, bombs).


def _tar(top: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(top, arcname=top.name)
    return buf.getvalue()


def _compress(kind: str, data: bytes) -> bytes:
    import bz2
    import gzip
    import lzma

    import zstandard

    if kind == "gz":
        return gzip.compress(data, mtime=0)
    if kind == "xz":
        return lzma.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "zst":
        return zstandard.ZstdCompressor().compress(data)
    return data


@cache
def archive_seeds() -> list[Seed]:
    out = []
    for top in sorted((FIX / "bundles").iterdir()):
        raw = _tar(top)
        out.append((f"{top.name}.tar", raw))
        # Every compression for the small supportconfig; the sosreport (more members, slower to unpack) as .tar.xz.
        for kind in ("gz", "xz", "bz2", "zst") if top.name.startswith("scc_") else ("xz",):
            out.append((f"{top.name}.tar.{kind}", _compress(kind, raw)))
    return out


def run_archive(name: str, data: bytes) -> object:
    p = scratch(name.rsplit("/", 1)[-1], data)
    with archive.extracted(p, archive.ArchiveLimits(max_total_bytes=64 * 1024**2, max_members=20_000)) as root:
        return sum(1 for _ in root.rglob("*"))


TARGETS = {
    t.name: t
    for t in [
        Target(
            "procfs", "meminfo, vmstat, PSI, swaps, KSM, pid status/cmdline → snapshot row, page size", procfs_seeds, run_procfs
        ),
        Target(
            "proc_pid", "/proc/<pid> status, stat, cmdline, ksm_stat; ps listings; cgroup files", proc_pid_seeds, run_proc_pid
        ),
        Target("sadf", "sadf -x / -j / -d → parse → to_samples", sadf_seeds, run_sar),
        Target("sar", "sar text (C, en_US, de_DE, bundles) → parse → to_samples", sar_seeds, run_sar),
        Target("vmstat", "vmstat output → parse → to_samples", vmstat_seeds, run_vmstat),
        Target(
            "virsh",
            "libvirt XML (config and live domstatus), dominfo, dommemstat, memtune, numa_maps, ps qemu lines",
            virsh_seeds,
            run_virsh,
        ),
        Target("supportconfig", "section splitter → each section's parser", supportconfig_seeds, run_supportconfig),
        Target("sosreport", "date, free, ps, uname/version text", sosreport_seeds, run_sosreport),
        Target("capture", "capture TSV streams (parse_stream) and facts.txt", capture_seeds, run_capture),
        Target("archive", "tar / tar.gz / .xz / .bz2 / .zst → archive.extracted", archive_seeds, run_archive),
    ]
}


def check(target: Target, case: Seed) -> BaseException | None:
    """Run one case: None when it passed, else the exception that should not have escaped."""
    try:
        target.run(*case)
    except target.allowed:
        return None
    except Exception as e:  # noqa: BLE001 - that is what the property is about
        return e
    return None
