"""One host, many inputs (issue 10, point 5): inputs are grouped into hosts by machine-id, then by
name; `memreport report A B`, `ingest` and `fleet` merge a host's inputs alike; machines that share
a name stay apart; a fleet takes a store; `--host` names inputs that give no name.

The sosreports are real `sos report` output of this machine, with the dbus plugin, which copies
/var/lib/dbus/machine-id as sos does on any host with dbus. Week 1 carries a real sar history
(sadc on this machine, placed where sos puts it on Debian); week 2 is sos's tarball as made. A
second machine is a copy of week 1 with its hostname and machine-id files changed.
"""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "sar"))
import realtools  # noqa: E402
from conftest import run_cli, sos_argv, unpack_own  # noqa: E402

from memreport.fleet import FleetOptions, run_fleet  # noqa: E402
from memreport.ingest import hosts  # noqa: E402
from memreport.ingest.hosts import Identity, assign  # noqa: E402
from memreport.ingest.run import load  # noqa: E402
from memreport.ingest.sources import read_input  # noqa: E402

OTHER_ID = "0123456789abcdef0123456789abcdef"
TWIN_IDS = ("3f2a9c1e00000000000000000000aaaa", "77b0d4e500000000000000000000bbbb")
SOS_PLUGINS = "memory,process,date,host,kernel,dbus"


def _sos(tmp: Path) -> Path:
    if shutil.which("sos") is None:
        pytest.fail("sos not installed: run `bash tests/system_deps.sh` (make test does)")
    tmp.mkdir(parents=True)
    out = realtools.run(sos_argv("report", "--batch", "--tmp-dir", str(tmp), "-o", SOS_PLUGINS))
    made = sorted(tmp.glob("sosreport-*.tar.xz"))
    assert made, out[-500:]
    return made[0]


def _unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as t:
        unpack_own(t, into)
    (top,) = list(into.iterdir())
    for p in top.rglob("*"):  # sos keeps 0400/0500 modes: make the copy writable for the edits
        if not p.is_symlink():
            p.chmod(0o700 if p.is_dir() else 0o600)
    return top


def _pack(top: Path, out: Path) -> Path:
    with tarfile.open(out, "w:xz") as t:
        t.add(top, arcname=top.name)
    return out


def _other_machine(top: Path, hostname: str, machine_id: str) -> None:
    """A real bundle made into another machine: its hostname and machine-id files."""
    for rel in ("sos_commands/host/hostname", "sos_commands/host/hostname_-f"):
        p = top / rel
        if p.exists():
            p.write_text(hostname + "\n")
    if (top / "hostname").is_symlink():  # sos links it to sos_commands/host/hostname
        assert (top / "hostname").read_text().strip() == hostname
    (top / "var/lib/dbus/machine-id").write_text(machine_id + "\n")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("hosts")
    week1 = _unpack(_sos(tmp / "sos1"), tmp / "unpacked1")
    sa = realtools.make_sa(tmp, "sa01", samples=4)
    day = realtools.run(["sadf", "-j", str(sa), "--", "-r"]).split('"file-date": "')[1][8:10]
    (week1 / "var/log/sysstat").mkdir(parents=True)
    shutil.copy(sa, week1 / f"var/log/sysstat/sa{day}")
    inputs = tmp / "inputs"
    inputs.mkdir()
    out = {"week1": _pack(week1, inputs / "a-week1.tar.xz")}
    out["week2"] = shutil.copy(_sos(tmp / "sos2"), inputs / "b-week2.tar.xz")  # taken after week 1
    other = tmp / "other" / week1.name
    shutil.copytree(week1, other, symlinks=True)
    _other_machine(other, "kvm-other", OTHER_ID)
    out["other"] = _pack(other, inputs / "c-other.tar.xz")
    for n, mid in enumerate(TWIN_IDS):
        twin = tmp / f"twin{n}" / week1.name
        shutil.copytree(week1, twin, symlinks=True)
        _other_machine(twin, "localhost", mid)
        out[f"twin{n}"] = _pack(twin, tmp / f"localhost-{n}.tar.xz")
    return out


@pytest.fixture(scope="module")
def this_machine() -> tuple[str, str]:
    """(short hostname, machine-id) of this machine, as the bundles record them."""
    import socket

    return socket.gethostname().split(".")[0], Path("/var/lib/dbus/machine-id").read_text().strip()


def test_machine_id_is_read_from_the_real_sosreport(bundles, this_machine) -> None:
    (h,) = read_input(bundles["week2"])
    assert (h.facts.hostname, h.facts.machine_id) == this_machine
    (o,) = read_input(bundles["other"])
    assert (o.facts.host, o.facts.hostname, o.facts.machine_id) == ("kvm-other", "kvm-other", OTHER_ID)


