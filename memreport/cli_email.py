"""`memreport email` and `memreport send` (issue 6). Registered on the app when imported.

Exit codes: 0 sent/written; 2 input, usage or config error; 4 delivery failed (the .eml is kept).
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Annotated

import typer

from memreport.cli_common import EXIT_DELIVERY, ManualCommand, app, example, guarded
from memreport.errors import DeliveryError, InputError

ToOpt = Annotated[list[str] | None, typer.Option("--to", help="Recipient (repeatable; default: to in the \\[mail] config).")]
CcOpt = Annotated[list[str] | None, typer.Option("--cc", help="Copy recipient (repeatable).")]
FromOpt = Annotated[str | None, typer.Option("--from", help="Sender address (default: from in the \\[mail] config).")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML file whose \\[mail] table gives defaults (docs/EMAIL.md).")
]
OutOpt = Annotated[
    Path | None, typer.Option("-o", "--output", help="The .eml to write (default: DIR/report.eml, or DIR/fleet-digest.eml).")
]


def recipients(config: Path | None, sender: str | None, to: list[str] | None, cc: list[str] | None):  # type: ignore[no-untyped-def]
    from memreport.mail.message import DEFAULT_FROM, Recipients, check_address
    from memreport.mail.smtp import load_mail_config

    cfg = load_mail_config(config)
    who = Recipients(
        sender=check_address(sender or cfg.sender or DEFAULT_FROM),
        to=tuple(check_address(a) for a in (to or cfg.to)),
        cc=tuple(check_address(a) for a in (cc or cfg.cc)),
    )
    return cfg, who


def _is_fleet(path: Path) -> bool:
    return (path / "fleet.json").is_file() and not (path / "report.json").is_file()


def build_for(path: Path, who) -> tuple[EmailMessage, str]:  # type: ignore[no-untyped-def]
    """The message of a report directory or a fleet directory, and its default .eml name."""
    from memreport.mail.digest import build_fleet_digest
    from memreport.mail.message import build_message

    if not path.is_dir():
        raise InputError(path, "not a directory (give a report directory, a fleet directory or an .eml file)")
    if _is_fleet(path):
        return build_fleet_digest(path, who), "fleet-digest.eml"
    return build_message(path, who), "report.eml"


def deliver(msg: EmailMessage, settings, envelope_from: str | None, rcpts: list[str] | None, kept: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Send a message that is already on disk as `kept`. A settings error exits 2; a delivery
    failure exits EXIT_DELIVERY with one line that says where the message is kept."""
    from memreport.mail.smtp import send as smtp_send

    def attempt() -> list[str]:
        try:
            return smtp_send(msg, settings, envelope_from, rcpts)
        except DeliveryError as e:
            raise DeliveryError(f"{e} (the message is kept in {kept})") from None

    return guarded(attempt)


@app.command(cls=ManualCommand, epilog=example("memreport email out/kvm01 --to ops@example.com"))
def email(
    report_dir: Annotated[
        Path, typer.Argument(help="A report directory (memreport report) or a fleet directory (memreport fleet).")
    ],
    output: OutOpt = None,
    sender: FromOpt = None,
    to: ToOpt = None,
    cc: CcOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the report as a mail (.eml): HTML and text summary, PNG charts, the PDF attached."""
    from memreport.mail.message import write_message

    _, who = guarded(lambda: recipients(config, sender, to, cc))
    msg, name = guarded(lambda: build_for(report_dir, who))
    out = guarded(lambda: write_message(msg, output or report_dir / name))
    typer.echo(str(out))


@app.command(cls=ManualCommand, epilog=example("memreport send out/kvm01 --smtp-host smtp.example.com --to ops@example.com"))
def send(
    source: Annotated[
        Path, typer.Argument(help="An .eml file, a report directory or a fleet directory (built, kept as .eml, then sent).")
    ],
    smtp_host: Annotated[
        str | None, typer.Option("--smtp-host", help="SMTP server (default: smtp_host in the \\[mail] config).")
    ] = None,
    smtp_port: Annotated[int | None, typer.Option("--smtp-port", help="Port (default: 25 none, 587 starttls, 465 tls).")] = None,
    security: Annotated[
        str | None, typer.Option("--security", help="none | starttls | tls (implicit TLS). Default: starttls.")
    ] = None,
    tls_ca: Annotated[
        Path | None, typer.Option("--tls-ca", help="Trust this CA certificate (PEM) for the server's certificate.")
    ] = None,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Do not verify the server's certificate (test servers only).")
    ] = False,
    user: Annotated[str | None, typer.Option("--user", help="AUTH user name.")] = None,
    password_env: Annotated[
        str | None, typer.Option("--password-env", metavar="NAME", help="Read the AUTH password from environment variable NAME.")
    ] = None,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Read the AUTH password from this file (first line).")
    ] = None,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline",
            metavar="SECONDS",
            help="Give up on the whole delivery after this long, however the server behaves (default: deadline in the \\[mail] config, else 300).",
        ),
    ] = None,
    sender: FromOpt = None,
    to: ToOpt = None,
    cc: CcOpt = None,
    config: ConfigOpt = None,
    output: OutOpt = None,
) -> None:
    """Deliver a report by SMTP. The password comes from --password-env or --password-file, never argv."""
    from memreport.errors import ConfigError
    from memreport.mail.message import read_eml, write_message
    from memreport.mail.smtp import SECURITY_MODES, merge

    def check_security() -> None:
        if security is not None and security not in SECURITY_MODES:
            raise ConfigError(f"--security {security!r}: one of {', '.join(SECURITY_MODES)}")
        if deadline is not None and not 0 < deadline < float("inf"):
            raise ConfigError(f"--deadline {deadline!r}: expected seconds > 0")

    guarded(check_security)
    cfg, who = guarded(lambda: recipients(config, sender, to, cc))
    settings = merge(
        cfg.smtp,
        host=smtp_host,
        port=smtp_port,
        security=security,
        ca_file=tls_ca,
        verify=False if no_verify else None,
        user=user,
        password_env=password_env,
        password_file=password_file,
        deadline=deadline,
    )
    if source.is_file():
        msg = guarded(lambda: read_eml(source))
        kept = source
        envelope_from = sender or cfg.sender  # else the message's From
        rcpts = list(to or []) + list(cc or []) or None  # else the message's To + Cc
    else:
        msg, name = guarded(lambda: build_for(source, who))
        kept = guarded(lambda: write_message(msg, output or source / name))  # on disk before any delivery attempt
        envelope_from, rcpts = who.sender, list(who.to + who.cc)

    accepted = deliver(msg, settings, envelope_from, rcpts, kept)
    typer.echo(f"sent {kept} to {', '.join(accepted)} via {settings.where}")


__all__ = ["EXIT_DELIVERY", "build_for", "deliver", "email", "send", "recipients"]
