"""`memreport report` and `memreport analyze`: inputs (or a store) → findings → report files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from memreport.cli import (
    ANALYZE_UNKNOWN, EXIT_INPUT, EndOpt, HostOpt, InputsArg, PageSizeOpt, StartOpt, _err, _print_warnings, _progress, app,
    guarded, ingest_options,
)
from memreport.errors import InputError, RenderError
from memreport.host_dirs import host_dir_name

if TYPE_CHECKING:  # importing memreport.ingest or memreport.model loads pyarrow and pandas: not for --help
    from memreport.ingest.options import IngestOptions
    from memreport.model import HostData

if TYPE_CHECKING:
    from memreport.analyze import Analysis

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML file of threshold settings (docs/CHECKS.md).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override one threshold: --set key=value (repeatable).")]
VmSizeOpt = Annotated[str | None, typer.Option(
    "--vm-size", help="Size of a new VM for 'how many more VMs fit', e.g. 8GiB (default 4GiB; the setting oom.new_vm_bytes).")]


AddVmsOpt = Annotated[list[str] | None, typer.Option(
    "--add-vms", help="What if: add COUNTxSIZE VMs, e.g. 4x8GiB or 2x16GiB:hugepages (repeatable; docs/CHECKS.md).")]
RemoveVmOpt = Annotated[list[str] | None, typer.Option("--remove-vm", help="What if: remove the VM of this name (repeatable).")]
SwapOpt = Annotated[str | None, typer.Option("--swap", help="What if: swap resized to this size, e.g. 32GiB.")]
KsmOpt = Annotated[str | None, typer.Option("--ksm", help="What if: --ksm off (its saving comes back as demand).")]


def with_vm_size(overrides: list[str] | None, vm_size: str | None) -> list[str]:
    """--vm-size is the setting oom.new_vm_bytes: one parser, one value for report, analyze and fleet."""
    return [*(overrides or []), *([f"oom.new_vm_bytes={vm_size}"] if vm_size else [])]


def load_hosts(inputs: list[Path], opts: IngestOptions | None = None, host: str | None = None) -> list[HostData]:
    """Hosts from a store, or from inputs ingested in memory (nothing written); opts default to
    memreport.ingest.options.DEFAULT."""
    from memreport.ingest import store
    from memreport.ingest.options import DEFAULT
    from memreport.ingest.run import load

    if len(inputs) == 1 and store.is_store(inputs[0]) and not host:
        return [store.read_host(inputs[0], h) for h in store.list_hosts(inputs[0])]
    result = load(inputs, _progress(), opts or DEFAULT, host)
    _print_warnings(result)
    if not result.hosts:
        raise result.failed[0] if result.failed else InputError("-", "no input given")
    return [store.frame(h) for h in result.hosts]


@app.command()
def report(
    inputs: InputsArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for the reports: OUTDIR/<host>/report.{html,pdf,json}.")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Render report.pdf too.")] = True,
    eml: Annotated[bool, typer.Option("--eml", help="Also write report.eml: the report as a mail (docs/EMAIL.md).")] = False,
    vm_size: VmSizeOpt = None,
    add_vms: AddVmsOpt = None,
    remove_vm: RemoveVmOpt = None,
    swap: SwapOpt = None,
    ksm: KsmOpt = None,
    page_size: PageSizeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    host: HostOpt = None,
) -> None:
    """Analyse the inputs and write report.html, report.pdf and report.json per host.

    A report.pdf not rendered within the setting render.pdf_timeout_s (default 120 s) is not written;
    the host's report.html and report.json are, and the run ends with exit code 2."""
    from memreport.analyze import analyze as run_analysis
    from memreport.config import load_thresholds
    from memreport.render.report import write_report

    from memreport.analyze.what_if import parse_change

    thresholds = guarded(lambda: load_thresholds(config, with_vm_size(set_, vm_size)))
    change = guarded(lambda: parse_change(add_vms, remove_vm, swap, ksm))
    opts = ingest_options(page_size, start, end)
    hosts = guarded(lambda: load_hosts(inputs, opts, host))
    unrendered = 0  # hosts whose report.pdf missed its deadline: their other files are written, the run fails

    def write_one(data: HostData, result: Analysis, outdir: Path) -> tuple[dict[str, Path], RenderError | None]:
        try:
            return write_report(data, outdir, thresholds, analysis=result, pdf=pdf), None
        except RenderError as e:
            return e.written, e

    for data in hosts:
        result = guarded(lambda: run_analysis(data, thresholds, change))
        outdir = output / host_dir_name(data.facts.host)
        written, unrendered_pdf = guarded(lambda: write_one(data, result, outdir))
        crit = sum(f.severity.name == "CRIT" for f in result.findings)
        warn = sum(f.severity.name == "WARN" for f in result.findings)
        counts = ", ".join(
            ([f"{crit} critical"] if crit else []) + ([f"{warn} warning" + ("s" if warn > 1 else "")] if warn else [])
        )
        typer.echo(f"{data.facts.host}: {result.verdict.name}" + (f" ({counts})" if counts else "") + f" → {outdir}/")
        if eml:
            from memreport.mail import write_eml

            written["eml"] = guarded(lambda: write_eml(outdir))
        for path in written.values():
            typer.echo(f"  {path}")
        if unrendered_pdf is not None:
            _err(f"error: {unrendered_pdf}")
            unrendered += 1
    if unrendered:
        raise typer.Exit(EXIT_INPUT)


@app.command()
def analyze(
    input: Annotated[Path, typer.Argument(help="One input (capture, bundle, store …).")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print report.json instead of the summary.")] = False,
    vm_size: VmSizeOpt = None,
    add_vms: AddVmsOpt = None,
    remove_vm: RemoveVmOpt = None,
    swap: SwapOpt = None,
    ksm: KsmOpt = None,
    page_size: PageSizeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    host: HostOpt = None,
) -> None:
    """Print the answer, the verdict and findings; exit 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN (input or usage error, or
    none of swap, thrash, VM fit and KSM could be answered)."""
    from memreport.analyze import analyze as run_analysis
    from memreport.analyze import summary_lines
    from memreport.analyze.report_json import build_report_json
    from memreport.config import load_thresholds

    from memreport.analyze.what_if import parse_change

    thresholds = guarded(lambda: load_thresholds(config, with_vm_size(set_, vm_size)), ANALYZE_UNKNOWN)
    change = guarded(lambda: parse_change(add_vms, remove_vm, swap, ksm), ANALYZE_UNKNOWN)
    opts = ingest_options(page_size, start, end, ANALYZE_UNKNOWN)
    hosts = guarded(lambda: load_hosts([input], opts, host), ANALYZE_UNKNOWN)
    worst = 0
    docs = []
    unknown = True
    for data in hosts:
        result = guarded(lambda: run_analysis(data, thresholds, change), ANALYZE_UNKNOWN)
        worst = max(worst, int(result.verdict))
        unknown = unknown and result.answer.nothing_known
        if as_json:
            docs.append(build_report_json(data, result, thresholds))
        else:
            for line in summary_lines(result):
                typer.echo(line)
    if as_json:
        typer.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    raise typer.Exit(ANALYZE_UNKNOWN if unknown else worst)


__all__ = ["report", "analyze", "EXIT_INPUT"]
