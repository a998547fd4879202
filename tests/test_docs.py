"""Docs are kept true: the README's promises and the documented formats."""

from __future__ import annotations

import re

from conftest import ROOT


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1]
    block = section.split("```", 2)[1].split("\n", 1)[1]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    commands = quick_start_commands()
    assert commands == ["make report", "make test"]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^report: setup", makefile, re.M) and re.search(r"^test: setup", makefile, re.M)


def test_every_store_table_is_documented():
    from memreport.ingest.schema import FACTS_SCHEMA, LOG_SCHEMA, SAMPLE_FIXED, SWAPS_SCHEMA, VMS_SCHEMA

    doc = (ROOT / "docs" / "STORE.md").read_text()
    for f in SAMPLE_FIXED:
        assert f"`{f.name}`" in doc, f.name
    for sch in (VMS_SCHEMA, SWAPS_SCHEMA, FACTS_SCHEMA, LOG_SCHEMA):
        for f in sch:
            assert f"`{f.name}`" in doc, f.name


def test_every_capture_stream_is_documented():
    from memreport.ingest.capture import SOURCES

    doc = (ROOT / "docs" / "FORMAT.md").read_text()
    for source in SOURCES:
        assert f"| {source} |" in doc, source
