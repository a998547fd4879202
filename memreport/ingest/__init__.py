"""Ingest: find inputs (sources), parse them (pure parsers), build the Parquet store."""
