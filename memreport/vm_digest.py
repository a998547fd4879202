"""Per-VM rows reduced as they are read: what the checks need of them, in memory that does not grow
with the row count's full width (issue 17).

A year of a 30-VM host at 60 s is 15.7 M per-VM rows; held as a frame they cost ≈ 1 GB. The checks
read of them only: per VM its peaks, its last known values, its sample count and first/last time,
the exact p95 of its RSS (docs/CHECKS.md: an exact selection, not an approximation), the allocation
summed per sample time (oom), the VMs at the last such time (hugepages, what-if), and for
`--remove-vm` a VM's RSS per sample time. A digest keeps exactly that: per VM and chunk (a day
file, or one frame) its reductions, plus per row only the time (an index into the chunk's table of
distinct times, 2 bytes where a chunk has < 65,536 of them) and the RSS (4 bytes, in KiB, where it
is whole KiB). The capture reader feeds it a day file at a time; every other input (a sosreport, a
store) gives its frame at once (`VmDigest.of`). The results are those of the frame the chunks
came from, concatenated in chunk order (tests/test_vm_digest.py).

"Last" is time order, and among rows of one time the later row (a stable sort by time of the
concatenated chunks): each value remembers (time, chunk, row) so that chunks may arrive in any order.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# The measures the checks read, per VM: peaks (NaN-skipping max) and last known values.
MAXES = ("rss", "resident", "huge", "swap", "ksm")
LASTS = ("swap", "hard", "alloc", "maxmem", "current", "soft", "swap_hard")
_LAST_COLUMN = {
    "swap": "swap_bytes",
    "alloc": "allocated_bytes",
    "maxmem": "maxmem_bytes",
    "current": "current_bytes",
    "soft": "soft_limit_bytes",
    "swap_hard": "swap_hard_limit_bytes",
}
# The per-VM columns a digest reads (the store's vms table has more).
COLUMNS = frozenset(
    [
        "ts",
        "pid",
        "name",
        "uuid",
        "backing",
        "rss_bytes",
        "hugepages_bytes",
        "mem_limit_bytes",
        "hard_limit_bytes",
        "ksm_merged_bytes",
    ]
    + list(_LAST_COLUMN.values())
)
_RSS_KIB_MAX = 2**31 - 1  # RSS kept as int32 KiB up to 2 TiB a process; -1 is null
_NO_ORDER = (-(2**62), -1, -1)  # before every (time, chunk, row)


def _num(vms: pd.DataFrame, name: str) -> np.ndarray | None:
    """A column as float64 with NaN for null, None when absent (bytes are whole: float64 is exact below 2^53)."""
    if name not in vms.columns:
        return None
    col = vms[name]
    if not pd.api.types.is_numeric_dtype(col.dtype):  # text from a hand-made frame: what is not a number is null
        col = pd.to_numeric(col, errors="coerce")
    if col.isna().all():  # a store's column this input did not have (no libvirt, no hugetlb): as absent
        return None
    return col.to_numpy(dtype="float64", na_value=np.nan)


def _fmax(values: Iterable[float]) -> float:
    """The largest value that is not NaN, NaN when there is none (numpy's fmax.reduce, whose typing
    differs between numpy releases)."""
    return max((v for v in values if not math.isnan(v)), default=math.nan)


def _text(v: object) -> str | None:
    return None if v is None or pd.isna(v) else str(v)  # type: ignore[call-overload]


def _vm_keys(vms: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """(one code per row, the key of each code in order of first appearance): a VM is its UUID, else
    its name, else its qemu pid. Worked out per distinct (uuid, name, pid), not per row."""
    parts = [(c, p) for c, p in (("uuid", ""), ("name", "name "), ("pid", "pid ")) if c in vms.columns]
    if not parts:
        return np.zeros(len(vms), dtype=np.int32), ["unknown"]
    codes = []
    values = []
    for c, _ in parts:
        code, uniq = pd.factorize(vms[c], sort=False, use_na_sentinel=True)
        codes.append(code.astype(np.int64) + 1)  # 0: null
        values.append(uniq)
    combo = codes[0]
    for code, uniq in zip(codes[1:], values[1:]):
        combo = combo * (len(uniq) + 1) + code
    inverse, distinct = pd.factorize(combo, sort=False)  # in order of first appearance: hashing, no sort
    first = np.array([int(np.argmax(inverse == j)) for j in range(len(distinct))], dtype=np.int64)
    texts = []
    for row in first:
        key = "unknown"
        for (_c, prefix), code, uniq in zip(parts, codes, values):
            if code[row]:
                key = prefix + str(uniq[code[row] - 1])
                break
        texts.append(key)
    # Codes in order of first appearance in the rows, one per distinct key.
    order = np.argsort(first, kind="stable")
    key_code: dict[str, int] = {}
    combo_code = np.empty(len(first), dtype=np.int32)
    for i in order:
        combo_code[i] = key_code.setdefault(texts[i], len(key_code))
    return combo_code[inverse.reshape(-1)], list(key_code)


def _times(ts: np.ndarray, in_order: bool) -> tuple[np.ndarray, np.ndarray]:
    """(per row the index of its time, the distinct times in order of first appearance): what
    pd.factorize(ts, sort=False) gives. Rows in time order (a capture's, a store's) need no hashing:
    a new time starts wherever the time changes."""
    if not in_order or not len(ts):
        return pd.factorize(ts, sort=False)  # type: ignore[return-value]
    new = np.empty(len(ts), dtype=bool)
    new[0] = True
    np.not_equal(ts[1:], ts[:-1], out=new[1:])
    return np.cumsum(new) - 1, ts[new]


@dataclass
class _Part:
    """One VM's rows of one chunk."""

    chunk: int  # the chunk's place in input order
    times: np.ndarray  # the chunk's distinct times (int64 ms), shared by its VMs
    at: np.ndarray  # per row: index into times (uint16 or int32), in chunk row order
    rss: np.ndarray  # per row: int32 KiB (-1 null) or float64 bytes (NaN null)
    alloc: float | np.ndarray  # per row, or one value for all of them (NaN: unknown)
    rows: int
    first_ts: int
    maxes: dict[str, float]
    lasts: dict[str, tuple[tuple[int, int, int], float]]  # measure -> ((ts, chunk, row), value), non-null only
    last_order: tuple[int, int, int]  # the last row's (ts, chunk, row)
    last: dict[str, object]  # name, uuid, pid, backing of the last row
    merged: bool = False  # several chunks' parts in one (compact): times is their tables end to end

    def rss_bytes(self) -> np.ndarray:
        if self.rss.dtype == np.int32:
            out = self.rss.astype("float64") * 1024.0
            out[self.rss < 0] = np.nan
            return out
        return self.rss

    def alloc_rows(self) -> np.ndarray:
        return self.alloc if isinstance(self.alloc, np.ndarray) else np.full(self.rows, self.alloc)


