"""The host's page size: one decision for every input kind, from the evidence the input holds.

Page counts (/proc/vmstat pswpin/pswpout, KSM pages, sar's pswpin/s) become bytes with the page
size of the host that counted them. The evidence, strongest first:

1. `--page-size` (the user knows; not an assumption);
2. what the input states: facts.txt `page_size` (memsnap), `getconf PAGESIZE` output in a bundle,
   a `pagesize` file in a snapshot tree, or a kernel release built for large pages (`…+64k`, `-64k`);
3. an architecture that has only one page size (x86_64, i686, s390x, 32-bit arm, riscv64), from the
   sar header (`_x86_64_`), `uname -m`/`uname -a`, /proc/cpuinfo or the kernel release (`.el9.x86_64`);
4. the page size that makes /proc/meminfo (kB) and /proc/vmstat (pages) of one instant agree;
5. else the usual size of the architecture (aarch64 4 KiB, ppc64le 64 KiB, loongarch64 16 KiB) or
   4 KiB when nothing is known: an **assumption**, named in the log (`assumed_page_size`), in the
   host's facts (`assumptions`), the report's coverage section and report.json.

Several inputs of one host (a sar CSV and a sosreport) may decide differently; `reconcile` keeps
the strongest decision for the host and converts the other inputs' page-derived columns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from memreport.ingest.schema import KSM_PAGE_FILES, ksm_column
from memreport.model import HostData, LogEntry

MIN_PAGE, MAX_PAGE = 4096, 256 * 1024

# How a size was decided, strongest first (HostFacts.page_size_source).
OPTION, STATED, ARCHITECTURE, INFERRED, ASSUMED = "option", "stated", "architecture", "inferred", "assumed"
_STRENGTH = {OPTION: 0, STATED: 1, ARCHITECTURE: 2, INFERRED: 3, ASSUMED: 4}
ASSUMPTION_PREFIX = "page size assumed"

_ALIASES = {
    "amd64": "x86_64",
    "x86-64": "x86_64",
    "x64": "x86_64",
    "i386": "i686",
    "i486": "i686",
    "i586": "i686",
    "x86": "i686",
    "arm64": "aarch64",
    "ppc64el": "ppc64le",
    "powerpc64le": "ppc64le",
    "powerpc64": "ppc64",
    "armhf": "arm",
    "armel": "arm",
    "armv7l": "arm",
    "armv6l": "arm",
    "armv5tel": "arm",
    "armv7": "arm",
}
# Architectures whose Linux kernel has one page size only.
ONE_SIZE = {"x86_64": 4096, "i686": 4096, "s390x": 4096, "s390": 4096, "arm": 4096, "riscv64": 4096}
# Configurable architectures: the size their mainstream distribution kernels use.
USUAL = {
    "aarch64": (4096, "16 or 64 KiB (RHEL 8 and kernel-64k use 64 KiB)"),
    "ppc64le": (65536, "4 KiB"),
    "ppc64": (65536, "4 KiB"),
    "loongarch64": (16384, "4 or 64 KiB"),
    "mips64": (4096, "16 or 64 KiB"),
}
KNOWN_ARCHES = set(ONE_SIZE) | set(USUAL)


def normalise_arch(name: str | None) -> str | None:
    """`amd64` → `x86_64`, `arm64` → `aarch64`; None for an empty name."""
    if not name or not name.strip():
        return None
    n = name.strip().lower()
    return _ALIASES.get(n, n)


def arch_from_uname(text: str) -> str | None:
    """The machine in `uname -m` / `uname -a` output (a known architecture among its words)."""
    for word in text.split():
        arch = normalise_arch(word)
        if arch in KNOWN_ARCHES:
            return arch
    return None


_RELEASE_ARCH = re.compile(r"\.(x86_64|i686|aarch64|ppc64le|ppc64|s390x|riscv64)(?:\+\w+)?$")
_RELEASE_PAGES = re.compile(r"[+-](4|16|64)k$")


def arch_from_kernel_release(release: str | None) -> str | None:
    """RHEL-style releases end in the architecture: `5.14.0-427.el9.aarch64+64k` → `aarch64`."""
    m = _RELEASE_ARCH.search(release or "")
    return m.group(1) if m else None


def page_size_from_kernel_release(release: str | None) -> int | None:
    """Kernels built for large pages say so: RHEL's `…aarch64+64k`, Ubuntu's `…-generic-64k`."""
    m = _RELEASE_PAGES.search(release or "")
    return int(m.group(1)) * 1024 if m else None


def arch_from_cpuinfo(text: str) -> str | None:
    """The architecture /proc/cpuinfo describes (its keys differ per architecture)."""
    keys: dict[str, str] = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            keys.setdefault(k.strip().lower(), v.strip())
    if "flags" in keys and "vendor_id" in keys:  # x86: `lm` = long mode, a 64-bit CPU
        return "x86_64" if " lm " in f" {keys['flags']} " else "i686"
    if keys.get("vendor_id", "").startswith("IBM/S390"):
        return "s390x"
    if "cpu implementer" in keys or "features" in keys:
        arch_v = keys.get("cpu architecture", "")
        features = f" {keys.get('features', '')} "
        return "aarch64" if " asimd " in features or arch_v.strip() == "8" and " neon " not in features else "arm"
    if keys.get("cpu", "").upper().startswith("POWER") or keys.get("platform", "") in ("PowerNV", "pSeries"):
        return "ppc64le"
    if keys.get("isa", "").startswith("rv64"):
        return "riscv64"
    return None


# meminfo (bytes) and vmstat (pages) pairs that count the same pages. MemFree/nr_free_pages is not
# among them: kernel 6.18 counts nr_free_pages differently (a real 6.18 snapshot gave 4x apart).
PAGE_PAIRS = (
    ("mem_Active_anon", "vmstat_nr_active_anon"),
    ("mem_Inactive_anon", "vmstat_nr_inactive_anon"),
    ("mem_Active_file", "vmstat_nr_active_file"),
    ("mem_Inactive_file", "vmstat_nr_inactive_file"),
    ("mem_AnonPages", "vmstat_nr_anon_pages"),
    ("mem_Mapped", "vmstat_nr_mapped"),
)
MIN_PAGES = 64  # smaller counters move too much between reading meminfo and vmstat to vote


def infer_from_pair(mem: dict[str, int] | None, vm: dict[str, int] | None) -> int | None:
    """The page size that makes meminfo and vmstat of one instant agree: every pair whose ratio is
    within 2 % of a power of two (4 KiB … 256 KiB) votes, and a strict majority decides. None when
    nothing votes or the votes disagree (then nothing is converted with this guess)."""
    if not mem or not vm:
        return None
    votes: dict[int, int] = {}
    for m_key, v_key in PAGE_PAIRS:
        b, pages = mem.get(m_key), vm.get(v_key)
        if b and pages and pages >= MIN_PAGES:
            ratio = b / pages
            if not MIN_PAGE * 0.98 <= ratio <= MAX_PAGE * 1.02:  # also keeps log2 off a negative or tiny ratio (a corrupt value)
                continue
            size = 1 << round(math.log2(ratio))
            if MIN_PAGE <= size <= MAX_PAGE and abs(ratio / size - 1) <= 0.02:
                votes[size] = votes.get(size, 0) + 1
    if not votes:
        return None
    size, n = max(votes.items(), key=lambda kv: kv[1])
    return size if n * 2 > sum(votes.values()) else None


def _kib(size: int) -> str:
    return f"{size // 1024} KiB"


def _valid(size: int | None) -> bool:
    return size is not None and MIN_PAGE <= size <= MAX_PAGE and size & (size - 1) == 0


@dataclass(frozen=True)
class PageSize:
    size: int  # bytes
    source: str  # option | stated | architecture | inferred | assumed
    detail: str  # the log sentence
    assumption: str | None = None  # the sentence for the report when source == assumed

    @property
    def assumed(self) -> bool:
        return self.source == ASSUMED

    def log(self, file: str | None = None) -> list[LogEntry]:
        if self.assumed:
            return [LogEntry("warn", "assumed_page_size", self.detail, file=file)]
        event = "inferred" if self.source == INFERRED else "page_size"
        return [LogEntry("info", event, self.detail, file=file)]


def decide(
    *,
    override: int | None = None,
    stated: int | None = None,
    stated_from: str = "the input",
    arch: str | None = None,
    arch_from: str = "the input",
    kernel: str | None = None,
    meminfo: dict[str, int] | None = None,
    vmstat: dict[str, int] | None = None,
    pair_from: str = "meminfo / vmstat",
) -> tuple[PageSize, list[LogEntry]]:
    """The page size from the evidence one input holds (module docstring), and what to log."""
    notes: list[LogEntry] = []
    if override is not None:
        return PageSize(override, OPTION, f"page size {override} from --page-size"), notes
    if stated is not None and not _valid(stated):
        notes.append(LogEntry("warn", "bad_value", f"page size {stated} from {stated_from} is not a page size: ignored"))
        stated = None
    if stated is not None:
        return PageSize(stated, STATED, f"page size {stated} from {stated_from}"), notes
    large = page_size_from_kernel_release(kernel)
    if large is not None:
        return PageSize(large, STATED, f"page size {large} from the kernel release {kernel!r} (a large-page build)"), notes
    arch = normalise_arch(arch)
    if arch is None:
        arch = arch_from_kernel_release(kernel)
        arch_from = f"the kernel release {kernel}"
    if arch in ONE_SIZE:
        size = ONE_SIZE[arch]
        return PageSize(size, ARCHITECTURE, f"page size {size}: {arch} (from {arch_from}) has only {_kib(size)} pages"), notes
    pair = infer_from_pair(meminfo, vmstat)
    if pair is not None:
        return PageSize(pair, INFERRED, f"page size {pair} inferred from {pair_from} page counts"), notes
    hint = "; pass --page-size if the host used another"
    if arch in USUAL:
        size, others = USUAL[arch]
        sentence = f"{ASSUMPTION_PREFIX} {_kib(size)}: the usual size on {arch}, which can also run {others}{hint}"
    elif arch is not None:
        size = 4096
        sentence = f"{ASSUMPTION_PREFIX} {_kib(size)}: the page sizes of {arch} are not known to memreport{hint}"
    else:
        size = 4096
        sentence = f"{ASSUMPTION_PREFIX} {_kib(size)}: no evidence in the input{hint}"
    return PageSize(size, ASSUMED, sentence, sentence), notes


# --- several inputs of one host ------------------------------------------------------------------

# Sample columns a reader converted from pages with its own page size: sar's pswpin/s and pswpout/s
# (rows of source `sar` only: vmstat's si/so are KiB) and the KSM page counts.
SAR_PAGE_RATES = ("swapin_Bps", "swapout_Bps")
KSM_BYTES = tuple(ksm_column(f) for f in sorted(KSM_PAGE_FILES))


def strength(source: str | None) -> int:
    return _STRENGTH.get(source or "", len(_STRENGTH))


def rescale(data: HostData, factor: float) -> None:
    """Convert data's page-derived columns to another page size (factor = new ÷ old), in place."""
    samples = data.samples
    if isinstance(samples, pa.Table):
        samples = samples.to_pandas()
    samples = samples.copy()
    sar = samples["source"].eq("sar").to_numpy() if "source" in samples else np.zeros(len(samples), dtype=bool)
    for col in SAR_PAGE_RATES:
        if col in samples:
            v = pd.to_numeric(samples[col], errors="coerce").astype("float64")
            samples[col] = v.where(~sar, v * factor)
    for col in KSM_BYTES:
        if col in samples:
            samples[col] = (pd.to_numeric(samples[col], errors="coerce") * factor).round().astype("Int64")
    data.samples = samples
    if data.vms is not None and "ksm_merged_bytes" in data.vms:
        vms = data.vms.copy()
        vms["ksm_merged_bytes"] = (vms["ksm_merged_bytes"].astype("Float64") * factor).round().astype("Int64")
        data.vms = vms
    if data.vm_digest is not None:
        data.vm_digest.rescale_ksm(factor)


