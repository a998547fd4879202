"""OOM risk, KSM and per-VM checks against hand-computed values (issue 3, rule 3 and KSM)."""

from __future__ import annotations

from helpers import synthetic as S
from helpers.synthetic import GIB, MIB

from memreport.analyze import analyze, summary_lines
from memreport.analyze.report_json import build
from memreport.config import Thresholds
from memreport.model import Severity


def _host(n_vms: int, alloc: int = 2 * GIB):
    df = S.samples(n=361, mem_total=16 * GIB, swap_total=8 * GIB, available=8 * GIB)
    # Peak use: MemAvailable 4 GiB (12 GiB used) while 2 GiB of swap is used -> 14 GiB.
    i = S.at(df, 1800)
    df.loc[i, "mem_MemAvailable"] = 4 * GIB
    df.loc[i, "mem_SwapFree"] = 6 * GIB
    spec = [(f"vm{k}", alloc, alloc // 2, 0) for k in range(n_vms)]
    return S.host(df, S.vms(df["ts"].iloc[::60], spec))


def test_headroom_and_vm_counts_equal_hand_computed_values() -> None:
    # The article's toy VM size, set as a user would (the default is a 4 GiB guest).
    a = analyze(_host(10), Thresholds(oom_new_vm_bytes=512 * MIB))  # 10 × 2 GiB = 20 GiB on 16 GiB RAM + 8 GiB swap
    doc = build(a)
    assert doc["vm_allocated_bytes"] == 20 * GIB
    assert doc["oom_headroom_bytes"] == 4 * GIB  # 16 + 8 − 20
    assert doc["overcommit_ratio"] == 1.25
    assert doc["capacity_models"] == {
        # naive: 16 GiB ÷ 512 MiB = 32 in total (the article), none more: 20 GiB already > 16 GiB
        "naive": {"capacity_bytes": 16 * GIB, "used_bytes": 20 * GIB, "free_bytes": -4 * GIB, "more_vms": 0, "total_vms": 32},
        # safe rule: 4 GiB ÷ 512 MiB = 8 more
        "safe": {"capacity_bytes": 24 * GIB, "used_bytes": 20 * GIB, "free_bytes": 4 * GIB, "more_vms": 8},
        # observed: 24 − 14 = 10 GiB ÷ 512 MiB = 20 more
        "observed": {"capacity_bytes": 24 * GIB, "used_bytes": 14 * GIB, "free_bytes": 10 * GIB, "more_vms": 20},
    }
    assert doc["lowest_mem_available_bytes"] == 4 * GIB
    assert doc["lowest_mem_available_at"] == "2026-11-20T00:30:00Z"
    f = next(f for f in a.findings if f.id.startswith("oom.") and f.id != "oom.commit")
    assert f.id == "oom.headroom" and f.severity == Severity.OK
    # The finding's advice is the answer's: the safe rule's 8, fewer than the observed model's 20.
    assert f.recommendation.startswith("8 more 512 MiB VMs fit (safe rule")
    assert a.answer.vms_that_fit == 8 and a.answer.vms_that_fit_model == "safe"


def test_allocations_beyond_ram_plus_swap_are_critical() -> None:
    a = analyze(_host(14))  # 28 GiB > 24 GiB
    assert a.oom.oom_headroom_bytes == -4 * GIB
    f = next(f for f in a.findings if f.id == "oom.overallocated")
    assert f.severity == Severity.CRIT
    assert f.title == "OOM risk: VMs allocated 4 GiB more than RAM + swap"
    assert a.verdict == Severity.CRIT
    assert summary_lines(a)[0].startswith("kvm-test: CRIT")


def test_low_headroom_warns() -> None:
    a = analyze(_host(11))  # 22 GiB: 2 GiB headroom < 10 % of 24 GiB
    assert next(f for f in a.findings if f.id == "oom.low_headroom").severity == Severity.WARN


def test_oom_kills_counted() -> None:
    h = _host(4)
    h.samples.loc[S.at(h.samples, 600), "oom_kills"] = 1.0
    h.samples.loc[S.at(h.samples, 700), "oom_kills"] = 2.0
    a = analyze(h)
    assert a.oom.oom_kills == 3
    f = next(f for f in a.findings if f.id == "oom.kills")
    assert f.severity == Severity.CRIT and "00:10:00" in f.detail


def test_commit_warns_only_under_strict_overcommit() -> None:
    h = _host(4)
    h.samples["mem_Committed_AS"] = 30 * GIB
    h.samples["mem_CommitLimit"] = 16 * GIB
    assert next(f for f in analyze(h).findings if f.id == "oom.commit").severity == Severity.OK
    h.facts.overcommit_memory = 2
    a = analyze(h)
    assert next(f for f in a.findings if f.id == "oom.commit").severity == Severity.WARN
    assert a.oom.peak_commit_percent == 187.5


def test_ksm_verdict_sentence() -> None:
    df = S.samples(n=361)
    df["ksm_pages_sharing_bytes"] = int(11.2 * GIB)
    df["ksm_pages_shared_bytes"] = int(11.2 * GIB) // 8
    df.loc[df["interval_s"].notna(), "ksmd_cpu_share"] = 0.03
    a = analyze(S.host(df))
    doc = build(a)
    assert doc["ksm_saved_bytes"] == int(11.2 * GIB)
    assert doc["ksmd_cpu_percent"] == 3.0
    assert doc["ksm_sharing_ratio"] == 8.0
    assert a.ksm.verdict == "KSM saves 11.2 GiB for 3 % of one CPU: keep it"
    df.loc[df["interval_s"].notna(), "ksmd_cpu_share"] = 0.40
    df["ksm_pages_sharing_bytes"] = 100 * MIB
    a = analyze(S.host(df))
    assert a.ksm.verdict == "KSM saves 100 MiB for 40 % of one CPU: turn it off"
    assert next(f for f in a.findings if f.id == "ksm.value").severity == Severity.WARN


def test_per_vm_table_sorted_with_max_p95_and_swap() -> None:
    df = S.samples(n=361)
    vf = S.vms(
        df["ts"].iloc[::18], [("small", 1 * GIB, 600 * MIB, 0), ("big", 8 * GIB, 3 * GIB, 3 * GIB), ("mid", 4 * GIB, 4 * GIB, 0)]
    )
    big = vf["name"] == "big"
    vf.loc[big, "rss_bytes"] = [GIB * (k + 1) // 4 for k in range(int(big.sum()))]  # 0.25 … 5.25 GiB
    a = analyze(S.host(df, vf))
    assert [v.name for v in a.vms.rows] == ["big", "mid", "small"]
    b = a.vms.rows[0]
    assert b.rss_max_bytes == 21 * GIB // 4
    expected_p95 = round(float(vf.loc[big, "rss_bytes"].astype(float).quantile(0.95)))
    assert b.rss_p95_bytes == expected_p95
    assert b.swap_max_bytes == 3 * GIB
    assert next(f for f in a.findings if f.id == "vms.swapped").severity == Severity.WARN  # 3 of 8 GiB ≥ 25 %


def test_vms_without_uuid_are_told_apart_by_name_then_pid() -> None:
    df = S.samples(n=61)
    vf = S.vms(df["ts"].iloc[::30], [("a", GIB, GIB // 2, 0), ("b", 2 * GIB, GIB, 0), ("c", GIB, GIB // 4, 0)])
    vf["uuid"] = None
    vf.loc[vf["pid"] == 1002, "name"] = None
    a = analyze(S.host(df, vf))
    assert [(v.name, v.allocated_bytes) for v in a.vms.rows] == [("b", 2 * GIB), ("a", GIB), ("pid 1002", GIB)]
    assert a.oom.vm_allocated_bytes == 4 * GIB and a.oom.vm_count == 3
