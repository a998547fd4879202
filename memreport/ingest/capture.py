"""Reader for memsnap captures (docs/FORMAT.md): a directory or bundle of per-day stream files."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from memreport.errors import InputError
from memreport.ingest import (
    capture_libvirt,
    derive,
    hosts,
    pagesize,
    procfs,
    release_freed_memory,
    schema,
    sources,
    threads as ingest_threads,
)
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.ingest.streams import StreamResult, StreamTooLarge, parse_stream, read_bytes
from memreport.model import Contribution, HostData, HostFacts, LogEntry
from memreport.units import KIB, parse_qemu_mem_arg
from memreport.vm_digest import VmDigest

KIND = "capture"
SUPPORTED_FORMATS = {"1"}
_STREAM = re.compile(r"^(?P<source>[a-z]+)\.(?P<day>\d{8})\.tsv(?P<gz>\.gz)?$")
SOURCES = ("clock", "meminfo", "vmstat", "ksm", "psi", "swaps", "vms", "vmdefs", "virsh", "domxml", "hugepages", "numa")
_STRING_COLS = {"boot_id", "filename", "type", "name", "uuid", "mem_arg", "cmd", "mem_backend", "domain", "key", "value", "xml"}
_FLOAT_COLS = {"ts", "uptime"} | {f"{k}_avg{n}" for k in ("some", "full") for n in (10, 60, 300)}
# A stream is of the kind its name says only if its header has these (guards against a copied-in
# file of the wrong kind).
_REQUIRED = {
    "meminfo": ("ts", "MemTotal"),
    "vmstat": ("ts", "nr_free_pages"),
    "clock": ("ts", "boot_id", "uptime"),
    "swaps": ("ts", "filename", "size_kb", "used_kb"),
    "vms": ("ts", "pid", "rss_kb", "swap_kb"),
    "vmdefs": ("ts", "pid", "name", "mem_arg"),
    "virsh": ("ts", "domain", "key", "value"),
    "domxml": ("ts", "domain", "xml"),
    "hugepages": ("ts", "node", "size_kb", "nr_hugepages", "free_hugepages"),
    "numa": ("ts", "node", "MemTotal"),
    "psi": ("ts",),
    "ksm": ("ts",),
}


def _type_of(col: str) -> pa.DataType:
    if col in _STRING_COLS:
        return pa.string()
    if col in _FLOAT_COLS:
        return pa.float64()
    return pa.int64()


def sniff(path: Path) -> bool:
    if not path.is_dir():
        return False
    if (path / "facts.txt").is_file():
        return True
    return any(_STREAM.match(p.name) for p in path.iterdir())


def parse_facts(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _int_or_none(v: str | None) -> int | None:
    try:
        return int(v) if v not in (None, "", "-") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _facts(raw: dict[str, str], root: Path) -> HostFacts:
    host = raw.get("hostname") or root.name
    known = {
        "hostname",
        "machine_id",
        "kernel",
        "page_size",
        "clock_ticks",
        "cpus",
        "interval",
        "vm.swappiness",
        "vm.overcommit_memory",
        "vm.overcommit_ratio",
        "collector",
        "collector_version",
        "format",
    }
    interval = raw.get("interval")
    try:
        interval_s = float(interval) if interval else None
    except ValueError:
        interval_s = None
    return HostFacts(
        host=host,
        hostname=raw.get("hostname"),
        machine_id=hosts.parse_machine_id(raw.get("machine_id")),  # collectors >= 1.1.0 (not `-`)
        kernel=raw.get("kernel"),
        page_size=_int_or_none(raw.get("page_size")),
        clock_ticks=_int_or_none(raw.get("clock_ticks")),
        cpus=_int_or_none(raw.get("cpus")),
        interval_s=interval_s,
        swappiness=_int_or_none(raw.get("vm.swappiness")),
        overcommit_memory=_int_or_none(raw.get("vm.overcommit_memory")),
        overcommit_ratio=_int_or_none(raw.get("vm.overcommit_ratio")),
        collector=raw.get("collector"),
        collector_version=raw.get("collector_version"),
        capture_format=raw.get("format"),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def _stream_files(root: Path, log: list[LogEntry]) -> dict[str, list[Path]]:
    """Files per source in day order; when a day exists both plain and gzip'd, the plain one wins
    (the gzip was cut short before its rename, or the rename and the delete raced)."""
    by_source: dict[str, dict[str, Path]] = {}
    for p in sorted(root.iterdir()):
        m = _STREAM.match(p.name)
        if not m:
            if p.is_file() and p.name not in ("facts.txt", "collector.log") and not p.name.endswith(".tmp"):
                log.append(LogEntry("info", "skipped_file", "not a capture stream: ignored", file=str(p)))
            continue
        days = by_source.setdefault(m["source"], {})
        if m["day"] in days and not m["gz"]:
            log.append(
                LogEntry("info", "skipped_file", "a plain copy of this day exists: the .gz is ignored", file=str(days[m["day"]]))
            )
        if m["day"] not in days or not m["gz"]:
            days[m["day"]] = p
    for source in by_source:
        if source not in SOURCES:
            log.append(LogEntry("info", "skipped_file", f"unknown stream {source!r} (newer collector?): ignored", file=str(root)))
    return {s: [days[d] for d in sorted(days)] for s, days in by_source.items() if s in SOURCES}


def _size(f: Path) -> int:
    """On-disk bytes (a gzip'd day counts ≈ 1/20 of its text, and is read first among its peers)."""
    try:
        return f.stat().st_size * (20 if f.name.endswith(".gz") else 1)
    except OSError:
        return 0


# How a raw key becomes a store column, per one-row-per-sample stream (to drop unwanted ones per file).
_WIDE = {
    "meminfo": schema.meminfo_column,
    "vmstat": schema.vmstat_column,
    "ksm": lambda k: k if k == "ksmd_ticks" else schema.ksm_column(k),
    "psi": lambda k: f"psi_{k}_us" if k.endswith("_total") else f"psi_{k}",
}


def _read_file(source: str, f: Path, wanted: frozenset[str] | None = None) -> StreamResult:
    try:
        data = read_bytes(f)
    except StreamTooLarge as e:
        return StreamResult(None, [LogEntry("warn", "too_large", f"{e}: skipped", file=str(f))])
    except (OSError, EOFError, ValueError) as e:  # isal raises ValueError/EOFError on a damaged gzip
        return StreamResult(None, [LogEntry("warn", "skipped_file", f"unreadable ({e}): skipped", file=str(f))])
    res = parse_stream(data, f, _type_of, _REQUIRED.get(source, ("ts",)))
    if res.table is not None and source in _KIB_COLUMNS:
        res.table = _null_impossible(res.table, _KIB_COLUMNS[source], res.log, str(f))
    if res.table is not None and source == "meminfo":
        res.table = _meminfo_bytes(res.table)  # here, a day at a time: no second copy of every column later
    if res.table is not None and wanted is not None and source in _WIDE:
        # Dropped per file, after every value was checked: the log is the same as a full ingest's.
        store_name = _WIDE[source]
        keep = [
            c for c in res.table.column_names if c == "ts" or store_name(c) in wanted or store_name(c) in derive.INGEST_COLUMNS
        ]
        res.table = res.table.select(keep)
    elif res.table is not None and wanted is not None and source == "vms" and "ksm_profit" in res.table.column_names:
        res.table = res.table.drop_columns(["ksm_profit"])  # no check reads it: 8 bytes of every per-VM row
    return res


def _meminfo_bytes(t: pa.Table) -> pa.Table:
    """meminfo's kB columns in bytes (counts such as HugePages_Total stay counts)."""
    for i, name in enumerate(t.column_names):
        if name != "ts" and name not in schema.MEMINFO_COUNT_KEYS and pa.types.is_integer(t.column(i).type):
            t = t.set_column(i, name, pc.multiply(t.column(i).cast(pa.int64()), pa.scalar(KIB, pa.int64())))
    return t


# Columns that are sizes: never negative, and in kB (x 1024 at ingest) unless listed as counts.
_KIB_COLUMNS: dict[str, Callable[[str], int | None]] = {
    "meminfo": lambda c: None if c == "ts" else (1 if c in schema.MEMINFO_COUNT_KEYS else KIB),
    "vms": lambda c: {"rss_kb": KIB, "swap_kb": KIB, "ksm_merging_pages": 1, "hugetlb_kb": KIB}.get(c),
    "swaps": lambda c: {"size_kb": KIB, "used_kb": KIB}.get(c),
    "hugepages": lambda c: None if c in ("ts", "node") else (KIB if c == "size_kb" else 1),
    "numa": lambda c: None if c in ("ts", "node") else (1 if c in schema.MEMINFO_COUNT_KEYS else KIB),
}
_INT64_MAX = 2**63 - 1


def _null_impossible(t: pa.Table, factor_of: Callable[[str], int | None], log: list[LogEntry], where: str) -> pa.Table:
    """A negative size, or one whose bytes overflow 64 bits, cannot be real (a corrupt file, a
    counter printed unsigned after it went below zero): null, one log entry per column."""
    for i, name in enumerate(t.column_names):
        factor = factor_of(name)
        col = t.column(i)
        if factor is None or not pa.types.is_integer(col.type):
            continue
        bad = pc.or_(pc.less(col, 0), pc.greater(col, _INT64_MAX // factor))
        n = pc.sum(bad).as_py() or 0
        if not n:
            continue
        first = pc.filter(col, bad)[0].as_py()
        when = pc.filter(t.column("ts"), bad)[0].as_py()
        at = "" if when is None else f" at {pd.Timestamp(when, unit='s', tz='UTC'):%Y-%m-%d %H:%M:%S} UTC"
        why = "negative" if first < 0 else "too large for 64 bits in bytes"
        log.append(
            LogEntry(
                "warn",
                "bad_value",
                f"{name}: {n} impossible value(s), the first {first} ({why}){at}: left null",
                file=where,
                count=int(n),
            )
        )
        t = t.set_column(i, name, pc.if_else(bad, pa.scalar(None, col.type), col))
    return t


def _merge_results(results: list[StreamResult]) -> StreamResult:
    out = StreamResult(table=None)
    tables = []
    for r in results:
        out.log.extend(r.log)
        out.rows_read += r.rows_read
        out.rows_skipped += r.rows_skipped
        if r.table is not None and r.table.num_rows:
            tables.append(r.table)
    if tables:
        out.table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    return out


_MULTI_ROW = {"swaps", "vms", "vmdefs", "virsh", "domxml", "hugepages", "numa"}  # several rows share one sample's ts


def _in_time_order(
    t: pa.Table, multi_row: bool, log: list[LogEntry] | None, where: str, floor: float = -np.inf
) -> tuple[pa.Table, int]:
    """Rows are written as sampled, so file order is time order unless the clock misbehaved. A row
    repeating the previous sample's ts is a `duplicate`; a ts below one already seen means the
    clock stepped back (NTP, a hand-set clock): the rows that fall in time already covered are
    dropped (one series cannot hold two values at one time) and logged as a `clock_step`, never as
    reboots; the rest are kept. Returns the kept rows and how many were dropped. floor: the latest ts
    of the files before this one (a file read on its own, as a report reads the vms days)."""
    ts = t.column("ts").to_numpy(zero_copy_only=False)
    if (len(ts) < 2 or (np.diff(ts) > 0).all()) and not (len(ts) and ts[0] < floor):
        return t, 0
    before = np.fmax(np.concatenate(([-np.inf], np.fmax.accumulate(ts)[:-1])), floor)
    drop = ts < before if multi_row else ts <= before
    if not drop.any():
        return t, 0
    if log is not None:
        prev = np.concatenate(([np.nan], ts[:-1]))
        repeat = drop & (ts == prev)
        stepped = drop & ~repeat
        if repeat.any():
            n = int(repeat.sum())
            first = pd.Timestamp(ts[repeat][0], unit="s", tz="UTC")
            log.append(
                LogEntry(
                    "warn",
                    "duplicate",
                    f"{n} sample(s) repeated the timestamp of the one before "
                    f"(the first at {first:%Y-%m-%d %H:%M:%S} UTC): the later one dropped",
                    file=where,
                    count=n,
                )
            )
        if stepped.any():
            starts = np.flatnonzero(np.diff(ts) < 0) + 1
            step = pd.Series(np.diff(ts)).pipe(lambda d: d[d > 0].median())
            back = float(ts[starts[0] - 1] - ts[starts[0]] + (step if step == step else 0.0))
            at = pd.Timestamp(ts[starts[0] - 1], unit="s", tz="UTC")
            n = int(stepped.sum())
            more = f" ({len(starts)} steps in all)" if len(starts) > 1 else ""
            log.append(
                LogEntry(
                    "warn",
                    "clock_step",
                    f"the clock stepped back about {back:.0f} s after "
                    f"{at:%Y-%m-%d %H:%M:%S} UTC{more}: {n} sample(s) falling in time already "
                    "covered were dropped, the rest kept; no rate spans the step",
                    file=where,
                    count=n,
                )
            )
    return t.filter(pa.array(~drop)), int(drop.sum())


def _ts(t: pa.Table) -> np.ndarray:
    """Epoch seconds (float) -> datetime64[ms] (rounded: float seconds carry binary noise)."""
    sec = t.column("ts").to_numpy(zero_copy_only=False)
    return np.round(sec * 1000.0).astype("int64").astype("datetime64[ms]")


def _stream_columns(t: pa.Table, rename: dict[str, str], scale: dict[str, int]) -> tuple[np.ndarray, dict[str, pa.ChunkedArray]]:
    """A one-row-per-sample stream: (ts in ms, {store column: values in store units})."""
    ts = _ts(t).astype("int64")
    cols = {}
    for name in t.column_names:
        if name == "ts":
            continue
        arr = t.column(name)
        factor = scale.get(name)
        if factor is not None:
            arr = pc.multiply(arr.cast(pa.int64()), pa.scalar(factor, pa.int64()))
        cols[rename.get(name, name)] = arr
    return ts, cols


def _assemble(streams: list[tuple[np.ndarray, dict[str, pa.ChunkedArray]]]) -> pa.Table:
    """Join the per-source streams on ts into one frame.

    Every stream of one sample carries the same ts, so in the usual case the ts arrays are equal
    and the columns are simply placed side by side (no join: a week of samples stays fast). When
    they differ (a collector killed mid-sample, a stream missing a day) an outer join on ts
    aligns them, with nulls where a stream had no row.
    """
    base_ts = streams[0][0]
    if all(len(ts) == len(base_ts) and np.array_equal(ts, base_ts) for ts, _ in streams[1:]) and (
        len(base_ts) < 2 or (np.diff(base_ts) > 0).all()
    ):
        cols: dict[str, pa.ChunkedArray] = {}
        for _, c in streams:
            cols.update(c)
        return pa.table({"ts": pa.array(base_ts.astype("datetime64[ms]"), type=schema.TS), **cols})
    frames = []
    for ts, c in streams:
        frame = pa.table(c).to_pandas()
        frame.index = pd.DatetimeIndex(ts.astype("datetime64[ms]"), tz="UTC", name="ts")
        frames.append(frame[~frame.index.duplicated(keep="first")])
    joined = pd.concat(frames, axis=1, join="outer", sort=True)
    return pa.Table.from_pandas(joined.reset_index(), preserve_index=False)


def read(path: Path, label: str, opts: IngestOptions = DEFAULT) -> list[HostData]:
    root = Path(path)
    log: list[LogEntry] = []
    raw_facts: dict[str, str] = {}
    facts_file = root / "facts.txt"
    if facts_file.is_file():
        try:
            raw_facts = parse_facts(facts_file.read_text(encoding="utf-8", errors="replace"))
        except OSError as e:
            raise InputError(facts_file, f"unreadable: {e}") from None
        fmt = raw_facts.get("format", "1")
        if fmt.split(".")[0] not in SUPPORTED_FORMATS:
            raise InputError(facts_file, f"capture format {fmt!r} is newer than this memreport understands (1)")
    else:
        log.append(
            LogEntry(
                "warn",
                "missing_source",
                "no facts.txt: host name from the directory, page size from other evidence",
                file=str(root),
            )
        )
    facts = _facts(raw_facts, root)
    files = _stream_files(root, log)
    if "meminfo" not in files:
        raise InputError(root, "capture has no meminfo stream (meminfo.YYYYMMDD.tsv)")

    # One task per file: decompression (isal) and parsing (pyarrow) release the GIL, so days and
    # sources are read in parallel on every core (or this fleet worker's share of them).
    # Largest files first: the week's seven vmstat days (2/3 of the work) then share the cores
    # instead of queueing behind the small streams and ending the read on one core.
    # A report reduces the vms days one by one as they are read (issue 17: a year of them is 15 M rows);
    # they are read after the other streams, which say how to read them (page size, names, libvirt).
    lean = opts.sample_columns is not None
    vm_days = files.get("vms", []) if lean else []
    jobs = [(source, f) for source, fs in files.items() if not (lean and source == "vms") for f in fs]
    order = sorted(range(len(jobs)), key=lambda i: -_size(jobs[i][1]))
    parsed: list[StreamResult] = [StreamResult(None)] * len(jobs)
    with ThreadPoolExecutor(max_workers=_readers()) as pool:
        futures = {pool.submit(_read_file, *jobs[i], opts.sample_columns): i for i in order}
        for done, fut in enumerate(as_completed(futures), 1):
            parsed[futures[fut]] = fut.result()
            sources.report_files(done, len(jobs) + len(vm_days))
    results = {
        source: _merge_results([r for (s2, _), r in zip(jobs, parsed) if s2 == source])
        for source in files
        if not (lean and source == "vms")
    }
    # The merged tables hold the same buffers; each is freed when its stream is done (the futures
    # would hold every day's table to the end).
    del parsed, futures, fut
    release_freed_memory()  # the days' parse buffers, freed in every thread's heap
    rows_skipped = 0
    for source, r in results.items():
        log.extend(r.log)
        rows_skipped += r.rows_skipped
        if r.table is not None:  # meminfo speaks for every stream of the sample: one log entry, not nine
            r.table, dropped = _in_time_order(r.table, source in _MULTI_ROW, log if source == "meminfo" else None, str(root))
            rows_skipped += dropped if source == "meminfo" else 0

    def table(source: str) -> pa.Table | None:
        r = results.get(source)
        return r.table if r and r.table is not None and r.table.num_rows else None

    mem_t = table("meminfo")
    if mem_t is None:
        raise InputError(root, "no readable meminfo sample in the capture", log=log)
    frames = []
    mem_rename = {k: schema.meminfo_column(k) for k in mem_t.column_names if k != "ts"}
    frames.append(_stream_columns(mem_t, mem_rename, {}))  # in bytes already (_read_file)
    vm_t = table("vmstat")
    if vm_t is not None:
        frames.append(_stream_columns(vm_t, {k: schema.vmstat_column(k) for k in vm_t.column_names}, {}))
    pair_mem, pair_vm = _first_pair(mem_t, vm_t) if vm_t is not None else (None, None)
    page, notes = pagesize.decide(
        override=opts.page_size,
        stated=facts.page_size,
        stated_from="facts.txt",
        kernel=facts.kernel,
        meminfo=pair_mem,
        vmstat=pair_vm,
        pair_from="the first meminfo / vmstat sample's",
    )
    facts.page_size, facts.page_size_source = page.size, page.source
    if page.assumption:
        facts.assumptions.append(page.assumption)
    log.extend(notes + page.log(str(root)))
    clock_t = table("clock")
    if clock_t is not None:
        frames.append(_stream_columns(clock_t, {"uptime": "uptime_s"}, {}))
    ksm_t = table("ksm")
    if ksm_t is not None:
        rename = {k: _WIDE["ksm"](k) for k in ksm_t.column_names}
        page_cols = [k for k in ksm_t.column_names if k in schema.KSM_PAGE_FILES]
        frames.append(_stream_columns(ksm_t, rename, {k: page.size for k in page_cols}))
    psi_t = table("psi")
    if psi_t is not None:
        frames.append(_stream_columns(psi_t, {k: _WIDE["psi"](k) for k in psi_t.column_names}, {}))
    samples = _assemble(frames)
    del frames
    for source in ("meminfo", "vmstat", "clock", "ksm", "psi"):  # their columns live on in samples; their ts go
        results.pop(source, None)
    del mem_t, vm_t, clock_t, ksm_t, psi_t
    if opts.sample_columns is not None:  # the page size is decided: its meminfo/vmstat pairs are not needed any more
        samples = samples.select([c for c in samples.column_names if c in opts.sample_columns or c in derive.FINALIZE_COLUMNS])
    # Each column in one buffer instead of one per day file, column by column, so that each column's
    # day chunks are freed as soon as it is done (samples must be the only reference), then the heap
    # they leave is given back. A year is 365 small chunks a column, scattered among the freed parse
    # buffers: held like that they keep hundreds of MB of heap resident (issue 17); one buffer a
    # column is mapped and unmapped whole.
    # A few weeks read whole (ingest, a fleet worker) keep their chunks: the copy would hold every
    # column twice while it is made (a fleet worker's peak on a 12-VM host-week: 561 MiB combined,
    # 469 MiB not), and the store's Parquet is written from chunks alike.
    combine = lean or samples.column(0).num_chunks > _COMBINE_ABOVE_CHUNKS
    combined = 0
    for i in range(samples.num_columns if combine else 0):
        if samples.column(i).num_chunks > 1:
            samples = samples.set_column(i, samples.field(i), samples.column(i).combine_chunks())
            combined += samples.column(i).nbytes
            if combined >= _TRIM_EVERY_BYTES:  # the freed days given back before more new buffers come on top
                release_freed_memory()
                combined = 0
    release_freed_memory()
    samples = samples.append_column(
        "source", pa.array(["capture"] * samples.num_rows, type=pa.string()).dictionary_encode().cast(pa.string())
    )
    for source in ("vmstat", "ksm", "psi", "vms"):
        if source not in files:
            why = {
                "vmstat": "no /proc/vmstat stream: no swap rates",
                "ksm": "KSM not collected (no /sys/kernel/mm/ksm on the host)",
                "psi": "PSI not collected (kernel < 4.20, or psi=0)",
                "vms": "no qemu processes seen: no per-VM data",
            }[source]
            log.append(LogEntry("info", "missing_source", why, file=str(root)))

    swaps = _swaps(table("swaps"), lean)
    virsh = _virsh(table("virsh"), log, str(root))
    hugepages = _hugepages(table("hugepages"))
    numa = _numa(table("numa"))
    digest = None
    if lean:
        vms = None
        domains = capture_libvirt.domains(table("domxml"), log, str(root)) if vm_days else None
        defs_t = table("vmdefs")
        results.clear()  # every stream is converted: a year's swaps rows (≈ 30 MB) go before the vms days come
        digest, skipped = _vm_digest(vm_days, defs_t, virsh, domains, log, str(root), facts.page_size, opts, len(jobs))
        rows_skipped += skipped
        release_freed_memory()
    else:
        vms = _vms(_take_table(results.pop("vms", None)), table("vmdefs"), log, str(root), facts.page_size)
        if vms is not None:
            # Without virsh or domain XML, libvirt's columns are left out, not a million nulls each: the
            # store writes them null all the same (store._table), and readers take an absent column as unknown.
            domains = capture_libvirt.domains(table("domxml"), log, str(root))
            vms = capture_libvirt.join(vms, virsh, domains, unknown_columns=False)
    log = [dataclasses.replace(e, host=e.host or facts.host, input=e.input or label) for e in log]
    n = samples.num_rows
    span = ""
    if n:
        first, last = pc.min(samples["ts"]).as_py(), pc.max(samples["ts"]).as_py()
        span = f" from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    every = f" every {facts.interval_s:g} s" if facts.interval_s else ""
    have = [s for s in ("meminfo", "vmstat", "ksm", "psi", "swaps", "vms", "virsh", "hugepages", "numa") if s in files]
    summary = f"memsnap capture: {n} samples{every}{span} ({', '.join(have)})"
    if rows_skipped:
        summary += f"; {rows_skipped} records skipped (see the ingest log)"
    return [
        HostData(
            facts=facts,
            samples=samples,
            vms=vms,
            vm_digest=digest,
            swaps=swaps,
            virsh=virsh,
            hugepages=hugepages,
            numa=numa,
            log=log,
            contributions=[Contribution(input=label, kind=KIND, summary=summary)],
        )
    ]


def _first_pair(mem: pa.Table, vm: pa.Table) -> tuple[dict[str, int] | None, dict[str, int] | None]:
    """meminfo (bytes: _read_file made them so) and vmstat of the first sample both streams have: page size evidence."""
    common = np.intersect1d(mem.column("ts").to_numpy(), vm.column("ts").to_numpy())
    if not len(common):
        return None, None
    mi = int(np.nonzero(mem.column("ts").to_numpy() == common[0])[0][0])
    vi = int(np.nonzero(vm.column("ts").to_numpy() == common[0])[0][0])
    mrow = {schema.meminfo_column(k): v for k, v in mem.slice(mi, 1).to_pylist()[0].items() if k != "ts" and isinstance(v, int)}
    vrow = {schema.vmstat_column(k): v for k, v in vm.slice(vi, 1).to_pylist()[0].items() if k != "ts" and isinstance(v, int)}
    return mrow, vrow


def _vms(
    vms_t: pa.Table | None,
    defs_t: pa.Table | None,
    log: list[LogEntry],
    where: str,
    page_size: int | None = None,
) -> pd.DataFrame | None:
    """Per-VM rows in bytes, with each VM's name and sizes: the store's vms table, with every value
    the capture has (ksm_profit_bytes too) and a null column for each it lacks. A report reduces the
    rows as it reads them instead (_vm_digest). Built column by column as a report's days are
    (_vm_rows), not through a whole-table pandas conversion and a copy per column: a 30-VM
    host-week's 1.8 M rows in 0.10 s instead of 0.18 s (issue 12); the same store (tables equal)."""
    if vms_t is None:
        return None
    defs = _vmdefs(defs_t, log, where) if defs_t is not None else None
    return _vm_rows({name: vms_t.column(name) for name in vms_t.column_names}, defs, page_size, log, where, whole=True)


def _vm_digest(
    days: list[Path],
    defs_t: pa.Table | None,
    virsh: pd.DataFrame | None,
    domains: pd.DataFrame | None,
    log: list[LogEntry],
    where: str,
    page_size: int | None,
    opts: IngestOptions,
    files_before: int,
) -> tuple[VmDigest | None, int]:
    """The vms days reduced one by one (issue 17): each day's rows become the store's per-VM rows (as
    _vms and capture_libvirt.join make them), are reduced into a digest and dropped, so that a year
    costs the memory of a day plus the digest. The answers are those of the whole stream read at once
    (tests/test_long_period.py). Returns the digest and how many rows were skipped."""
    if not days:
        return None, 0
    defs = _vmdefs(defs_t, log, where) if defs_t is not None else None

    def one(f: Path, floor: float, floor_pids: frozenset[int]) -> _VmDay:
        r = _read_file("vms", f, opts.sample_columns)
        t = _take_table(r)
        if t is None:
            return _VmDay(r)
        sec = t.column("ts").to_numpy(zero_copy_only=False)
        day = _VmDay(r, earliest=float(np.nanmin(sec)), latest=float(np.nanmax(sec)))
        day.edge = frozenset(int(p) for p in pc.filter(t.column("pid"), pa.array(sec == day.latest)).drop_null().to_pylist())
        t, _ = _in_time_order(t, True, None, where, floor)
        if floor_pids:  # rows of the time the days before ended on, repeating one of theirs
            sec = t.column("ts").to_numpy(zero_copy_only=False)
            again = (sec == floor) & np.isin(t.column("pid").to_numpy(zero_copy_only=False), list(floor_pids))
            day.repeated += int(again.sum())
            t = t.filter(pa.array(~again))
        frame = _vm_rows({name: t.column(name) for name in t.column_names}, defs, page_size, day.notes, where)
        del t
        frame, repeated = _first_per_pid(frame)
        day.repeated += repeated
        frame = capture_libvirt.join(frame, virsh, domains, unknown_columns=False)
        day.digest = VmDigest()
        day.digest.add(frame)
        return day

    out = VmDigest()
    skipped = repeated = 0
    seen: set[LogEntry] = set()
    floor, floor_pids = -np.inf, frozenset[int]()
    with ThreadPoolExecutor(max_workers=_readers()) as pool:
        for i, (f, day) in enumerate(zip(days, pool.map(lambda f: one(f, -np.inf, frozenset()), days)), 1):
            if day.digest is not None and day.earliest <= floor:
                day = one(f, floor, floor_pids)  # the clock stepped back across days: rows in time already covered go
            sources.report_files(files_before + i, files_before + len(days))
            log.extend(day.result.log)
            log.extend(e for e in day.notes if e not in seen)  # the same note (page size unknown) once, not once a day
            seen.update(day.notes)
            skipped += day.result.rows_skipped
            repeated += day.repeated
            if day.digest is not None:
                out.extend(day.digest)
                if day.latest > floor:
                    floor, floor_pids = day.latest, day.edge
                elif day.latest == floor:
                    floor_pids |= day.edge
            del day
            if i % _COMPACT_DAYS == 0 or i == len(days):
                out.compact()  # the days' small arrays into one per VM, and the holes they left given back
                release_freed_memory()
    if repeated:
        log.append(
            LogEntry(
                "info", "duplicate", f"{repeated} vms rows repeated an earlier one and were dropped", file=where, count=repeated
            )
        )
    return (out if len(out) else None), skipped


def _readers() -> int:
    """Threads that read files at once: one more than the cores (a file's decompression and parse
    overlap the main thread's work), but one alone on a single core's share (a fleet worker beside
    others): two parses taking turns on one core only evict each other's data from its caches."""
    n = ingest_threads()
    return n + 1 if n > 1 else 1


_COMPACT_DAYS = 28  # vms days reduced between two compactions of the digest
# Sample columns combined between two malloc_trim calls: a trim walks every heap (≈ 0.4 ms), and a
# host-week has 280 columns of 0.5 MB each; a year's columns are 4 MB each.
_TRIM_EVERY_BYTES = 32 * 1024 * 1024
_COMBINE_ABOVE_CHUNKS = 28  # day files: a whole read of more combines each column's days into one buffer


@dataclasses.dataclass
class _VmDay:
    """One vms day file reduced: its digest, and what the days after it need to know of it."""

    result: StreamResult
    digest: VmDigest | None = None
    earliest: float = np.inf  # epoch seconds of its first and last rows, before any was dropped
    latest: float = -np.inf
    edge: frozenset[int] = frozenset()  # the pids of its rows at `latest`
    notes: list[LogEntry] = dataclasses.field(default_factory=list)
    repeated: int = 0


def _first_per_pid(vms: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """vms without a row repeating an earlier one's (ts, pid), as the store's finalize drops them.
    The usual day has none: rows come in time order and, within a sample, in pid order, so one pass
    over the (ts, pid) pairs shows it without a sort."""
    if "pid" not in vms.columns or len(vms) < 2:
        return vms, 0
    ts = vms["ts"].dt.as_unit("ms").astype("int64").to_numpy()
    pid = pd.to_numeric(vms["pid"], errors="coerce").to_numpy(dtype="float64", na_value=-1.0)
    if derive.pairs_increase(ts, pid):
        return vms, 0
    dup = vms.duplicated(["ts", "pid", "name"] if "name" in vms.columns else ["ts", "pid"], keep="first").to_numpy()
    n = int(dup.sum())
    return (vms[~dup].reset_index(drop=True), n) if n else (vms, 0)


def _take_table(r: StreamResult | None) -> pa.Table | None:
    """r's table, no longer held by r."""
    if r is None or r.table is None or not r.table.num_rows:
        return None
    t, r.table = r.table, None
    return t


def _vmdefs(defs_t: pa.Table, log: list[LogEntry], where: str) -> pd.DataFrame:
    """One row per qemu pid: name, uuid, allocated and maxmem bytes, backing."""
    defs = defs_t.to_pandas().drop(columns=["ts"]).drop_duplicates("pid", keep="last")
    sizes = defs["mem_arg"].map(lambda a: parse_qemu_mem_arg(a) if isinstance(a, str) else (None, None))
    defs["allocated_bytes"] = pd.array([s[0] for s in sizes], dtype="Int64")
    defs["maxmem_bytes"] = pd.array([s[1] for s in sizes], dtype="Int64")
    # Collectors before 1.2.0 wrote no mem_backend: backing unknown (null), not guessed. From 1.2.0 on,
    # `-` means the command line has no memory-backing argument: anonymous memory.
    if "mem_backend" in defs:
        defs["backing"] = defs["mem_backend"].map(
            lambda a: procfs.qemu_backing(procfs.split_backing_field(a)) if isinstance(a, str) else procfs.BACKING_ANONYMOUS
        )
    else:
        defs["backing"] = None
    bad = defs[defs["mem_arg"].notna() & defs["allocated_bytes"].isna()]
    for row in bad.itertuples():
        log.append(
            LogEntry("warn", "bad_value", f"VM {row.name}: -m {row.mem_arg!r} is not a size: allocation unknown", file=where)
        )
    return defs


def _int_array(column: pa.ChunkedArray, scale: int) -> pd.api.extensions.ExtensionArray:
    """A nullable Int64 array of column times scale, filled chunk by chunk (one day file at a time):
    no copy of the whole column besides the result."""
    n = len(column)
    values = np.empty(n, dtype=np.int64)
    mask = np.zeros(n, dtype=bool)
    at = 0
    for chunk in column.chunks:
        k = len(chunk)
        chunk = chunk.cast(pa.int64())
        if chunk.null_count:
            mask[at : at + k] = chunk.is_null().to_numpy(zero_copy_only=False)
            chunk = chunk.fill_null(0)
        np.multiply(chunk.to_numpy(zero_copy_only=False), scale, out=values[at : at + k])
        at += k
    return pd.arrays.IntegerArray(values, mask)


def _vm_rows(
    parsed: dict[str, pa.ChunkedArray],
    defs: pd.DataFrame | None,
    page_size: int | None,
    log: list[LogEntry],
    where: str,
    whole: bool = False,
) -> pd.DataFrame:
    """Per-VM rows built column by column from the parsed stream (whose columns are dropped as they
    are converted), without intermediate frames (a merge copies every row: a year of 30 VMs is 15 M
    rows). For a report (a day at a time, _vm_digest) a value the stream does not have (hugetlb_kb,
    ksm_stat) is a column left out, not a column of nulls; `whole` (the store's rows, _vms) adds
    ksm_profit_bytes and a null column for each value missing. Both give the checks the same answers
    (tests/test_long_period.py)."""
    ts = parsed.pop("ts")
    n = len(ts)
    sec = ts.to_numpy()
    del ts
    cols: dict[str, object] = {"ts": pd.DatetimeIndex(np.round(sec * 1000.0).astype("int64").astype("datetime64[ms]"), tz="UTC")}
    del sec
    pid = parsed.pop("pid").to_numpy()
    cols["pid"] = pid
    for raw, name, scale in (
        ("rss_kb", "rss_bytes", KIB),
        ("swap_kb", "swap_bytes", KIB),
        ("hugetlb_kb", "hugepages_bytes", KIB),
        ("ksm_merging_pages", "ksm_merged_bytes", page_size or None),
        *((("ksm_profit", "ksm_profit_bytes", 1),) if whole else ()),
    ):
        column = parsed.pop(raw, None)
        if column is None:
            continue
        if raw == "ksm_merging_pages" and scale is None:
            if page_size is None and column.null_count < len(column):
                log.append(LogEntry("warn", "missing_source", "page size unknown: per-VM KSM merged pages left null", file=where))
            continue
        cols[name] = _int_array(column, scale)  # type: ignore[arg-type]
        del column
    parsed.clear()
    for name in ("hugepages_bytes", "ksm_merged_bytes", "ksm_profit_bytes") if whole else ():
        if name not in cols:  # not captured (collectors before 1.3.0 / 1.1.0, kernel < 6.1): unknown
            cols[name] = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    if defs is not None:
        at = pd.Index(defs["pid"]).get_indexer(pid)  # the left join on pid, as an index per row
        for c in ("name", "uuid", "backing"):
            values = defs[c]
            cats = pd.Index(values.dropna().unique()).sort_values()
            codes = cats.get_indexer(values)
            cols[c] = pd.Categorical.from_codes(np.where(at >= 0, codes[at], -1), categories=cats)
        for c in ("allocated_bytes", "maxmem_bytes"):
            cols[c] = defs[c].astype("Int64").array.take(at, allow_fill=True)
    cols["source"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index(["capture"]))
    return pd.DataFrame(cols, copy=False)


def _swaps(t: pa.Table | None, lean: bool = False) -> pd.DataFrame | None:
    """lean (a report): the columns the checks read, names as categories (a year is 0.5 M rows of one
    or two device names)."""
    if t is None:
        return None
    df = t.to_pandas(strings_to_categorical=lean)
    df["ts"] = pd.DatetimeIndex(_ts(t), tz="UTC")
    if lean:
        names = df["filename"].cat
        unescaped, at = np.unique(names.categories.str.replace("\\040", " ", regex=False), return_inverse=True)
        codes = names.codes.to_numpy()
        df["filename"] = pd.Categorical.from_codes(
            np.where(codes >= 0, at.reshape(-1)[codes], -1), categories=pd.Index(unescaped)
        )
    else:
        df["filename"] = df["filename"].str.replace("\\040", " ", regex=False)
    df["size_bytes"] = df["size_kb"].astype("Int64") * KIB
    df["used_bytes"] = df["used_kb"].astype("Int64") * KIB
    return df.drop(columns=["size_kb", "used_kb", "priority"], errors="ignore") if lean else df


def _hugepages(t: pa.Table | None) -> pd.DataFrame | None:
    """hugepages stream (counts of pages of size_kb) -> the store's hugepages table, in bytes."""
    if t is None:
        return None
    df = t.to_pandas()
    out = pd.DataFrame({"ts": pd.DatetimeIndex(_ts(t), tz="UTC"), "node": df["node"].astype("Int32")})
    size = df["size_kb"].astype("Int64") * KIB
    out["page_size_bytes"] = size
    for col, key in (
        ("total_bytes", "nr_hugepages"),
        ("free_bytes", "free_hugepages"),
        ("reserved_bytes", "resv_hugepages"),
        ("surplus_bytes", "surplus_hugepages"),
    ):
        out[col] = df[key].astype("Int64") * size if key in df else pd.array([pd.NA] * len(df), dtype="Int64")
    return out[out["page_size_bytes"].notna()].reset_index(drop=True)


def _numa(t: pa.Table | None) -> pd.DataFrame | None:
    """numa stream (one row per node, node meminfo keys as columns) -> the store's numa table."""
    if t is None:
        return None
    df = t.to_pandas()
    out = pd.DataFrame({"ts": pd.DatetimeIndex(_ts(t), tz="UTC"), "node": df["node"].astype("Int32")})
    for key, col in schema.NUMA_KEYS.items():
        if key not in df:
            out[col] = pd.array([pd.NA] * len(df), dtype="Int64")
        else:
            factor = 1 if key in schema.MEMINFO_COUNT_KEYS else KIB
            out[col] = df[key].astype("Int64") * factor
    return out[out["node"].notna()].reset_index(drop=True)


_VIRSH_KB = {
    "max_memory_kb": "max_memory",
    "used_memory_kb": "used_memory",
    "hard_limit_kb": "hard_limit",
    "soft_limit_kb": "soft_limit",
    "swap_hard_limit_kb": "swap_hard_limit",
}
_DOMMEMSTAT_KB = {"actual", "swap_in", "swap_out", "unused", "available", "usable", "rss", "disk_caches", "hugetlb_pgalloc"}


def _virsh(t: pa.Table | None, log: list[LogEntry], where: str) -> pd.DataFrame | None:
    if t is None:
        return None
    df = t.to_pandas()
    df["ts"] = pd.DatetimeIndex(_ts(t), tz="UTC")
    value = pd.to_numeric(df["value"], errors="coerce").astype("Int64")
    kb = df["key"].isin(list(_VIRSH_KB) + list(_DOMMEMSTAT_KB))  # libvirt reports these in KiB
    df["value"] = value.where(~kb, value * KIB)
    df["key"] = df["key"].replace(_VIRSH_KB)
    # memtune's `-` is `unlimited`: no limit, a null on purpose (docs/FORMAT.md), not a value lost
    unlimited = df["key"].isin(["hard_limit", "soft_limit", "swap_hard_limit"]) & df["value"].isna()
    text = df["value"].isna() & ~unlimited
    if text.any():  # e.g. dominfo's `state running`: not a number, so not a store value
        keys = ", ".join(sorted(set(df.loc[text, "key"].astype(str))))
        log.append(
            LogEntry(
                "info",
                "skipped_value",
                f"{int(text.sum())} non-numeric virsh values ({keys}) not stored",
                file=where,
                count=int(text.sum()),
            )
        )
    return df[~text & ~unlimited].reset_index(drop=True)