@dataclass
class VmStat:
    """One VM's reductions over every row of it."""

    key: str
    name: str | None  # of its last row (time order)
    uuid: str | None
    pid: int | None
    backing: str | None
    samples: int
    first_ts: pd.Timestamp
    last_ts: pd.Timestamp
    maxes: dict[str, float]  # MAXES, NaN when no row knew one
    lasts: dict[str, float]  # LASTS, NaN when no row knew one
    rss_p95: float


@dataclass
class VmDigest:
    parts: dict[str, list[_Part]] = field(default_factory=dict)  # by VM key, in order of first appearance
    chunks: int = 0
    rows: int = 0
    page_size_missing: bool = False  # a chunk had KSM merged pages but no page size to make them bytes

    @classmethod
    def of(cls, vms: pd.DataFrame | None, batch_rows: int | None = None) -> VmDigest | None:
        """A digest of one frame of per-VM rows (None for none). batch_rows: reduced that many rows at
        a time (the same digest; a batch's temporaries are ≈ 120 bytes a row: a 16-VM host-week's
        million rows at once cost 110 MB more than the rows)."""
        if vms is None:
            return None
        d = cls()
        if batch_rows is None or len(vms) <= batch_rows:
            d.add(vms)
            return d
        for start in range(0, len(vms), batch_rows):
            d.add(vms.iloc[start : start + batch_rows])
        d.compact()
        return d

    def __len__(self) -> int:
        return self.rows

    @property
    def names(self) -> set[str]:
        """Every VM name a chunk's last row gave."""
        return {str(p.last["name"]) for parts in self.parts.values() for p in parts if p.last.get("name") is not None}

    def add(self, vms: pd.DataFrame) -> None:
        """Reduce one chunk of per-VM rows (store columns: ts, pid, name, uuid, rss_bytes, …)."""
        n = len(vms)
        chunk = self.chunks
        self.chunks += 1
        if not n:
            return
        self.rows += n
        ts = pd.DatetimeIndex(vms["ts"]).as_unit("ms").asi8
        codes, keys = _vm_keys(vms)
        rss = _num(vms, "rss_bytes")
        huge = _num(vms, "hugepages_bytes")
        # Resident = RSS + hugetlb pages (not in VmRSS); a sample without a hugetlb value counts its RSS alone.
        resident = rss if rss is None or huge is None else np.where(np.isnan(rss), np.nan, rss + np.nan_to_num(huge, nan=0.0))
        # The hard limit libvirt set, else the VM cgroup's limit (snapshot trees read the cgroup, not libvirt).
        hard, cgroup = _num(vms, "hard_limit_bytes"), _num(vms, "mem_limit_bytes")
        if hard is None or cgroup is None:
            hard = hard if cgroup is None else cgroup
        else:
            hard = np.where(np.isnan(hard), cgroup, hard)
        measures_max = {
            "rss": rss,
            "resident": resident,
            "huge": huge,
            "swap": _num(vms, "swap_bytes"),
            "ksm": _num(vms, "ksm_merged_bytes"),
        }
        measures_last = {k: _num(vms, c) for k, c in _LAST_COLUMN.items()} | {"hard": hard}
        alloc = measures_last["alloc"]
        in_order = not (len(ts) > 1 and (ts[1:] < ts[:-1]).any())
        at, times = _times(ts, in_order)
        at = at.astype(np.uint16 if len(times) < 2**16 else np.int32)
        text = {c: vms[c] for c in ("name", "uuid", "pid", "backing") if c in vms.columns}
        # All of a chunk's reductions at once, on its rows sorted by VM and by time within a VM (stable:
        # among rows of one time the later row is last): one gather per measure, then reduceat.
        vm = codes.astype(np.int16) if len(keys) < 2**15 else codes  # small ints: numpy's radix sort
        if not in_order:
            order = np.argsort(ts, kind="stable")
            by_vm = order[np.argsort(vm[order], kind="stable")]
        else:
            by_vm = np.argsort(vm, kind="stable")
        sorted_codes = codes[by_vm]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        ends = np.r_[starts[1:], n]
        maxes: dict[str, np.ndarray] = {}
        for m, v in measures_max.items():
            with np.errstate(invalid="ignore"):
                maxes[m] = np.full(len(starts), np.nan) if v is None else np.fmax.reduceat(v[by_vm], starts)
        lasts: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # measure -> (row of the last known value or -1, value)
        positions = np.arange(n)
        for m, v in measures_last.items():
            if v is None:
                continue
            vs = v[by_vm]
            at_last = np.maximum.reduceat(np.where(np.isnan(vs), -1, positions), starts)
            known = at_last >= starts
            lasts[m] = (np.where(known, by_vm[np.maximum(at_last, 0)], -1), vs[np.maximum(at_last, 0)])
        at_rows = at[by_vm]
        rss_rows = _compact_rss(rss[by_vm]) if rss is not None else np.full(n, -1, dtype=np.int32)
        alloc_rows = None if alloc is None else alloc[by_vm]
        first_rows, last_rows = by_vm[starts], by_vm[ends - 1]
        for i, (s, e) in enumerate(zip(starts, ends)):
            last_row = int(last_rows[i])
            part = _Part(
                chunk=chunk,
                times=times,
                at=at_rows[s:e],
                rss=rss_rows[s:e],
                alloc=math.nan if alloc_rows is None else _one_or_each(alloc_rows[s:e]),
                rows=int(e - s),
                first_ts=int(ts[first_rows[i]]),
                maxes={m: float(v[i]) for m, v in maxes.items()},
                lasts={
                    m: ((int(ts[rows[i]]), chunk, int(rows[i])), float(values[i]))
                    for m, (rows, values) in lasts.items()
                    if rows[i] >= 0
                },
                last_order=(int(ts[last_row]), chunk, last_row),
                last={c: (_pid(v.iloc[last_row]) if c == "pid" else _text(v.iloc[last_row])) for c, v in text.items()},
            )
            self.parts.setdefault(keys[int(sorted_codes[s])], []).append(part)

    def extend(self, other: VmDigest) -> None:
        """other's chunks after this one's (as if its rows were concatenated after these); other is left as it was."""
        shift = self.chunks
        for key, parts in other.parts.items():
            self.parts.setdefault(key, []).extend(
                dataclasses.replace(
                    p,
                    chunk=p.chunk + shift,
                    last_order=(p.last_order[0], p.chunk + shift, p.last_order[2]),
                    lasts={m: ((o[0], p.chunk + shift, o[2]), v) for m, (o, v) in p.lasts.items()},
                )
                for p in parts
            )
        self.chunks += other.chunks
        self.rows += other.rows
        self.page_size_missing |= other.page_size_missing

    def compact(self) -> None:
        """The parts added since the last compaction merged into one per VM and batch of chunks, whose
        distinct times fit one shared table of < 65,536 (2-byte row times). A year of day files is
        ≈ 11,000 parts of small arrays otherwise, scattered through the heap among the freed buffers
        of the days (which then cannot be given back to the system) and each with its own Python
        objects (issue 17). The answers do not change: a part's reductions combine as its chunks' do."""
        fresh = sorted({p.chunk: p.times for parts in self.parts.values() for p in parts if not p.merged}.items())
        batches: list[list[tuple[int, np.ndarray]]] = []
        size = 0
        for chunk, times in fresh:
            if not batches or size + len(times) >= 2**16:
                batches.append([])
                size = 0
            batches[-1].append((chunk, times))
            size += len(times)
        for batch in batches:
            offset = {}
            at = 0
            for chunk, times in batch:
                offset[chunk] = at
                at += len(times)
            table = np.concatenate([times for _, times in batch]) if len(batch) > 1 else batch[0][1]
            for key, parts in self.parts.items():
                mine = [p for p in parts if not p.merged and p.chunk in offset]
                if not mine:
                    continue
                rest = [p for p in parts if p not in mine]
                self.parts[key] = rest + [_merge(mine, table, offset)]

    def rescale_ksm(self, factor: float) -> None:
        """KSM merged bytes converted to another page size (factor = new ÷ old), in place, as each row would
        be (rounded to whole bytes: the max of rounded rows is the rounded max)."""
        for parts in self.parts.values():
            for p in parts:
                if not math.isnan(p.maxes["ksm"]):
                    p.maxes = {**p.maxes, "ksm": float(round(p.maxes["ksm"] * factor))}

    def stats(self) -> list[VmStat]:
        """Per VM, in order of first appearance."""
        out = []
        for key, parts in self.parts.items():
            last = _final(parts)
            lasts = {}
            for m in LASTS:
                known = [p.lasts[m] for p in parts if m in p.lasts]
                lasts[m] = max(known, key=lambda x: x[0])[1] if known else math.nan
            maxes = {m: _fmax(p.maxes[m] for p in parts) for m in MAXES}
            out.append(
                VmStat(
                    key=key,
                    name=last.last.get("name"),  # type: ignore[arg-type]
                    uuid=last.last.get("uuid"),  # type: ignore[arg-type]
                    pid=last.last.get("pid"),  # type: ignore[arg-type]
                    backing=last.last.get("backing"),  # type: ignore[arg-type]
                    samples=sum(p.rows for p in parts),
                    first_ts=_when(min(p.first_ts for p in parts)),
                    last_ts=_when(last.last_order[0]),
                    maxes=maxes,
                    lasts=lasts,
                    rss_p95=_quantile(np.concatenate([p.rss_bytes() for p in parts]), 0.95),
                )
            )
        return out

    def allocation_by_time(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times in ms, allocation summed over the rows that know one, how many rows), per distinct time."""
        ts_parts, sum_parts, count_parts = [], [], []
        by_table: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for parts in self.parts.values():
            for p in parts:
                table = by_table.setdefault(
                    id(p.times), (p.times, np.zeros(len(p.times)), np.zeros(len(p.times), dtype=np.int64))
                )
                if isinstance(p.alloc, np.ndarray):
                    ok = ~np.isnan(p.alloc)
                    table[1][:] += np.bincount(p.at[ok], weights=p.alloc[ok], minlength=len(p.times))
                    table[2][:] += np.bincount(p.at[ok], minlength=len(p.times))
                elif not math.isnan(p.alloc):
                    counts = np.bincount(p.at, minlength=len(p.times))
                    table[1][:] += counts * p.alloc
                    table[2][:] += counts
        for times, sums, counts in by_table.values():
            keep = counts > 0
            ts_parts.append(times[keep])
            sum_parts.append(sums[keep])
            count_parts.append(counts[keep])
        if not ts_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64)
        ts = np.concatenate(ts_parts)
        times, inverse = np.unique(ts, return_inverse=True)
        sums = np.bincount(inverse, weights=np.concatenate(sum_parts), minlength=len(times))
        counts = np.bincount(inverse, weights=np.concatenate(count_parts), minlength=len(times)).astype(np.int64)
        return times, sums, counts

    def last_rows(self) -> pd.DataFrame | None:
        """The VMs' rows at the last time a row knew an allocation, with a known allocation: ts, name, uuid,
        backing, allocated_bytes (a VM's name and backing are those of its last row)."""
        times, _, _ = self.allocation_by_time()
        if not len(times):
            return None
        last = int(times[-1])
        rows = []
        for parts in self.parts.values():
            final = _final(parts).last
            for p in sorted(parts, key=lambda p: p.chunk):
                at = np.flatnonzero(p.times == last)
                if not len(at):
                    continue
                alloc = p.alloc_rows()[np.isin(p.at, at)]
                for a in alloc[~np.isnan(alloc)]:
                    rows.append(
                        {
                            "ts": _when(last),
                            "name": final.get("name"),
                            "uuid": final.get("uuid"),
                            "backing": final.get("backing"),
                            "allocated_bytes": int(a),
                        }
                    )
        return pd.DataFrame(rows) if rows else None

    def without(self, name: str) -> tuple[VmDigest, pd.Series]:
        """This digest without the VMs named name (by their last name), and their RSS summed per time (a
        time where they had a row without RSS sums to 0)."""
        out = VmDigest(chunks=self.chunks, page_size_missing=self.page_size_missing)
        gone: list[_Part] = []
        for key, parts in self.parts.items():
            if _final(parts).last.get("name") == name:
                gone += parts
            else:
                out.parts[key] = parts
                out.rows += sum(p.rows for p in parts)
        if not gone:
            return out, pd.Series(dtype="float64")
        ts = np.concatenate([p.times[p.at] for p in gone])
        rss = np.nan_to_num(np.concatenate([p.rss_bytes() for p in gone]), nan=0.0)
        times, inverse = np.unique(ts, return_inverse=True)
        sums = np.bincount(inverse, weights=rss, minlength=len(times))
        return out, pd.Series(sums, index=pd.DatetimeIndex(times.astype("datetime64[ms]"), tz="UTC"))

    def rss_max_of(self, name: str) -> float:
        """The peak RSS of the VMs named name (NaN when none is known)."""
        vals = [p.maxes["rss"] for parts in self.parts.values() if _final(parts).last.get("name") == name for p in parts]
        return _fmax(vals)


def _final(parts: list[_Part]) -> _Part:
    """The part holding a VM's last row (time order; among rows of one time, the later chunk and row)."""
    return max(parts, key=lambda p: p.last_order)


def _merge(parts: list[_Part], table: np.ndarray, offset: dict[int, int]) -> _Part:
    """One VM's parts of several chunks as one part over their joined table of times."""
    kind = np.uint16 if len(table) < 2**16 else np.int32
    rss = [p.rss for p in parts]
    if len({r.dtype for r in rss}) > 1:  # some chunk was not whole KiB: all as float64 bytes
        rss = [p.rss_bytes() for p in parts]
    allocs = [p.alloc for p in parts]
    same = all(not isinstance(a, np.ndarray) for a in allocs) and len({str(a) for a in allocs}) == 1
    last = _final(parts)
    lasts: dict[str, tuple[tuple[int, int, int], float]] = {}
    for p in parts:
        for m, (order, value) in p.lasts.items():
            if m not in lasts or order > lasts[m][0]:
                lasts[m] = (order, value)
    return _Part(
        chunk=min(p.chunk for p in parts),
        times=table,
        at=np.concatenate([(p.at.astype(np.int64) + offset[p.chunk]).astype(kind) for p in parts]),
        rss=np.concatenate(rss),
        alloc=allocs[0] if same else np.concatenate([p.alloc_rows() for p in parts]),  # type: ignore[arg-type]
        rows=sum(p.rows for p in parts),
        first_ts=min(p.first_ts for p in parts),
        maxes={m: _fmax(p.maxes[m] for p in parts) for m in MAXES},
        lasts=lasts,
        last_order=last.last_order,
        last=last.last,
        merged=True,
    )


def _one_or_each(values: np.ndarray) -> float | np.ndarray:
    """One value when every row has it (a VM's allocation rarely changes within a chunk), else the rows'."""
    if (values == values[0]).all() or np.isnan(values).all():
        return float(values[0])
    return values


def _compact_rss(rss: np.ndarray) -> np.ndarray:
    """int32 KiB (-1 null) when every value is whole KiB and below 2 TiB, else the float64 bytes."""
    known = rss[~np.isnan(rss)]
    if len(known) and ((known % 1024).any() or known.max() > _RSS_KIB_MAX * 1024.0 or known.min() < 0):
        return rss
    out = np.full(len(rss), -1, dtype=np.int32)
    ok = ~np.isnan(rss)
    out[ok] = (rss[ok] / 1024.0).astype(np.int32)
    return out


def _pid(v: object) -> int | None:
    return None if v is None or pd.isna(v) else int(v)  # type: ignore[call-overload, arg-type]


def _when(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def _quantile(v: np.ndarray, q: float) -> float:
    """Exact linear-interpolated quantile of the non-NaN values (pandas' default), NaN for none."""
    part = v[~np.isnan(v)]
    if not len(part):
        return math.nan
    idx = q * (len(part) - 1)
    lo = int(np.floor(idx))
    hi = min(lo + 1, len(part) - 1)
    low, high = np.partition(part, [lo, hi])[[lo, hi]]
    return float(low + (high - low) * (idx - lo))


def merged(digests: Iterable[VmDigest | None]) -> VmDigest | None:
    """The digests in order, as one (None when there is none)."""
    out: VmDigest | None = None
    for d in digests:
        if d is None:
            continue
        if out is None:
            out = VmDigest()
        out.extend(d)
    return out
