"""What every command module of the CLI shares: the typer app, error → exit-code mapping, the
ingest progress bar and warning lines, and the options several commands take.

cli.py (ingest, collect, the entry point), cli_report.py, cli_fleet.py and cli_email.py each import
from here and never from each other, so the command modules form no import circle. Nothing here
imports pandas, pyarrow or weasyprint: `--help` and usage errors stay instant (issue 12).
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperCommand

from memreport.errors import DeliveryError, MemreportError

if TYPE_CHECKING:
    from memreport.ingest.run import IngestResult

EXIT_OK, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2
EXIT_DELIVERY = 4  # mail not delivered (send, fleet --email): whatever the command, the .eml is kept
ANALYZE_UNKNOWN = 3  # `memreport analyze`: input or usage error, or nothing could be answered
EXIT_INTERRUPTED = 130

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


class ManualCommand(TyperCommand):
    """Help that reads like a manual page: arguments by their name (`INPUT...`), options by what to
    type (`--jobs N`, `--config PATH`), never a Python type (`<list[Path]>`, `{inputs}...`). Every
    command uses it (app.command(cls=ManualCommand))."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            names, help_text = record
            help_text = help_text.replace("\\[", "[")  # rich markup escapes, shown as typed in plain help
            if param.param_type_name == "argument":
                args.append((argument_name(param), help_text))
            else:
                opts.append((_TYPE_LABEL.sub(lambda m: " " + plain_metavar(m.group(1)), names), help_text))
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


_TYPE_LABEL = re.compile(r" <([^<>]+)>$")
_PLAIN = {"path": "PATH", "str": "TEXT", "int": "N", "int range": "N", "float": "NUMBER", "float range": "NUMBER"}


def plain_metavar(label: str) -> str:
    """typer's type label (`list[str]`, `int range`, `path`) as a word a user types: TEXT, N, PATH."""
    inner = label.removeprefix("list[").removesuffix("]")
    return _PLAIN.get(inner, inner.upper())


def argument_name(param: Any) -> str:
    """An argument as usage and help show it: its metavar or its name in capitals, `...` when repeatable."""
    name = param.metavar or param.name.upper()
    return name if param.nargs == 1 or name.endswith("...") else name + "..."


def example(*lines: str) -> str:
    """A command's epilog: example command lines, kept as written (click's \\b: no rewrapping)."""
    return "\b\n" + ("Examples:" if len(lines) > 1 else "Example:") + "".join(f"\n  {line}" for line in lines)


# --debug (set by the app's callback in cli.py): a domain error also prints its traceback.
debug = {"on": False}
T = TypeVar("T")


def err(msg: str) -> None:
    """One line on stderr, prefixed `memreport: `."""
    typer.echo(f"memreport: {msg}", err=True)


