"""One fleet task: one input → its store partitions, its per-host reports and a done-marker.

Runs in a worker process (local pool or dask). Everything big stays in the worker and goes to disk;
what returns through the pool or the scheduler is the marker: a small dict of key numbers per host.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memreport import __version__
from memreport.config import Thresholds
from memreport.errors import InputError, MemreportError, OutputError
from memreport.fleet import state
from memreport.host_dirs import host_dir_name, partition_name
from memreport.model import HostData, Severity

STORE, HOSTS, WORK, CLAIMS = "store", "hosts", ".work", "claims"


@dataclass(frozen=True)
class TaskOptions:
    """What every task of one run shares (pickled to each worker once per task: keep it small)."""

    thresholds: Thresholds
    pdf: bool = False  # per-host report.pdf

    def fingerprint(self) -> str:
        """Changes when a setting changes what a task writes: then unchanged inputs are redone."""
        doc = {"thresholds": self.thresholds.as_dict(), "pdf": self.pdf, "version": __version__, "state": state.STATE_FORMAT}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _partition(host: str) -> str:
    return partition_name(host)


def _claim(outdir: Path, host: str, key: str, label: str) -> None:
    """Each host comes from one input: the first to write it owns it (O_EXCL file, race-free)."""
    d = outdir / "state" / CLAIMS
    d.mkdir(parents=True, exist_ok=True)
    p = d / host_dir_name(host)
    try:
        fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        owner, _, other = p.read_text(encoding="utf-8").partition("\n")
        if owner != key:
            raise InputError(label, f"host {host!r} is also in {other.strip()}: a fleet takes each host from one input "
                                    "(merge them first with `memreport ingest`)") from None
        return
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"{key}\n{label}\n")


def release(outdir: Path, host: str) -> None:
    """Remove a host's partitions, reports and claim (its input is gone or no longer holds it)."""
    from memreport.ingest.store import TABLES

    for table in TABLES:
        shutil.rmtree(outdir / STORE / table / _partition(host), ignore_errors=True)
    shutil.rmtree(outdir / HOSTS / host_dir_name(host), ignore_errors=True)
    try:
        (outdir / "state" / CLAIMS / host_dir_name(host)).unlink()
    except FileNotFoundError:
        pass


def _swap_in(work: Path, outdir: Path, host: str) -> None:
    """Move the host's freshly written partitions into OUTDIR/store, one rename per table."""
    from memreport.ingest.store import TABLES

    part = _partition(host)
    for table in TABLES:
        src, dst = work / STORE / table / part, outdir / STORE / table / part
        old = work / "old" / table
        if dst.exists():
            old.parent.mkdir(parents=True, exist_ok=True)
            os.replace(dst, old)
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)


def _row(host: str, doc: dict[str, Any], report_dir: str) -> dict[str, Any]:
    """The fleet summary's numbers for one host, from its report.json (docs/FLEET.md)."""
    windows = doc.get("thrash_windows")
    models = doc.get("capacity_models") or {}
    findings = doc.get("findings") or []
    worst = [f for f in findings if f["severity"] != "OK"]
    return {
        "host": host,
        "report": report_dir,
        "verdict": doc["verdict"],
        "period_start": doc["period"]["start"],
        "period_end": doc["period"]["end"],
        "samples": doc["coverage"]["samples"],
        "memory_total_bytes": doc["memory_total_bytes"],
        "swap_total_bytes": doc["swap_total_bytes"],
        "peak_inactive_bytes": doc["peak_inactive_bytes"],
        "swap_basis": doc["swap_basis"],
        "swap_deficit_bytes": doc["swap_deficit_bytes"],
        "thrash_windows": None if windows is None else len(windows),
        "thrash_seconds": None if windows is None else float(sum(w["duration_s"] or 0 for w in windows)),
        "vm_count": doc["vm_count"],
        "vm_allocated_bytes": doc["vm_allocated_bytes"],
        "overcommit_ratio": doc["overcommit_ratio"],
        "oom_headroom_bytes": doc["oom_headroom_bytes"],
        "safe_free_bytes": (models.get("safe") or {}).get("free_bytes"),
        "observed_free_bytes": (models.get("observed") or {}).get("free_bytes"),
        "ksm_saved_bytes": doc["ksm_saved_bytes"],
        "oom_kills": doc["oom_kills"],
        "findings": {s: sum(1 for f in findings if f["severity"] == s) for s in ("CRIT", "WARN", "OK")},
        "top_finding": worst[0]["title"] if worst else None,
        "missing": list(doc["coverage"]["missing"]),
    }


