"""Fleet tasks. Both run in a worker process (local pool or dask); everything big stays in the
worker and goes to disk, and what returns through the pool or the scheduler is a small marker.

- `run_task`, one per input: read it, and for each host it holds write that host alone (store
  partitions, report, analysis row) into OUTDIR/.work/staged/<input key>/<part>/, as if it were the
  host's only input. The marker records each host's identity (name, machine-id) for the parent.
- `run_host_task`, one per host that needs it (several inputs, or a name the parent changed): read
  the host's inputs again, merge them as `memreport report A B` does (ingest/hosts.py), write the
  partitions and the report in place, and record a host marker.

The parent (fleet/__init__.py) groups the inputs' hosts by identity in between; a host whose only
input was just staged under its final name is moved into place without a second read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memreport import __version__
from memreport.config import Thresholds
from memreport.errors import InputError, MemreportError, OutputError, RenderError
from memreport.fleet import state
from memreport.host_dirs import host_dir_name, partition_name
from memreport.ingest.options import IngestOptions
from memreport.model import HostData, LogEntry, Severity

STORE, HOSTS, WORK, STAGED = "store", "hosts", ".work", "staged"
if TYPE_CHECKING:  # the parent need not import the analysis (pandas) to hand a change to the workers
    from memreport.analyze.what_if import Change

HOST_MARKERS = "hosts"  # OUTDIR/state/hosts/<host>.json


@dataclass(frozen=True)
class TaskOptions:
    """What every task of one run shares (pickled to each worker once per task: keep it small)."""

    thresholds: Thresholds
    pdf: bool = False  # per-host report.pdf
    ingest: IngestOptions = field(default_factory=IngestOptions)  # what inputs cannot tell (--page-size …)
    host: str | None = None  # --host: the name of inputs that give none
    change: Change | None = None  # --add-vms/--remove-vm/--swap/--ksm: every host analysed as if it were made

    def fingerprint(self) -> str:
        """Changes when a setting changes what a task writes: then unchanged inputs are redone."""
        doc = {
            "thresholds": self.thresholds.as_dict(),
            "pdf": self.pdf,
            "host": self.host,
            "version": __version__,
            "state": state.STATE_FORMAT,
            "ingest": self.ingest.describe(),
            "what_if": self.change.as_json() if self.change is not None and not self.change.empty else None,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _partition(host: str) -> str:
    return partition_name(host)


def host_marker_key(host: str) -> str:
    """The host's marker under OUTDIR/state (state.marker_path): hosts/<host directory name>.json."""
    return f"{HOST_MARKERS}/{host_dir_name(host)}"


def staged_dir(outdir: Path, marker: dict[str, Any], part: int) -> Path:
    """Where an input's host `part` is staged: named by the input's content hash and the settings, so
    that a run killed before moving it into place finds it again, and never a stale one."""
    version = f"{(marker.get('hash') or 'none')[:16]}-{marker.get('settings')}"
    return Path(outdir) / WORK / STAGED / marker["key"] / version / str(part)


def release(outdir: Path, host: str) -> None:
    """Remove a host's partitions, report and marker (its inputs are gone or no longer hold it)."""
    from memreport.ingest.store import TABLES

    for table in TABLES:
        shutil.rmtree(outdir / STORE / table / _partition(host), ignore_errors=True)
    shutil.rmtree(outdir / HOSTS / host_dir_name(host), ignore_errors=True)
    state.marker_path(outdir, host_marker_key(host)).unlink(missing_ok=True)


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