def guarded(fn: Callable[[], T], code: int = EXIT_INPUT) -> T:
    """Run fn; a domain error becomes one line on stderr and an exit code (a traceback with --debug):
    `code`, except a failed delivery, which is always EXIT_DELIVERY."""
    try:
        return fn()
    except MemreportError as e:
        if debug["on"]:
            traceback.print_exc()
        err(f"error: {e}")
        raise typer.Exit(EXIT_DELIVERY if isinstance(e, DeliveryError) else code) from None
    except KeyboardInterrupt:
        err("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def progress_bar() -> Callable[[str, float, int], None] | None:
    """An ingest progress bar on a terminal; nothing otherwise (logs and CI stay clean)."""
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


def print_ingest_warnings(result: IngestResult) -> None:
    """One line per warning (capped), then one per input that could not be read. When no input could
    be read, the library raises that error and guarded() prints it: it is not printed here as well
    (a single failed input), only when there are several."""
    failed_lines = {(e.path, e.line) for e in result.failed}
    warnings = [w for w in result.warnings if not (w.event == "skipped_input" and (w.file, w.line) in failed_lines)]
    for e in warnings[:MAX_WARNINGS]:
        where = e.file or e.input or "-"
        if e.line is not None:
            where += f":{e.line}"
        err(f"warning: {where}: {e.detail}")
    if len(warnings) > MAX_WARNINGS:
        err(f"warning: … {len(warnings) - MAX_WARNINGS} more in the ingest log")
    if not result.hosts and len(result.failed) == 1:
        return
    for failure in result.failed:
        if debug["on"]:
            traceback.print_exception(failure)
        err(f"skipped input: {failure}" if result.hosts else f"error: {failure}")


def fmt_when(t) -> str:  # type: ignore[no-untyped-def]
    """A summary time: `2026-11-26 20:49 UTC`, or `+00:01` for relative times."""
    from memreport.analyze.wording import fmt_time

    return fmt_time(t, seconds=False)


# Options shared by several commands. metavar names what to type, never a Python type.
InputsArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="INPUT...",
        show_default=False,
        help="Captures, snapshot trees, bundles (directory or .tar.*), sar or vmstat output, or a store.",
    ),
]
# What inputs cannot tell themselves (docs/INPUTS.md): one IngestOptions record for every command.
PageSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--page-size",
        metavar="SIZE",
        help="The hosts' page size (4096, 4KiB, 64KiB): overrides what memreport would infer or assume.",
    ),
]
StartOpt = Annotated[
    str | None,
    typer.Option(
        "--start",
        metavar="TIME",
        help="When vmstat output without -t was started (ISO time, UTC unless it has an offset); without it its times are relative.",
    ),
]
EndOpt = Annotated[
    str | None, typer.Option("--end", metavar="TIME", help="When the last line of vmstat output without -t was printed.")
]
HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host",
        metavar="NAME",
        help="Name for inputs that give no host name of their own (vmstat output, a snapshot tree without a hostname file); inputs that name their host keep it.",
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", metavar="FILE", help="TOML file of threshold settings (docs/CHECKS.md).")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="KEY=VALUE", help="Override one threshold, e.g. thrash.min_duration_s=120 (repeatable)."),
]
VmSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--vm-size",
        metavar="SIZE",
        help="Size of a new VM for 'how many more VMs fit', e.g. 8GiB (default 4GiB; the setting oom.new_vm_bytes).",
    ),
]

# What if (report, analyze, fleet): docs/CHECKS.md, "What if"; docs/FLEET.md for the fleet's ranking.
AddVmsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--add-vms",
        metavar="COUNTxSIZE",
        help="What if: add COUNTxSIZE VMs, e.g. 4x8GiB or 2x16GiB:hugepages (repeatable; docs/CHECKS.md).",
    ),
]
RemoveVmOpt = Annotated[
    list[str] | None, typer.Option("--remove-vm", metavar="NAME", help="What if: remove the VM of this name (repeatable).")
]
SwapOpt = Annotated[str | None, typer.Option("--swap", metavar="SIZE", help="What if: swap resized to this size, e.g. 32GiB.")]
KsmOpt = Annotated[str | None, typer.Option("--ksm", metavar="off", help="What if: --ksm off (its saving comes back as demand).")]


def with_vm_size(overrides: list[str] | None, vm_size: str | None) -> list[str]:
    """--vm-size is the setting oom.new_vm_bytes: one parser, one value for report, analyze and fleet."""
    return [*(overrides or []), *([f"oom.new_vm_bytes={vm_size}"] if vm_size else [])]


__all__ = [
    "ANALYZE_UNKNOWN",
    "EXIT_DELIVERY",
    "EXIT_FINDINGS",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "MAX_WARNINGS",
    "ManualCommand",
    "argument_name",
    "example",
    "plain_metavar",
    "AddVmsOpt",
    "ConfigOpt",
    "EndOpt",
    "HostOpt",
    "InputsArg",
    "KsmOpt",
    "PageSizeOpt",
    "RemoveVmOpt",
    "SetOpt",
    "StartOpt",
    "SwapOpt",
    "VmSizeOpt",
    "app",
    "debug",
    "err",
    "fmt_when",
    "guarded",
    "print_ingest_warnings",
    "progress_bar",
    "with_vm_size",
]
