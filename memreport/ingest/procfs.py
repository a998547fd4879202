"""Pure parsers for single /proc and /sys files: text in, typed values in store units out.

Used for snapshot trees, sosreports and supportconfigs (one copy of each file per snapshot). The
collector's streams have their own bulk parser (capture.py) because a week of samples needs speed.
Every parser raises ParseError(line, reason) on malformed input; the caller adds the file name.
"""

from __future__ import annotations

from dataclasses import dataclass

from memreport.ingest.schema import MEMINFO_COUNT_KEYS, ksm_column, meminfo_column, vmstat_column
from memreport.units import KIB, parse_qemu_mem_arg

# Store columns are int64: a value whose bytes do not fit (a corrupt file, a kernel counter printed
# unsigned after it went below zero) is out of range, not a number to store.
INT64_MAX = 2**63 - 1


class ParseError(ValueError):
    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(reason if line is None else f"line {line}: {reason}")


def _int(text: str, lineno: int, key: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ParseError(lineno, f"{key}: {text[:40]!r} is not a number") from None
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ParseError(lineno, f"{key}: {text[:40]} is out of range (above 64 bits)")
    return value


def _kib(text: str, lineno: int, key: str) -> int:
    value = _int(text, lineno, key) * KIB
    if not 0 <= value <= INT64_MAX:
        raise ParseError(lineno, f"{key}: {text[:40]} kB is {'negative' if value < 0 else 'too large'}")
    return value


def parse_meminfo(text: str, problems: list[ParseError] | None = None) -> dict[str, int]:
    """/proc/meminfo -> {store column: bytes}. Keys are split on the first ':' (values may follow
    with no space on some kernels); `HugePages_*` are counts, everything else is kB.

    A negative value or one whose bytes do not fit in 64 bits cannot be memory: it raises
    ParseError, or, when a `problems` list is given, goes there and the key is left out (null)."""
    out: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, rest = line.partition(":")
        if not sep:
            raise ParseError(lineno, f"{line[:40]!r} is not 'Key: value'")
        fields = rest.split()
        if not fields:
            raise ParseError(lineno, f"{key}: no value")
        try:
            value = int(fields[0])
        except ValueError:
            raise ParseError(lineno, f"{key}: {fields[0][:40]!r} is not a number") from None
        unit = fields[1].lower() if len(fields) > 1 else ""
        if key in MEMINFO_COUNT_KEYS or unit == "":
            scaled = value
        elif unit == "kb":
            scaled = value * KIB
        else:
            raise ParseError(lineno, f"{key}: unknown unit {fields[1]!r}")
        if not 0 <= scaled <= INT64_MAX:
            shown = " ".join(f[:40] for f in fields[:2])
            problem = ParseError(lineno, f"{key}: {shown} is " + ("negative" if scaled < 0 else "too large for 64 bits"))
            if problems is None:
                raise problem
            problems.append(problem)
            continue
        out[meminfo_column(key)] = scaled
    if "mem_MemTotal" not in out:
        raise ParseError(None, "no MemTotal: not a /proc/meminfo")
    return out


def parse_vmstat(text: str) -> dict[str, int]:
    """/proc/vmstat -> {vmstat_<key>: raw counter}."""
    out: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ParseError(lineno, f"{line[:40]!r} is not 'key value'")
        out[vmstat_column(fields[0])] = _int(fields[1], lineno, fields[0])
    if not out:
        raise ParseError(None, "empty: not a /proc/vmstat")
    return out


def parse_ksm_files(files: dict[str, str], page_size: int | None) -> tuple[dict[str, int], dict[str, str]]:
    """{file name: content} of /sys/kernel/mm/ksm -> (numeric columns in store units, text facts).

    Page counts become bytes with the host's page size; without a page size they are left out
    (null) rather than guessed. `advisor_mode` (`[none] scan-time`) is a choice, kept as text.
    """
    numbers: dict[str, int] = {}
    text: dict[str, str] = {}
    for name, content in sorted(files.items()):
        value = content.strip()
        try:
            n = int(value)
        except ValueError:
            text[f"ksm_{name}"] = value
            continue
        col = ksm_column(name)
        if col.endswith("_bytes"):
            if page_size:
                numbers[col] = n * page_size
        else:
            numbers[col] = n
    return numbers, text


def parse_psi(text: str) -> dict[str, float | int]:
    """/proc/pressure/memory -> psi_{some,full}_avg{10,60,300} (%) and psi_{some,full}_total_us."""
    out: dict[str, float | int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        kind = fields[0]
        if kind not in ("some", "full"):
            raise ParseError(lineno, f"{kind!r}: expected 'some' or 'full'")
        for item in fields[1:]:
            key, _, value = item.partition("=")
            try:
                if key == "total":
                    out[f"psi_{kind}_total_us"] = int(value)
                elif key in ("avg10", "avg60", "avg300"):
                    out[f"psi_{kind}_{key}"] = float(value)
            except ValueError:
                raise ParseError(lineno, f"{kind} {key}: {value!r} is not a number") from None
    return out


@dataclass(frozen=True)
class SwapDevice:
    filename: str
    type: str
    size_bytes: int
    used_bytes: int
    priority: int


def parse_swaps(text: str) -> list[SwapDevice]:
    """/proc/swaps (header line, then one device per line; sizes in kB)."""
    devices = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] == "Filename":
            continue
        if len(fields) < 5:
            raise ParseError(lineno, f"{line[:40]!r}: expected 5 fields")
        devices.append(
            SwapDevice(
                filename=fields[0].replace("\\040", " "),
                type=fields[1],
                size_bytes=_kib(fields[2], lineno, "Size"),
                used_bytes=_kib(fields[3], lineno, "Used"),
                priority=_int(fields[4], lineno, "Priority"),
            )
        )
    return devices


@dataclass(frozen=True)
class HugepagePool:
    node: int | None  # None: the host-wide pool
    page_size_bytes: int
    total_bytes: int | None
    free_bytes: int | None
    reserved_bytes: int | None  # host-wide only (no resv_hugepages per node)
    surplus_bytes: int | None


def hugepage_dir_size(name: str) -> int | None:
    """`hugepages-2048kB` -> 2 MiB in bytes; None when the name is not a pool directory."""
    if not (name.startswith("hugepages-") and name.endswith("kB")):
        return None
    body = name[len("hugepages-") : -2]
    return int(body) * KIB if body.isascii() and body.isdigit() else None


def parse_hugepage_pool(node: int | None, size_bytes: int, files: dict[str, str]) -> HugepagePool:
    """The files of one /sys/…/hugepages/hugepages-<size>kB directory ({name: content}) -> a pool in bytes.
    Counts are pages of that size (kernel docs, admin-guide/mm/hugetlbpage.rst); a file absent or not a
    number is null."""

    def pages(name: str) -> int | None:
        text = files.get(name)
        if text is None:
            return None
        try:
            return _int(text.strip(), 1, name) * size_bytes
        except ParseError:
            return None

    return HugepagePool(
        node=node,
        page_size_bytes=size_bytes,
        total_bytes=pages("nr_hugepages"),
        free_bytes=pages("free_hugepages"),
        reserved_bytes=pages("resv_hugepages"),
        surplus_bytes=pages("surplus_hugepages"),
    )


def parse_node_meminfo(text: str) -> tuple[int, dict[str, int]]:
    """/sys/devices/system/node/node<N>/meminfo (`Node 0 MemTotal:  6514424 kB`) -> (N, {key: bytes}),
    `HugePages_*` as counts, like /proc/meminfo."""
    node: int | None = None
    out: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        head, sep, rest = line.partition(":")
        words = head.split()
        if not sep or len(words) != 3 or words[0] != "Node" or not words[1].isdigit():
            raise ParseError(lineno, f"{line[:40]!r} is not 'Node N Key: value'")
        if node is None:
            node = int(words[1])
        fields = rest.split()
        if not fields:
            raise ParseError(lineno, f"{words[2]}: no value")
        key = words[2]
        out[key] = _int(fields[0], lineno, key) if key in MEMINFO_COUNT_KEYS else _kib(fields[0], lineno, key)
    if node is None or "MemTotal" not in out:
        raise ParseError(None, "no 'Node N MemTotal:' line: not a node meminfo")
    return node, out


@dataclass(frozen=True)
class QemuCmdline:
    name: str | None
    uuid: str | None
    allocated_bytes: int | None
    maxmem_bytes: int | None
    mem_arg: str | None
    backing: str | None = None  # anonymous | hugepages | file | memfd (qemu_backing); None only for an empty argv


def is_qemu(argv0: str) -> bool:
    base = argv0.rsplit("/", 1)[-1]
    return base.startswith("qemu-system-") or base in ("qemu-kvm", "kvm", "qemu")


def parse_qemu_argv(argv: list[str]) -> QemuCmdline:
    """A qemu command line (argv list) -> name, uuid and configured memory.

    `-name guest=web01,debug-threads=on` or `-name web01`; `-m 512` (MiB), `-m 4G`,
    `-m size=4G,slots=4,maxmem=8G`; qemu's default when `-m` is absent is 128 MiB, but we report
    it as unknown rather than guess.
    """
    name = uuid = mem_arg = None
    for i, arg in enumerate(argv[:-1]):
        nxt = argv[i + 1]
        if arg in ("-name", "--name"):
            opts = qemu_options(nxt)
            name = opts[0][6:] if opts[0].startswith("guest=") else opts[0]
            for part in opts[1:]:
                if part.startswith("guest="):
                    name = part[6:]
        elif arg in ("-uuid", "--uuid"):
            uuid = nxt
        elif arg in ("-m", "--m"):
            mem_arg = nxt
    size, maxmem = parse_qemu_mem_arg(mem_arg) if mem_arg else (None, None)
    return QemuCmdline(
        name=name,
        uuid=uuid,
        allocated_bytes=size,
        maxmem_bytes=maxmem,
        mem_arg=mem_arg,
        backing=qemu_backing(argv) if argv else None,
    )


# Where a guest's RAM comes from, in libvirt's words (<memoryBacking><source type=…/>, formatdomain.html):
# anonymous (ordinary process memory, swappable), hugepages (the hugetlb pool, never swapped), file (a
# memory-backend-file off hugetlbfs) or memfd (memory-backend-memfd: shmem, swappable).
BACKING_ANONYMOUS = "anonymous"
BACKING_HUGEPAGES = "hugepages"
BACKING_FILE = "file"
BACKING_MEMFD = "memfd"
BACKINGS = (BACKING_ANONYMOUS, BACKING_HUGEPAGES, BACKING_FILE, BACKING_MEMFD)
# Where hugetlbfs is mounted by convention (systemd's dev-hugepages.mount; libvirt's hugetlbfs_mount
# default and its /dev/hugepages1G for 1 GiB pages): a qemu cmdline names a path, never a filesystem.
_HUGETLBFS = ("/dev/hugepages", "/mnt/huge", "/hugepages")


def backing_args(argv: list[str]) -> list[str]:
    """The memory-backing part of a qemu argv: `-mem-path P` and each `-object memory-backend-*`,
    as flag/value pairs. What the collectors store in vmdefs' mem_backend (docs/FORMAT.md)."""
    out: list[str] = []
    for i, arg in enumerate(argv[:-1]):
        nxt = argv[i + 1]
        if arg in ("-mem-path", "--mem-path"):
            out += [arg, nxt]
        elif arg in ("-object", "--object") and "memory-backend" in nxt:
            out += [arg, nxt]
    return out


def _is_hugetlbfs(path: str) -> bool:
    return any(path == m or path.startswith(m) for m in _HUGETLBFS)


def _backend(value: str) -> dict[str, str]:
    """A `-object` value: libvirt ≥ 6.x writes JSON (`{"qom-type":"memory-backend-file",…}`), older ones
    and people write `memory-backend-file,id=ram0,mem-path=/dev/hugepages`."""
    if value.lstrip().startswith("{"):
        import json

        try:
            obj = json.loads(value)
        except ValueError:
            return {}
        return (
            {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in obj.items()} if isinstance(obj, dict) else {}
        )
    parts = qemu_options(value)
    out = {"qom-type": parts[0]} if parts and "=" not in parts[0] else {}
    for part in parts:
        key, eq, v = part.partition("=")
        if eq:
            out[key] = v
    return out


def qemu_backing(argv: list[str]) -> str:
    """How a guest's RAM is backed: `hugepages` when it comes from the hugetlb pool (qemu's legacy
    `-mem-path` on hugetlbfs, `memory-backend-file` with mem-path on hugetlbfs, `memory-backend-memfd`
    with hugetlb=on), `file` (another mem-path), `memfd` (memory-backend-memfd), else `anonymous`
    (memory-backend-ram or no backend: ordinary process memory). Kernel docs, hugetlbpage.rst: hugetlb
    pages are reserved apart and never swapped. Hugepages anywhere win: the guest RAM is in the pool."""
    args = backing_args(argv)
    kinds: list[str] = []
    for flag, value in zip(args[::2], args[1::2]):
        if flag.endswith("mem-path"):
            kinds.append(BACKING_HUGEPAGES if _is_hugetlbfs(value) else BACKING_FILE)
        elif flag.endswith("object"):
            obj = _backend(value)
            kind = obj.get("qom-type", "")
            if kind == "memory-backend-memfd":
                kinds.append(BACKING_HUGEPAGES if obj.get("hugetlb") in ("on", "true", "yes") else BACKING_MEMFD)
            elif kind == "memory-backend-file":
                kinds.append(BACKING_HUGEPAGES if _is_hugetlbfs(obj.get("mem-path", "")) else BACKING_FILE)
    for kind in (BACKING_HUGEPAGES, BACKING_MEMFD, BACKING_FILE):
        if kind in kinds:
            return kind
    return BACKING_ANONYMOUS


def split_backing_field(text: str | None) -> list[str]:
    """vmdefs' mem_backend field (space-separated, spaces inside a value written `\\040`) -> argv pairs."""
    if not text or text == "-":
        return []
    return [a.replace("\\040", " ") for a in text.split(" ")]


def qemu_options(value: str) -> list[str]:
    """A qemu option value split at its commas; `,,` is a literal comma (libvirt escapes a domain
    name `a,b` as `guest=a,,b`)."""
    return [part.replace("\0", ",") for part in value.replace(",,", "\0").split(",")]


def parse_cmdline(raw: bytes) -> list[str]:
    """/proc/<pid>/cmdline: NUL-separated argv."""
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
