"""One host -> directory-name rule for report, fleet and store (issue 11, defects 9 and 10): safe,
bounded (a 300-character host name gave ENAMETOOLONG in ingest, "internal error" in fleet) and
collision-free (`report` wrote hosts `web<1>` and `web_1_` into one directory, the first lost)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from memreport.host_dirs import HASH_CHARS, MAX_NAME_CHARS, host_dir_name, partition_name
from memreport.ingest import store
from memreport.synthetic import HostSpec, write_capture

LONG = "h" * 300  # DNS allows 253; customer data allows anything
LONG_UNICODE = "ü" * 300  # 600 bytes of UTF-8


def test_plain_names_stay_as_they_are():
    for host in ("kvm01", "kvm01.example.com", "KVM-02_b", "_"):
        assert host_dir_name(host) == host
        assert partition_name(host) == f"host={host}"


@pytest.mark.parametrize("host", ["web<1>", "a/b", "../../etc", ".", "..", "", LONG, LONG_UNICODE, "x" * 101, "a\0b", "é"])
def test_every_name_is_safe_and_bounded(host):
    name = host_dir_name(host)
    assert name not in ("", ".", "..") and "/" not in name and "\0" not in name
    assert len(name.encode()) <= MAX_NAME_CHARS + 1 + HASH_CHARS < 255
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def test_names_that_clean_up_alike_stay_apart():
    hosts = ["web<1>", "web_1_", "web>1<", "web 1 ", "a/b", "a_b", "a\\b", LONG, LONG + "x", "ü", "ä", "", "host", "..", "."]
    names = [host_dir_name(h) for h in hosts]
    assert len(set(names)) == len(hosts), dict(zip(hosts, names))
    # a plain name that looks like another's hashed name cannot take its directory
    impostor = host_dir_name("web<1>")
    assert host_dir_name(impostor) != impostor


def capture(tmp_path: Path, name: str, host: str) -> Path:
    return write_capture(HostSpec(hostname=host, days=0.005, interval_s=60, with_vms=False), tmp_path / name)


@pytest.mark.parametrize("host", [LONG, LONG_UNICODE], ids=["300-ascii", "600-bytes-utf8"])
def test_long_host_name_ingests_and_reads_back(host, tmp_path, cli):
    cap = capture(tmp_path, "cap", host)
    proc = cli("ingest", cap, "-o", tmp_path / "store")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert store.list_hosts(tmp_path / "store") == [host]
    assert len(store.read_host(tmp_path / "store", host).samples) == 7  # 0.005 days at 60 s
    facts = pd.read_parquet(tmp_path / "store" / "facts")
    assert facts["hostname"].tolist() == [host]  # the whole name is kept; only the directory is cut
    (part,) = (tmp_path / "store" / "samples").iterdir()
    assert part.name == partition_name(host) and len(part.name) < 255


def test_report_writes_hosts_that_clean_up_alike_into_two_directories(tmp_path, cli):
    a, b = capture(tmp_path, "a", "web<1>"), capture(tmp_path, "b", "web_1_")
    proc = cli("report", a, b, "-o", tmp_path / "out", "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    dirs = sorted((tmp_path / "out").iterdir())
    assert [d.name for d in dirs] == sorted([host_dir_name("web<1>"), "web_1_"])
    assert sorted(json.loads((d / "report.json").read_text())["host"] for d in dirs) == ["web<1>", "web_1_"]


def test_report_and_fleet_use_the_same_directory_for_a_long_host(tmp_path, cli):
    cap = capture(tmp_path / "in", "cap", LONG)
    proc = cli("report", cap, "-o", tmp_path / "rep", "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    assert [d.name for d in (tmp_path / "rep").iterdir()] == [host_dir_name(LONG)]
    proc = cli("fleet", tmp_path / "in" / "cap", "-o", tmp_path / "fleet", "--no-fleet-pdf", "-j", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "fleet" / "fleet.json").read_text())
    assert doc["failed"] == [] and [h["host"] for h in doc["hosts"]] == [LONG]
    assert doc["hosts"][0]["report"] == f"hosts/{host_dir_name(LONG)}/report.html"
    assert [p.name for p in (tmp_path / "fleet" / "store" / "samples").iterdir()] == [partition_name(LONG)]
