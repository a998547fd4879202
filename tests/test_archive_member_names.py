"""A problem with a file inside an archive names it as `bundle.tar.gz:member/path` (issue 11,
defect 7), in warnings, errors and the ingest log — never the temporary copy, which is deleted by
the time anyone reads the message. Before the fix: /tmp/memreport-bundle-XXXX/member/path."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pandas as pd
from conftest import FIXTURES

from memreport.synthetic import HostSpec, write_capture

SPEC = HostSpec(hostname="inside", days=0.005, interval_s=60, with_vms=False)


def tar_gz(src: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(src, arcname=src.name)
    return out


def test_bad_stream_in_a_capture_bundle_is_named_by_member(tmp_path, cli):
    cap = write_capture(SPEC, tmp_path / "memsnap-inside")
    stream = next(cap.glob("vmstat.*.tsv"))
    stream.write_text("garbage\n")
    bundle = tar_gz(cap, tmp_path / "capture.tar.gz")
    proc = cli("ingest", bundle, "-o", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    member = f"{bundle}:memsnap-inside/{stream.name}"
    assert (
        f"memreport: warning: {member}:1: no '#ts ...' header (starts 'garbage'): not a capture stream, skipped"
        in proc.stderr.splitlines()
    )
    log = pd.read_parquet(tmp_path / "store" / "log")
    assert log[log["event"] == "wrong_kind"][["file", "line", "input"]].values.tolist() == [[member, 1, str(bundle)]]
    assert not log["file"].fillna("").str.contains("memreport-bundle-").any()
    assert not log["detail"].str.contains("memreport-bundle-").any()
    assert "memreport-bundle-" not in proc.stderr


def test_unreadable_capture_in_a_bundle_is_one_line_naming_the_member(tmp_path, cli):
    cap = tmp_path / "memsnap-empty"
    cap.mkdir()
    (cap / "facts.txt").write_text("format=1\nhostname=empty\n")
    bundle = tar_gz(cap, tmp_path / "empty.tar.gz")
    proc = cli("ingest", bundle, "-o", tmp_path / "store")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"memreport: error: {bundle}:memsnap-empty: capture has no meminfo stream (meminfo.YYYYMMDD.tsv)"
    ]


def test_bad_meminfo_in_a_sosreport_archive_is_named_by_member(tmp_path, cli):
    sos = tmp_path / "sosreport-kvm07-3.x"
    shutil.copytree(FIXTURES / "bundles" / "sosreport-kvm07-3.x", sos)
    meminfo = sos / "proc" / "meminfo"
    meminfo.write_text(meminfo.read_text().replace("MemFree:", "MemFree: lots", 1))
    bundle = tar_gz(sos, tmp_path / "sosreport-kvm07-3.x.tar.gz")
    proc = cli("ingest", bundle, "-o", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr  # the sar history still gives samples
    assert "memreport-bundle-" not in proc.stdout + proc.stderr
    member = f"{bundle}:sosreport-kvm07-3.x/proc/meminfo"
    assert f"memreport: warning: {member}:2: MemFree: 'lots' is not a number: file skipped" in proc.stderr.splitlines()
    log = pd.read_parquet(tmp_path / "store" / "log")
    assert log[log["file"] == member]["line"].tolist() == [2]
