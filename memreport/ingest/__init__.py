"""Ingest: find inputs (sources), parse them (pure parsers), build the Parquet store."""

import os

import pyarrow as pa

# The system allocator, not pyarrow's default jemalloc: jemalloc keeps the freed buffers of the
# parse (a host-week is ~150 MB of text) resident, so a fleet worker peaked ~190 MB higher for the
# same speed (measured on a host-week with 12 VMs). ARROW_DEFAULT_MEMORY_POOL still wins when set.
if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    pa.set_memory_pool(pa.system_memory_pool())
