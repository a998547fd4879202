"""`memreport report` and `memreport analyze`: inputs (or a store) → findings → report files.
Registered on the app when imported; each command parses, calls memreport.api and prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from memreport.cli_common import (
    ANALYZE_UNKNOWN,
    EXIT_INPUT,
    AddVmsOpt,
    ConfigOpt,
    EndOpt,
    HostOpt,
    InputsArg,
    KsmOpt,
    ManualCommand,
    PageSizeOpt,
    RemoveVmOpt,
    SetOpt,
    StartOpt,
    SwapOpt,
    VmSizeOpt,
    app,
    err,
    example,
    guarded,
    print_ingest_warnings,
    progress_bar,
    with_vm_size,
)


@app.command(
    cls=ManualCommand,
    epilog=example(
        "memreport report sosreport-kvm01.tar.xz sa26 -o out/",
        "memreport report store/ -o out/ --vm-size 8GiB --add-vms 2x16GiB --no-pdf",
    ),
)
def report(
    inputs: InputsArg,
    output: Annotated[
        Path,
        typer.Option("-o", "--output", metavar="OUTDIR", help="Directory for the reports: OUTDIR/<host>/report.{html,pdf,json}."),
    ],
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
    import gc

    from memreport.render import pdf as pdf_renderer

    if pdf:  # forked before anything else is imported: it loads weasyprint on the second core meanwhile
        pdf_renderer.start_renderer()
    try:
        _import_uncollected()
        _report(inputs, output, config, set_, pdf, eml, vm_size, add_vms, remove_vm, swap, ksm, page_size, start, end, host)
    finally:
        pdf_renderer.stop_renderer()
        gc.unfreeze()


def _import_uncollected() -> None:
    """Import what a report needs (pandas, pyarrow, the checks, jinja) with the cyclic garbage
    collector off, then freeze what the imports made, so that no later collection walks it again:
    ≈ 0.1 s of the sample's report (issue 12). The modules live as long as the process anyway;
    report() unfreezes them when it is done."""
    import gc

    gc.disable()
    try:
        import memreport.ingest.run  # noqa: F401
        import memreport.render.report  # noqa: F401
    finally:
        gc.freeze()
        gc.enable()


def _report(
    inputs: list[Path],
    output: Path,
    config: Path | None,
    set_: list[str] | None,
    pdf: bool,
    eml: bool,
    vm_size: str | None,
    add_vms: list[str] | None,
    remove_vm: list[str] | None,
    swap: str | None,
    ksm: str | None,
    page_size: str | None,
    start: str | None,
    end: str | None,
    host: str | None,
) -> None:
    from memreport import api
    from memreport.errors import RenderError
    from memreport.render import pdf as pdf_renderer

    def lay_out_appendix(thresholds: Any) -> None:  # the PDF's appendix, laid out while the hosts are read
        from memreport.render.html import render_appendix

        pdf_renderer.lay_out_ahead(render_appendix(thresholds))

    thresholds, change, hosts = loaded(
        inputs,
        EXIT_INPUT,
        config,
        set_,
        vm_size,
        add_vms,
        remove_vm,
        swap,
        ksm,
        page_size,
        start,
        end,
        host,
        with_settings=lay_out_appendix if pdf else None,
    )
    unrendered = 0  # hosts whose report.pdf missed its deadline: their other files are written, the run fails

    def write_one(result: api.Result, outdir: Path) -> tuple[dict[str, Path], RenderError | None]:
        try:
            return api.write_report(result, outdir, pdf=pdf, eml=eml), None
        except RenderError as e:
            return e.written, e

    for data in hosts:
        if pdf:  # the first host's renderer is warm already; the next ones' import while their host is analysed
            pdf_renderer.start_renderer()
        result = guarded(lambda: api.analyze(data, thresholds, change=change))
        outdir = api.report_dir(output, result.host)
        written, unrendered_pdf = guarded(lambda: write_one(result, outdir))
        typer.echo(f"{result.host}: {verdict_line(result.findings, result.verdict.name)} → {outdir}/")
        for path in written.values():
            typer.echo(f"  {path}")
        if unrendered_pdf is not None:
            err(f"error: {unrendered_pdf}")
            unrendered += 1
    if unrendered:
        raise typer.Exit(EXIT_INPUT)


def loaded(
    inputs: list[Path],
    code: int,
    config: Path | None,
    set_: list[str] | None,
    vm_size: str | None,
    add_vms: list[str] | None,
    remove_vm: list[str] | None,
    swap: str | None,
    ksm: str | None,
    page_size: str | None,
    start: str | None,
    end: str | None,
    host: str | None,
    with_settings: Callable[[Any], None] | None = None,
) -> tuple[Any, Any, list[Any]]:
    """What `report` and `analyze` both do first: the settings, the what-if change and the hosts, read
    with the report's columns; an error is one line and exit `code` (analyze: 3, UNKNOWN).
    `with_settings` is called with the settings before the hosts are read."""
    from memreport import api
    from memreport.ingest import use_system_allocator

    use_system_allocator()
    thresholds = guarded(lambda: api.thresholds(config, with_vm_size(set_, vm_size)), code)
    change = guarded(lambda: api.what_if(add_vms or (), remove_vm or (), swap, ksm), code)  # type: ignore[arg-type]
    if with_settings is not None:
        with_settings(thresholds)
    load = lambda: api.load(  # noqa: E731
        inputs,
        page_size,
        start=start,
        end=end,
        host=host,
        progress=progress_bar(),
        on_read=print_ingest_warnings,
        columns="report",
    )
    return thresholds, change, guarded(load, code)


def verdict_line(findings: list[Any], verdict: str) -> str:
    """`WARN (1 critical, 2 warnings)`: the verdict and how many findings of each severity."""
    crit = sum(f.severity.name == "CRIT" for f in findings)
    warn = sum(f.severity.name == "WARN" for f in findings)
    counts = ([f"{crit} critical"] if crit else []) + ([f"{warn} warning" + ("s" if warn > 1 else "")] if warn else [])
    return verdict + (f" ({', '.join(counts)})" if counts else "")


class AnalyzeCommand(ManualCommand):
    """`memreport analyze` is read by monitoring, where 2 is CRIT: its usage errors exit 3 (UNKNOWN)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click's Context (vendored by typer)
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as e:  # click's UsageError, BadParameter, MissingParameter …
            if getattr(e, "exit_code", None) == EXIT_INPUT:
                setattr(e, "exit_code", ANALYZE_UNKNOWN)  # noqa: B010 (exit_code is a class default)
            raise


@app.command(
    cls=AnalyzeCommand,
    epilog=example(
        "memreport analyze /var/tmp/memsnap --vm-size 8GiB; echo $?   # 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN",
        "memreport analyze sosreport-kvm01.tar.xz --json > kvm01.json",
    ),
)
def analyze(
    input: Annotated[Path, typer.Argument(metavar="INPUT", show_default=False, help="One input (capture, bundle, store …).")],
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
    from memreport import api

    thresholds, change, hosts = loaded(
        [input], ANALYZE_UNKNOWN, config, set_, vm_size, add_vms, remove_vm, swap, ksm, page_size, start, end, host
    )
    results = [guarded(lambda: api.analyze(data, thresholds, change=change), ANALYZE_UNKNOWN) for data in hosts]
    if as_json:
        docs = [r.to_json() for r in results]
        typer.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    else:
        for r in results:
            for line in r.summary_lines():
                typer.echo(line)
    unknown = all(r.nothing_known for r in results)
    raise typer.Exit(ANALYZE_UNKNOWN if unknown else max(int(r.verdict) for r in results))


__all__ = ["AnalyzeCommand", "analyze", "report", "verdict_line"]