def _process(path: Path, outdir: Path, key: str, opts: TaskOptions, old_hosts: list[str]) -> list[dict[str, Any]]:
    from memreport.analyze import analyze
    from memreport.analyze.report_json import build
    from memreport.ingest import sources, store
    from memreport.render.report import write_report

    label = str(path)
    by_host: dict[str, list[HostData]] = {}
    for data in sources.read_input(path):
        by_host.setdefault(data.facts.host, []).append(data)
    if not by_host:
        raise InputError(label, "no host in this input")
    for host in by_host:
        _claim(outdir, host, key, label)
    work = outdir / WORK / f"{key}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    try:
        for host in sorted(by_host):
            data = store.finalize(store.merge_host(by_host.pop(host)))
            store.write_host(work / STORE, data)
            _swap_in(work, outdir, host)
            data = store.frame(data)
            a = analyze(data, opts.thresholds)
            rdir = host_dir_name(host)
            write_report(data, outdir / HOSTS / rdir, opts.thresholds, analysis=a, pdf=opts.pdf)  # one set: no stale PDF
            rows.append(_row(host, build(a), f"{HOSTS}/{rdir}/report.html"))
            del data, a
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for gone in set(old_hosts) - {r["host"] for r in rows}:
        release(outdir, gone)
    return rows


def run_task(path: str, outdir: str, opts: TaskOptions, label: str | None = None) -> dict[str, Any]:
    """Process one input unless its marker shows it done; return the (small) marker dict.

    `path` and `outdir` are absolute (a dask worker may run in another directory); `label` is the
    input as the user named it. `outcome` says what happened: processed, unchanged (content hash
    equal) or failed.
    """
    t0 = time.perf_counter()
    p, out = Path(path), Path(outdir)
    key = state.input_key(p)
    settings = opts.fingerprint()
    signature = state.stat_signature(p)
    old = state.read_marker(out, key)
    reusable = old is not None and old.get("settings") == settings and not old.get("retry")
    if reusable and state.is_current(old, signature):
        return {**old, "outcome": "unchanged", "elapsed_s": time.perf_counter() - t0}  # type: ignore[dict-item]
    try:
        digest = state.content_hash(p) if p.exists() else None
    except OSError:
        digest = None
    if reusable and digest is not None and old.get("hash") == digest:  # type: ignore[union-attr]
        same = {k: v for k, v in old.items() if k not in ("format",)}  # type: ignore[union-attr]
        same["signature"] = signature  # touched, not changed: remember the new stat signature
        state.write_marker(out, key, same)
        return {**same, "outcome": "unchanged", "elapsed_s": time.perf_counter() - t0}
    doc: dict[str, Any] = {"input": label or str(path), "key": key, "signature": signature, "hash": digest, "settings": settings}
    old_hosts = [h["host"] for h in (old or {}).get("hosts", [])]
    try:
        rows = _process(p, out, key, opts, old_hosts)
        doc.update(status="ok", error=None, retry=False, hosts=rows)
    except MemreportError as e:
        # The input's own fault: the same bytes fail the same way, so it is not retried while unchanged;
        # an output that could not be written (disk full) is retried.
        doc.update(status="failed", error=str(e), retry=isinstance(e, OutputError), hosts=[])
        for h in old_hosts:
            release(out, h)
    except Exception as e:  # noqa: BLE001 - isolate the failure: the rest of the fleet goes on
        # A bug or an unexpected exception while reading these bytes repeats on the same bytes, so it
        # is recorded like an InputError; only resource errors (disk full, out of memory) are retried.
        transient = isinstance(e, (OSError, MemoryError))
        reason = " ".join(str(e).split()) or type(e).__name__
        doc.update(status="failed", error=f"{label or path}: internal error: {type(e).__name__}: {reason}",
                   retry=transient, hosts=[], traceback=traceback.format_exc(limit=8))
        for h in old_hosts:
            release(out, h)
    state.write_marker(out, key, doc)
    outcome = "processed" if doc["status"] == "ok" else "failed"
    return {**doc, "outcome": outcome, "elapsed_s": time.perf_counter() - t0}


def verdict_rank(verdict: str) -> int:
    return int(Severity[verdict]) if verdict in Severity.__members__ else -1
