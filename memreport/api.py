"""The Python API: what every memreport command does, as calls a notebook, the fleet and tests make
too (docs/API.md documents each call and result field with its unit).

    import memreport
    hosts = memreport.load(["sosreport.tar.xz", "sa26"])          # list[Host], nothing written
    memreport.ingest(["captures/"], "store/")                      # the Parquet store
    result = memreport.analyze(hosts[0], memreport.Thresholds(vm_size="4GiB"))
    result.answer, result.findings, result.verdict, result.to_json()
    memreport.write_report(result, "out/kvm01/", pdf=True)
    memreport.run_fleet(["bundles/"], "fleet/", workers=2)

Errors are exceptions (memreport.errors: InputError, ConfigError, OutputError …) whose str() is one
line; nothing here prints or exits. pandas, pyarrow and weasyprint are imported by the calls that
need them, not by importing this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from memreport.config import Thresholds, load_thresholds
from memreport.errors import InputError, MemreportError

if TYPE_CHECKING:
    from memreport.analyze import Analysis, Answer
    from memreport.analyze.what_if import Change
    from memreport.fleet import FleetResult, Progress as FleetProgress
    from memreport.ingest.options import IngestOptions
    from memreport.ingest.run import IngestResult
    from memreport.model import Finding, HostData, Severity

PathLike = str | os.PathLike[str]
# (what, done, total): the input being read, inputs done (fractions within an input), inputs in all.
Progress = Callable[[str, float, int], None]
# Called with what was read, before a store is written or an error raised: warnings, skipped inputs.
OnRead = Callable[["IngestResult"], None]
Columns = Literal["all", "report"]  # which sample columns read()/load() keep


@dataclass(frozen=True)
class Result:
    """One host analysed: its data and every check's outcome (docs/API.md, "Result")."""

    data: HostData  # the host's samples, VMs, facts and ingest log (docs/STORE.md)
    analysis: Analysis  # every check's detailed result (memreport.analyze.Analysis)

    @property
    def host(self) -> str:
        return self.analysis.host

    @property
    def answer(self) -> Answer:
        """The bottom line: swap to add, thrash, VMs that fit, KSM, confidence (report.json `answer`)."""
        return self.analysis.answer

    @property
    def findings(self) -> list[Finding]:
        """Every finding, most severe first."""
        return self.analysis.findings

    @property
    def verdict(self) -> Severity:
        """The most severe finding's severity: OK, WARN or CRIT (OK when there is none)."""
        return self.analysis.verdict

    @property
    def thresholds(self) -> Thresholds:
        return self.analysis.thresholds

    @property
    def nothing_known(self) -> bool:
        """None of swap, thrash, VM fit and KSM could be answered from the data (`analyze` exit 3)."""
        return bool(self.analysis.answer.nothing_known)

    def to_json(self) -> dict[str, Any]:
        """report.json as a dict of plain JSON values (docs/REPORT-JSON.md)."""
        from memreport.analyze.report_json import build

        return build(self.analysis)

    def summary_lines(self) -> list[str]:
        """The terminal summary `memreport analyze` prints."""
        from memreport.analyze import summary_lines

        return summary_lines(self.analysis)


def ingest_options(page_size: str | int | None = None, start: str | None = None, end: str | None = None) -> IngestOptions:
    """What inputs cannot tell themselves (docs/INPUTS.md): page size (bytes or `64KiB`), and when vmstat
    output without times started and ended (ISO times). ConfigError on a bad value."""
    from memreport.ingest.options import make

    return make(None if page_size is None else str(page_size), start, end)


