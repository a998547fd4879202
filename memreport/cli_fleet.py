"""`memreport fleet`: many hosts in parallel (issue 5). Registered on the app when imported."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from memreport.cli_common import (
    EXIT_INPUT,
    AddVmsOpt,
    ConfigOpt,
    EndOpt,
    HostOpt,
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
    with_vm_size,
)
from memreport.errors import ConfigError

EXIT_FLEET_FAILED = 1  # some inputs failed; the rest completed and the summary lists the failures


class _Reporter:
    """A rich progress bar on a terminal (hosts done/total, rate, time left); plain lines otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None
        self.t0 = time.perf_counter()
        self.first_done = 0

    def __call__(self, event: str, res: dict[str, Any] | None, done: int, total: int) -> None:
        if event == "start":
            self.first_done = done
            todo = total - done
            err(f"fleet: {total} input(s): {done} unchanged, {todo} to do")
            if self.tty and todo:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

                self.bar = Progress(
                    TextColumn("hosts"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"),
                    TextColumn("· left"),
                    TimeRemainingColumn(),
                    TextColumn("{task.description}"),
                    console=Console(stderr=True),
                    transient=True,
                )
                self.bar.start()
                self.task = self.bar.add_task("", total=total, completed=done, rate="")
            return
        assert res is not None
        if event == "host":  # after the inputs: a host made from its inputs (merged, or read again)
            what = res["row"]["verdict"] if res["outcome"] != "failed" else f"FAILED: {res.get('error')}"
            n = len(res.get("inputs") or [])
            line = f"[host {done}/{total}] {res['host']}: from {n} input{'s' if n != 1 else ''} ({what}; {res.get('elapsed_s', 0):.1f} s)"
            if self.bar is not None:
                self.bar.console.print(line, highlight=False, markup=False)
            else:
                err(line)
            return
        elapsed = time.perf_counter() - self.t0
        rate = (done - self.first_done) / elapsed if elapsed > 0 else 0.0
        hosts = ", ".join(f"{h['host']} {h['row']['verdict']}" for h in res.get("parts", [])) or "-"
        what = res["outcome"] if res["outcome"] != "failed" else f"FAILED: {res.get('error')}"
        if self.bar is not None:
            self.bar.update(self.task, completed=done, rate=f"{rate:.2f}/s", description=res["input"][-40:])
            if res["outcome"] == "failed":
                self.bar.console.print(f"[red]failed[/red] {res['input']}: {res.get('error')}", highlight=False, markup=True)
            if done >= total:
                self.bar.stop()
        else:
            err(f"[{done}/{total}] {res['input']}: {what} ({hosts}; {res.get('elapsed_s', 0):.1f} s, {rate:.2f} inputs/s)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _mail_setup(config: Path | None, to: list[str] | None, host: str | None, port: int | None, security: str | None):  # type: ignore[no-untyped-def]
    """Checked before the run, so that a mail misconfiguration does not surface after an hour of work."""
    from memreport.cli_email import recipients
    from memreport.mail.smtp import SECURITY_MODES, merge

    if security is not None and security not in SECURITY_MODES:
        raise ConfigError(f"--security {security!r}: one of {', '.join(SECURITY_MODES)}")
    cfg, who = recipients(config, None, to, None)
    if not who.to:
        raise ConfigError("--email needs a recipient: --to ADDRESS, or to = [...] in the [mail] table of --config")
    settings = merge(cfg.smtp, host=host, port=port, security=security)
    if not settings.host:
        raise ConfigError("--email needs an SMTP server: --smtp-host, or smtp_host in the [mail] table of --config")
    return settings, who


def _mail_digest(outdir: Path, settings: Any, who: Any) -> None:
    from memreport.cli_email import deliver
    from memreport.mail.digest import build_fleet_digest
    from memreport.mail.message import write_message

    msg = guarded(lambda: build_fleet_digest(outdir, who))
    kept = guarded(lambda: write_message(msg, outdir / "fleet-digest.eml"))  # on disk before any delivery attempt
    accepted = deliver(msg, settings, who.sender, list(who.to + who.cc), kept)
    typer.echo(f"mailed the fleet digest to {', '.join(accepted)} via {settings.where} ({kept})")


@app.command(
    cls=ManualCommand,
    epilog=example(
        "memreport fleet bundles/ -o fleet/ -j 2        # fleet/fleet.html, .pdf, .json",
        "memreport fleet @hosts.txt -o fleet/ --email --config memreport.toml",
    ),
)
def fleet(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...",
            help="Inputs: bundles, captures, directories of them, globs ('bundles/*.tar.xz'), or @FILE listing one per line.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Fleet directory: store/, hosts/<host>/, fleet.{json,html,pdf}.")
    ],
    jobs: Annotated[
        int | None,
        typer.Option(
            "-j",
            "--jobs",
            min=1,
            help="Local worker processes (default: the cores this process may use: CPU affinity, cgroup quota).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Run on a dask.distributed cluster: tcp://HOST:PORT. Workers must see the inputs and OUTDIR at the same paths.",
        ),
    ] = None,
    dask_local: Annotated[
        int | None,
        typer.Option("--dask-local", min=1, help="Start a dask LocalCluster of N worker processes on 127.0.0.1 and run there."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Redo every input, even unchanged ones (clears OUTDIR's store, reports and state).")
    ] = False,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write report.pdf per host (slow on big fleets).")] = False,
    fleet_pdf: Annotated[bool, typer.Option("--fleet-pdf/--no-fleet-pdf", help="Write fleet.pdf.")] = True,
    vm_size: VmSizeOpt = None,
    add_vms: AddVmsOpt = None,
    remove_vm: RemoveVmOpt = None,
    swap: SwapOpt = None,
    ksm: KsmOpt = None,
    input_timeout: Annotated[
        float | None,
        typer.Option(
            "--input-timeout",
            metavar="SECONDS",
            help="Give up on an input after this long (listed as failed; the run goes on); 0 = no limit. Default: input_timeout in the \\[fleet] config, else 3600.",
        ),
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    host: HostOpt = None,
    email: Annotated[
        bool,
        typer.Option(
            "--email",
            rich_help_panel="Mail",
            help="Mail one digest (fleet summary, worst hosts, fleet.pdf) when the run ends; SMTP and recipients from the \\[mail] table of --config (docs/EMAIL.md).",
        ),
    ] = False,
    to: Annotated[
        list[str] | None,
        typer.Option("--to", rich_help_panel="Mail", help="Digest recipient (repeatable; default: to in the \\[mail] config)."),
    ] = None,
    smtp_host: Annotated[
        str | None,
        typer.Option("--smtp-host", rich_help_panel="Mail", help="SMTP server (default: smtp_host in the \\[mail] config)."),
    ] = None,
    smtp_port: Annotated[int | None, typer.Option("--smtp-port", rich_help_panel="Mail", help="SMTP port.")] = None,
    security: Annotated[str | None, typer.Option("--security", rich_help_panel="Mail", help="none | starttls | tls.")] = None,
    page_size: PageSizeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
) -> None:
    """Analyse many hosts in parallel: a Parquet dataset, a report per host and a ranked fleet summary.

    Incremental: an input whose content is unchanged since the last run into OUTDIR is not redone,
    and a killed run resumes where it stopped. Exit code: 0 every input processed; 1 some inputs
    failed (the rest completed; fleet.json/fleet.html list each with its error), or a PDF missed its
    deadline (render.pdf_timeout_s: HTML and JSON written, the next run tries again); 2 usage error or
    unusable OUTDIR/scheduler; 4 the --email digest could not be delivered (kept as
    OUTDIR/fleet-digest.eml); 130 interrupted (rerun to resume). Host verdicts do not change the
    exit code: they are in fleet.json.

    With --add-vms (--remove-vm, --swap, --ksm) every host is also analysed as if the change were made,
    and fleet.json/fleet.html rank the hosts that can take it (docs/FLEET.md, "What if").
    """
    from memreport import api
    from memreport.fleet.settings import input_timeout as settings_input_timeout, load_fleet_settings

    if scheduler and dask_local:
        err("error: --scheduler and --dask-local exclude each other")
        raise typer.Exit(EXIT_INPUT)
    thresholds = guarded(lambda: api.thresholds(config, with_vm_size(set_, vm_size)))
    # Parsed only when asked for: the parser lives with the analysis, which loads pandas (0.5 s) into
    # a parent that otherwise needs none before its summary, while its workers' fork server starts.
    wanted = bool(add_vms or remove_vm or swap or ksm)
    change = guarded(lambda: api.what_if(add_vms or (), remove_vm or (), swap, ksm)) if wanted else None  # type: ignore[arg-type]
    mail = guarded(lambda: _mail_setup(config, to, smtp_host, smtp_port, security)) if email else None
    ingest = guarded(lambda: api.ingest_options(page_size, start, end))
    fleet_settings = guarded(lambda: load_fleet_settings(config))
    timeout = (
        fleet_settings.input_timeout_s
        if input_timeout is None
        else guarded(lambda: settings_input_timeout(input_timeout, "--input-timeout"))
    )
    reporter = _Reporter()
    try:
        result = guarded(
            lambda: api.run_fleet(
                inputs,
                output,
                workers=jobs,
                thresholds=thresholds,
                progress=reporter,
                scheduler=scheduler,
                dask_local=dask_local,
                force=force,
                pdf=pdf,
                fleet_pdf=fleet_pdf,
                ingest=ingest,
                host=host,
                input_timeout_s=timeout,
                change=None if change is None or change.empty else change,
            )
        )
    finally:
        reporter.close()
    t = result.fleet["totals"]
    v = t["verdicts"]
    typer.echo(
        f"{result.inputs} input(s): {result.processed} processed, {result.unchanged} unchanged, "
        f"{len(result.failed)} failed; {t['hosts']} host(s): {v['CRIT']} CRIT, {v['WARN']} WARN, {v['OK']} OK "
        f"in {result.elapsed_s:.1f} s → {result.paths['html']}"
    )
    w = result.fleet.get("what_if")
    if w is not None:
        typer.echo(
            f"what if {w['sentence']}: {w['hosts_that_fit']} of {t['hosts']} host(s) take it"
            + (f" (best: {', '.join(w['ranking'][: min(3, w['hosts_that_fit'])])})" if w["hosts_that_fit"] else "")
        )
    for f in result.failed:
        err(
            f"failed host {f['host']} ({f['input']}): {f['reason']}"
            if f.get("host")
            else f"failed input: {f['input']}: {f['reason']}"
        )
    for line in result.pdf_errors:
        err(f"error: {line}")
    if mail is not None and t["hosts"]:
        _mail_digest(output, *mail)
    elif mail is not None:
        err("no digest mailed: no host could be read")
    if result.failed or result.pdf_errors:
        raise typer.Exit(EXIT_FLEET_FAILED)


__all__ = ["fleet", "EXIT_FLEET_FAILED"]
