"""Delivery over SMTP: plain, STARTTLS or implicit TLS, optional AUTH; every failure a DeliveryError.

Certificates are verified by default (the system CAs, or `ca_file`); the password never comes from
the command line (argv is visible to every user of the host in /proc/<pid>/cmdline): it comes from
an environment variable or a file. Settings can come from a TOML file's [mail] table:

    [mail]
    from = "memreport@example.com"
    to = ["ops@example.com"]        # or one string
    cc = []
    smtp_host = "smtp.example.com"
    smtp_port = 587                 # default by security: 25 none, 587 starttls, 465 tls
    security = "starttls"           # none | starttls | tls
    tls_ca = "/etc/ssl/private-ca.pem"
    user = "memreport"
    password_env = "MEMREPORT_SMTP_PASSWORD"   # or password_file = "/etc/memreport/smtp.pass"
    timeout = 30                    # seconds for each network operation
    deadline = 300                  # seconds for the whole delivery, whatever the server does
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any, Literal

from memreport.config_file import table_of
from memreport.errors import ConfigError, DeliveryError

Security = Literal["none", "starttls", "tls"]
SECURITY_MODES: tuple[str, ...] = ("none", "starttls", "tls")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
TIMEOUT_S = 30.0
# A server that answers every few seconds (a continuation line each 10 s) never trips the
# per-operation timeout; this bounds the whole delivery, connection to QUIT.
DEADLINE_S = 300.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None = None
    port: int | None = None  # None: DEFAULT_PORTS[security]
    security: str = "starttls"
    ca_file: Path | None = None  # trust this CA (PEM) instead of the system store
    verify: bool = True
    user: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    timeout: float = TIMEOUT_S  # each network operation
    deadline: float = DEADLINE_S  # the whole delivery

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    @property
    def where(self) -> str:
        return f"{self.host}:{self.effective_port}"


@dataclass(frozen=True)
class MailConfig:
    """The [mail] table of a config file; every field optional (options on the command line win)."""

    sender: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    smtp: SmtpSettings = field(default_factory=SmtpSettings)


_KEYS = {
    "from",
    "to",
    "cc",
    "smtp_host",
    "smtp_port",
    "security",
    "tls_ca",
    "verify",
    "user",
    "password_env",
    "password_file",
    "timeout",
    "deadline",
}


def _addresses(value: Any, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: mail.{key} must be an address or a list of addresses")
    return tuple(v.strip() for v in value if v.strip())


def _text(table: dict[str, Any], key: str, where: str) -> str | None:
    v = table.get(key)
    if v is not None and (not isinstance(v, str) or not v.strip()):
        raise ConfigError(f"{where}: mail.{key} must be text, got {v!r}")
    return v


def _seconds(table: dict[str, Any], key: str, default: float, where: str) -> float:
    """A positive, finite number of seconds (TOML has inf and nan; a bool is not a number)."""
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < float("inf"):
        raise ConfigError(f"{where}: mail.{key} must be a number of seconds > 0, got {v!r}")
    return float(v)


def load_mail_config(path: Path | None) -> MailConfig:
    """The [mail] table of a TOML file (other tables are ignored: they belong to the thresholds).
    Every value is type-checked: a wrong one is one ConfigError naming the file and the key."""
    if path is None:
        return MailConfig()
    where = str(path)
    table = table_of(path, "mail")
    if "password" in table:  # a config file is often world-readable and kept in git
        raise ConfigError(f"{where}: put the SMTP password in password_env or password_file, not in the config")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown mail setting {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    security = table.get("security", "starttls")
    if security not in SECURITY_MODES:
        raise ConfigError(f"{where}: mail.security must be one of {', '.join(SECURITY_MODES)}, got {security!r}")
    port = table.get("smtp_port")
    # TOML `true` is a Python bool, which is an int: it must not become port 1.
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        raise ConfigError(f"{where}: mail.smtp_port must be a port number (1-65535), got {port!r}")
    verify = table.get("verify", True)
    if not isinstance(verify, bool):
        raise ConfigError(f"{where}: mail.verify must be true or false, got {verify!r}")
    base = Path(path).parent

    def p(key: str) -> Path | None:
        v = _text(table, key, where)
        return None if v is None else (base / v if not os.path.isabs(v) else Path(v))

    smtp = SmtpSettings(
        host=_text(table, "smtp_host", where),
        port=port,
        security=security,
        ca_file=p("tls_ca"),
        verify=verify,
        user=_text(table, "user", where),
        password_env=_text(table, "password_env", where),
        password_file=p("password_file"),
        timeout=_seconds(table, "timeout", TIMEOUT_S, where),
        deadline=_seconds(table, "deadline", DEADLINE_S, where),
    )
    return MailConfig(
        sender=_text(table, "from", where),
        to=_addresses(table.get("to"), "to", where),
        cc=_addresses(table.get("cc"), "cc", where),
        smtp=smtp,
    )


def merge(base: SmtpSettings, **options: Any) -> SmtpSettings:
    """Command-line options over config settings: a None option keeps the config's value."""
    return replace(base, **{k: v for k, v in options.items() if v is not None})