def _paths(inputs: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    return [Path(p) for p in inputs]


def _no_host_error(result: IngestResult) -> MemreportError:
    if len(result.failed) == 1:
        return result.failed[0]
    if result.failed:
        return InputError(
            f"{len(result.failed)} inputs",
            "none could be read (each is listed above or in the error's log)",
            log=[e for f in result.failed for e in f.log],
        )
    return InputError("-", "no input given")


def read(
    inputs: PathLike | Sequence[PathLike],
    page_size: str | int | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    host: str | None = None,
    progress: Progress | None = None,
    on_read: OnRead | None = None,
    columns: Columns = "all",
) -> IngestResult:
    """Read inputs in memory, one Host per machine, with the ingest log and the inputs that failed
    (memreport.ingest.run.IngestResult). A single store is read back instead. InputError when no
    input gave a host; an input that fails while others are read is in `failed`, not raised.
    `columns="report"` keeps only the sample columns analyze() reads (a long input's memory)."""
    import dataclasses

    from memreport.ingest import store
    from memreport.ingest.run import IngestResult, load as read_inputs

    paths = _paths(inputs)
    opts = ingest_options(page_size, start, end)
    wanted = None
    if columns == "report":
        from memreport.analyze.columns import REPORT_SAMPLE_COLUMNS

        wanted = REPORT_SAMPLE_COLUMNS
        opts = dataclasses.replace(opts, sample_columns=wanted)
    if len(paths) == 1 and store.is_store(paths[0]) and not host:
        hosts = [store.read_host(paths[0], h, sample_columns=wanted) for h in store.list_hosts(paths[0])]
        result = IngestResult(hosts=hosts, summaries=[], log=[e for h in hosts for e in h.log])
    else:
        result = read_inputs(paths, progress, opts, host)
    if on_read is not None:
        on_read(result)
    if not result.hosts:
        raise _no_host_error(result)
    return result


def load(
    inputs: PathLike | Sequence[PathLike],
    page_size: str | int | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    host: str | None = None,
    progress: Progress | None = None,
    on_read: OnRead | None = None,
    columns: Columns = "all",
) -> list[HostData]:
    """The hosts of these inputs (or of one store), ready for analyze(); nothing is written.

    `page_size` overrides what memreport infers; `host` names inputs that give no host name. Inputs
    that fail while others are read are skipped (pass `on_read` to see them, or use read()).
    `columns="report"`: only the sample columns analyze() reads are kept (far less memory for a long
    input; the answers are the same); "all" keeps every column."""
    from memreport.ingest import store

    result = read(inputs, page_size, start=start, end=end, host=host, progress=progress, on_read=on_read, columns=columns)
    return [store.frame(h) for h in result.hosts]


def ingest(
    inputs: PathLike | Sequence[PathLike],
    store: PathLike,
    page_size: str | int | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    host: str | None = None,
    progress: Progress | None = None,
    on_read: OnRead | None = None,
) -> IngestResult:
    """Read inputs into the Parquet store `store` (docs/STORE.md), replacing it atomically. A second
    writer of the same store fails at once, before reading (OutputError)."""
    from memreport.atomic import WriterLock

    with WriterLock(Path(store), "memreport ingest"):
        from memreport.ingest.run import write

        result = read(inputs, page_size, start=start, end=end, host=host, progress=progress, on_read=on_read)
        write(result, Path(store))
    return result


def what_if(
    add_vms: Sequence[str] = (), remove_vms: Sequence[str] = (), swap: str | None = None, ksm: Literal["on", "off"] | None = None
) -> Change:
    """A change to analyse as if made: add_vms `["4x8GiB", "2x16GiB:hugepages"]`, VMs removed by
    name, swap resized (`32GiB`), KSM off (docs/CHECKS.md). WhatIfError on a bad value."""
    from memreport.analyze.what_if import parse_change

    return parse_change(list(add_vms), list(remove_vms), swap, ksm)


def analyze(host: HostData, thresholds: Thresholds | None = None, *, change: Change | None = None) -> Result:
    """Every check on one host; with `change` (what_if()), also as if it were made (analysis.what_if)."""
    from memreport.analyze import analyze as run_checks

    return Result(host, run_checks(host, thresholds or Thresholds(), change))


def write_report(result: Result, outdir: PathLike, *, pdf: bool = True, eml: bool = False) -> dict[str, Path]:
    """report.html, report.json (and report.pdf, report.eml) of one host in `outdir`, created if
    needed and replaced as one set. Returns {"html": path, "json": path, "pdf": path, "eml": path}."""
    from memreport.render.report import write_report as render

    outdir = Path(outdir)
    written = render(result.data, outdir, result.thresholds, analysis=result.analysis, pdf=pdf)
    if eml:
        from memreport.mail import write_eml

        written["eml"] = write_eml(outdir)
    return written


def report_dir(outdir: PathLike, host: str) -> Path:
    """Where `memreport report -o OUTDIR` puts a host's report: OUTDIR/<directory name of host>
    (memreport.host_dirs: safe, bounded and distinct for distinct names)."""
    from memreport.host_dirs import host_dir_name

    return Path(outdir) / host_dir_name(host)


def run_fleet(
    inputs: PathLike | Sequence[PathLike],
    outdir: PathLike,
    *,
    workers: int | None = None,
    thresholds: Thresholds | None = None,
    page_size: str | int | None = None,
    start: str | None = None,
    end: str | None = None,
    progress: FleetProgress | None = None,
    **options: Any,
) -> FleetResult:
    """What `memreport fleet` does: every input in parallel (`workers` processes, default the usable cores: memreport.cpus),
    hosts merged across inputs, OUTDIR/store/, hosts/<host>/, fleet.{json,html,pdf} (docs/FLEET.md).
    Other keyword arguments are fields of memreport.fleet.FleetOptions (pdf, force, scheduler, ingest …)."""
    from memreport.fleet import FleetOptions, run_fleet as run

    t = thresholds or Thresholds()
    ingest = options.pop("ingest", None) or ingest_options(page_size, start, end)
    opts = FleetOptions(jobs=workers, thresholds=t, vm_size_bytes=t.oom_new_vm_bytes, ingest=ingest, **options)
    return run([str(p) for p in _paths(inputs)], Path(outdir), opts, progress)


Collector = Literal["sh", "py"]
COLLECTORS: dict[str, str] = {"sh": "memsnap.sh", "py": "memsnap.py"}


def collector(kind: Collector) -> str:
    """The text of a collector script: `sh` (POSIX sh) or `py` (stdlib Python 3.6+), to copy to a host."""
    from memreport.resources import collector_path

    if kind not in COLLECTORS:
        raise MemreportError(f"collector {kind!r}: one of {', '.join(COLLECTORS)}")
    return collector_path(COLLECTORS[kind]).read_text(encoding="utf-8")


def thresholds(config: PathLike | None = None, overrides: Sequence[str] = ()) -> Thresholds:
    """Thresholds from a TOML file and `key=value` overrides, as --config and --set give them."""
    return load_thresholds(Path(config) if config is not None else None, list(overrides))


__all__ = [
    "COLLECTORS",
    "Result",
    "Thresholds",
    "analyze",
    "collector",
    "ingest",
    "ingest_options",
    "load",
    "read",
    "report_dir",
    "run_fleet",
    "thresholds",
    "what_if",
    "write_report",
]
