"""The memreport command line: parse options, call the library, map domain errors to exit codes.

Exit codes: 0 success; 2 usage or input error, or an output that cannot be written. `memreport
analyze` follows monitoring-plugin convention instead: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN (input or
usage error).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from memreport import __version__
from memreport.errors import DeliveryError, MemreportError

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2
EXIT_DELIVERY = 4  # mail not delivered (send, fleet --email): whatever the command, the .eml is kept
ANALYZE_UNKNOWN = 3

app = typer.Typer(
    name="memreport",
    help="Memory capacity reports for KVM hosts: swap sizing, thrash, OOM risk, KSM and per-VM memory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich's help panels cost 0.2 s of imports for every --help and usage error
    # (issue 12: --help within 0.3 s).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}
T = TypeVar("T")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"memreport {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _err(msg: str) -> None:
    typer.echo(f"memreport: {msg}", err=True)


def guarded(fn: Callable[[], T], code: int = EXIT_INPUT) -> T:
    """Run fn; a domain error becomes one line on stderr and an exit code (a traceback with --debug):
    `code`, except a failed delivery, which is always EXIT_DELIVERY."""
    try:
        return fn()
    except MemreportError as e:
        if _state["debug"]:
            traceback.print_exc()
        _err(f"error: {e}")
        raise typer.Exit(EXIT_DELIVERY if isinstance(e, DeliveryError) else code) from None
    except KeyboardInterrupt:
        _err("interrupted")
        raise typer.Exit(130) from None


def _progress() -> Callable[[str, float, int], None] | None:
    """A progress bar on a terminal; nothing otherwise (logs and CI stay clean)."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
    task = None

    def update(what: str, done: float, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("reading", total=total)
        bar.update(task, completed=done, description=f"reading {Path(what).name}" if what else "writing store")
        if done >= total:
            bar.stop()

    return update


MAX_WARNINGS = 20


def _print_warnings(result) -> None:  # type: ignore[no-untyped-def]
    """One line per warning (capped), then one per failed input: `error:` when nothing was read."""
    failed_lines = {(e.path, e.line) for e in result.failed}
    warnings = [w for w in result.warnings if not (w.event == "skipped_input" and (w.file, w.line) in failed_lines)]
    for e in warnings[:MAX_WARNINGS]:
        where = e.file or e.input or "-"
        if e.line is not None:
            where += f":{e.line}"
        _err(f"warning: {where}: {e.detail}")
    if len(warnings) > MAX_WARNINGS:
        _err(f"warning: … {len(warnings) - MAX_WARNINGS} more in the ingest log")
    for e in result.failed:
        if _state["debug"]:
            traceback.print_exception(e)
        _err(f"skipped input: {e}" if result.hosts else f"error: {e}")


InputsArg = Annotated[list[Path], typer.Argument(help="Captures, snapshot trees, bundles (dir or .tar.*), sar or vmstat output.")]
# What inputs cannot tell themselves (docs/INPUTS.md): one IngestOptions record for every command.
PageSizeOpt = Annotated[str | None, typer.Option(
    "--page-size", rich_help_panel="Inputs",
    help="The hosts' page size (4096, 4KiB, 64KiB): overrides what memreport would infer or assume.")]
StartOpt = Annotated[str | None, typer.Option(
    "--start", rich_help_panel="Inputs",
    help="When vmstat output without -t was started (ISO time, UTC unless it has an offset); without it its times are relative.")]
EndOpt = Annotated[str | None, typer.Option(
    "--end", rich_help_panel="Inputs", help="When the last line of vmstat output without -t was printed.")]


def ingest_options(page_size: str | None, start: str | None, end: str | None, code: int = EXIT_INPUT):  # type: ignore[no-untyped-def]
    """The IngestOptions record from the command line; a bad value is one error line."""
    from memreport.ingest.options import make

    return guarded(lambda: make(page_size, start, end), code)


def fmt_when(t) -> str:  # type: ignore[no-untyped-def]
    """A summary time: `2026-11-26 20:49 UTC`, or `+00:01` for relative times."""
    from memreport.analyze.wording import fmt_time

    return fmt_time(t, seconds=False)


HostOpt = Annotated[str | None, typer.Option(
    "--host", help="Name for inputs that give no host name of their own (vmstat output, a snapshot tree without a hostname file); inputs that name their host keep it.")]


@app.command()
def ingest(
    inputs: InputsArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="Store directory to write (replaced atomically).")],
    page_size: PageSizeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    host: HostOpt = None,
) -> None:
    """Read inputs into a typed Parquet store (docs/STORE.md) and print a summary."""
    from memreport.atomic import WriterLock

    # The store's lock (store.lock takes the same one again around the swap), before anything is
    # read or even imported: a second ingest into this store fails now, not after its reading.
    with guarded(lambda: WriterLock(output, "memreport ingest")):
        from memreport.ingest.run import load, write

        opts = ingest_options(page_size, start, end)
        result = guarded(lambda: load(inputs, _progress(), opts, host=host))
        _print_warnings(result)
        if not result.hosts:
            raise typer.Exit(EXIT_INPUT)
        guarded(lambda: write(result, output))
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
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def collect(ctx: typer.Context) -> None:
    """Take snapshots on this host (the stdlib collector; `memreport collect --help` for its options)."""
    from memreport.collect.runner import run_collector

    raise typer.Exit(run_collector(list(ctx.args)))


def main() -> None:
    # Commands of later stages register themselves on `app` when imported, keeping this module thin.
    from memreport import cli_report  # noqa: F401
    from memreport import cli_fleet  # noqa: F401
    from memreport import cli_email  # noqa: F401

    app()