def _replace_dir(src: Path, dst: Path, trash: Path) -> None:
    """dst becomes src (two renames; the old dst is removed afterwards)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        shutil.rmtree(trash, ignore_errors=True)
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.replace(dst, trash)
    os.replace(src, dst)
    shutil.rmtree(trash, ignore_errors=True)


def is_staged(outdir: Path, marker: dict[str, Any], part: int) -> bool:
    """The part is staged whole (a promotion cut short has moved some of it already)."""
    d = staged_dir(outdir, marker, part)
    return (d / STORE / "samples").is_dir() and (d / "report").is_dir()


def promote(outdir: Path, marker: dict[str, Any], part: int, host: str) -> None:
    """A host staged by its only input, under the name it keeps: moved into place (renames only)."""
    d = staged_dir(outdir, marker, part)
    _swap_in(d, outdir, host)
    _replace_dir(d / "report", outdir / HOSTS / host_dir_name(host), d / "old-report")
    shutil.rmtree(d, ignore_errors=True)


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
        # The host's one answer, as its report prints it (the fleet recomputes none of it).
        "swap_to_add_bytes": doc["answer"]["swap_to_add_bytes"],
        "swap_to_add_rule": doc["answer"]["swap_to_add_rule"],
        "vms_that_fit": doc["answer"]["vms_that_fit"],
        "vms_that_fit_model": doc["answer"]["vms_that_fit_model"],
        "thrash_cause": doc["answer"]["thrash"]["cause"],
        "ksm": doc["answer"]["ksm"],
        "confidence": doc["answer"]["confidence"],
        "answer_lines": doc["answer"]["lines"],
        "missing": list(doc["coverage"]["missing"]),
        "what_if": _what_if_row(doc.get("what_if")),
    }


def _what_if_row(w: dict[str, Any] | None) -> dict[str, Any] | None:
    """The host after the fleet's change (--add-vms …), from report.json's what_if (docs/FLEET.md)."""
    if w is None:
        return None
    return {
        "fits": w["fits"],
        "blocker": w["blocker"],
        "headroom_bytes": w["headroom_bytes"],
        "oom_headroom_bytes": w["oom_headroom_bytes"],
        "swap_to_add_bytes": w["answer"]["swap_to_add_bytes"],
        "swap_to_add_rule": w["answer"]["swap_to_add_rule"],
        "vms_that_fit": w["answer"]["vms_that_fit"],
        "vms_that_fit_hugepages": w["answer"]["vms_that_fit_hugepages"],
        "hugepages_unallocated_bytes": w["hugepages_unallocated_bytes"],
        "vm_allocated_bytes": w["vm_allocated_bytes"],
        "answer_lines": w["answer"]["lines"],
    }


def _write_host(data: HostData, work: Path, report_dir: Path, opts: TaskOptions) -> dict[str, Any]:
    """Partitions under work/store, the report in report_dir, and the host's summary row.

    A report.pdf that misses its deadline (render.pdf_timeout_s) does not fail the host: its
    numbers, report.html and report.json stand; the row's `pdf_error` says why there is no PDF, and
    the task's marker asks the next run to try again."""
    from memreport.analyze import analyze
    from memreport.analyze.columns import REPORT_SAMPLE_COLUMNS
    from memreport.analyze.report_json import build
    from memreport.ingest import derive, release_freed_memory, store
    from memreport.render.formatters import fit_name
    from memreport.render.report import write_report
    from memreport.vm_digest import VmDigest

    host = data.facts.host
    store.write_host(work / STORE, data)
    # The store has every column and row; the analysis only its own sample columns and the per-VM
    # digest (issue 17), as a report from a capture reads them: the million per-VM rows of a 16-VM
    # host-week go before pandas gets the samples (a worker's peak, issue 12).
    data.samples = derive.keep_columns(derive.to_table(data.samples), REPORT_SAMPLE_COLUMNS, finalised=True)
    release_freed_memory()  # the parts' Arrow copies and Parquet buffers, before the digest allocates
    if data.vms is not None and data.vm_digest is None:
        data.vm_digest, data.vms = VmDigest.of(data.vms, batch_rows=store.VM_BATCH_ROWS), None
        release_freed_memory()
    data = store.frame(data)
    a = analyze(data, opts.thresholds, _for_host(opts.change, data))
    try:
        write_report(data, report_dir, opts.thresholds, analysis=a, pdf=opts.pdf)  # one set: no stale PDF
        pdf_error = None
    except RenderError as e:  # named by where the report goes, not the staging directory it was written in
        pdf_error = (
            f"{fit_name(host)}: {HOSTS}/{host_dir_name(host)}/report.pdf not written: {e.reason}; "
            "report.html and report.json are written"
        )
    return {**_row(host, build(a), f"{HOSTS}/{host_dir_name(host)}/report.html"), "pdf_error": pdf_error}


def _for_host(change: Change | None, data: HostData) -> Change | None:
    """The fleet's change for one host: --remove-vm names a VM of some hosts, so on the others it removes nothing
    (report.json's what_if lists only what was applied)."""
    if change is None or not change.remove:
        return change
    import dataclasses

    if data.vm_digest is not None:
        names = data.vm_digest.names
    else:
        names = set(data.vms["name"].astype(str)) if data.vms is not None and "name" in data.vms.columns else set()
    return dataclasses.replace(change, remove=tuple(n for n in change.remove if n in names))


def _read_parts(path: Path, label: str, opts: TaskOptions) -> list[Any]:
    from memreport.ingest import hosts

    parts = hosts.read(path, opts.ingest)
    if not parts:
        raise InputError(label, "no host in this input")
    hosts.name_unnamed(parts, opts.host)
    return parts


