"""Ingest many inputs into one store: read each, merge per host, finalise, write atomically."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from memreport.errors import InputError
from memreport.ingest import hosts, sources, store
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.model import HostData, LogEntry

# (what, done, total): inputs done of all, and within the current input its files done of all.
Progress = Callable[[str, float, int], None]


@dataclass
class HostSummary:
    host: str
    samples: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None


@dataclass
class IngestResult:
    hosts: list[HostData]
    summaries: list[HostSummary]
    failed: list[InputError] = field(default_factory=list)  # inputs that could not be read at all
    log: list[LogEntry] = field(default_factory=list)  # every log entry, all hosts
    orphan_log: list[LogEntry] = field(default_factory=list)  # entries of inputs that gave no host

    @property
    def skipped(self) -> int:
        return sum(e.count for e in self.log if e.level != "info" and e.event not in ("missing_source",))

    @property
    def warnings(self) -> list[LogEntry]:
        return [e for e in self.log if e.level in ("warn", "error")]


def _file_step(progress: Progress, path: str, i: int, n: int) -> Callable[[int, int], None]:
    """The bar moves within input i as its files are read (done of total files)."""

    def step(done: int, total: int) -> None:
        progress(path, i + done / total, n)

    return step


def load(
    inputs: Sequence[Path], progress: Progress | None = None, opts: IngestOptions = DEFAULT, host: str | None = None
) -> IngestResult:
    """Read and finalise every input, one host per machine (hosts.py). One bad input is recorded
    and the others go on. `host` (--host) names the inputs that give no host name."""
    parts: list[hosts.Part] = []
    failed: list[InputError] = []
    orphan: list[LogEntry] = []
    for i, path in enumerate(inputs):
        if progress:
            progress(str(path), i, len(inputs))
            token = sources.FILE_PROGRESS.set(_file_step(progress, str(path), i, len(inputs)))
        try:
            parts += hosts.read(Path(path), opts)
        except InputError as e:
            failed.append(e)
            orphan.extend(e.log)
            orphan.append(LogEntry("error", "skipped_input", e.reason, file=e.path, line=e.line, input=str(path)))
        finally:
            if progress:
                sources.FILE_PROGRESS.reset(token)
    if progress:
        progress("", len(inputs), len(inputs))
    orphan += hosts.name_unnamed(parts, host)
    groups, _ = hosts.group(parts)
    result = [hosts.combine([parts[i] for i in members], opts.sample_columns) for _, members in sorted(groups.items())]
    if opts.sample_columns is not None:  # finalised: what the ingest itself needed goes too
        from memreport.ingest import derive

        for h in result:
            h.samples = derive.keep_columns(derive.to_table(h.samples), opts.sample_columns, finalised=True)
    summaries = [
        HostSummary(
            h.facts.host,
            len(h.samples),
            pd.Timestamp(h.samples["ts"][0].as_py()) if len(h.samples) else None,  # type: ignore[union-attr]
            pd.Timestamp(h.samples["ts"][-1].as_py()) if len(h.samples) else None,  # type: ignore[union-attr]
        )
        for h in result
    ]
    log = orphan + [e for h in result for e in h.log]
    return IngestResult(hosts=result, summaries=summaries, failed=failed, log=log, orphan_log=orphan)


def write(result: IngestResult, target: Path) -> None:
    if not result.hosts:
        raise result.failed[0] if result.failed else InputError("-", "no input given")
    store.write_store(Path(target), result.hosts, result.orphan_log)


def ingest(
    inputs: Sequence[Path], target: Path, progress: Progress | None = None, opts: IngestOptions = DEFAULT, host: str | None = None
) -> IngestResult:
    result = load(inputs, progress, opts, host)
    write(result, target)
    return result