def reconcile(parts: list[HostData]) -> tuple[HostData | None, list[LogEntry]]:
    """One page size for the inputs of one host: the strongest decision wins (the first input on a
    tie); inputs that decided another size have their page-derived columns converted. Returns the
    input whose decision won (None when no input has page counts) and what to log."""
    decided = [p for p in parts if p.facts.page_size]
    if not decided:
        return None, []
    best = min(decided, key=lambda p: strength(p.facts.page_size_source))
    size, source = best.facts.page_size, best.facts.page_size_source
    assert size is not None
    log: list[LogEntry] = []
    for p in decided:
        if p.facts.page_size == size:
            continue
        old = p.facts.page_size
        assert old is not None
        conflict = strength(p.facts.page_size_source) == strength(source) and source != ASSUMED
        rescale(p, size / old)
        inputs = ", ".join(sorted({c.input for c in p.contributions})) or "an input"
        log.append(
            LogEntry(
                "warn" if conflict else "info",
                "page_size",
                f"{inputs}: page size {old} ({p.facts.page_size_source}) replaced by {size} ({source}) from another input "
                "of this host; its page-derived values converted",
                host=p.facts.host,
            )
        )
    return best, log


def is_page_assumption(sentence: str) -> bool:
    return sentence.startswith(ASSUMPTION_PREFIX)
