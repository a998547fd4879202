"""memreport fleet (issue 5): a generated fleet with known answers, processed by the local pool and by a
real dask LocalCluster on 127.0.0.1, a corrupt input in the middle, incremental reruns and the dataset."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
from pathlib import Path

import pytest
from conftest import HANG, run_cli

from memreport.config import Thresholds
from memreport.fleet import FleetOptions, run_fleet, state
from memreport.fleet.discover import discover
from memreport.synthetic import GIB, MIB, HostSpec, Thrash, write_capture

VM_ALLOC = 164 * GIB  # sum of HostSpec's default vm_sizes_gib


def spec(i: int) -> HostSpec:
    """Host i: RAM 64..224 GiB, swap 4..28 GiB, every other host with a planted 20-minute swap storm."""
    return HostSpec(
        hostname=f"kvm{i:02d}",
        seed=100 + i,
        days=0.2,
        interval_s=60,
        ram_bytes=(64 + 32 * i) * GIB,
        swap_bytes=(4 + 6 * i) * GIB,
        thrash=(Thrash(2 * 3600, 20 * 60, 40 * MIB, 20 * MIB),) if i % 2 else (),
    )


SPECS = [spec(i) for i in range(6)]


def _bundle(capture: Path, out: Path) -> Path:
    """A capture packed as `memsnap --bundle` does: one top directory in a .tar.gz."""
    with tarfile.open(out, "w:gz") as tar:
        tar.add(capture, arcname=out.name.removesuffix(".tar.gz"))
    return out


@pytest.fixture(scope="module")
def fleet_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """inputs/: four capture directories, two bundles, and a corrupt bundle in the middle (by name)."""
    root = tmp_path_factory.mktemp("fleet") / "inputs"
    staging = root.parent / "staging"
    for i, s in enumerate(SPECS):
        if i in (1, 4):
            write_capture(s, staging / s.hostname, gz=True)
            _bundle(staging / s.hostname, root / f"{s.hostname}-memsnap.tar.gz")
        else:
            write_capture(s, root / s.hostname, gz=True)
    (root / "kvm02-zz-corrupt.tar.gz").write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(300))
    return root


def _strip(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "run"}


@pytest.fixture(scope="module")
def local_run(fleet_in: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out") / "fleet"
    result = run_fleet([fleet_in], out, FleetOptions(jobs=2, fleet_pdf=True))
    return out, result


def test_known_answers(local_run) -> None:
    out, result = local_run
    doc = json.loads((out / "fleet.json").read_text())
    assert result.inputs == 7 and result.processed == 6 and result.unchanged == 0
    rows = {r["host"]: r for r in doc["hosts"]}
    assert sorted(rows) == [s.hostname for s in SPECS]
    for s in SPECS:
        r = rows[s.hostname]
        assert r["memory_total_bytes"] == s.ram_bytes
        assert r["swap_total_bytes"] == s.swap_bytes
        assert r["peak_inactive_bytes"] == s.inactive_peak_bytes
        assert r["swap_deficit_bytes"] == s.inactive_peak_bytes - s.swap_bytes
        # The host's one answer: the larger of the two rules' deficits, rounded up to whole GiB.
        need = max(s.inactive_peak_bytes - s.swap_bytes, VM_ALLOC - s.ram_bytes - s.swap_bytes, 0)
        assert r["swap_to_add_bytes"] == -(-need // GIB) * GIB
        assert r["vms_that_fit"] == r["headroom_vms"]
        assert r["vm_count"] == 30 and r["vm_allocated_bytes"] == VM_ALLOC
        assert r["overcommit_ratio"] == pytest.approx(VM_ALLOC / s.ram_bytes, abs=1e-4)
        assert r["safe_free_bytes"] == s.ram_bytes + s.swap_bytes - VM_ALLOC
        free = min(r["safe_free_bytes"], r["observed_free_bytes"])
        assert r["headroom_bytes"] == free and r["headroom_vms"] == max(0, free) // (4 * GIB)
        assert r["ksm_saved_bytes"] == pytest.approx(
            s.ksm_sharing_bytes * (0.8 + 0.2 * min(1.0, s.days)), rel=0.01
        )  # KSM ramps up over a day
        if s.thrash:
            assert r["thrash_windows"] == 1 and r["thrash_seconds"] == pytest.approx(20 * 60, abs=120)
        else:
            assert r["thrash_seconds"] == 0
        assert (out / r["report"]).is_file() and (out / r["report"]).with_name("report.json").is_file()
        assert not (out / r["report"]).with_name("report.pdf").exists()  # per-host PDFs only with --pdf
    t = doc["totals"]
    assert t["hosts"] == 6 and t["failed_inputs"] == 1
    assert t["swap_short_bytes"] == sum(r["swap_to_add_bytes"] for r in rows.values())
    assert t["hosts_short_of_swap"] == sum(1 for r in rows.values() if r["swap_to_add_bytes"] > 0)
    assert t["vms_that_fit"] == sum(r["headroom_vms"] for r in rows.values())
    assert t["vm_allocated_bytes"] == 6 * VM_ALLOC
    # Ranked by risk: verdicts never get better going up the table.
    order = {"CRIT": 2, "WARN": 1, "OK": 0}
    ranks = [order[r["verdict"]] for r in doc["hosts"]]
    assert ranks == sorted(ranks, reverse=True)
    assert [r["rank"] for r in doc["hosts"]] == list(range(1, 7))
    assert (out / "fleet.html").stat().st_size > 5000 and (out / "fleet.pdf").read_bytes()[:5] == b"%PDF-"


def test_corrupt_input_is_listed_and_the_rest_completes(local_run, fleet_in: Path) -> None:
    out, result = local_run
    doc = json.loads((out / "fleet.json").read_text())
    assert [f["input"] for f in doc["failed"]] == [str(fleet_in / "kvm02-zz-corrupt.tar.gz")]
    assert "kvm02-zz-corrupt.tar.gz" in doc["failed"][0]["error"] and "\n" not in doc["failed"][0]["error"]
    html = (out / "fleet.html").read_text()
    assert "kvm02-zz-corrupt.tar.gz" in html and "Inputs that could not be read (1)" in html


def test_dataset_reads_with_pandas_pyarrow_duckdb_dask(local_run) -> None:
    import dask.dataframe as dd
    import duckdb
    import pandas as pd
    import pyarrow.dataset as ds

    out, _ = local_run
    samples = out / "store" / "samples"
    expected = {s.hostname: s.samples for s in SPECS}
    df = pd.read_parquet(samples)
    assert df.groupby("host", observed=True).size().to_dict() == expected
    table = ds.dataset(samples, partitioning="hive").to_table(columns=["host", "mem_Inactive"])
    assert table.num_rows == sum(expected.values())
    got = dict(
        duckdb.sql(
            f"select host, count(*) from read_parquet('{samples}/*/*.parquet', hive_partitioning=true) group by host"
        ).fetchall()
    )
    assert got == expected
    ddf = dd.read_parquet(str(samples))
    assert ddf.groupby("host").size().compute().to_dict() == expected
    assert json.loads((out / "store" / "manifest.json").read_text())["hosts"] == sorted(expected)


def test_dask_local_cluster_gives_the_same_fleet_json(local_run, fleet_in: Path, tmp_path: Path) -> None:
    out, _ = local_run
    result = run_fleet([fleet_in], tmp_path / "dask", FleetOptions(dask_local=2, fleet_pdf=False))
    assert result.processed == 6 and result.fleet["run"]["executor"] == "dask-local"
    local = json.loads((out / "fleet.json").read_text())
    dask = json.loads((tmp_path / "dask" / "fleet.json").read_text())
    assert _strip(dask) == _strip(local)


def test_rerun_does_no_work_touch_is_unchanged_and_force_redoes(fleet_in: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(fleet_in, inputs)
    out = tmp_path / "out"
    opts = FleetOptions(jobs=2, fleet_pdf=False)
    first = run_fleet([inputs], out, opts)
    assert (first.processed, first.unchanged, len(first.failed)) == (6, 0, 1)
    report = out / "hosts" / "kvm00" / "report.json"
    mtime = report.stat().st_mtime_ns

    second = run_fleet([inputs], out, opts)
    assert (second.processed, second.unchanged) == (0, 7)  # the failed input is not retried while unchanged
    assert report.stat().st_mtime_ns == mtime
    assert _strip(second.fleet) == _strip(first.fleet)

    # Touched (same content): hashed, not redone.
    for p in (inputs / "kvm00").iterdir():
        os.utime(p, (time.time() + 5, time.time() + 5))
    third = run_fleet([inputs], out, opts)
    assert (third.processed, third.unchanged) == (0, 7) and report.stat().st_mtime_ns == mtime

    # Changed content: only that input is redone, and its numbers follow.
    shutil.rmtree(inputs / "kvm00")
    write_capture(
        HostSpec(hostname="kvm00", seed=5, days=0.2, interval_s=60, ram_bytes=64 * GIB, swap_bytes=32 * GIB, thrash=()),
        inputs / "kvm00",
        gz=True,
    )
    fourth = run_fleet([inputs], out, opts)
    assert (fourth.processed, fourth.unchanged) == (1, 6)
    row = next(r for r in fourth.fleet["hosts"] if r["host"] == "kvm00")
    assert row["swap_total_bytes"] == 32 * GIB and row["swap_deficit_bytes"] < 0

    forced = run_fleet([inputs], out, FleetOptions(jobs=2, fleet_pdf=False, force=True))
    assert (forced.processed, forced.unchanged, len(forced.failed)) == (6, 0, 1)

    # An input dropped from the command line leaves the dataset and the reports.
    fewer = run_fleet([inputs / "kvm00", inputs / "kvm02"], out, opts)
    assert sorted(r["host"] for r in fewer.fleet["hosts"]) == ["kvm00", "kvm02"]
    assert sorted(p.name for p in (out / "store" / "samples").iterdir()) == ["host=kvm00", "host=kvm02"]
    assert sorted(p.name for p in (out / "hosts").iterdir()) == ["kvm00", "kvm02"]


def test_killed_run_resumes_with_the_rest(fleet_in: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(8):  # slow enough to kill halfway: a day at 60 s each
        write_capture(HostSpec(hostname=f"r{i}", seed=i, days=1, interval_s=60, thrash=()), inputs / f"r{i}", gz=True)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "memreport", "fleet", str(inputs), "-o", str(out), "--jobs", "1", "--no-fleet-pdf"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline and len(list((out / "state").glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its workers, as a crash or `kill -9` would
    proc.wait()
    done_before = len(list((out / "state").glob("*.json")))
    assert 3 <= done_before < 8, "the run finished before it could be killed"

    rerun = run_cli("fleet", inputs, "-o", out, "--jobs", "2", "--no-fleet-pdf")
    assert rerun.returncode == 0, rerun.stderr
    assert f"fleet: 8 input(s): {done_before} unchanged, {8 - done_before} to do" in rerun.stderr
    assert f"{8 - done_before} processed, {done_before} unchanged, 0 failed" in rerun.stdout
    assert "[" in rerun.stderr and "/8] " in rerun.stderr  # plain progress lines when not on a terminal
    assert "[host " not in rerun.stderr  # the hosts the killed run had staged are moved in, not read again
    doc = json.loads((out / "fleet.json").read_text())
    assert sorted(r["host"] for r in doc["hosts"]) == [f"r{i}" for i in range(8)]
    assert not (out / ".work").exists() or not any((out / ".work").iterdir())

    again = run_cli("fleet", inputs, "-o", out, "--no-fleet-pdf")
    assert "0 processed, 8 unchanged" in again.stdout


def test_cli_exit_code_and_help(fleet_in: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "fleet",
        fleet_in / "kvm00",
        fleet_in / "kvm02-zz-corrupt.tar.gz",
        "-o",
        tmp_path / "o",
        "--jobs",
        "1",
        "--no-fleet-pdf",
        "--vm-size",
        "8GiB",
    )
    assert proc.returncode == 1, proc.stderr
    assert "failed input:" in proc.stderr and "kvm02-zz-corrupt.tar.gz" in proc.stderr
    doc = json.loads((tmp_path / "o" / "fleet.json").read_text())
    assert doc["vm_size_bytes"] == 8 * GIB
    ok = run_cli("fleet", fleet_in / "kvm00", "-o", tmp_path / "o2", "--jobs", "1", "--no-fleet-pdf")
    assert ok.returncode == 0, ok.stderr
    helptext = run_cli("fleet", "--help").stdout
    for word in ("--jobs", "--scheduler", "--dask-local", "--force", "--pdf", "--vm-size", "Exit code"):
        assert word in helptext
    assert run_cli("fleet", fleet_in, "-o", fleet_in).returncode == 2  # not a fleet directory: refused


def test_discover_dirs_globs_and_list_files(fleet_in: Path, tmp_path: Path) -> None:
    names = [p.name for p in discover([fleet_in])]
    assert names == sorted(
        ["kvm00", "kvm01-memsnap.tar.gz", "kvm02", "kvm02-zz-corrupt.tar.gz", "kvm03", "kvm04-memsnap.tar.gz", "kvm05"]
    )
    assert [p.name for p in discover([str(fleet_in / "*.tar.gz")])] == [
        "kvm01-memsnap.tar.gz",
        "kvm02-zz-corrupt.tar.gz",
        "kvm04-memsnap.tar.gz",
    ]
    assert [p.name for p in discover([fleet_in / "kvm03"])] == ["kvm03"]  # a capture is one input, not a directory of them
    lst = tmp_path / "hosts.txt"
    lst.write_text(f"# the night batch\n{fleet_in / 'kvm00'}\n\n{fleet_in}/kvm05\n{fleet_in / 'kvm00'}\n")
    assert [p.name for p in discover([f"@{lst}"])] == ["kvm00", "kvm05"]
    nested = tmp_path / "customer"
    (nested / "site-a").mkdir(parents=True)
    shutil.copytree(fleet_in / "kvm03", nested / "site-a" / "kvm03")
    shutil.copy(fleet_in / "kvm01-memsnap.tar.gz", nested)
    assert [p.name for p in discover([nested])] == ["kvm01-memsnap.tar.gz", "kvm03"]


def test_one_host_in_two_inputs_is_merged(fleet_in: Path, tmp_path: Path) -> None:
    """Issue 10: a host in two inputs (here the same capture twice) is one host, not a failure."""
    dup = tmp_path / "dup"
    shutil.copytree(fleet_in / "kvm00", dup / "a")
    shutil.copytree(fleet_in / "kvm00", dup / "b")
    result = run_fleet([dup], tmp_path / "o", FleetOptions(jobs=1, fleet_pdf=False))
    assert result.failed == []
    (row,) = result.fleet["hosts"]
    assert row["host"] == "kvm00" and row["inputs"] == [str(dup / "a"), str(dup / "b")]
    assert row["samples"] == SPECS[0].samples  # the same samples twice: merged, not doubled
    assert result.fleet["run"]["hosts_merged"] == 1


def test_settings_change_redoes_and_markers_are_small(fleet_in: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    run_fleet([fleet_in / "kvm05"], out, FleetOptions(jobs=1, fleet_pdf=False))
    again = run_fleet(
        [fleet_in / "kvm05"], out, FleetOptions(jobs=1, fleet_pdf=False, thresholds=Thresholds(swap_basis="inactive_anon"))
    )
    assert again.processed == 1
    marker = state.read_marker(out, state.input_key(fleet_in / "kvm05"))
    assert marker is not None and marker["status"] == "ok"
    assert len(json.dumps(marker)) < 4000  # what travels back from a worker: numbers, not series


def test_progress_bar_on_a_terminal(fleet_in: Path, tmp_path: Path) -> None:
    import re
    import sys

    from conftest import run_on_terminal

    cmd = [
        sys.executable,
        "-m",
        "memreport",
        "fleet",
        str(fleet_in / "kvm00"),
        str(fleet_in / "kvm03"),
        str(fleet_in / "kvm05"),
        "-o",
        str(tmp_path / "o"),
        "--jobs",
        "1",
        "--no-fleet-pdf",
    ]
    rc, out = run_on_terminal(cmd)
    assert rc == 0, out
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    assert "fleet: 3 input(s): 0 unchanged, 3 to do" in screen
    assert "━" in screen and re.search(r"hosts .*[0-3]/3 .*\d+\.\d\d/s", screen), screen[-2000:]
    assert "[1/3]" not in screen  # the bar replaces the plain log lines
    assert "3 processed, 0 unchanged, 0 failed" in screen


def test_mixed_directory_of_bundles_captures_and_tool_output(fleet_in: Path, tmp_path: Path) -> None:
    """Support's case: a customer's folder holding a sosreport, a supportconfig, our bundle and pasted
    vmstat output (real procps vmstat from this machine)."""
    import subprocess

    from conftest import ROOT

    mixed = tmp_path / "customer"
    mixed.mkdir()
    for name in ("sosreport-kvm07-3.x", "scc_kvm02_261126_1200"):
        shutil.copytree(ROOT / "tests" / "fixtures" / "bundles" / name, mixed / name)
    shutil.copy(fleet_in / "kvm01-memsnap.tar.gz", mixed)
    vmstat = subprocess.run(["vmstat", "-t", "1", "3"], capture_output=True, text=True, check=True).stdout
    (mixed / "web01-vmstat.txt").write_text(vmstat)
    result = run_fleet([mixed], tmp_path / "o", FleetOptions(jobs=2, fleet_pdf=False))
    assert result.failed == [] and result.processed == 4
    rows = {r["host"]: r for r in result.fleet["hosts"]}
    assert sorted(rows) == ["kvm01", "kvm02", "kvm07", "web01-vmstat"]
    assert rows["kvm01"]["samples"] == SPECS[1].samples and rows["kvm01"]["vm_count"] == 30
    assert rows["web01-vmstat"]["samples"] == 2  # vmstat's since-boot first line is not a sample
    assert rows["kvm07"]["input"] == str(mixed / "sosreport-kvm07-3.x")
    for r in rows.values():
        assert (tmp_path / "o" / r["report"]).is_file()
    import pandas as pd

    df = pd.read_parquet(tmp_path / "o" / "store" / "samples", columns=["host"])
    assert sorted(df["host"].unique()) == sorted(rows)


def test_scheduler_address_runs_on_a_running_cluster(local_run, fleet_in: Path, tmp_path: Path) -> None:
    """`--scheduler tcp://…`: the path for a real cluster, here one started on 127.0.0.1 beforehand."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        proc = run_cli(
            "fleet",
            fleet_in / "kvm00",
            fleet_in / "kvm01-memsnap.tar.gz",
            "-o",
            tmp_path / "o",
            "--scheduler",
            cluster.scheduler_address,
            "--no-fleet-pdf",
        )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "o" / "fleet.json").read_text())
    assert doc["run"]["executor"] == "dask" and doc["run"]["processed"] == 2
    local = {r["host"]: r for r in json.loads((local_run[0] / "fleet.json").read_text())["hosts"]}
    for row in doc["hosts"]:
        mine = {k: v for k, v in row.items() if k != "rank"}
        assert mine == {k: v for k, v in local[row["host"]].items() if k != "rank"}


