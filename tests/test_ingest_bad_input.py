"""Bad input: one clear line naming the file, the line where there is one, and the reason; never a
traceback; and every skipped sample or file in the ingest log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from memreport.synthetic import HostSpec, write_capture

SPEC = HostSpec(hostname="bad", days=0.01, interval_s=60, with_vms=False)  # 14 samples


def capture(tmp_path: Path) -> Path:
    return write_capture(SPEC, tmp_path / "cap")


def day_file(cap: Path, source: str) -> Path:
    return next(cap.glob(f"{source}.*.tsv"))


def replace_line(path: Path, lineno: int, fn) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[lineno - 1] = fn(lines[lineno - 1])
    path.write_bytes(b"\n".join(lines))


def corrupt_truncated(cap):
    f = day_file(cap, "meminfo")
    f.write_bytes(f.read_bytes()[:-40])  # the collector died mid-write
    return f, 15, "last record is incomplete"


def corrupt_empty(cap):
    f = day_file(cap, "vmstat")
    f.write_bytes(b"")
    return f, None, "empty file"


def corrupt_binary(cap):
    f = day_file(cap, "ksm")
    f.write_bytes(bytes(range(256)) * 64)
    return f, None, "binary data"


def corrupt_wrong_kind(cap):
    f = day_file(cap, "meminfo")
    f.write_bytes(day_file(cap, "vmstat").read_bytes())  # vmstat copied over meminfo... keep a meminfo elsewhere
    return f, 1, "header lacks MemTotal"


def corrupt_not_utf8(cap):
    f = day_file(cap, "vmstat")
    replace_line(f, 4, lambda b: b.replace(b"\t", b"\t\xff\xfe", 1))
    return f, 4, "not UTF-8"


def corrupt_not_a_number(cap):
    f = day_file(cap, "meminfo")
    replace_line(f, 6, lambda b: b.replace(b"\t", b"\t12x4", 2).replace(b"\t12x4", b"\t", 1))
    return f, 6, "is not a number"


def corrupt_bad_timestamp(cap):
    f = day_file(cap, "meminfo")
    replace_line(f, 3, lambda b: b"2026-13-45T99" + b[b.index(b"\t") :])
    return f, 3, "timestamp"


CASES = [corrupt_truncated, corrupt_empty, corrupt_binary, corrupt_not_utf8, corrupt_not_a_number, corrupt_bad_timestamp]


@pytest.mark.parametrize("corrupt", CASES, ids=lambda f: f.__name__.removeprefix("corrupt_"))
def test_bad_stream_gives_one_line_and_a_log_row(corrupt, tmp_path, cli):
    cap = capture(tmp_path)
    path, line, reason = corrupt(cap)
    proc = cli("ingest", cap, "-o", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr  # the rest of the capture is still good
    assert "Traceback" not in proc.stderr
    where = f"{path}:{line}" if line else str(path)
    warnings = [w for w in proc.stderr.splitlines() if where in w]
    assert len(warnings) == 1 and reason in warnings[0], proc.stderr
    log = pd.read_parquet(tmp_path / "store" / "log")
    row = log[log["file"] == str(path)]
    assert len(row) == 1 and reason in row["detail"].iloc[0]
    if line is not None:
        assert row["line"].iloc[0] == line
    samples = pd.read_parquet(tmp_path / "store" / "samples")
    skipped_rows = 1 if corrupt in (corrupt_truncated, corrupt_not_a_number, corrupt_bad_timestamp) else 0
    if corrupt in (corrupt_truncated, corrupt_not_a_number, corrupt_bad_timestamp):
        assert samples["mem_MemTotal"].notna().sum() == SPEC.samples - skipped_rows
    assert "skipped" in proc.stdout.splitlines()[-1]


def test_wrong_kind_of_file_for_the_only_meminfo_fails_the_input_in_one_line(tmp_path, cli):
    cap = capture(tmp_path)
    path, line, reason = corrupt_wrong_kind(cap)
    proc = cli("ingest", cap, "-o", tmp_path / "store")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert any(f"{path}:{line}" in ln and reason in ln for ln in lines), proc.stderr
    assert any(str(cap) in ln and "no readable meminfo" in ln for ln in lines), proc.stderr


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "not recognised"),
        (b"\x00\x01\x02garbage" * 100, "not recognised"),
        ("Grüße\n".encode("latin-1"), "not recognised"),
    ],
    ids=["empty", "binary", "latin1-text"],
)
def test_an_unreadable_input_file_is_one_line_and_exit_2(content, reason, tmp_path, cli):
    bad = tmp_path / "input.bin"
    bad.write_bytes(content)
    proc = cli("ingest", bad, "-o", tmp_path / "store")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"memreport: error: {bad}: " + proc.stderr.split(f"{bad}: ", 1)[1].strip()]
    assert reason in proc.stderr
    assert not (tmp_path / "store").exists()


def test_debug_shows_the_traceback(tmp_path, cli):
    proc = cli("--debug", "ingest", tmp_path / "missing", "-o", tmp_path / "store")
    assert proc.returncode == 2 and "Traceback" in proc.stderr and "no such file or directory" in proc.stderr


def test_one_bad_input_does_not_stop_the_others(tmp_path, cli):
    good = capture(tmp_path)
    bad = tmp_path / "junk.txt"
    bad.write_text("hello\n")
    proc = cli("ingest", bad, good, "-o", tmp_path / "store")
    assert proc.returncode == 2  # something failed; the good input is still in the store
    assert f"skipped input: {bad}" in proc.stderr
    log = pd.read_parquet(tmp_path / "store" / "log")
    assert (log["file"] == str(bad)).sum() == 1
    assert len(pd.read_parquet(tmp_path / "store" / "samples")) == SPEC.samples
