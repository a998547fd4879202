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


def test_the_repo_stands_alone():
    """What the code, the docs and the tests rely on lives in this repository (docs/), not in the
    notes the project grew from, which a clone does not have."""
    outside = ("../" + "shared", "DOMAIN" + ".md")  # spelled apart so that this file does not match itself
    ours = ["README.md", "CHANGELOG.md", "Makefile", "pyproject.toml", ".ci/run"]
    for top in ("memreport", "collectors", "templates", "docs", "tests", "benchmarks", "sample_data"):
        ours += [
            str(p.relative_to(ROOT))
            for p in (ROOT / top).rglob("*")
            if p.is_file() and p.suffix in (".py", ".md", ".j2", ".sh", ".html", ".css", ".txt") and "__pycache__" not in p.parts
        ]
    citing = [f"{name}: {word}" for name in ours for word in outside if word in (ROOT / name).read_text(errors="replace")]
    assert len(ours) > 100 and citing == []


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


def test_generated_docs_match_the_code():
    """The thresholds table and the sample's answer in docs/ are what the code gives (make docs)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "docs" / "gen_docs.py")
    gen = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    for path, text in gen.rendered().items():
        assert path.read_text() == text, f"{path.name} differs from the code: run make docs"


def test_every_finding_id_is_documented():
    ids = set()
    for src in (ROOT / "memreport" / "analyze").glob("*.py"):
        ids |= set(re.findall(r'\bid="([a-z_]+\.[a-z_]+)"', src.read_text()))
    assert {"thrash.unknown", "swap.none", "ksm.unknown", "oom.unknown"} <= ids
    doc = (ROOT / "docs" / "CHECKS.md").read_text()
    assert not [i for i in sorted(ids) if f"`{i}`" not in doc]


def test_every_report_json_key_is_documented():
    from helpers import synthetic as S

    from memreport.analyze import analyze
    from memreport.analyze.report_json import build

    doc = build(analyze(S.host(S.samples(n=61))))
    text = (ROOT / "docs" / "REPORT-JSON.md").read_text()
    keys = set(doc) | {f"{k}" for k in doc["answer"]} | set(doc["coverage"])
    assert not [k for k in sorted(keys) if f"`{k}`" not in text]
