"""Bulk parser for tab-separated streams with `#` header lines (the capture format, docs/FORMAT.md).

Fast path: each header block goes through pyarrow's multi-threaded CSV reader in one call, typed by
the header's column names. When a block is irregular (a bad value, a wrong field count, bytes that
are not UTF-8) the general path parses it line by line, keeps every good row and logs each bad one
with its line number. A torn last row (no trailing newline) is cut and logged before either path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from memreport.model import LogEntry

NULL = "-"


@dataclass
class StreamResult:
    table: pa.Table | None
    log: list[LogEntry] = field(default_factory=list)
    rows_read: int = 0
    rows_skipped: int = 0


# One stream file is one UTC day of one source: at 1 s sampling a day of vmstat is ~170 MB and the
# rows of 100 VMs ~430 MB. A file past these bounds is not a capture stream (a sparse file, a
# decompression bomb, one endless line): it is skipped before it fills memory (docs/FORMAT.md).
MAX_STREAM_BYTES = 1 << 30  # uncompressed
MAX_LINE_BYTES = 1 << 20
_CHUNK = 1 << 18  # at most MAX_LINE_BYTES: a longer line then always spans chunks and is seen


class StreamTooLarge(ValueError):
    """A stream file beyond MAX_STREAM_BYTES or with a line beyond MAX_LINE_BYTES."""


def read_bytes(path: Path, max_bytes: int = MAX_STREAM_BYTES, max_line: int = MAX_LINE_BYTES) -> bytearray:
    """Whole file, gunzipped when it ends in .gz (isal's igzip: several times faster than zlib),
    read in chunks so that a file or a line beyond the limits is refused having read at most that."""
    chunk_size = min(_CHUNK, max_line)
    if not path.name.endswith(".gz") and path.stat().st_size > max_bytes:
        raise StreamTooLarge(f"{path.stat().st_size / 2**20:,.0f} MiB, above the {max_bytes >> 20} MiB limit for one stream file")
    if path.name.endswith(".gz"):
        from isal import igzip

        fh = igzip.open(path, "rb")
    else:
        fh = open(path, "rb")
    buf = bytearray()
    run = 0  # bytes since the last newline
    with fh:
        while chunk := fh.read(chunk_size):
            nl = chunk.find(b"\n")
            if nl == -1:
                run += len(chunk)
            elif run + nl > max_line:
                run += nl
            else:
                run = len(chunk) - chunk.rfind(b"\n") - 1
            if run > max_line:
                line = buf.count(b"\n") + 1
                raise StreamTooLarge(f"line {line} is longer than the {max_line >> 10} KiB limit for one record")
            if len(buf) + len(chunk) > max_bytes:
                raise StreamTooLarge(f"more than {max_bytes >> 20} MiB uncompressed, the limit for one stream file")
            buf += chunk
    return buf


TypeOf = Callable[[str], pa.DataType]


def parse_stream(data: bytes | bytearray, path: Path, type_of: TypeOf, required: tuple[str, ...] = ("ts",)) -> StreamResult:
    """All header blocks of one stream file as one table (columns: union of the headers).

    Works on a memoryview of the file: a week of vmstat is ~100 MB, and every bytes slice would
    be a copy.
    """
    name = str(path)
    res = StreamResult(table=None)
    if len(data) < 65536 and not data.strip():
        res.log.append(LogEntry("warn", "empty_file", "empty file, skipped", file=name))
        return res
    if data.find(b"\0", 0, 65536) != -1:
        res.log.append(LogEntry("warn", "binary_file", "binary data, not a capture stream: skipped", file=name))
        return res
    end = len(data)
    if not data.endswith(b"\n"):
        end = data.rfind(b"\n") + 1
        torn_line = data.count(b"\n", 0, end) + 1
        res.log.append(
            LogEntry(
                "warn",
                "torn_record",
                "last record is incomplete (collector stopped mid-write): dropped",
                file=name,
                line=torn_line,
            )
        )
        res.rows_skipped += 1
    if not data.startswith(b"#"):
        first = data[: min(60, end)].split(b"\n", 1)[0].decode("utf-8", "replace")
        res.log.append(
            LogEntry(
                "warn", "wrong_kind", f"no '#ts ...' header (starts {first!r}): not a capture stream, skipped", file=name, line=1
            )
        )
        return res
    view = memoryview(data)
    tables = []
    # Split into header blocks; a stream normally has exactly one (a restarted collector adds one).
    # Found by their '#' (rare in data: memchr skips whole lines) rather than by "\n#", whose first
    # byte stops the search on every line: that search cost a third as much as pyarrow's parse.
    starts = [0]
    pos = data.find(b"#", 1, end)
    while pos != -1:
        if data[pos - 1] == 0x0A:
            starts.append(pos)
        pos = data.find(b"#", pos + 1, end)
    starts.append(end)
    for a, b in zip(starts, starts[1:]):
        nl = data.find(b"\n", a, b)
        nl = b if nl == -1 else nl
        line_base = data.count(b"\n", 0, a) + 1 if a else 1  # only counted for later blocks
        try:
            header = bytes(view[a + 1 : nl]).decode("ascii").split("\t")
        except UnicodeDecodeError:
            res.log.append(LogEntry("warn", "not_utf8", "header is not text: block skipped", file=name, line=line_base))
            continue
        missing = [c for c in required if c not in header]
        if missing or len(set(header)) != len(header):
            why = f"header lacks {', '.join(missing)}" if missing else "header repeats a column"
            res.log.append(LogEntry("warn", "wrong_kind", f"{why}: block skipped", file=name, line=line_base))
            res.rows_skipped += data.count(b"\n", nl + 1, b)
            continue
        if nl + 1 >= b:
            continue
        body = view[nl + 1 : b]
        t = _fast(body, header, type_of)
        if t is None:
            t, bad, nulled = _slow(bytes(body), header, type_of, name, line_base + 1)
            res.log.extend(bad + nulled)
            res.rows_skipped += len(bad)
        res.rows_read += t.num_rows
        tables.append(t)
    if tables:
        res.table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
    return res


# use_threads=False: the caller already reads one file per core; nested pools only contend.
def _options(header: list[str], type_of: TypeOf) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    types = {c: type_of(c) for c in header}
    return (
        pacsv.ReadOptions(column_names=header, block_size=4 << 20, use_threads=False),
        pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, newlines_in_values=False),
        pacsv.ConvertOptions(column_types=types, null_values=[NULL], strings_can_be_null=True, quoted_strings_can_be_null=False),
    )


def _fast(body: memoryview, header: list[str], type_of: TypeOf) -> pa.Table | None:
    ro, po, co = _options(header, type_of)
    try:
        return pacsv.read_csv(pa.BufferReader(pa.py_buffer(body)), read_options=ro, parse_options=po, convert_options=co)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class OutOfRange(ValueError):
    """A whole number that does not fit the column's 64 bits: the value is null, the sample stays."""


def _convert(value: str, typ: pa.DataType) -> object:
    if value == NULL:
        return None
    if pa.types.is_integer(typ):
        n = int(value)
        if not INT64_MIN <= n <= INT64_MAX:
            raise OutOfRange(value)
        return n
    if pa.types.is_floating(typ):
        f = float(value)
        if f != f or f in (float("inf"), float("-inf")):
            raise ValueError(value)
        return f
    return value


def _slow(
    body: bytes, header: list[str], type_of: TypeOf, name: str, first_line: int
) -> tuple[pa.Table, list[LogEntry], list[LogEntry]]:
    """(rows that parse, one entry per skipped line, one entry per value left null)."""
    types = [type_of(c) for c in header]
    cols: list[list[object]] = [[] for _ in header]
    values: list[object]
    bad: list[LogEntry] = []
    nulled: list[LogEntry] = []
    for i, raw in enumerate(body.split(b"\n")[:-1]):
        lineno = first_line + i
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(LogEntry("warn", "not_utf8", "bytes that are not UTF-8: sample skipped", file=name, line=lineno))
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            bad.append(
                LogEntry(
                    "warn",
                    "bad_line",
                    f"{len(fields)} fields where the header has {len(header)}: sample skipped",
                    file=name,
                    line=lineno,
                )
            )
            continue
        try:
            values = [_convert(v, t) for v, t in zip(fields, types)]
        except ValueError:
            values, skip = [], False
            for v, t, c in zip(fields, types, header):
                try:
                    values.append(_convert(v, t))
                except OutOfRange:
                    values.append(None)
                    nulled.append(
                        LogEntry(
                            "warn", "bad_value", f"{c}: {v[:40]} is too large for 64 bits: left null", file=name, line=lineno
                        )
                    )
                except ValueError:
                    event = "bad_timestamp" if c == "ts" else "bad_value"
                    what = "timestamp" if c == "ts" else f"{c}"
                    bad.append(
                        LogEntry("warn", event, f"{what}: {v[:40]!r} is not a number: sample skipped", file=name, line=lineno)
                    )
                    skip = True
                    break
            if skip:
                continue
        for col, value in zip(cols, values):
            col.append(value)
    arrays = [pa.array(c, type=t) for c, t in zip(cols, types)]
    return pa.Table.from_arrays(arrays, names=header), bad, nulled
