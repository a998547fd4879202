"""Typed records shared by ingest, analysis and rendering."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # runtime imports would load pandas (0.5 s) and numpy with every model import
    import pandas as pd

    from memreport.vm_digest import VmDigest


class Severity(enum.IntEnum):
    """Ordered so that max() gives a host's verdict; values are the `memreport analyze` exit codes."""

    OK = 0
    WARN = 1
    CRIT = 2

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class LogEntry:
    """One line of the ingest log: something skipped, repaired or noted, and why."""

    level: str  # "info" | "warn" | "error"
    event: str  # short machine-readable kind: torn_record, duplicate, reset, skipped_file, ...
    detail: str  # the human sentence
    file: str | None = None
    line: int | None = None
    count: int = 1
    host: str | None = None
    input: str | None = None


@dataclass
class HostFacts:
    """Facts about one host that do not change per sample. None = not known from the input."""

    host: str  # the name memreport reports it under (docs/INPUTS.md, "One host, many inputs")
    hostname: str | None = None  # the name the input gives; None when it gives none
    machine_id: str | None = None  # /etc/machine-id (32 hex digits) when the input has it
    kernel: str | None = None
    page_size: int | None = None  # bytes; None only for inputs without page counts (vmstat output)
    page_size_source: str | None = None  # option | stated | architecture | inferred | assumed (ingest/pagesize.py)
    clock_ticks: int | None = None
    cpus: int | None = None
    interval_s: float | None = None
    swappiness: int | None = None
    overcommit_memory: int | None = None
    overcommit_ratio: int | None = None
    collector: str | None = None
    collector_version: str | None = None
    capture_format: str | None = None
    time_base: str = "absolute"  # "relative": the input had no clock times (memreport/timebase.py)
    assumptions: list[str] = field(default_factory=list)  # sentences: what ingest assumed (page size, times)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Contribution:
    """What one input gave the store, for the report's coverage section."""

    input: str  # path as given
    kind: str  # capture | snapshot-tree | snapshot | sosreport | supportconfig | sar | vmstat
    summary: str  # e.g. "sar history: 7 days at 10 min (Inactive, swap rates)"


@dataclass
class HostData:
    """Everything one input (or several merged) says about one host, in store units.

    `samples` has a `ts` column (datetime64[ms, UTC]) and the store's sample columns (docs/STORE.md);
    columns a source does not have are simply absent (the store fills them with null).
    """

    facts: HostFacts
    samples: pd.DataFrame
    vms: pd.DataFrame | None = None
    swaps: pd.DataFrame | None = None
    virsh: pd.DataFrame | None = None
    hugepages: pd.DataFrame | None = None  # hugepage pools per sample (store table `hugepages`)
    numa: pd.DataFrame | None = None  # per NUMA node meminfo per sample (store table `numa`)
    # The per-VM rows reduced as they were read (a report of a capture: `vms` is then None). The
    # checks read this, or a digest of `vms` made when they run.
    vm_digest: VmDigest | None = None
    log: list[LogEntry] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One result of a check: data, not HTML. Templates only lay it out."""

    id: str  # stable, e.g. "swap.deficit"
    check: str  # swap_sizing | active | thrash | oom | ksm | vms | coverage
    severity: Severity
    title: str  # one line, plain language
    detail: str  # the evidence in a sentence or two, with numbers and times
    recommendation: str
    evidence: dict[str, Any] = field(default_factory=dict)  # raw numbers (bytes, ISO times) for JSON