def read_password(s: SmtpSettings) -> str | None:
    if s.password_env and s.password_file:
        raise ConfigError("give the SMTP password by --password-env or --password-file, not both")
    if s.password_env:
        value = os.environ.get(s.password_env)
        if value is None:
            raise ConfigError(f"environment variable {s.password_env} (the SMTP password) is not set")
        return value
    if s.password_file:
        try:
            return s.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            raise ConfigError(f"{s.password_file}: cannot read the SMTP password: {e.strerror or e}") from None
    return None


def tls_context(s: SmtpSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
    if not s.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _reply(code: int, text: bytes | str) -> str:
    t = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(t.split())}"


def _tls_reason(e: ssl.SSLError) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        hint = (
            ""
            if e.verify_code != 18 and e.verify_code != 19 and e.verify_code != 20
            else " (trust the server's CA with --tls-ca FILE)"
        )
        return f"certificate not trusted: {e.verify_message}{hint}"
    return e.reason or str(e)


def send(msg: EmailMessage, s: SmtpSettings, sender: str | None = None, recipients: Sequence[str] | None = None) -> list[str]:
    """Deliver `msg`; returns the recipients the server accepted (all of them, or DeliveryError).

    `sender` and `recipients` default to the message's From and To + Cc (Bcc is not used).
    """
    if not s.host:
        raise ConfigError("no SMTP server: give --smtp-host (or smtp_host in the [mail] config)")
    if s.security not in SECURITY_MODES:
        raise ConfigError(f"unknown security {s.security!r}: one of {', '.join(SECURITY_MODES)}")
    sender = sender or (getaddresses([str(msg.get("From", ""))]) or [("", "")])[0][1]
    rcpts = (
        list(recipients)
        if recipients
        else [a for _, a in getaddresses([str(v) for v in (msg.get_all("To") or []) + (msg.get_all("Cc") or [])]) if a]
    )
    if not sender:
        raise ConfigError("no sender: give --from (or from in the [mail] config)")
    if not rcpts:
        raise ConfigError("no recipients: give --to (or to in the [mail] config)")
    password = read_password(s)
    if password is not None and not s.user:
        raise ConfigError("a password was given without --user")
    where = s.where
    watchdog = _Deadline(s.deadline)
    try:
        return _deliver(msg, s, sender, rcpts, password, watchdog)
    except DeliveryError:
        if watchdog.expired:
            raise watchdog.error(where) from None
        raise
    finally:
        watchdog.cancel()


