"""report.json: the analysis as plain JSON (documented in docs/REPORT-JSON.md). Null = no data."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from memreport.analyze import Analysis
from memreport.analyze.wording import iso
from memreport.model import Severity

REPORT_JSON_FORMAT = 1


def plain(v: Any) -> Any:
    """Make a value JSON-ready: timestamps to ISO UTC, numpy scalars to Python, NaN to null."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, datetime, np.datetime64)):
        return iso(v)
    if isinstance(v, Severity):
        return v.name
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return str(v) if not isinstance(v, str) else v


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None else round(float(v), nd)


def build(a: Analysis) -> dict[str, Any]:
    s, th, o, k = a.swap, a.thrash, a.oom, a.ksm
    return plain(
        {
            "format": REPORT_JSON_FORMAT,
            "host": a.host,
            "machine_id": a.facts.machine_id,
            "period": {"start": a.period_start, "end": a.period_end},
            "verdict": a.verdict.name,
            "answer": a.answer.as_json(),
            "memory_total_bytes": o.memory_total_bytes,
            "swap_total_bytes": s.swap_total_bytes,
            "peak_inactive_bytes": s.peak_inactive_bytes,
            "peak_inactive_at": s.peak_inactive_at,
            "p99_inactive_bytes": s.p99_inactive_bytes,
            "p95_inactive_bytes": s.p95_inactive_bytes,
            "peak_inactive_anon_bytes": s.peak_inactive_anon_bytes,
            "peak_inactive_anon_at": s.peak_inactive_anon_at,
            "swap_basis": s.basis,
            "swap_deficit_bytes": s.deficit_bytes,
            "peak_swap_used_bytes": s.peak_swap_used_bytes,
            "peak_active_bytes": a.active.peak_active_bytes,
            "peak_active_percent": _r(a.active.peak_active_percent, 2),
            "swap_roundtrip_seconds": a.active.roundtrip_seconds,
            "thrash_windows": [
                {
                    "start": w.start,
                    "end": w.end,
                    "duration_s": w.duration_s,
                    "peak_swapin_bytes_per_s": _r(w.peak_swapin_bytes_per_s),
                    "peak_swapout_bytes_per_s": _r(w.peak_swapout_bytes_per_s),
                    "mean_swapin_bytes_per_s": _r(w.mean_swapin_bytes_per_s),
                    "mean_swapout_bytes_per_s": _r(w.mean_swapout_bytes_per_s),
                    "swapin_bytes": w.swapin_bytes,
                    "swapout_bytes": w.swapout_bytes,
                    "swapped_bytes": w.swapped_bytes,
                    "psi_full_mean_percent": _r(w.psi_full_mean_percent),
                    "refaults_per_s_mean": _r(w.refaults_per_s_mean),
                    "majfaults_per_s_mean": _r(w.majfaults_per_s_mean),
                    "min_available_bytes": w.min_available_bytes,
                    "min_available_percent": _r(w.min_available_percent, 2),
                    "peak_active_percent": _r(w.peak_active_percent, 2),
                    "cause": w.cause,
                }
                for w in th.windows
            ]
            if th.available
            else None,
            "peak_swapin_bytes_per_s": _r(th.peak_swapin_bytes_per_s),
            "peak_swapout_bytes_per_s": _r(th.peak_swapout_bytes_per_s),
            "vm_count": o.vm_count,
            "vm_allocated_bytes": o.vm_allocated_bytes,
            "vm_current_total_bytes": a.vms.current_total_bytes,
            "overcommit_ratio": _r(o.overcommit_ratio, 4),
            "oom_headroom_bytes": o.oom_headroom_bytes,
            "capacity_models": {
                m.key: {
                    "capacity_bytes": m.capacity_bytes,
                    "used_bytes": m.used_bytes,
                    "free_bytes": m.free_bytes,
                    "more_vms": m.more_vms,
                    **({"total_vms": m.total_vms} if m.key == "naive" else {}),
                }
                for m in o.models
            },
            "new_vm_bytes": o.new_vm_bytes,
            "peak_used_bytes": o.peak_used_bytes,
            "lowest_mem_available_bytes": o.lowest_available_bytes,
            "lowest_mem_available_at": o.lowest_available_at,
            "peak_commit_percent": _r(o.peak_commit_percent, 2),
            "oom_kills": o.oom_kills,
            "ksm_saved_bytes": k.saved_peak_bytes,
            "ksm_sharing_ratio": _r(k.sharing_ratio),
            "ksm_unshared_ratio": _r(k.unshared_ratio),
            "ksm_general_profit_bytes": k.general_profit_bytes,
            "ksm_general_profit_peak_bytes": k.general_profit_peak_bytes,
            "ksm_sharing_ratio_peak": _r(k.sharing_ratio_peak),
            "ksm_stopped_at": k.stopped_at,
            "ksmd_cpu_percent": _r(k.ksmd_cpu_percent),
            "ksm_verdict": k.verdict or None,
            "vms": [
                {
                    "name": v.name,
                    "uuid": v.uuid,
                    "allocated_bytes": v.allocated_bytes,
                    "maxmem_bytes": v.maxmem_bytes,
                    "rss_max_bytes": v.rss_max_bytes,
                    "rss_p95_bytes": v.rss_p95_bytes,
                    "swap_max_bytes": v.swap_max_bytes,
                    "ksm_merged_max_bytes": v.ksm_merged_max_bytes,
                    "backing": v.backing,
                    "current_bytes": v.current_bytes,
                    "hugepages_bytes": v.hugepages_max_bytes,
                    "resident_bytes": v.resident_max_bytes,
                    "resident_percent": _r(v.resident_percent, 2),
                    "hard_limit_bytes": v.hard_limit_bytes,
                    "soft_limit_bytes": v.soft_limit_bytes,
                    "swap_hard_limit_bytes": v.swap_hard_limit_bytes,
                }
                for v in a.vms.rows
            ]
            if a.vms.rows
            else None,
            "hugepages": _hugepages(a),
            "numa_nodes": [
                {
                    "node": n.node,
                    "memory_total_bytes": n.memory_total_bytes,
                    "lowest_free_bytes": n.lowest_free_bytes,
                    "lowest_free_at": n.lowest_free_at,
                    "hugepages_total_bytes": n.hugepages_total_bytes,
                    "flagged": n.flagged,
                }
                for n in a.numa.nodes
            ]
            if a.numa.nodes
            else None,
            "swap_devices": {
                "zram_bytes": a.swap_devices.zram_bytes,
                "zram_devices": a.swap_devices.zram_devices,
                "disk_bytes": a.swap_devices.disk_bytes,
                "zswap_saved_peak_bytes": a.swap_devices.zswap_saved_peak_bytes,
                "zswap_saved_peak_at": a.swap_devices.zswap_saved_peak_at,
            },
            "what_if": a.what_if.as_json() if a.what_if is not None else None,
            "findings": [
                {
                    "id": f.id,
                    "check": f.check,
                    "severity": f.severity.name,
                    "title": f.title,
                    "detail": f.detail,
                    "recommendation": f.recommendation,
                    "evidence": f.evidence,
                }
                for f in a.findings
            ],
            "coverage": {
                "samples": a.sample_count,
                "segments": a.segments,
                "median_interval_s": a.median_interval_s,
                "covered_s": a.confidence.covered_s,
                "missing": [c.name for c in a.missing],
                "assumptions": list(a.facts.assumptions),
                "time_base": a.facts.time_base,
                "inputs": [{"input": c.input, "kind": c.kind, "summary": c.summary} for c in a.contributions],
            },
            "thresholds": a.thresholds.as_dict(),
        }
    )


def _hugepages(a: Analysis) -> dict[str, Any] | None:
    h = a.hugepages
    if not h.total_bytes and not h.vm_count:
        return None
    return {
        "page_size_bytes": h.page_size_bytes,
        "total_bytes": h.total_bytes,
        "free_bytes": h.free_bytes,
        "reserved_bytes": h.reserved_bytes,
        "vm_allocated_bytes": h.vm_allocated_bytes,
        "vm_count": h.vm_count,
        "source": h.source,
        "anon_huge_peak_bytes": h.anon_huge_peak_bytes,
        "pools": [
            {
                "page_size_bytes": p.page_size_bytes,
                "total_bytes": p.total_bytes,
                "free_bytes": p.free_bytes,
                "reserved_bytes": p.reserved_bytes,
            }
            for p in h.pools
        ]
        or None,
    }


def dumps(a: Analysis) -> str:
    return json.dumps(build(a), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def build_report_json(data: object, analysis: Analysis, thresholds: object = None) -> dict[str, Any]:
    """The CLI's entry point: the report.json dict of one host (`data` and `thresholds` are already
    in the analysis; accepted so callers can pass what they have)."""
    return build(analysis)
