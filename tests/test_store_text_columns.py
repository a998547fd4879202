"""The store's per-VM text columns (name, uuid, backing, source) are written from pandas categories
as Parquet dictionaries without being made into a string per row first (issue 12), and read back as
the schema's plain strings: the same table as from plain text columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from memreport.ingest import hosts, schema, store
from memreport.ingest.options import IngestOptions
from memreport.synthetic import HostSpec, write_capture

TEXT = ("name", "uuid", "backing", "source")


def _vms_table(root: Path) -> pa.Table:
    files = sorted((root / "vms").rglob("*.parquet"))
    assert files
    return pa.concat_tables(pq.read_table(f) for f in files)


def test_categorical_text_reads_back_as_the_schema_strings(tmp_path: Path) -> None:
    cap = write_capture(HostSpec(hostname="txt", days=0.05, interval_s=10, vm_sizes_gib=(2, 4, 8)), tmp_path / "cap")
    data = hosts.combine(hosts.read(cap, IngestOptions()))
    assert data.vms is not None
    assert all(isinstance(data.vms[c].dtype, pd.CategoricalDtype) for c in TEXT)  # the capture reader's shape
    store.write_host(tmp_path / "cat", data)

    plain = data.vms.copy()
    for c in TEXT:
        plain[c] = plain[c].astype("object")
    data.vms = plain
    store.write_host(tmp_path / "obj", data)

    from_cat, from_obj = _vms_table(tmp_path / "cat"), _vms_table(tmp_path / "obj")
    for c in TEXT:
        assert from_cat.schema.field(c).type == schema.VMS_SCHEMA.field(c).type == pa.string()
    assert from_cat.schema.equals(from_obj.schema)
    assert from_cat.equals(from_obj)
    names = set(from_cat.column("name").to_pylist())
    assert len(names) == 3 and None not in names
    assert set(from_cat.column("source").to_pylist()) == {"capture"}
    assert from_cat.num_rows == len(plain)
    # The timestamps keep their zone without the Arrow schema in the file.
    assert from_cat.schema.field("ts").type == schema.VMS_SCHEMA.field("ts").type
