"""The store's per-VM rows from a capture (issue 12: built column by column, per-VM constants
dictionary-encoded): every value the collector wrote, in bytes, with each VM's name and sizes; a
null column for each value an older collector did not write; the constants read back as integers."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from memreport.ingest.run import ingest
from memreport.synthetic import GIB, HostSpec, write_capture

PAGE = 4096


def _capture(tmp_path: Path) -> Path:
    cap = tmp_path / "cap"
    write_capture(HostSpec(hostname="vmstore", days=2, interval_s=600, vm_sizes_gib=(2, 4, 8)), cap)
    return cap


def _raw_vms(cap: Path) -> list[dict[str, str]]:
    rows = []
    for f in sorted(cap.glob("vms.*.tsv")):
        header, *lines = f.read_text().splitlines()
        names = header.lstrip("#").split("\t")
        rows += [dict(zip(names, line.split("\t"), strict=True)) for line in lines]
    return rows


def _vm_defs(cap: Path) -> dict[int, tuple[str, int, int | None]]:
    """pid -> (name, -m size, maxmem) as the capture's vmdefs give them."""
    out = {}
    for f in sorted(cap.glob("vmdefs.*.tsv")):
        header, *lines = f.read_text().splitlines()
        names = header.lstrip("#").split("\t")
        for line in lines:
            d = dict(zip(names, line.split("\t"), strict=True))
            size = re.match(r"(?:size=)?(\d+)([GM]?)(?:,|$)", d["mem_arg"])  # qemu -m: a bare number is MiB
            maxmem = re.search(r"maxmem=(\d+)G", d["mem_arg"])
            assert size is not None, d["mem_arg"]
            unit = GIB if size[2] == "G" else GIB // 1024
            out[int(d["pid"])] = (d["name"], int(size[1]) * unit, int(maxmem[1]) * GIB if maxmem else None)
    return out


def _store_vms(cap: Path, out: Path) -> list[dict[str, object]]:
    ingest([cap], out)
    files = sorted((out / "vms").rglob("*.parquet"))
    assert files
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_every_value_the_collector_wrote_is_in_bytes_with_its_vm(tmp_path: Path) -> None:
    cap = _capture(tmp_path)
    raw = _raw_vms(cap)
    stored = _store_vms(cap, tmp_path / "store")
    assert len(stored) == len(raw) == 3 * 2 * 144
    defs = _vm_defs(cap)
    assert sorted(size for _, size, _ in defs.values()) == [2 * GIB, 4 * GIB, 8 * GIB]
    assert any(maxmem for _, _, maxmem in defs.values())
    for r, s in zip(raw, stored, strict=True):  # both in (time, pid) order
        assert s["pid"] == int(r["pid"])
        assert s["rss_bytes"] == int(r["rss_kb"]) * 1024
        assert s["swap_bytes"] == int(r["swap_kb"]) * 1024
        assert s["ksm_merged_bytes"] == int(r["ksm_merging_pages"]) * PAGE
        assert s["ksm_profit_bytes"] == int(r["ksm_profit"])
        assert s["hugepages_bytes"] is None  # this collector wrote no hugetlb_kb
        assert (s["name"], s["allocated_bytes"], s["maxmem_bytes"]) == defs[int(r["pid"])]
        assert s["backing"] == "anonymous" and s["source"] == "capture"


def test_values_an_older_collector_did_not_write_are_null(tmp_path: Path) -> None:
    cap = _capture(tmp_path)
    for f in cap.glob("vms.*.tsv"):  # as collectors before 1.1.0 wrote it: no ksm_stat columns
        lines = [line.split("\t")[:4] for line in f.read_text().splitlines()]
        f.write_text("".join("\t".join(fields) + "\n" for fields in lines))
    raw = _raw_vms(cap)
    stored = _store_vms(cap, tmp_path / "store")
    assert [s["rss_bytes"] for s in stored] == [int(r["rss_kb"]) * 1024 for r in raw]
    for column in ("ksm_merged_bytes", "ksm_profit_bytes", "hugepages_bytes"):
        assert {s[column] for s in stored} == {None}, column


@pytest.mark.parametrize("column", ["pid", "allocated_bytes", "backing"])
def test_per_vm_constants_are_dictionary_encoded_and_read_back_as_their_type(tmp_path: Path, column: str) -> None:
    cap = _capture(tmp_path)
    _store_vms(cap, tmp_path / "store")
    f = sorted((tmp_path / "store" / "vms").rglob("*.parquet"))[0]
    meta = pq.ParquetFile(f).metadata
    index = meta.schema.names.index(column)
    assert any("DICTIONARY" in e for e in meta.row_group(0).column(index).encodings)
    expected = "string" if column == "backing" else "int64"
    assert str(pq.read_table(f).schema.field(column).type) == expected
