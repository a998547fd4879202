"""The cores a process may use (memreport/cpus.py): CPU affinity and a cgroup v2 quota, not the
machine's count (a fleet sizes its workers and each ingest its threads by it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from memreport import cpus


def _tree(tmp_path, path: str, limits: dict[str, str]):
    root = tmp_path / "cgroup"
    (root / path.strip("/")).mkdir(parents=True)
    for where, text in limits.items():
        (root / where.strip("/") / "cpu.max").write_text(text + "\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text(f"4:memory:/x\n0::{path}\n")
    return proc, root


def test_quota_is_the_tightest_on_the_way_to_the_root(tmp_path):
    proc, root = _tree(tmp_path, "/kubepods/pod1/ctr", {"/kubepods": "400000 100000", "/kubepods/pod1": "150000 100000"})
    assert cpus.cgroup_quota(proc, root) == pytest.approx(1.5)


def test_no_limit_and_cgroup_v1_give_none(tmp_path):
    proc, root = _tree(tmp_path, "/user.slice", {"/user.slice": "max 100000"})
    assert cpus.cgroup_quota(proc, root) is None
    v1 = tmp_path / "v1"
    v1.write_text("4:memory:/x\n3:cpu,cpuacct:/\n")
    assert cpus.cgroup_quota(v1, root) is None
    assert cpus.cgroup_quota(tmp_path / "missing", root) is None


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_usable_follows_the_affinity():
    # In a child pinned to one core: the fleet's default --jobs and an ingest's threads are then 1.
    code = "from memreport import cpus, ingest; from memreport.fleet import FleetOptions; print(cpus.usable(), ingest.threads(), FleetOptions().workers)"
    first = min(os.sched_getaffinity(0))
    out = subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=lambda: os.sched_setaffinity(0, {first}),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["1", "1", "1"]
