"""The Parquet store: finalise each host's data, write it atomically, read it back (docs/STORE.md)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from memreport import vm_digest
from memreport.atomic import WriterLock, output, owned_temp_dir, remove_stale
from memreport.errors import InputError
from memreport.host_dirs import partition_name
from memreport.ingest import derive, pagesize, release_freed_memory, schema, threads
from memreport.model import Contribution, HostData, HostFacts, LogEntry
from memreport.timebase import ABSOLUTE, RELATIVE

TABLES = ("samples", "vms", "swaps", "virsh", "hugepages", "numa", "facts", "log")
NO_HOST = "_"
# Deterministic files: no statistics timestamps, one writer setting for all.
_DICT_COLUMNS = [
    "boot_id",
    "source",
    "name",
    "uuid",
    "cgroup",
    "filename",
    "type",
    "domain",
    "key",
    "level",
    "event",
    "input",
    "file",
    # Per-VM values that stay the same for as long as the VM runs: a few distinct values in a million
    # rows, which a dictionary encodes in a fraction of the time (a 30-VM host-week's vms table 0.48 →
    # 0.36 s) and space of plain values. Read back as the schema's types.
    "backing",
    "pid",
    "allocated_bytes",
    "maxmem_bytes",
    "current_bytes",
    "hard_limit_bytes",
    "soft_limit_bytes",
    "swap_hard_limit_bytes",
    "mem_limit_bytes",
    "mem_high_bytes",
    "swap_limit_bytes",
    "memsw_limit_bytes",
]
# zstd level 1 and dictionaries for text and per-VM constants only: counters gain nothing from them
# and a week of samples writes several times faster.
_WRITE = dict(compression="zstd", compression_level=1, use_dictionary=_DICT_COLUMNS, write_statistics=True)
# A long series is written as several files of consecutive rows (part-0, part-1, …), encoded in
# parallel: Parquet encodes one file on one core, and a host-week is most of an ingest's write time.
ROWS_PER_PART = 40_000
# The per-VM tables (a row per VM and sample: 1.8 M for a 30-VM host-week) in larger parts: each file
# costs ≈ 2 ms of set-up whatever its rows (a writer, and per column a zstd context and statistics),
# 45 files were 0.07–0.1 s of that host-week's store; a part's rows converted from pandas at once
# stay ≈ 30 MB.
VM_ROWS_PER_PART = 131_072
_PER_VM_TABLES = ("vms", "virsh")


def merge_host(parts: list[HostData]) -> HostData:
    """Several inputs of one host (a sar history and a /proc snapshot, two capture directories) as one."""
    if len(parts) == 1:
        return parts[0]
    best, log = pagesize.reconcile(parts)  # one page size per host: the strongest evidence of any input
    facts = parts[0].facts
    own = ("page_size", "page_size_source", "assumptions", "time_base")
    for p in parts[1:]:  # first input wins per fact; later ones fill what it lacked
        for name, value in vars(p.facts).items():
            if name not in own and getattr(facts, name) in (None, {}) and value not in (None, {}):
                setattr(facts, name, value)
    if best is not None:
        facts.page_size, facts.page_size_source = best.facts.page_size, best.facts.page_size_source
    assumptions: list[str] = []
    for p in parts:
        for a in p.facts.assumptions:
            keep = not pagesize.is_page_assumption(a) or (p is best and facts.page_size_source == pagesize.ASSUMED)
            if keep and a not in assumptions:
                assumptions.append(a)
    facts.assumptions = assumptions
    bases = {p.facts.time_base for p in parts}
    if RELATIVE in bases:
        facts.time_base = RELATIVE
        if ABSOLUTE in bases:
            log.append(
                LogEntry(
                    "warn",
                    "time_source",
                    "inputs with relative times (no clock) merged with dated inputs: pass --start for the undated ones",
                    host=facts.host,
                )
            )

    def cat(frames: Iterable[pd.DataFrame | None]) -> pd.DataFrame | None:
        fs = [f for f in frames if f is not None and len(f)]
        return pd.concat(fs, ignore_index=True, sort=False) if fs else None

    tables = [derive.to_table(p.samples) for p in parts]
    samples = pa.concat_tables(tables, promote_options="permissive")
    reduced = any(p.vm_digest is not None for p in parts)  # a report of a capture: per-VM rows are reduced
    return HostData(
        facts=facts,
        samples=samples,
        vms=None if reduced else cat(p.vms for p in parts),
        vm_digest=vm_digest.merged(p.vm_digest if p.vm_digest is not None else vm_digest.VmDigest.of(p.vms) for p in parts)
        if reduced
        else None,
        swaps=cat(p.swaps for p in parts),
        virsh=cat(p.virsh for p in parts),
        hugepages=cat(p.hugepages for p in parts),
        numa=cat(p.numa for p in parts),
        log=[e for p in parts for e in p.log] + log,
        contributions=[c for p in parts for c in p.contributions],
    )


def finalize(data: HostData, keep: frozenset[str] | None = None) -> HostData:
    """Sort, dedupe, segment and derive rates: the one place where samples become store rows.

    Afterwards data.samples is an Arrow table (the store's own shape); frame() gives pandas.
    keep (a report): only these sample columns, dropped as soon as the rates are made.
    """
    host = data.facts.host
    t = derive.to_table(data.samples)
    t, log = derive.sort_and_dedupe(t, host)
    segments, seg_log = derive.assign_segments(t, host)
    data.samples = derive.keep_columns(derive.add_rates(t, segments, data.facts), keep, finalised=True)
    del t
    for name, keys in (
        ("vms", ["ts", "pid", "name"]),
        ("swaps", ["ts", "filename"]),
        ("virsh", ["ts", "domain", "key"]),
        ("hugepages", ["ts", "node", "page_size_bytes"]),
        ("numa", ["ts", "node"]),
    ):
        frame = getattr(data, name)
        if frame is not None and len(frame):
            setattr(data, name, _sorted_unique(frame, [k for k in keys if k in frame], name, host, log))
    data.log = data.log + log + seg_log
    release_freed_memory()  # what the rates and the sort left behind, before the analysis allocates
    return data


def _sorted_unique(frame: pd.DataFrame, keys: list[str], table: str, host: str, log: list[LogEntry]) -> pd.DataFrame:
    """Rows in ts order without repeats. A per-VM week is ~2 M rows: the common case (one capture,
    already in order, no repeats) is detected with numpy and costs no sort and no hashing."""
    ts = frame["ts"].dt.as_unit("ms").astype("int64").to_numpy()
    if len(ts) > 1 and (np.diff(ts) < 0).any():
        frame = frame.iloc[np.argsort(ts, kind="stable")].reset_index(drop=True)
        ts = ts[np.argsort(ts, kind="stable")]
    # Repeats can only be rows of one ts; only those few timestamps need the full key comparison.
    if len(frame) > 1 and _maybe_repeats(frame, ts, keys):
        dup = frame.duplicated(keys, keep="first")
        if dup.any():
            n = int(dup.sum())
            log.append(
                LogEntry("info", "duplicate", f"{n} {table} rows repeated an earlier one and were dropped", host=host, count=n)
            )
            frame = frame[~dup].reset_index(drop=True)
    return frame


def _maybe_repeats(frame: pd.DataFrame, ts: np.ndarray, keys: list[str]) -> bool:
    """False when every ts holds distinct values of the first non-ts key (cheap exact check).
    ts is sorted: the check runs on slices of about CHECK_ROWS rows cut between two timestamps, so
    a year of VM rows (15 M) needs the sort's temporary arrays of one slice only (issue 17)."""
    second = next((k for k in keys if k != "ts"), None)
    if second is None:
        return bool((np.diff(ts) == 0).any())
    col = frame[second]
    if isinstance(col.dtype, pd.CategoricalDtype):  # a report's swap device names: compare their codes
        col = pd.Series(col.cat.codes.to_numpy(), index=col.index).where(col.notna())
    elif col.dtype.kind not in "iuf":
        return True
    n = len(ts)
    start = 0
    while start < n:
        end = min(n, start + CHECK_ROWS)
        if end < n:  # move the cut to the next change of ts, so no timestamp is split
            end = int(np.searchsorted(ts, ts[end - 1], side="right"))
        t = ts[start:end]
        v = col.iloc[start:end].to_numpy(dtype="float64", na_value=np.nan)
        if derive.pairs_increase(t, v):  # the usual slice (a capture's): no sort needed
            start = end
            continue
        order = np.lexsort((v, t))
        a, b = t[order], v[order]
        same = (a[1:] == a[:-1]) & ((b[1:] == b[:-1]) | (np.isnan(b[1:]) & np.isnan(b[:-1])))
        if same.any():
            return True
        start = end
    return False


CHECK_ROWS = 262_144  # a slice's sort temporaries: ≈ 10 MB


def frame(data: HostData) -> HostData:
    """A finalised HostData with pandas samples, as read_host gives it (for in-memory analysis)."""
    if isinstance(data.samples, pa.Table):
        t = _cast(data.samples, schema.samples_schema(data.samples.column_names))
        data.samples = None  # type: ignore[assignment]  # t alone holds the columns: each is freed once converted
        # One block per column (no consolidation copy), each Arrow column freed as it is converted, and
        # the text columns (boot id, source: a few values repeated) as categories, not a Python string
        # per row: a year's samples (≈ 120 MB) are not held twice.
        data.samples = t.to_pandas(split_blocks=True, self_destruct=True, strings_to_categorical=True)
        del t
        release_freed_memory()
    return data


def _cast(t: pa.Table, sch: pa.Schema) -> pa.Table:
    """t in the schema's column order and types; absent columns are null."""
    index = {name: i for i, name in enumerate(t.column_names)}
    arrays = []
    for f in sch:
        i = index.get(f.name)
        if i is not None:
            col = t.column(i)
            if col.type != f.type:
                if pa.types.is_integer(f.type) and pa.types.is_floating(col.type):
                    col = pc.round(col)
                col = col.cast(f.type, safe=not pa.types.is_integer(f.type))
            arrays.append(col)
        else:
            arrays.append(pa.nulls(t.num_rows, type=f.type))
    return pa.Table.from_arrays(arrays, schema=sch)


def _host_dir(host: str) -> str:
    return partition_name(host)


def _table(frame: pd.DataFrame, sch: pa.Schema) -> pa.Table:
    """frame's columns in the schema's types; absent columns are null. Typed pandas columns (datetimes,
    nullable ints, categories) convert in Arrow without a Python object per row: the per-VM rows of a
    16-VM host-week (a million rows, four text columns) took 0.35–0.5 s through Python lists."""
    arrays = []
    n = len(frame)
    for f in sch:
        if f.name in frame:
            arrays.append(_column(frame[f.name], f.type))
        else:
            arrays.append(pa.nulls(n, type=f.type))
    # A text column from pandas categories stays dictionary-encoded: Parquet writes its dictionary
    # as it is, where plain strings are first made (a million per-VM rows of name, uuid, backing and
    # source: 70 ms) and then hashed into a dictionary again (60 ms). _write stores no Arrow schema
    # for such a table, so it reads back as the schema's plain strings.
    fields = [f.with_type(a.type) if pa.types.is_dictionary(a.type) else f for f, a in zip(sch, arrays)]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=sch.metadata))