def _stage(path: Path, outdir: Path, doc: dict[str, Any], opts: TaskOptions, label: str) -> list[dict[str, Any]]:
    """Each host of the input on its own, staged under OUTDIR/.work/staged/<key>/<version>/<part>/."""
    from memreport.ingest import hosts

    parts = _read_parts(path, label, opts)
    shutil.rmtree(outdir / WORK / STAGED / doc["key"], ignore_errors=True)  # older versions of this input
    out = []
    for i in range(len(parts)):
        part, parts[i] = parts[i], None  # free each host before the next
        ident = hosts.identity(part)
        d = staged_dir(outdir, doc, i)
        row = _write_host(hosts.combine([part]), d, d / "report", opts)
        out.append(
            {
                "part": i,
                "host": part.data.facts.host,
                "name": ident.name,
                "machine_id": ident.machine_id,
                "last_ms": ident.last_ms,
                "row": row,
            }
        )
    return out


def run_task(path: str, outdir: str, opts: TaskOptions, label: str | None = None) -> dict[str, Any]:
    """Read one input unless its marker shows it done; return the (small) marker dict.

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
    try:
        parts = _stage(p, out, doc, opts, label or str(path))
        doc.update(status="ok", error=None, retry=any(pt["row"]["pdf_error"] for pt in parts), parts=parts)
    except MemreportError as e:
        # The input's own fault: the same bytes fail the same way, so it is not retried while unchanged;
        # an output that could not be written (disk full) is retried.
        doc.update(status="failed", error=str(e), retry=isinstance(e, OutputError), parts=[])
    except Exception as e:  # noqa: BLE001 - isolate the failure: the rest of the fleet goes on
        # A bug or an unexpected exception while reading these bytes repeats on the same bytes, so it
        # is recorded like an InputError; only resource errors (disk full, out of memory) are retried.
        transient = isinstance(e, (OSError, MemoryError))
        reason = " ".join(str(e).split()) or type(e).__name__
        doc.update(
            status="failed",
            error=f"{label or path}: internal error: {type(e).__name__}: {reason}",
            retry=transient,
            parts=[],
            traceback=traceback.format_exc(limit=8),
        )
    if doc["status"] != "ok":
        shutil.rmtree(out / WORK / STAGED / key, ignore_errors=True)
    state.write_marker(out, key, doc)
    outcome = "processed" if doc["status"] == "ok" else "failed"
    return {**doc, "outcome": outcome, "elapsed_s": time.perf_counter() - t0}


def run_host_task(spec_path: str, outdir: str, opts: TaskOptions, label: str | None = None) -> dict[str, Any]:
    """One host from all its inputs (the parts the parent listed in the spec file), merged exactly as
    `memreport report A B` merges them; writes the host marker and returns it."""
    from memreport.ingest import hosts

    t0 = time.perf_counter()
    out = Path(outdir)
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    host = spec["host"]
    doc: dict[str, Any] = {
        "host": host,
        "members": spec["members_signature"],
        "inputs": spec["inputs"],
        "settings": opts.fingerprint(),
    }
    work = out / WORK / "merge" / f"{host_dir_name(host)}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        read: dict[str, list[Any]] = {}
        chosen = []
        for m in spec["members"]:
            if m["path"] not in read:
                read[m["path"]] = _read_parts(Path(m["path"]), m["label"], opts)
            parts = read[m["path"]]
            part = parts[m["part"]] if m["part"] < len(parts) else None
            if part is None or hosts.identity(part).machine_id != m["machine_id"] or hosts.identity(part).name != m["name"]:
                raise InputError(
                    m["label"], "changed while the fleet ran (its hosts are not the ones it held a moment ago): run again"
                )
            hosts.rename(part.data, host)
            hosts.add_notes(part.data, [LogEntry(**n) for n in m["notes"]])
            chosen.append(part)
        read.clear()  # only the chosen parts stay in memory
        data = hosts.combine(chosen)
        del chosen
        row = _write_host(data, work, work / "report", opts)
        _swap_in(work, out, host)
        _replace_dir(work / "report", out / HOSTS / host_dir_name(host), work / "old-report")
        doc.update(status="ok", error=None, retry=bool(row["pdf_error"]), row=row)
    except MemreportError as e:
        doc.update(status="failed", error=str(e), retry=False, row=None)
    except Exception as e:  # noqa: BLE001 - one host's failure never stops the fleet
        transient = isinstance(e, (OSError, MemoryError))
        reason = " ".join(str(e).split()) or type(e).__name__
        doc.update(
            status="failed",
            error=f"host {host}: internal error: {type(e).__name__}: {reason}",
            retry=transient,
            row=None,
            traceback=traceback.format_exc(limit=8),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    state.write_marker(out, host_marker_key(host), doc)
    return {**doc, "outcome": "processed" if doc["status"] == "ok" else "failed", "elapsed_s": time.perf_counter() - t0}


def verdict_rank(verdict: str) -> int:
    return int(Severity[verdict]) if verdict in Severity.__members__ else -1