def test_unreachable_scheduler_is_one_line(fleet_in: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("fleet", fleet_in / "kvm00", "-o", tmp_path / "o", "--scheduler", f"tcp://127.0.0.1:{port}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert lines[-1].startswith("memreport: error: cannot reach the dask scheduler tcp://127.0.0.1:"), proc.stderr


def test_hostile_host_name_stays_escaped_and_inside_outdir(fleet_in: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(fleet_in / "kvm00", inputs / "x")
    facts = inputs / "x" / "facts.txt"
    evil = "<script>alert(1)</script>../../etc"
    facts.write_text(
        "".join(f"hostname={evil}\n" if line.startswith("hostname=") else line + "\n" for line in facts.read_text().splitlines())
    )
    out = tmp_path / "o"
    result = run_fleet([inputs], out, FleetOptions(jobs=1, fleet_pdf=False))
    assert [r["host"] for r in result.fleet["hosts"]] == [evil]
    html = (out / "fleet.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;../../etc" in html
    (host_dir,) = (out / "hosts").iterdir()
    assert "/" not in host_dir.name and host_dir.name.startswith("_script_alert_1_script_")
    assert (out / result.fleet["hosts"][0]["report"]).resolve().is_relative_to(out.resolve())
    assert [p.name for p in (out / "store" / "samples").iterdir()] == [f"host={host_dir.name}"]  # one rule for both
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "o"]  # nothing written beside OUTDIR


def test_ingest_options_reach_the_workers_and_redo_the_input(tmp_path: Path) -> None:
    """Issue 10: --page-size (one IngestOptions record) goes to every worker, and changing it redoes
    an unchanged input, since it changes what the input gives."""
    import pandas as pd
    from conftest import FIXTURES

    snap = tmp_path / "kvm9"
    shutil.copytree(FIXTURES / "linux-6.18", snap)
    (snap / "pagesize").unlink()
    (snap / "proc" / "vmstat").unlink()
    out = tmp_path / "o"
    run_fleet([snap], out, FleetOptions(jobs=1, fleet_pdf=False))
    facts = pd.read_parquet(out / "store" / "facts")
    assert facts[["page_size", "page_size_source"]].values.tolist() == [[4096, "assumed"]]
    p = run_cli("fleet", snap, "-o", out, "--jobs", "1", "--no-fleet-pdf", "--page-size", "64KiB")
    assert p.returncode == 0, p.stderr
    assert "1 processed, 0 unchanged" in p.stdout
    facts = pd.read_parquet(out / "store" / "facts")
    assert facts[["page_size", "page_size_source"]].values.tolist() == [[65536, "option"]]
    (report,) = (out / "hosts").rglob("report.json")
    assert json.loads(report.read_text())["coverage"]["assumptions"] == []