def _alone(path: Path) -> pd.DataFrame:
    (h,) = load([path]).hosts
    return h.samples.to_pandas()


@pytest.fixture(scope="module")
def fleet_run(bundles, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """`memreport fleet` over week 1, week 2 and the other machine (the inputs directory)."""
    out = tmp_path_factory.mktemp("fleet") / "out"
    proc = run_cli("fleet", bundles["week1"].parent, "-o", out, "--jobs", "2", "--no-fleet-pdf")
    return proc, out


@pytest.mark.slow
def test_fleet_merges_two_sosreports_of_one_host(bundles, this_machine, fleet_run) -> None:
    """Done-when: two sosreports of one host plus another host → two hosts, the first merged
    (samples of both, period spanning both), no failure, exit 0."""
    name, _ = this_machine
    proc, out = fleet_run
    a, b = _alone(bundles["week1"]), _alone(bundles["week2"])
    assert len(a) == 4 and len(b) == 1  # three sar records and a /proc snapshot; one /proc snapshot
    assert proc.returncode == 0, proc.stderr
    assert "error" not in proc.stderr.lower() and "failed input" not in proc.stderr
    doc = json.loads((out / "fleet.json").read_text())
    assert doc["failed"] == [] and doc["totals"]["hosts"] == 2
    rows = {r["host"]: r for r in doc["hosts"]}
    assert sorted(rows) == sorted([name, "kvm-other"])
    merged = rows[name]
    assert merged["inputs"] == [str(bundles["week1"]), str(bundles["week2"])]
    assert merged["samples"] == len(a) + len(b) == 5
    assert merged["period_start"] == a["ts"].min().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert merged["period_end"] == b["ts"].max().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows["kvm-other"]["inputs"] == [str(bundles["other"])] and rows["kvm-other"]["samples"] == len(a)
    assert doc["run"]["hosts_merged"] == 1
    assert f"[host 1/1] {name}: from 2 inputs (" in proc.stderr
    # the merged host's store partition holds both inputs' rows, once each
    s = pd.read_parquet(out / "store" / "samples", filters=[("host", "==", name)])
    assert sorted(s["source"]) == ["sar", "sar", "sar", "sosreport", "sosreport"]


def _report_json(root: Path, host: str) -> dict:
    doc = json.loads((root / host / "report.json").read_text())
    doc.pop("generator", None)
    return doc


@pytest.mark.slow
def test_report_a_b_and_fleet_give_the_same_numbers(bundles, this_machine, fleet_run, tmp_path: Path) -> None:
    name, _ = this_machine
    inputs = [bundles["week1"], bundles["week2"], bundles["other"]]
    proc = run_cli("report", *inputs, "-o", tmp_path / "rep", "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == sorted([name, "kvm-other"])
    for host in (name, "kvm-other"):
        by_report = _report_json(tmp_path / "rep", host)
        by_fleet = _report_json(fleet_run[1] / "hosts", host)
        assert by_fleet == by_report
    merged = _report_json(tmp_path / "rep", name)
    assert merged["coverage"]["samples"] == 5 and merged["memory_total_bytes"] > 0


@pytest.mark.slow
def test_same_name_different_machine_ids_stay_apart(bundles, tmp_path: Path) -> None:
    """Done-when: two hosts both named `localhost` with different machine-ids → two rows with
    distinct, stable names."""
    want = sorted(f"localhost-{mid[:8]}" for mid in TWIN_IDS)
    twins = [bundles["twin0"], bundles["twin1"]]
    result = run_fleet(twins, tmp_path / "fleet", FleetOptions(jobs=2, fleet_pdf=False))
    assert result.failed == []
    assert sorted(r["host"] for r in result.fleet["hosts"]) == want
    assert sorted(p.name for p in (tmp_path / "fleet" / "hosts").iterdir()) == want
    for r in result.fleet["hosts"]:
        assert json.loads((tmp_path / "fleet" / r["report"]).with_name("report.json").read_text())["host"] == r["host"]
    # the same names from `memreport report`, whatever the order of the inputs
    proc = run_cli("report", *reversed(twins), "-o", tmp_path / "rep", "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == want
    for mid in TWIN_IDS:
        doc = json.loads((tmp_path / "rep" / f"localhost-{mid[:8]}" / "report.json").read_text())
        assert (doc["host"], doc["machine_id"]) == (f"localhost-{mid[:8]}", mid)
    facts = pd.read_parquet(tmp_path / "fleet" / "store" / "facts")
    assert sorted(zip(facts["host"], facts["hostname"], facts["machine_id"])) == sorted(
        (f"localhost-{mid[:8]}", "localhost", mid) for mid in TWIN_IDS
    )


@pytest.mark.slow
def test_fleet_of_a_store(bundles, this_machine, fleet_run, tmp_path: Path) -> None:
    """`memreport ingest … -o STORE` then `memreport fleet STORE`: the store's hosts are fleet hosts,
    with the numbers of a fleet over the inputs themselves."""
    name, _ = this_machine
    inputs = [bundles["week1"], bundles["week2"], bundles["other"]]
    proc = run_cli("ingest", *inputs, "-o", tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    assert f"{name}: 5 samples" in proc.stdout and "kvm-other: 4 samples" in proc.stdout
    proc = run_cli("fleet", tmp_path / "store", "-o", tmp_path / "out", "--jobs", "1", "--no-fleet-pdf")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "out" / "fleet.json").read_text())
    assert doc["totals"]["inputs"] == 1 and doc["failed"] == []
    rows = {r["host"]: r for r in doc["hosts"]}
    assert sorted(rows) == sorted([name, "kvm-other"]) and rows[name]["samples"] == 5
    direct = json.loads((fleet_run[1] / "fleet.json").read_text())
    for r in direct["hosts"]:
        mine = {k: v for k, v in rows[r["host"]].items() if k not in ("input", "inputs")}
        assert mine == {k: v for k, v in r.items() if k not in ("input", "inputs")}
    assert json.loads((tmp_path / "out" / "hosts" / name / "report.json").read_text())["coverage"]["samples"] == 5


@pytest.mark.slow
def test_fleet_rerun_follows_the_hosts_set_of_inputs(bundles, this_machine, tmp_path: Path) -> None:
    name, _ = this_machine
    inputs = tmp_path / "in"
    shutil.copytree(bundles["week1"].parent, inputs)
    out = tmp_path / "out"
    opts = FleetOptions(jobs=2, fleet_pdf=False)
    first = run_fleet([inputs], out, opts)
    report = out / "hosts" / name / "report.json"
    mtime = report.stat().st_mtime_ns
    again = run_fleet([inputs], out, opts)
    assert (again.processed, again.unchanged) == (0, 3) and again.fleet["run"]["hosts_merged"] == 1
    assert report.stat().st_mtime_ns == mtime  # nothing redone
    assert {k: v for k, v in again.fleet.items() if k != "run"} == {k: v for k, v in first.fleet.items() if k != "run"}
    # week 2 leaves: the host is its week-1 bundle alone again (read anew, not left merged)
    (inputs / "b-week2.tar.xz").rename(tmp_path / "b-week2.tar.xz")
    fewer = run_fleet([inputs], out, opts)
    assert (fewer.processed, fewer.unchanged) == (0, 2)
    row = next(r for r in fewer.fleet["hosts"] if r["host"] == name)
    assert row["samples"] == 4 and row["inputs"] == [str(inputs / "a-week1.tar.xz")]
    # and comes back: merged again; the other host is not redone
    other_report = out / "hosts" / "kvm-other" / "report.json"
    other_mtime = other_report.stat().st_mtime_ns
    (tmp_path / "b-week2.tar.xz").rename(inputs / "b-week2.tar.xz")
    back = run_fleet([inputs], out, opts)
    assert (back.processed, back.unchanged) == (1, 2)
    assert next(r for r in back.fleet["hosts"] if r["host"] == name)["samples"] == 5
    assert other_report.stat().st_mtime_ns == other_mtime


@pytest.mark.slow
def test_host_option_names_inputs_without_a_name(bundles, this_machine, tmp_path: Path) -> None:
    name, _ = this_machine
    vmstat = tmp_path / "vmstat.txt"
    vmstat.write_text(realtools.vmstat("-t", "1", "3"))
    # alone: named after the file, or --host
    proc = run_cli("report", vmstat, "-o", tmp_path / "r0", "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "r0").iterdir()] == ["vmstat"]
    proc = run_cli("report", vmstat, "-o", tmp_path / "r1", "--no-pdf", "--host", "web01")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r1" / "web01" / "report.json").read_text())["host"] == "web01"
    # with a bundle that names its host: the bundle keeps its name, the vmstat output takes --host
    # and, with no machine-id of its own, joins the one host of that name
    result = load([bundles["week2"], vmstat], host=name)
    (h,) = result.hosts
    assert h.facts.host == name and len(h.samples) == 1 + 2
    assert any(e.event == "host_identity" and "joined host" in e.detail for e in h.log)
    assert any(e.event == "host_name" and "(--host)" in e.detail for e in h.log)
    other = load([bundles["other"], vmstat], host="web01")
    assert sorted(x.facts.host for x in other.hosts) == ["kvm-other", "web01"]
    # every input names its own host: --host is not used, and says so
    unused = load([bundles["other"]], host="web01")
    assert [x.facts.host for x in unused.hosts] == ["kvm-other"]
    assert any(e.event == "host_name" and "not used" in e.detail for e in unused.log)
    # the fleet follows the same rule
    shutil.copy(bundles["week2"], tmp_path / "week2.tar.xz")
    fleet = run_cli(
        "fleet", tmp_path / "week2.tar.xz", vmstat, "-o", tmp_path / "f", "--jobs", "1", "--no-fleet-pdf", "--host", name
    )
    assert fleet.returncode == 0, fleet.stderr
    (row,) = json.loads((tmp_path / "f" / "fleet.json").read_text())["hosts"]
    assert row["host"] == name and row["samples"] == 3 and len(row["inputs"]) == 2


def test_snapshot_tree_without_hostname_is_named_after_its_directory(tmp_path: Path) -> None:
    tree = tmp_path / "kvm-snap" / "2026-11-26T10:00:00Z" / "proc"
    tree.mkdir(parents=True)
    shutil.copy("/proc/meminfo", tree / "meminfo")
    (h,) = load([tmp_path / "kvm-snap"]).hosts
    assert (h.facts.host, h.facts.hostname, h.facts.machine_id) == ("kvm-snap", None, None)
    (tmp_path / "kvm-snap" / "2026-11-26T10:00:00Z" / "etc").mkdir()
    (tmp_path / "kvm-snap" / "2026-11-26T10:00:00Z" / "etc" / "machine-id").write_text(OTHER_ID + "\n")
    (h,) = load([tmp_path / "kvm-snap"], host="db7").hosts
    assert (h.facts.host, h.facts.machine_id) == ("db7", OTHER_ID)


def test_supportconfig_machine_id_from_hostnamectl(tmp_path: Path) -> None:
    from conftest import ROOT

    scc = tmp_path / "scc_kvm02_261126_1200"
    shutil.copytree(ROOT / "tests" / "fixtures" / "bundles" / scc.name, scc)
    (scc / "systemd.txt").write_text(
        "#==[ Command ]======================================#\n"
        "# /usr/bin/hostnamectl status\n"
        "   Static hostname: kvm02\n"
        "         Icon name: computer-server\n"
        f"        Machine ID: {OTHER_ID}\n"
        "           Boot ID: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"
        "  Operating System: SUSE Linux Enterprise Server 15 SP5\n\n"
    )
    (h,) = read_input(scc)
    assert (h.facts.host, h.facts.machine_id) == ("kvm02", OTHER_ID)


# ---- the naming rule on its own ------------------------------------------------------------------


def test_assign_groups_by_machine_id_then_name_in_any_order() -> None:
    a, b = "a" * 32, "b" * 32
    idents = [
        Identity("localhost", a, 10),
        Identity("localhost", b, 20),
        Identity("web01", None, 5),
        Identity("web01", "c" * 32, 6),
        Identity("localhost", None, 7),
        Identity("db", a[:31] + "1", 1),
    ]
    names, notes = assign(idents)
    assert names == ["localhost-aaaaaaaa", "localhost-bbbbbbbb", "web01", "web01", "localhost", "db"]
    assert [e.event for e in notes[2]] == ["host_identity"] and "joined host 'web01'" in notes[2][0].detail
    assert notes[4][0].level == "warn" and "2 machines are called 'localhost'" in notes[4][0].detail
    for order in ([5, 4, 3, 2, 1, 0], [2, 0, 4, 1, 5, 3]):
        again, _ = assign([idents[i] for i in order])
        assert again == [names[i] for i in order]


def test_assign_names_a_renamed_machine_by_its_newest_data_and_tells_close_ids_apart() -> None:
    names, notes = assign([Identity("old", "a" * 32, 1), Identity("new", "a" * 32, 2)])
    assert names == ["new", "new"] and "named 'new'" in notes[0][0].detail
    close = ["a" * 8 + "1" * 24, "a" * 8 + "2" * 24]
    names, _ = assign([Identity("localhost", close[0]), Identity("localhost", close[1])])
    assert names == ["localhost-aaaaaaaa1111", "localhost-aaaaaaaa2222"]


@pytest.mark.parametrize(
    "text, want",
    [
        ("3d1219c7c4c5404aaa1f6d2a48adfda4\n", "3d1219c7c4c5404aaa1f6d2a48adfda4"),
        ("3D1219C7C4C5404AAA1F6D2A48ADFDA4", "3d1219c7c4c5404aaa1f6d2a48adfda4"),
        ("uninitialized\n", None),
        ("", None),
        ("0" * 32, None),
        ("3d1219c7", None),
        (None, None),
    ],
)
def test_parse_machine_id(text, want) -> None:  # type: ignore[no-untyped-def]
    assert hosts.parse_machine_id(text) == want
