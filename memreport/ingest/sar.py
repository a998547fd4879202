"""sar data on its own: one file or a directory of daily files, in any of sysstat's forms
(sadf -x XML, sadf -j JSON, sadf -d CSV, sar text in any locale, binary sa files through the
installed sadf). Files of one host merge into one series, one row per time (sysstat cannot merge
days itself). Parsing lives in sadf.py; this module finds files, groups hosts and reports.

sar never prints MemTotal, but kbmemused implies it: sar_memtotal.py recovers it to the kB where
sysstat's definition of kbmemused can be told from %memused. The page size for pswpin/s comes from
the architecture in the header (pagesize.py); `sadf -d` names none, so 4 KiB is assumed and said.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from memreport.errors import InputError
from memreport.ingest import bundle, pagesize, sadf
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.model import Contribution, HostData, HostFacts, LogEntry

KIND = "sar"


def _kind(path: Path) -> str | None:
    try:
        head = bundle.head(path)
    except (OSError, bundle.Unreadable):
        return None
    return sadf.detect(head)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return [p for p in sorted(path.iterdir()) if p.is_file() and not p.is_symlink()]
    return []


def sniff(path: Path) -> bool:
    return any(_kind(p) is not None for p in _files(path)[:200])


def read(path: Path, label: str, opts: IngestOptions = DEFAULT) -> list[HostData]:
    path = Path(path)
    log: list[LogEntry] = []
    files = [p for p in _files(path) if _kind(p) is not None]
    for p in _files(path):
        if p not in files:
            log.append(LogEntry("info", "skipped_file", "not sar data: skipped", file=str(p)))
    # Daily files of one day in two forms (sa26 and sar26): keep the better one.
    parts = bundle.load_sar(files, None, log, prefer_one_per_day=path.is_dir())
    if not parts:
        reasons = [e.detail for e in log if e.level == "warn"]
        raise InputError(label, reasons[0] if reasons else "no sar memory, swap or PSI data in it")
    by_host: dict[str, list[tuple[Path, sadf.SarData]]] = defaultdict(list)
    for p, d in parts:
        by_host[d.hostname or path.stem].append((p, d))
    out: list[HostData] = []
    for host, hp in sorted(by_host.items()):
        hlog = [
            e for e in log if e.file is None or any(str(p) == e.file for p, _ in hp) or e.file not in {str(q) for q, _ in parts}
        ]
        first = hp[0][1]
        with_arch = next(((p, d) for p, d in hp if d.arch), None)
        arch = with_arch[1].arch if with_arch else None
        page, notes = pagesize.decide(
            override=opts.page_size,
            arch=arch,
            arch_from=f"the sar header of {with_arch[0].name}" if with_arch else "",
            kernel=next((d.kernel for _, d in hp if d.kernel), None),
        )
        hlog += notes + page.log()
        assumptions = [page.assumption] if page.assumption else []
        local = [p for p, d in hp if not d.utc]
        for p in local:
            hlog.append(
                LogEntry(
                    "warn", "time_source", "sar text times are the host's local time and name no zone: UTC assumed", file=str(p)
                )
            )
        if local:
            assumptions.append("sar text times read as UTC: sar prints the host's local time and names no zone")
        samples = bundle.sar_frame(hp, page.size, hlog)
        facts = HostFacts(
            host=host,
            hostname=next((d.hostname for _, d in hp if d.hostname), None),
            kernel=first.kernel,
            page_size=page.size,
            page_size_source=page.source,
            cpus=next((d.cpus for _, d in hp if d.cpus), None),
            collector="sysstat",
            capture_format="sar",
            assumptions=assumptions,
            extra={"arch": arch} if arch else {},
        )
        if "interval_s" in samples and samples["interval_s"].notna().any():
            facts.interval_s = float(samples["interval_s"].median())
        fmts = "/".join(sorted({d.fmt for _, d in hp}))
        summary = f"sar history: {bundle.span_words(samples['ts'])} ({sadf.describe(set(samples.columns))}) from {len(hp)} file(s), {fmts}"
        contribs = [Contribution(label, KIND, summary)]
        if "psi_some_share" not in samples:
            contribs.append(Contribution(label, KIND, "PSI: not collected"))
        out.append(HostData(facts=facts, samples=samples, log=bundle.stamp(hlog, host, label), contributions=contribs))
    return out
