"""Header blocks of one capture stream (docs/FORMAT.md): a restarted collector starts a new `#ts …`
block, maybe with other columns. The blocks are found by a '#' at the start of a line (issue 12: the
search no longer stops on every line); a '#' inside a value starts nothing."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from memreport.ingest.capture import _type_of
from memreport.ingest.streams import parse_stream


def test_blocks_are_split_at_line_start_hashes_only() -> None:
    text = (
        "#ts\tname\trss_kb\n"
        "100\tvm#1\t10\n"  # '#' inside a value
        "110\tvm#2\t#\n"  # a value that is only '#': bad, logged, skipped
        "#ts\tname\trss_kb\tswap_kb\n"  # the collector restarted with one more column
        "120\tvm3\t30\t5\n"
        "#ts\trss_kb\trss_kb\n"  # a header that repeats a column: its block is skipped
        "130\t1\t2\n"
        "140\t3\t4\n"
    )
    res = parse_stream(text.encode(), Path("vms.20250101.tsv"), _type_of)
    assert res.table is not None
    t = res.table
    assert t.column("ts").to_pylist() == [100.0, 120.0]
    assert t.column("name").to_pylist() == ["vm#1", "vm3"]
    assert t.column("rss_kb").to_pylist() == [10, 30]
    assert t.column("swap_kb").to_pylist() == [None, 5]
    assert t.schema.field("rss_kb").type == pa.int64()
    assert res.rows_read == 2 and res.rows_skipped == 3  # the bad value, the two rows of the skipped block
    assert [(e.event, e.line) for e in res.log] == [("bad_value", 3), ("wrong_kind", 6)]
