"""Every parser against mutated real files (issue 11, "generated input, at scale"): a result or one
of the errors its reader turns into one clear line, never another exception. A short hypothesis run
per target here (deterministic, no deadline: load cannot fail it); `make fuzz` runs 100,000+ cases
per target (tests/fuzz.py). Below them, one regression test per failure the fuzzing found, each
naming the input that broke."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from helpers import fuzz_targets as F
from hypothesis import HealthCheck, given, settings

from memreport.errors import InputError
from memreport.ingest import archive, bundle, pagesize, proc_pid, sadf, virsh, vmstat

SHORT = settings(max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", list(F.TARGETS))
def test_mutated_real_files_give_a_result_or_one_clear_error(name: str) -> None:
    target = F.TARGETS[name]
    seeds = target.seeds()
    assert seeds, f"{name}: no seed files"
    for seed in seeds:  # the unmutated real files parse
        assert F.check(target, seed) is None, seed[0]

    @SHORT
    @given(F.mutated(seeds))
    def prop(case: F.Seed) -> None:
        err = F.check(target, case)
        if err is not None:
            raise AssertionError(f"{name}: {case[0]} mutated → {type(err).__name__}: {err}") from err

    prop()


def test_the_mutations_change_files() -> None:
    """The generator is not a no-op: most cases differ from their seed, in many ways."""
    import random

    seeds = F.procfs_seeds()
    cases = [F.mutate(F.RandomChooser(random.Random(i)), seeds) for i in range(300)]
    changed = sum(1 for name, data in cases if data != dict(seeds)[name])
    assert changed > 200
    assert len({data for _, data in cases}) > 200


def test_fuzz_runner_counts_cases_failures_and_memory() -> None:
    import subprocess
    import sys

    from conftest import ROOT

    p = subprocess.run(
        [sys.executable, "tests/fuzz.py", "virsh", "sosreport", "-n", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    rows = {line.split()[0]: line.split() for line in p.stdout.splitlines() if line.startswith(("virsh ", "sosreport "))}
    assert rows["virsh"][1] == "300" and rows["virsh"][2] == "0" and float(rows["virsh"][3]) > 10  # MiB
    assert "600 cases in" in p.stdout and "no failure" in p.stdout


# --- regressions: one per failure the fuzzing found ---------------------------------------------


def _sar_rows(text: str, fmt: str) -> sadf.SarData:
    return sadf.parse_any(text, fmt)


SADF_JSON = """{"sysstat": {"hosts": [{"nodename": "kvm1", "release": "6.1", "machine": "x86_64", "number-of-cpus": 4,
 "statistics": [{"timestamp": {"date": "2026-11-26", "time": "10:00:00", "utc": 1, "interval": 60},
                 "memory": {"memfree": %s, "swpfree": 100, "swpused": %s}}]}]}}"""


@pytest.mark.parametrize("memfree,swpused", [("1e308", "1e308"), ('"5217.65N"', "0"), ("[1]", "0"), ("9e18", "9e18")])
def test_sadf_json_impossible_numbers_are_logged_not_raised(memfree: str, swpused: str) -> None:
    # Fuzz: sadf -j with memfree 1e308 → OverflowError (inf → Int64) in to_samples; a string or a list
    # where a number belongs → ValueError/TypeError.
    data = _sar_rows(SADF_JSON % (memfree, swpused), "sadf-json")
    assert data.problems and "kbmemfree" in data.problems[0][1]
    frame = sadf.to_samples(data, 4096)
    assert len(frame) == 1 and "mem_MemFree" not in frame


def test_sadf_json_with_a_list_for_a_host_or_a_record() -> None:
    with pytest.raises(F.ParseError, match="not an object"):
        sadf.parse_sadf_json('{"sysstat": {"hosts": [[1, 2]]}}')
    data = sadf.parse_sadf_json('{"sysstat": {"hosts": [{"nodename": 7, "statistics": [3, {"timestamp": []}]}]}}')
    assert data.hostname is None and data.rows == {} and len(data.problems) == 2


def test_sadf_xml_malformed_attribute_value() -> None:
    # Fuzz: a flipped byte in `<swap-pages pswpin="5217.65"…>` → ValueError from float().
    text = (
        '<?xml version="1.0"?><sysstat><host nodename="kvm1"><statistics><timestamp date="2026-11-26" '
        'time="10:00:00" utc="1" interval="60"><memory><memfree>1000</memfree></memory>'
        '<swap-pages pswpin="5217.65N" pswpout="1.00"/></timestamp></statistics></host></sysstat>'
    )
    data = sadf.parse_sadf_xml(text)
    assert data.problems == [(None, "pswpin/s: '5217.65N' is not a number")]
    assert list(data.rows.values()) == [{"kbmemfree": 1000.0, "pswpout/s": 1.0}]


def test_sadf_csv_epoch_and_year_out_of_range() -> None:
    # Fuzz: `sadf -d -U` with a huge epoch → OverflowError; a year 9999 record → pandas out of bounds.
    head = "# hostname;interval;timestamp;kbmemfree;kbswpfree\n"
    data = sadf.parse_sadf_csv(
        head + "kvm1;60;99999999999999999999;1;2\nkvm1;60;9999-12-31 23:59:00 UTC;1;2\nkvm1;60;2026-11-26 10:00:00 UTC;5;6\n"
    )
    assert [p[0] for p in data.problems] == [2, 3]
    assert len(sadf.to_samples(data, 4096)) == 1


def test_sar_text_de_DE_with_infinite_value_and_a_date_at_the_end_of_the_calendar() -> None:
    # Fuzz: sar text (de_DE) with kbmemfree "1e309" → inf → OverflowError in to_samples; a header date
    # 31.12.9999 with a time past midnight → OverflowError adding a day.
    text = (
        "Linux 6.1 (kvm1) \t26.11.2026 \t_x86_64_\t(4 CPU)\n\n"
        "10:00:01    kbmemfree   kbavail\n10:00:02    1e309   5\n10:00:03    7   5\n"
    )
    data = sadf.parse_sar_text(text)
    assert data.problems == [(4, "kbmemfree: inf is out of range")]
    assert sadf.to_samples(data, 4096)["mem_MemFree"].dropna().tolist() == [7 * 1024]
    end = sadf.parse_sar_text("Linux 6.1 (kvm1) \t31.12.9999 \t_x86_64_\n\n10:00:01 kbmemfree\n10:00:02 1\n09:00:00 2\n")
    assert end.problems[-1][1].startswith("time past 9999-12-31 cannot be placed")


def test_vmstat_huge_value_and_huge_delay(tmp_path: Path) -> None:
    # Fuzz: supportconfig's `vmstat 1 4` with a 40-digit free column → OverflowError building Int64;
    # `vmstat 99999999999999 4` → OverflowError placing times that far apart.
    out = (
        "procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----\n"
        " r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st\n"
        " 1  0      0 100000   2000  30000    0    0     1     1    1    1  1  1 98  0  0\n"
        " 1  0      0 9999999999999999999999999999999999999999   2000  30000    0    0     1     1    1    1  1  1 98  0  0\n"
        " 1  0      0 100000   2000  30000    4    0     1     1    1    1  1  1 98  0  0\n"
    )
    p = tmp_path / "vmstat.txt"
    p.write_text("vmstat 99999999999999 4\n" + out)
    host = vmstat.read(p, "vmstat.txt")[0]
    assert host.samples["mem_MemFree"].tolist() == [100000 * 1024]
    details = [e.detail for e in host.log]
    assert any("out of range" in d for d in details)
    assert host.facts.interval_s is None  # the delay was refused, not used


def test_page_size_from_a_negative_or_tiny_meminfo_value() -> None:
    # Fuzz: rhel7 vmstat mutated so nr_inactive_file pages dwarf Inactive(file) → ratio < 1 →
    # "negative shift count"; a negative kB value → math domain error.
    vm = {"vmstat_nr_inactive_file": 5000, "vmstat_nr_active_file": 5000, "vmstat_nr_anon_pages": 5000}
    assert pagesize.infer_from_pair({"mem_Inactive_file": 3, "mem_Active_file": 3, "mem_AnonPages": 3}, vm) is None
    assert pagesize.infer_from_pair({"mem_Inactive_file": -5000 * 4096, "mem_Active_file": -1}, vm) is None
    assert pagesize.infer_from_pair({"mem_Inactive_file": 5000 * 4096, "mem_Active_file": 5000 * 4096}, vm) == 4096


@pytest.mark.parametrize(
    "call",
    [
        lambda: virsh.parse_dommemstat("actual 4194304\nrss \u00b2\n"),
        lambda: bundle.parse_free("              total        used\nMem:          \u00b2         1\n"),
        lambda: proc_pid.parse_command_lines("\u00b2 /usr/bin/qemu-system-x86_64 -name guest=a\n"),
        lambda: proc_pid.parse_cgroup_value("\u00b2\n"),
    ],
)
def test_superscript_digit_is_not_a_number(call) -> None:  # noqa: ANN001
    # Fuzz: '²' passes str.isdigit() but int('²') raises ValueError (dommemstat, free, pgrep -a
    # listings, cgroup memory.limit_in_bytes).
    try:
        result = call()
    except F.ParseError:
        return
    assert "\u00b2" not in repr(result)


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_corrupt_compressed_stream_is_a_damaged_archive(tmp_path: Path, kind: str) -> None:
    # Fuzz: a flipped byte inside a .tar.gz (isal: "Invalid lookback distance") or a .tar.zst
    # ("Data corruption detected") escaped as IsalError / ZstdError tracebacks.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = bytes(range(256)) * 400
        info = tarfile.TarInfo("b/x.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    packed = bytearray(F._compress(kind, buf.getvalue()))
    packed[10 if kind == "gz" else 4] ^= 0x55  # gz: the first deflate block header; zstd: the frame header descriptor
    p = tmp_path / f"b.tar.{kind}"
    p.write_bytes(bytes(packed))
    with pytest.raises(InputError, match="damaged or unreadable archive"):
        with archive.extracted(p):
            pass


def test_mutations_cover_the_listed_kinds() -> None:
    """Truncate, flip, drop/duplicate lines, huge/negative/NaN numbers, CRLF, UTF-16, NUL, reordered sections."""
    names = {m.__name__ for m in F.MUTATIONS}
    assert {
        "m_truncate",
        "m_flip",
        "m_drop_line",
        "m_dup_line",
        "m_number",
        "m_crlf",
        "m_utf16",
        "m_nul",
        "m_swap_sections",
    } <= names
    for needle in (b"18446744073709551616", b"-1", b"NaN", b"inf"):
        assert needle in F.NUMBERS