class _Deadline:
    """Ends a delivery that outlives `seconds`: shuts down the connection's socket under smtplib, so
    that its blocked read fails at once (the per-operation timeout cannot see a server that keeps
    talking slowly). Repeated until the delivery returns, in case the socket was being replaced
    (STARTTLS) at the first attempt."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self.smtp: smtplib.SMTP | None = None
        self._done = threading.Event()
        threading.Thread(target=self._run, name="smtp-deadline", daemon=True).start()

    def remaining(self) -> float:
        return max(0.001, self.end - time.monotonic())

    def _run(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.expired = True
        while not self._done.is_set():
            sock = getattr(self.smtp, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._done.wait(0.2)

    def cancel(self) -> None:
        self._done.set()

    def error(self, where: str) -> DeliveryError:
        return DeliveryError(f"delivery to {where} took longer than {self.seconds:g} s (mail deadline): gave up")


def _deliver(
    msg: EmailMessage, s: SmtpSettings, sender: str, rcpts: list[str], password: str | None, watchdog: _Deadline
) -> list[str]:
    where = s.where
    timeout = min(s.timeout, watchdog.remaining())
    # Made without a host (no connection yet), so that the watchdog holds it before the greeting.
    smtp: smtplib.SMTP = (
        smtplib.SMTP_SSL(timeout=timeout, context=tls_context(s)) if s.security == "tls" else smtplib.SMTP(timeout=timeout)
    )
    # smtplib takes the TLS server name (SNI, certificate check) from the host given to __init__,
    # which connect() does not set: without it STARTTLS and implicit TLS fail to verify.
    smtp._host = s.host or ""  # type: ignore[attr-defined]
    watchdog.smtp = smtp
    try:
        smtp.connect(s.host or "", s.effective_port)
    except ConnectionRefusedError:
        raise DeliveryError(f"cannot connect to {where}: connection refused") from None
    except ssl.SSLError as e:
        raise DeliveryError(f"TLS error with {where}: {_tls_reason(e)}") from None
    except socket.gaierror as e:
        raise DeliveryError(f"cannot connect to {where}: unknown host ({e.strerror})") from None
    except TimeoutError:
        raise DeliveryError(f"cannot connect to {where}: timed out after {timeout:g} s") from None
    except smtplib.SMTPConnectError as e:
        raise DeliveryError(f"{where} refused the connection: {_reply(e.smtp_code, e.smtp_error)}") from None
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryError(f"cannot connect to {where}: {e}") from None
    try:
        with smtp:
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{where} does not offer STARTTLS (use --security tls, or none on a trusted network)")
                smtp.starttls(context=tls_context(s))
                smtp.ehlo()
            if s.user:
                if not smtp.has_extn("auth"):
                    raise DeliveryError(f"{where} does not offer AUTH" + (" before TLS" if s.security == "none" else ""))
                try:
                    smtp.login(s.user, password or "")
                except smtplib.SMTPAuthenticationError as e:
                    raise DeliveryError(
                        f"authentication failed for {s.user!r} at {where}: {_reply(e.smtp_code, e.smtp_error)}"
                    ) from None
            try:
                refused = smtp.send_message(msg, from_addr=sender, to_addrs=rcpts)
            except smtplib.SMTPRecipientsRefused as e:
                first, (code, text) = next(iter(e.recipients.items()))
                more = f" (and {len(e.recipients) - 1} more)" if len(e.recipients) > 1 else ""
                raise DeliveryError(f"{where} refused recipient {first}{more}: {_reply(code, text)}") from None
            except smtplib.SMTPSenderRefused as e:
                raise DeliveryError(f"{where} refused sender {sender}: {_reply(e.smtp_code, e.smtp_error)}") from None
            except smtplib.SMTPDataError as e:
                raise DeliveryError(f"{where} refused the message: {_reply(e.smtp_code, e.smtp_error)}") from None
            if refused:
                first, (code, text) = next(iter(refused.items()))
                raise DeliveryError(
                    f"{where} refused recipient {first}: {_reply(code, text)}; "
                    f"delivered to the {len(rcpts) - len(refused)} other(s)"
                )
            return rcpts
    except DeliveryError:
        raise
    except ssl.SSLError as e:
        raise DeliveryError(f"TLS error with {where}: {_tls_reason(e)}") from None
    except smtplib.SMTPServerDisconnected as e:
        raise DeliveryError(f"{where} closed the connection: {e or 'no reason given'}") from None
    except smtplib.SMTPResponseException as e:
        raise DeliveryError(f"{where} said {_reply(e.smtp_code, e.smtp_error)}") from None
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryError(f"delivery to {where} failed: {e}") from None


__all__ = [
    "DEADLINE_S",
    "DEFAULT_PORTS",
    "MailConfig",
    "SECURITY_MODES",
    "SmtpSettings",
    "load_mail_config",
    "merge",
    "read_password",
    "send",
    "tls_context",
]