def _column(col: pd.Series, typ: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(typ):
        if not (isinstance(col.dtype, pd.DatetimeTZDtype) and str(col.dtype.tz) == "UTC"):
            col = pd.to_datetime(col, utc=True)
        return pa.array(col.astype("datetime64[ms, UTC]"), type=typ)
    if pa.types.is_integer(typ):
        if col.dtype.kind == "f":  # nulls made these ints floats in pandas; nulls stay nulls
            v = col.to_numpy()
            mask = np.isnan(v)
            return pa.array(np.where(mask, 0, np.round(v)).astype(np.int64), type=typ, mask=mask)
        return pa.array(col, type=typ, from_pandas=True)
    if pa.types.is_floating(typ):
        return pa.array(col.to_numpy(dtype="float64", na_value=np.nan), type=typ, from_pandas=True)
    if isinstance(col.dtype, pd.CategoricalDtype) and col.dtype.categories.dtype.kind in "OUT" and pa.types.is_string(typ):
        arr = pa.array(col, from_pandas=True)  # codes and categories as they are: no string per row
        return arr.cast(pa.dictionary(arr.type.index_type, typ))  # the categories as the schema's strings
    return pa.array(col.astype("object").where(col.notna(), None).tolist(), type=typ)


def _facts_table(data: HostData) -> pa.Table:
    f = data.facts
    s = derive.to_table(data.samples)
    row = {
        "hostname": f.hostname,
        "machine_id": f.machine_id,
        "kernel": f.kernel,
        "page_size": f.page_size,
        "page_size_source": f.page_size_source,
        "clock_ticks": f.clock_ticks,
        "cpus": f.cpus,
        "interval_s": f.interval_s,
        "swappiness": f.swappiness,
        "overcommit_memory": f.overcommit_memory,
        "overcommit_ratio": f.overcommit_ratio,
        "collector": f.collector,
        "collector_version": f.collector_version,
        "capture_format": f.capture_format,
        "time_base": f.time_base,
        "assumptions": list(f.assumptions),
        "first_ts": s.column("ts")[0].as_py() if len(s) else None,
        "last_ts": s.column("ts")[-1].as_py() if len(s) else None,
        "samples": len(s),
        "extra": sorted(f.extra.items()),
        "contributions": [vars(c) for c in data.contributions],
    }
    return pa.Table.from_pylist([row], schema=schema.FACTS_SCHEMA)


def _log_table(entries: list[LogEntry]) -> pa.Table:
    rows = [
        {
            "input": e.input,
            "file": e.file,
            "line": e.line,
            "level": e.level,
            "event": e.event,
            "detail": e.detail,
            "count": e.count,
        }
        for e in entries
    ]
    return pa.Table.from_pylist(rows, schema=schema.LOG_SCHEMA)


def _write(table: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq  # here, not at the top: a report from a capture reads no Parquet (16 ms)

    path.parent.mkdir(parents=True, exist_ok=True)
    # Without the Arrow schema a dictionary column reads back as Parquet's plain strings (_table);
    # every other type the store uses reads back the same from Parquet's own types.
    encoded = any(pa.types.is_dictionary(f.type) for f in table.schema)
    pq.write_table(table, path, store_schema=not encoded, **_WRITE)  # type: ignore[arg-type]


def _slices(rows: int, per_part: int | None = None) -> list[tuple[int, int]]:
    """(start, length) of each part of a table of `rows` rows (at most `per_part`, ROWS_PER_PART by default)."""
    n = max(1, -(-rows // (per_part or ROWS_PER_PART)))
    size = -(-rows // n)
    return [(i * size, size) for i in range(n)]


def write_host(root: Path, data: HostData) -> None:
    """Write one finalised host's tables under root (a fresh directory).

    Each part is made when it is written: a pandas table (the per-VM rows) is converted to Arrow a
    part at a time, so that a 16-VM host-week's million rows (≈ 200 MB as Arrow) are never held twice
    at once (issue 12: a fleet worker's peak)."""
    hd = _host_dir(data.facts.host)
    samples = derive.to_table(data.samples)
    samples = _cast(samples, schema.samples_schema(samples.column_names))
    jobs: list[tuple[Callable[[], pa.Table], Path]] = [
        (functools.partial(samples.slice, start, size), root / "samples" / hd / f"part-{i}.parquet")
        for i, (start, size) in enumerate(_slices(samples.num_rows))
    ]
    for name, sch in (
        ("vms", schema.VMS_SCHEMA),
        ("swaps", schema.SWAPS_SCHEMA),
        ("virsh", schema.VIRSH_SCHEMA),
        ("hugepages", schema.HUGEPAGES_SCHEMA),
        ("numa", schema.NUMA_SCHEMA),
    ):
        frame = getattr(data, name)
        if frame is not None and len(frame):
            jobs += [
                (functools.partial(_table, frame.iloc[start : start + size], sch), root / name / hd / f"part-{i}.parquet")
                for i, (start, size) in enumerate(_slices(len(frame), VM_ROWS_PER_PART if name in _PER_VM_TABLES else None))
            ]
    facts, log = _facts_table(data), _log_table(data.log) if data.log else None
    jobs.append((lambda: facts, root / "facts" / hd / "part-0.parquet"))
    if log is not None:
        jobs.append((lambda: log, root / "log" / hd / "part-0.parquet"))

    def write(job: tuple[Callable[[], pa.Table], Path]) -> None:
        _write(job[0](), job[1])

    if len(jobs) <= 2 or threads() == 1:
        for job in jobs:
            write(job)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(jobs), threads())) as pool:
        list(pool.map(write, jobs))  # pyarrow releases the GIL while it encodes


def lock(target: Path) -> WriterLock:
    """The store's writer lock (`.STORE.lock` beside it): two ingests into one store never interleave."""
    return WriterLock(target, "memreport ingest")


def write_store(target: Path, hosts: list[HostData], orphan_log: list[LogEntry]) -> None:
    """Build the store beside target and swap it in, so a killed ingest leaves the old one intact."""
    with lock(target), output(target):
        _write_store(Path(target), hosts, orphan_log)


def _write_store(target: Path, hosts: list[HostData], orphan_log: list[LogEntry]) -> None:
    parent = target.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    # What killed ingests left (.STORE.tmp-PID-*, .STORE.old-PID-*): the lock keeps live writers
    # of this store away, and a pid still running (another store of the same name?) is spared.
    remove_stale(parent, target.name, ("tmp", "old"))
    tmp = owned_temp_dir(parent, target.name, "tmp")
    try:
        names = []
        for data in sorted(hosts, key=lambda d: d.facts.host):
            write_host(tmp, data)
            names.append(data.facts.host)
        if orphan_log:
            _write(_log_table(orphan_log), tmp / "log" / _host_dir(NO_HOST) / "part-0.parquet")
        manifest = {"format": schema.STORE_FORMAT, "hosts": names}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if target.exists():
            if not (target / "manifest.json").exists() and any(target.iterdir()):
                raise InputError(target, "exists and is not a memreport store; refusing to replace it")
            old = owned_temp_dir(parent, target.name, "old")
            os.replace(target, old / "store")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- reading -------------------------------------------------------------------------------------


def is_store(path: Path) -> bool:
    return (Path(path) / "manifest.json").is_file() and (Path(path) / "samples").is_dir()


def list_hosts(store: Path) -> list[str]:
    store = Path(store)
    try:
        manifest = json.loads((store / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise InputError(store / "manifest.json", f"not a memreport store ({e})") from None
    if manifest.get("format") != schema.STORE_FORMAT:
        raise InputError(store / "manifest.json", f"store format {manifest.get('format')!r} is not {schema.STORE_FORMAT}")
    return list(manifest["hosts"])


def part_files(directory: Path) -> list[Path]:
    """A partition's files in row order (part-0, part-1, …, part-10)."""
    files = [p for p in directory.glob("part-*.parquet") if p.stem[5:].isdigit()]
    return sorted(files, key=lambda p: int(p.stem[5:]))


def _read(store: Path, table: str, host: str, columns: frozenset[str] | None = None) -> pd.DataFrame | None:
    import pyarrow.parquet as pq

    files = part_files(store / table / _host_dir(host))
    if not files:  # stores written before host_dirs named an odd host by its URI-quoted name
        files = part_files(store / table / ("host=" + urllib.parse.quote(host, safe="")))
    if not files:
        return None
    if columns is not None:  # only the wanted columns are read from disk (issue 17)
        names = pq.read_schema(files[0]).names
        tables = [pq.read_table(f, columns=[c for c in names if c in columns]) for f in files]
    else:
        tables = [pq.read_table(f) for f in files]
    t = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    del tables
    if columns is None:
        return t.to_pandas()
    # A report: as frame() converts a capture's samples, without a second copy (issue 17).
    frame = t.to_pandas(split_blocks=True, self_destruct=True, strings_to_categorical=True)
    del t
    release_freed_memory()
    return frame


def _read_vm_digest(store: Path, host: str) -> vm_digest.VmDigest | None:
    """The host's per-VM rows reduced batch by batch as they are read (a report: a year of them is
    15 M rows, never held as rows; issue 17). A store's rows are sorted and unique already."""
    files = part_files(store / "vms" / _host_dir(host))
    if not files:
        files = part_files(store / "vms" / ("host=" + urllib.parse.quote(host, safe="")))
    if not files:
        return None
    import pyarrow.parquet as pq

    out = vm_digest.VmDigest()
    for f in files:
        parquet = pq.ParquetFile(f)
        columns = [c for c in parquet.schema_arrow.names if c in vm_digest.COLUMNS]
        for i, batch in enumerate(parquet.iter_batches(batch_size=VM_BATCH_ROWS, columns=columns), 1):
            out.add(batch.to_pandas())
            if i % 4 == 0:
                out.compact()
                release_freed_memory()
    out.compact()
    release_freed_memory()
    return out if len(out) else None


VM_BATCH_ROWS = 262_144  # per-VM rows reduced at a time from a store
SWAPS_REPORT_COLUMNS = frozenset({"ts", "filename", "type", "size_bytes", "used_bytes"})


def read_host(store: Path, host: str, sample_columns: frozenset[str] | None = None) -> HostData:
    """One host of the store. `sample_columns`: read only these sample columns (and the fixed
    ones every store has), and the per-VM rows as a digest (a report); None reads them all."""
    store = Path(store)
    if host not in list_hosts(store):
        raise InputError(store, f"no host {host!r} in this store")
    samples = _read(store, "samples", host, sample_columns)  # finalised: no counter is needed again
    assert samples is not None
    facts_df = _read(store, "facts", host)
    assert facts_df is not None
    row = facts_df.iloc[0]

    def opt(name: str):  # type: ignore[no-untyped-def]
        v = row.get(name)  # a column a store written by an older memreport lacks is null
        return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v

    facts = HostFacts(
        host=host,
        hostname=opt("hostname"),
        machine_id=opt("machine_id"),
        kernel=opt("kernel"),
        page_size=None if opt("page_size") is None else int(row["page_size"]),
        clock_ticks=None if opt("clock_ticks") is None else int(row["clock_ticks"]),
        cpus=None if opt("cpus") is None else int(row["cpus"]),
        interval_s=opt("interval_s"),
        swappiness=None if opt("swappiness") is None else int(row["swappiness"]),
        overcommit_memory=None if opt("overcommit_memory") is None else int(row["overcommit_memory"]),
        overcommit_ratio=None if opt("overcommit_ratio") is None else int(row["overcommit_ratio"]),
        collector=opt("collector"),
        collector_version=opt("collector_version"),
        capture_format=opt("capture_format"),
        page_size_source=opt("page_size_source"),
        time_base=opt("time_base") or ABSOLUTE,
        assumptions=[str(a) for a in row["assumptions"]] if opt("assumptions") is not None else [],
        extra=dict(row["extra"]) if row["extra"] is not None else {},
    )
    contributions = [Contribution(**c) for c in (row["contributions"] if row["contributions"] is not None else [])]
    log_df = _read(store, "log", host)
    log = []
    if log_df is not None:
        for r in log_df.to_dict("records"):
            log.append(
                LogEntry(
                    level=str(r["level"]),
                    event=str(r["event"]),
                    detail=str(r["detail"]),
                    file=None if pd.isna(r["file"]) else str(r["file"]),
                    line=None if pd.isna(r["line"]) else int(r["line"]),
                    count=int(r["count"]),
                    host=host,
                    input=None if pd.isna(r["input"]) else str(r["input"]),
                )
            )
    return HostData(
        facts=facts,
        samples=samples,
        vms=_read(store, "vms", host) if sample_columns is None else None,
        vm_digest=_read_vm_digest(store, host) if sample_columns is not None else None,
        # A report's swaps: the columns the checks read, device names as categories (a year is 0.5 M rows).
        swaps=_read(store, "swaps", host, None if sample_columns is None else SWAPS_REPORT_COLUMNS),
        virsh=_read(store, "virsh", host),
        hugepages=_read(store, "hugepages", host),
        numa=_read(store, "numa", host),
        log=log,
        contributions=contributions,
    )
