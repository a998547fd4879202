"""The Python API (issue 13, docs/API.md): the issue's snippet as written, on real inputs — a
sosreport tarball, a binary sa file made by sadc, collector captures — then what it promises:
a store reads back like its inputs, report.json is the analysis, errors are exceptions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import memreport
from tests.fixtures.sar.realtools import make_sa

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "kvm-sample"
SOSREPORT = ROOT / "tests" / "fixtures" / "bundles" / "sosreport-kvm07-3.x"

pytestmark = pytest.mark.slow


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The snippet's file names, in a scratch directory that is the working directory."""
    with tarfile.open(tmp_path / "sosreport.tar.xz", "w:xz") as tar:
        tar.add(SOSREPORT, arcname=SOSREPORT.name)
    make_sa(tmp_path, "sa26")
    os.symlink(SAMPLE, tmp_path / "captures")  # one capture (a directory of captures is for run_fleet)
    (tmp_path / "bundles").mkdir()
    os.symlink(SAMPLE, tmp_path / "bundles" / "kvm-sample")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_issue_snippet_runs_as_written(inputs: Path) -> None:
    hosts = memreport.load(["sosreport.tar.xz", "sa26"], page_size=None)  # list[Host], nothing written
    memreport.ingest(["captures/"], "store/")  # the Parquet store
    stored = memreport.load(["store/"])  # a store reads back the same way
    result = memreport.analyze(stored[0], memreport.Thresholds(vm_size="4GiB"))
    result.answer, result.findings, result.verdict, result.to_json()  # report.json as a dict
    memreport.write_report(result, "out/kvm01/", pdf=True)  # html, pdf, json as one set
    fleet = memreport.run_fleet(["bundles/"], "fleet/", workers=2)  # what `memreport fleet` does

    # the sosreport's host and the machine sadc ran on: two hosts, each with samples
    assert "kvm07" in [h.facts.host for h in hosts]
    assert len(hosts) == 2 and all(len(h.samples) > 0 for h in hosts)
    # the sample host (7 days at 60 s) from the store
    assert [h.facts.host for h in stored] == ["kvm-sample"]
    assert result.host == "kvm-sample" and result.analysis.sample_count == 10080
    assert result.verdict == memreport.Severity.CRIT
    assert result.answer.swap_to_add_bytes == 20 * 1024**3
    assert result.findings[0].severity == memreport.Severity.CRIT
    doc = json.loads((inputs / "out/kvm01/report.json").read_text())
    assert doc == json.loads(json.dumps(result.to_json()))
    assert doc["answer"]["swap_to_add_bytes"] == 20 * 1024**3
    assert (inputs / "out/kvm01/report.pdf").read_bytes().startswith(b"%PDF")
    assert "kvm-sample" in (inputs / "out/kvm01/report.html").read_text()
    assert fleet.failed == [] and fleet.fleet["totals"]["hosts"] == 1
    assert (inputs / "fleet/hosts/kvm-sample/report.json").is_file()


def test_a_store_reads_back_like_its_inputs(tmp_path: Path) -> None:
    direct = memreport.analyze(memreport.load(SAMPLE)[0])
    memreport.ingest([SAMPLE], tmp_path / "store")
    stored = memreport.analyze(memreport.load(tmp_path / "store")[0])
    assert stored.to_json()["answer"] == direct.to_json()["answer"]
    assert [f.id for f in stored.findings] == [f.id for f in direct.findings]


def test_thresholds_take_a_vm_size_and_it_changes_the_answer() -> None:
    data = memreport.load(ROOT / "sample_data" / "real-capture")[0]
    small = memreport.analyze(data, memreport.Thresholds(vm_size="1GiB"))
    big = memreport.analyze(data, memreport.Thresholds(vm_size="4GiB"))
    assert memreport.Thresholds(vm_size="8GiB").oom_new_vm_bytes == 8 * 1024**3
    assert memreport.Thresholds(vm_size="4GiB") == memreport.Thresholds()
    assert small.to_json()["thresholds"]["oom.new_vm_bytes"] == 1024**3
    assert small.answer.vms_that_fit is not None and big.answer.vms_that_fit is not None
    assert small.answer.vms_that_fit >= 4 * big.answer.vms_that_fit


def test_errors_are_exceptions_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(memreport.InputError) as e:
        memreport.load(tmp_path / "MISSING")
    assert str(e.value) == f"{tmp_path / 'MISSING'}: no such file or directory"
    with pytest.raises(memreport.ConfigError, match="vm size 'lots'"):
        memreport.Thresholds(vm_size="lots")
    with pytest.raises(memreport.InputError, match="2 inputs: none could be read"):
        memreport.load([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(memreport.MemreportError, match="collector 'pl'"):
        memreport.collector("pl")  # type: ignore[arg-type]


def test_the_subpackages_named_like_api_functions_still_import() -> None:
    """memreport.ingest and memreport.analyze are API calls and subpackages at once (api_modules.py):
    the call works whatever was imported first, and so does every ordinary import form."""
    code = (
        "import memreport, memreport.ingest.store, memreport.analyze.thrash\n"
        "import memreport.ingest as i\n"
        "from memreport.analyze import summary_lines\n"
        "from memreport.ingest.run import load\n"
        "print(callable(memreport.ingest), callable(memreport.analyze), i is memreport.ingest, "
        "hasattr(i, 'init_worker'), memreport.analyze.__call__.__doc__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True", "True", "memreport.api.analyze", "(docs/API.md)."]


def test_importing_memreport_loads_no_heavy_library() -> None:
    code = (
        "import sys, memreport; memreport.Thresholds(vm_size='2GiB'); memreport.__all__\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'weasyprint', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_docs_api_names_every_export_and_answer_field() -> None:
    import dataclasses

    from memreport.analyze.answer import Answer

    doc = (ROOT / "docs" / "API.md").read_text()
    api_names = [n for n in memreport.__all__ if n not in ("COLLECTORS",) and not n.endswith("Error")]
    assert [n for n in api_names if f"`{n}" not in doc] == []
    assert [f.name for f in dataclasses.fields(Answer) if f.name != "items" and f"`{f.name}`" not in doc] == []
