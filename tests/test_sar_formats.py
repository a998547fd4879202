"""sar data on its own (issue 4, "sar data on its own"; issue 10 points 1 and 2): every sysstat
form, made by the real sysstat on this machine from one real binary sa file, must give the same
samples, MemTotal exact to the kB (sar never prints it) and, through the page size, the same swap
rates and thrash windows.

The truth is the sa file itself read with `sadf -j` and the json module, independently of our
parsers, and this machine's own /proc/meminfo MemTotal.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "sar"))
import realtools  # noqa: E402

from memreport.errors import InputError  # noqa: E402
from memreport.ingest import sadf, sar_memtotal  # noqa: E402
from memreport.ingest.sources import read_input  # noqa: E402

MEMTOTAL: dict[str, int] = {}  # this machine's MemTotal (kB) while sadc ran


@pytest.fixture(scope="module")
def sa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    before = realtools.meminfo_kb("MemTotal")
    path = realtools.make_sa(tmp_path_factory.mktemp("sa"))
    assert realtools.meminfo_kb("MemTotal") == before
    MEMTOTAL["kb"] = before
    return path


@pytest.fixture(scope="module")
def truth(sa: Path) -> pd.DataFrame:
    doc = json.loads(realtools.sadf(sa, "-j", "-r", "ALL", "-S", "-W", "-B", "-q", "MEM"))
    rows = []
    for rec in doc["sysstat"]["hosts"][0]["statistics"]:
        t = rec["timestamp"]
        m = rec["memory"]
        rows.append(
            {
                "ts": pd.Timestamp(f"{t['date']} {t['time']}", tz="UTC"),
                "mem_MemFree": m["memfree"] * 1024,
                "mem_Inactive": m["inactive"] * 1024,
                "mem_Active": m["active"] * 1024,
                "mem_Committed_AS": m["commit"] * 1024,
                "mem_SwapTotal": (m["swpfree"] + m["swpused"]) * 1024,
                "swapin_Bps": rec["swap-pages"]["pswpin"] * 4096,
                "majfault_per_s": rec["paging"]["majflt"],
                "psi_some_share": rec["psi"]["psi-mem"]["some_avg"] / 100,
            }
        )
    return pd.DataFrame(rows)


def _check(host_samples: pd.DataFrame, truth: pd.DataFrame, rates: bool = True) -> None:
    s = host_samples.reset_index(drop=True)
    assert str(s["ts"].dtype) == "datetime64[ms, UTC]"
    assert list(s["ts"]) == list(truth["ts"])
    # sar prints no MemTotal: recovered from kbmemused, exact to the kB against /proc/meminfo
    assert s["mem_MemTotal"].tolist() == [MEMTOTAL["kb"] * 1024] * len(truth)
    for col in ("mem_MemFree", "mem_Inactive", "mem_Active", "mem_Committed_AS", "mem_SwapTotal"):
        assert s[col].astype("int64").tolist() == truth[col].tolist(), col
    assert s["majfault_per_s"].tolist() == pytest.approx(truth["majfault_per_s"].tolist(), abs=0.006)
    assert s["psi_some_share"].tolist() == pytest.approx(truth["psi_some_share"].tolist(), abs=1e-4)
    if rates:
        assert s["swapin_Bps"].tolist() == pytest.approx(truth["swapin_Bps"].tolist(), abs=0.006 * 4096)
    assert set(s["source"]) == {"sar"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


MEMORY_ACTIVITIES = ("-r", "ALL", "-S", "-W", "-B", "-q", "MEM")


@pytest.mark.parametrize("fmt", ["-x", "-j", "-d", "-dh"])
def test_sadf_outputs(sa: Path, truth: pd.DataFrame, tmp_path: Path, fmt: str) -> None:
    # -dh puts every activity on one line; per-CPU groups (in -A) repeat per CPU: memory ones only
    p = _write(tmp_path, f"sa26{fmt}", realtools.sadf(sa, fmt, *(MEMORY_ACTIVITIES if fmt == "-dh" else ("-A",))))
    (host,) = read_input(p)
    assert host.facts.host == truth_host(sa)
    _check(host.samples, truth)
    assert any(e.event == "derived" and "MemTotal" in e.detail and "kbmemused" in e.detail for e in host.log)
    if fmt.startswith("-d"):
        # sadf -d names no architecture: 4 KiB assumed, and said in the log and the host's facts
        assert (host.facts.page_size, host.facts.page_size_source) == (4096, "assumed")
        assert host.facts.assumptions[0].startswith("page size assumed 4 KiB: no evidence in the input")
        assert any(e.event == "assumed_page_size" and e.level == "warn" for e in host.log)
    else:
        assert (host.facts.page_size, host.facts.page_size_source, host.facts.assumptions) == (4096, "architecture", [])
    assert host.contributions[0].summary.startswith("sar history: ")


def test_sadf_dh_of_all_activities_says_what_to_run(sa: Path, tmp_path: Path) -> None:
    text = realtools.sadf(sa, "-dh", "-A")
    assert "[...]" in text.splitlines()[0]  # per-CPU groups: a line's length depends on the CPUs
    with pytest.raises(InputError) as e:
        read_input(_write(tmp_path, "sa26-dh", text))
    assert "cannot be split by column name" in str(e.value) and "-- -r ALL -S -W -B -q MEM" in str(e.value)


def test_sadf_csv_de_locale_decimal_commas(sa: Path, truth: pd.DataFrame, tmp_path: Path) -> None:
    text = realtools.sadf(sa, "-d", "-r", "ALL", "-S", "-W", "-B", "-q", "MEM", locale="de_DE")
    assert ",00" in text  # the real de_DE sadf writes decimal commas
    (host,) = read_input(_write(tmp_path, "sa26.csv", text))
    _check(host.samples, truth)


@pytest.mark.parametrize("locale", ["C", "en_US", "de_DE"])
def test_sar_text_all_activities(sa: Path, truth: pd.DataFrame, tmp_path: Path, locale: str) -> None:
    text = realtools.sar(sa, locale, "-A")
    if locale == "en_US":
        assert " PM " in text or " AM " in text
    if locale == "de_DE":
        assert "Durchschn.:" in text
    (host,) = read_input(_write(tmp_path, "sar26", text))
    _check(host.samples, truth)
    assert host.facts.cpus is not None and host.facts.extra["arch"]
    assert any(e.event == "time_source" for e in host.log)  # local times: zone assumed, said so


@pytest.mark.parametrize("locale", ["C", "en_US", "de_DE"])
def test_sar_text_single_activities_concatenated(sa: Path, truth: pd.DataFrame, tmp_path: Path, locale: str) -> None:
    text = "".join(realtools.sar(sa, locale, *opt) for opt in (["-r", "ALL"], ["-S"], ["-W"], ["-B"], ["-q", "MEM"]))
    (host,) = read_input(_write(tmp_path, "sar26.txt", text))
    _check(host.samples, truth)


def test_binary_sa_through_sadf(sa: Path, truth: pd.DataFrame) -> None:
    (host,) = read_input(sa)
    _check(host.samples, truth)
    assert host.samples["interval_s"].tolist() == [1.0] * len(truth)


def test_binary_sa_without_sadf_says_what_to_do(sa: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(InputError) as e:
        read_input(sa)
    msg = str(e.value)
    assert "sadf" in msg and "install sysstat" in msg and "sadf -x sa26 -- -A" in msg
    assert "\n" not in msg


def test_binary_sa_from_another_sysstat_version(sa: Path, tmp_path: Path) -> None:
    other = tmp_path / "sa25"
    data = bytearray(sa.read_bytes())
    data[2:4] = b"\x99\x21"  # another file format magic: what an incompatible sysstat wrote
    other.write_bytes(bytes(data))
    with pytest.raises(InputError) as e:
        read_input(other)
    assert "cannot read this sa file" in str(e.value) and "sadf -x sa25 -- -A > sa25.xml" in str(e.value)


def test_daily_files_merge_into_one_series(sa: Path, truth: pd.DataFrame, tmp_path: Path) -> None:
    """Two days as sadf XML plus the same first day as text: one host, one series, XML preferred."""
    xml = realtools.sadf(sa, "-x", "-A")
    day = str(truth["ts"].iloc[0].date())
    nxt = str((truth["ts"].iloc[0] + pd.Timedelta(days=1)).date())
    d = tmp_path / "sa"
    d.mkdir()
    (d / f"sa{day[-2:]}.xml").write_text(xml)
    (d / f"sa{nxt[-2:]}.xml").write_text(xml.replace(f'date="{day}"', f'date="{nxt}"'))
    (d / f"sar{day[-2:]}").write_text(realtools.sar(sa, "C", "-A"))
    (host,) = read_input(d)
    assert len(host.samples) == 2 * len(truth)
    assert host.samples["ts"].is_monotonic_increasing
    assert "2 days" in host.contributions[0].summary or "1 day" in host.contributions[0].summary
    assert any(e.event == "preferred_source" and e.file and e.file.endswith(f"sar{day[-2:]}") for e in host.log)


def test_a_missing_sar_day_is_a_gap_not_a_reboot(sa: Path, truth: pd.DataFrame, tmp_path: Path) -> None:
    """Issue 10: days 1 and 3 without day 2 stay one counter segment; sar's own rates after the gap
    are kept (sar measured them over its own interval)."""
    from memreport.analyze import analyze
    from memreport.ingest import store

    xml = realtools.sadf(sa, "-x", "-A")
    day = str(truth["ts"].iloc[0].date())
    later = str((truth["ts"].iloc[0] + pd.Timedelta(days=2)).date())
    d = tmp_path / "sa"
    d.mkdir()
    (d / f"sa{day[-2:]}.xml").write_text(xml)
    (d / f"sa{later[-2:]}.xml").write_text(xml.replace(f'date="{day}"', f'date="{later}"'))
    (host,) = read_input(d)
    data = store.frame(store.finalize(host))
    n = len(truth)
    assert data.samples["segment"].tolist() == [0] * (2 * n)
    assert data.samples["interval_s"].tolist() == [1.0] * (2 * n)  # sar's interval, also after the gap
    assert data.samples["swapin_Bps"].notna().all()
    assert any(e.event == "gap" for e in data.log) and analyze(data).segments == 1


def truth_host(sa: Path) -> str:
    return json.loads(realtools.sadf(sa, "-j", "-r"))["sysstat"]["hosts"][0]["nodename"]


# --- hand-written: sysstat versions and situations this machine cannot produce ---------------------

RHEL7_EN_US = textwrap.dedent("""\
    Linux 3.10.0-1160.el7.x86_64 (kvm07.example.com) \t11/25/2026 \t_x86_64_\t(32 CPU)

    11:40:01 PM kbmemfree kbmemused  %memused kbbuffers  kbcached  kbcommit   %commit  kbactive   kbinact   kbdirty
    11:50:01 PM   1048576 130023424     99.20      2048   4194304 150000000    90.00  98000000  30000000       120
    12:00:01 AM    917504 130154496     99.30      2048   4194304 150000000    90.00  98100000  30100000        64
    12:10:01 AM    786432 130285568     99.40      2048   4194304 150000000    90.00  98200000  30200000        80

    11:40:01 PM  pswpin/s pswpout/s
    11:50:01 PM      0.00     12.50
    12:00:01 AM      3.25    100.00
    12:10:01 AM     0.00      0.00

    12:15:01 AM       LINUX RESTART	(32 CPU)

    12:20:01 AM  pswpin/s pswpout/s
    12:30:01 AM      1.00      2.00
    Average:         1.06     28.63
    """)


def test_sysstat_10_rhel7_text_midnight_and_restart(tmp_path: Path) -> None:
    """sysstat 10.1.5 (RHEL 7): no kbavail/-r ALL, AM/PM times crossing midnight, a LINUX RESTART."""
    (host,) = read_input(_write(tmp_path, "sar25", RHEL7_EN_US))
    s = host.samples
    assert host.facts.host == "kvm07.example.com" and host.facts.cpus == 32 and host.facts.kernel == "3.10.0-1160.el7.x86_64"
    assert [t.isoformat() for t in s["ts"]] == [
        "2026-11-25T23:50:01+00:00",
        "2026-11-26T00:00:01+00:00",
        "2026-11-26T00:10:01+00:00",
        "2026-11-26T00:30:01+00:00",
    ]
    assert s["mem_Inactive"].tolist()[:3] == [30000000 * 1024, 30100000 * 1024, 30200000 * 1024]
    assert s["swapout_Bps"].tolist() == [12.5 * 4096, 100.0 * 4096, 0.0, 2.0 * 4096]
    assert "mem_MemAvailable" not in s
    # sysstat 10.1: kbmemused = MemTotal − MemFree, and %memused agrees on every row
    assert s["mem_MemTotal"].tolist()[:3] == [131072000 * 1024] * 3
    assert pd.isna(s["mem_MemTotal"].iloc[3])  # no -r after the restart: not known there
    assert s["mem_Inactive"].isna().tolist()[3]  # after the restart only -W was shown


def test_newer_sysstat_columns_by_name_not_position() -> None:
    """sysstat 12.7 -r ALL adds kbshmem and -B drops %vmeff for pgprom/s pgdem/s: read by header name."""
    text = textwrap.dedent("""\
        Linux 6.8.0 (h) \t2026-11-26 \t_aarch64_\t(4 CPU)

        10:00:00    kbmemfree   kbavail kbmemused  %memused kbbuffers  kbcached  kbcommit   %commit  kbactive   kbinact   kbdirty  kbanonpg    kbslab  kbkstack   kbpgtbl  kbvmused   kbshmem
        10:10:00       100000    200000    300000     10,00      1000     50000     70000      5,00     40000     30000        10     20000      9000      1000       500      4000      2500
        10:00:00     pgpgin/s pgpgout/s   fault/s  majflt/s  pgfree/s pgscank/s pgscand/s pgsteal/s  pgprom/s   pgdem/s
        10:10:00         0,00      0,00    100,00      2,50    300,00      0,00      7,00      0,00      0,00      0,00
        """)
    data = sadf.parse_sar_text(text)
    frame = sadf.to_samples(data, None)
    assert frame["mem_Shmem"].tolist() == [2500 * 1024]
    assert frame["majfault_per_s"].tolist() == [2.5] and frame["pgscan_direct_per_s"].tolist() == [7.0]
    assert data.arch == "aarch64"
    assert "swapin_Bps" not in frame  # aarch64: 4 or 64 KiB pages, unknown here


# --- MemTotal from kbmemused, per sysstat version (sar_memtotal.py) --------------------------------

SYSSTAT_12_7_8 = textwrap.dedent("""\
    Linux 6.12.0 (h) \t2026-11-26 \t_x86_64_\t(4 CPU)

    10:00:00    kbmemfree   kbavail kbmemused  %memused kbbuffers  kbcached  kbcommit   %commit  kbactive   kbinact   kbdirty  kbanonpg    kbslab  kbkstack   kbpgtbl  kbvmused   kbshmem
    10:10:00      8000000  12000000   4000000     25,00    100000   3000000   5000000     20,00   6000000   4000000        10   3000000    500000     10000     20000     30000     40000
    10:20:00      7000000  11000000   5000000     31,25    100000   3100000   6000000     24,00   7000000   4100000        10   4000000    500000     10000     20000     30000     40000
    """)


def test_memtotal_sysstat_12_7_8_is_avail_plus_used() -> None:
    """sysstat 12.7.8 changed kbmemused to MemTotal − MemAvailable: the other definitions miss %memused."""
    data = sadf.parse_sar_text(SYSSTAT_12_7_8)
    mt = sar_memtotal.derive(data.rows)
    assert mt is not None and mt.values is not None
    assert set(mt.values.values()) == {16000000}
    assert "kbavail + kbmemused" in mt.detail and "on 2 of 2 rows" in mt.detail
    frame = sadf.to_samples(data, 4096, mt.values)
    assert frame["mem_MemTotal"].tolist() == [16000000 * 1024] * 2


def test_memtotal_left_null_when_no_definition_fits_memused_percent() -> None:
    text = SYSSTAT_12_7_8.replace("25,00", "40,00").replace("31,25", "45,00")
    mt = sar_memtotal.derive(sadf.parse_sar_text(text).rows)
    assert mt is not None and mt.values is None and mt.level == "warn"
    assert "fits none of sysstat's definitions" in mt.detail


def test_memtotal_needs_kbslab_between_11_7_4_and_12_7_7(sa: Path, tmp_path: Path) -> None:
    """This machine's sysstat (12.6) subtracts Slab: plain `sar -r` lacks kbslab, so MemTotal cannot
    be told, and the log says how to get it; `-r ALL` gives it exactly (test_sadf_outputs)."""
    (host,) = read_input(_write(tmp_path, "sar26", realtools.sar(sa, "C", "-r", "-S", "-W")))
    assert "mem_MemTotal" not in host.samples
    (e,) = [e for e in host.log if "kbmemused" in e.detail]
    assert e.level == "warn" and "sar -r ALL" in e.detail


# --- swap rates and thrash windows agree across the forms (issue 10: sadf -d had no swap rates) -------


@pytest.fixture(scope="module")
def swapping_sa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return realtools.make_swapping_sa(tmp_path_factory.mktemp("swap"))


def _windows(path: Path):  # type: ignore[no-untyped-def]
    from memreport.analyze import analyze
    from memreport.config import load_thresholds
    from memreport.ingest import store

    (host,) = read_input(path)
    data = store.frame(store.finalize(host))
    t = load_thresholds(None, ["thrash.min_duration_s=2"])
    return data, analyze(data, t).thrash.windows


@pytest.mark.parametrize("fmt", ["-d", "-dh"])
def test_sadf_csv_swap_rates_and_thrash_windows_equal_the_binary(swapping_sa: Path, tmp_path: Path, fmt: str) -> None:
    binary, bwins = _windows(swapping_sa)
    csv = _write(tmp_path, f"sa27{fmt}", realtools.sadf(swapping_sa, fmt, "-r", "ALL", "-S", "-W", "-B"))
    data, cwins = _windows(csv)
    assert binary.facts.page_size_source == "architecture" and data.facts.page_size_source == "assumed"
    assert binary.samples["swapout_Bps"].max() > 100 * 1024**2  # the burst: 50 000 pages/s
    for col in ("swapin_Bps", "swapout_Bps"):
        assert data.samples[col].tolist() == pytest.approx(binary.samples[col].tolist(), abs=0.006 * 4096)
    assert len(bwins) == 1
    assert [(w.start, w.end, w.swapped_bytes) for w in cwins] == [(w.start, w.end, w.swapped_bytes) for w in bwins]
