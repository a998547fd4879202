"""The memreport command line: parse options, call the library, map domain errors to exit codes.

Exit codes: 0 success; 2 usage or input error, or an output that cannot be written. `memreport
analyze` follows monitoring-plugin convention instead: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN (input or
usage error). What the command modules share is in cli_common.py; each command calls memreport.api.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from memreport import __version__
from memreport.cli_common import (
    EXIT_INPUT,
    EndOpt,
    HostOpt,
    InputsArg,
    ManualCommand,
    PageSizeOpt,
    StartOpt,
    app,
    debug,
    example,
    fmt_when,
    guarded,
    print_ingest_warnings,
    progress_bar,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"memreport {__version__}")
        raise typer.Exit()


@app.callback(
    epilog=example(
        "memreport report sosreport-kvm01.tar.xz -o out/      # out/kvm01/report.html, .pdf, .json",
        "memreport analyze /var/tmp/memsnap; echo $?            # 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN",
    )
)
def _main(
    debug_: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    debug["on"] = debug_


@app.command(
    cls=ManualCommand,
    epilog=example("memreport ingest /var/tmp/memsnap sosreport-kvm02.tar.xz -o store/", "memreport report store/ -o out/"),
)
def ingest(
    inputs: InputsArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", metavar="STORE", help="Store directory to write (replaced atomically).")
    ],
    page_size: PageSizeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    host: HostOpt = None,
) -> None:
    """Read inputs into a typed Parquet store (docs/STORE.md) and print a summary."""
    from memreport.api import ingest as ingest_inputs
    from memreport.ingest import use_system_allocator

    use_system_allocator()
    result = guarded(
        lambda: ingest_inputs(
            inputs, output, page_size, start=start, end=end, host=host, progress=progress_bar(), on_read=print_ingest_warnings
        )
    )
    for h in result.summaries:
        span = f"{fmt_when(h.first)} → {fmt_when(h.last)}" if h.first is not None else "no samples"
        typer.echo(f"{h.host}: {h.samples} samples, {span}")
    typer.echo(
        f"{len(result.summaries)} host(s), {sum(h.samples for h in result.summaries)} samples read, "
        f"{result.skipped} skipped, {len(result.failed)} input(s) failed → {output}"
    )
    if result.failed:
        raise typer.Exit(EXIT_INPUT)


@app.command(
    cls=ManualCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def collect(ctx: typer.Context) -> None:
    """Take snapshots on this host (the stdlib collector; `memreport collect --help` for its options)."""
    from memreport.collect.runner import run_collector

    raise typer.Exit(run_collector(list(ctx.args)))


@app.command(
    cls=ManualCommand,
    epilog=example(
        "memreport collector sh | ssh kvm01 'cat > /usr/local/bin/memsnap && chmod +x /usr/local/bin/memsnap'",
        "memreport collector py > memsnap.py",
    ),
)
def collector(
    kind: Annotated[
        str,
        typer.Argument(
            metavar="sh|py", show_default=False, help="sh: the POSIX sh collector; py: the stdlib Python one (Python 3.6+)."
        ),
    ],
) -> None:
    """Print a collector script, to copy to a host (docs/FORMAT.md describes what it captures)."""
    from memreport.api import collector as collector_text

    typer.echo(guarded(lambda: collector_text(kind)), nl=False)  # type: ignore[arg-type]


def main() -> None:
    # The memreport command does no linear algebra: numpy's OpenBLAS would start a thread per core when
    # numpy is imported, threads that spin on the cores the ingest and the PDF renderer need (issue
    # 12). Set before anything imports numpy; the fleet's workers inherit it.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Commands of later stages register themselves on `app` when imported, keeping this module thin.
    from memreport import cli_email, cli_fleet, cli_report  # noqa: F401

    try:
        app()
    finally:
        # The process ends here. Python's last cyclic collection at exit would walk every object
        # still alive (pandas', pyarrow's, the report's: ≈ 0.25 s of the sample's report, issue 12)
        # to find garbage that the exit frees anyway; frozen objects are left out of it.
        import gc

        gc.freeze()
