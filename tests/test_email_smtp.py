"""`memreport send` against a real SMTP server on 127.0.0.1 (aiosmtpd, in-process, free port):
plain, STARTTLS with a self-signed certificate trusted by --tls-ca, implicit TLS, AUTH over TLS;
and each refusal (connection refused, untrusted certificate, auth failed, recipient refused) as
one line on stderr, a non-zero exit, and the .eml kept on disk (issue 6)."""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import HANG
from helpers import synthetic as S

from memreport.errors import ConfigError, DeliveryError
from memreport.mail import SmtpSettings, build_message, send
from memreport.render.report import write_report

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "reporter", "s3cret pass"


@dataclass
class Handler:
    """Keeps what it receives; refuses RCPT for addresses starting with `nobody`."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        if address.startswith("nobody"):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"


def _auth(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA: pass it as --tls-ca)."""
    if not shutil.which("openssl"):
        pytest.fail("openssl missing: bash tests/system_deps.sh (make test does)")
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            "2",
            "-subj",
            "/CN=memreport-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return crt, key


@dataclass
class Server:
    port: int
    handler: Handler


def _start(mode: str, cert: tuple[Path, Path] | None = None, auth: bool = False) -> tuple[Controller, Server]:
    handler = Handler()
    kwargs: dict[str, object] = {}
    if cert is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        if mode == "tls":
            kwargs["ssl_context"] = ctx
        else:
            kwargs["tls_context"] = ctx
    if auth:
        kwargs.update(authenticator=_auth, auth_required=True, auth_require_tls=True)
    port = free_port()
    c = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    c.start()
    return c, Server(port, handler)


@pytest.fixture
def server(request: pytest.FixtureRequest, cert: tuple[Path, Path]) -> Iterator[Server]:
    mode, auth = request.param
    c, s = _start(mode, None if mode == "none" else cert, auth)
    try:
        yield s
    finally:
        c.stop()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smtp") / "kvm-day"
    write_report(S.week(name="kvm-day", days=1.0, interval_s=60.0, n_vms=4), out)
    return out


def memreport(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "memreport", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=HANG,
        env={**os.environ, **(env or {})},
    )


def fresh(report_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "report"
    shutil.copytree(report_dir, d)
    return d


ADDR = ("--from", "memreport@example.com", "--to", "ops@example.com", "--cc", "cap@example.com")


def assert_delivered(server: Server, report_dir: Path) -> None:
    assert len(server.handler.received) == 1
    mail_from, rcpts, data = server.handler.received[0]
    assert mail_from == "memreport@example.com" and rcpts == ["ops@example.com", "cap@example.com"]
    msg = email.message_from_bytes(data, policy=policy.default)
    assert msg["Subject"].startswith("[memreport] kvm-day: ")
    pdf = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf[0].get_content() == (report_dir / "report.pdf").read_bytes()  # intact through SMTP


@pytest.mark.parametrize("server", [("none", False)], indirect=True)
def test_send_plain(server: Server, report_dir: Path, tmp_path: Path) -> None:
    d = fresh(report_dir, tmp_path)
    proc = memreport("send", d, "--smtp-host", "127.0.0.1", "--smtp-port", server.port, "--security", "none", *ADDR)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"sent {d / 'report.eml'} to ops@example.com, cap@example.com via 127.0.0.1:{server.port}"
    assert (d / "report.eml").is_file()  # kept: the same bytes can be sent again
    assert_delivered(server, d)


@pytest.mark.parametrize("server", [("starttls", False)], indirect=True)
def test_send_starttls_with_ca(server: Server, report_dir: Path, tmp_path: Path, cert: tuple[Path, Path]) -> None:
    d = fresh(report_dir, tmp_path)
    proc = memreport("send", d, "--smtp-host", "127.0.0.1", "--smtp-port", server.port, "--tls-ca", cert[0], *ADDR)
    assert proc.returncode == 0, proc.stderr
    assert_delivered(server, d)


@pytest.mark.parametrize("server", [("tls", False)], indirect=True)
def test_send_implicit_tls_from_an_eml(server: Server, report_dir: Path, tmp_path: Path, cert: tuple[Path, Path]) -> None:
    d = fresh(report_dir, tmp_path)
    eml = tmp_path / "out.eml"
    assert memreport("email", d, "-o", eml, *ADDR).returncode == 0
    # envelope from the message's own From / To / Cc headers
    proc = memreport(
        "send", eml, "--smtp-host", "127.0.0.1", "--smtp-port", server.port, "--security", "tls", "--tls-ca", cert[0]
    )
    assert proc.returncode == 0, proc.stderr
    assert_delivered(server, d)
    sent = email.message_from_bytes(server.handler.received[0][2], policy=policy.default)
    kept = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert sent["Message-ID"] == kept["Message-ID"]  # the .eml as written, not a rebuilt message


@pytest.mark.parametrize("server", [("starttls", True)], indirect=True)
def test_send_auth_over_starttls_from_env_and_file(
    server: Server, report_dir: Path, tmp_path: Path, cert: tuple[Path, Path]
) -> None:
    d = fresh(report_dir, tmp_path)
    common = ("send", d, "--smtp-host", "127.0.0.1", "--smtp-port", server.port, "--tls-ca", cert[0], "--user", USER, *ADDR)
    proc = memreport(*common, "--password-env", "SMTP_PW", env={"SMTP_PW": PASSWORD})
    assert proc.returncode == 0, proc.stderr
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    proc = memreport(*common, "--password-file", pw)
    assert proc.returncode == 0, proc.stderr
    assert len(server.handler.received) == 2


def test_send_config_file(report_dir: Path, tmp_path: Path, cert: tuple[Path, Path]) -> None:
    """Everything from a [mail] table; the thresholds' tables beside it are not the mail's business."""
    c, server = _start("starttls", cert, auth=True)
    try:
        pw = tmp_path / "smtp.pass"
        pw.write_text(PASSWORD)
        cfg = tmp_path / "memreport.toml"
        cfg.write_text(
            f'[swap]\nbasis = "inactive"\n\n[mail]\nfrom = "memreport@example.com"\n'
            f'to = ["ops@example.com"]\ncc = "cap@example.com"\nsmtp_host = "127.0.0.1"\nsmtp_port = {server.port}\n'
            f'security = "starttls"\ntls_ca = "{cert[0]}"\nuser = "{USER}"\npassword_file = "smtp.pass"\n'
        )
        d = fresh(report_dir, tmp_path)
        proc = memreport("send", d, "--config", cfg)
        assert proc.returncode == 0, proc.stderr
        assert_delivered(server, d)
        cfg.write_text('[mail]\npassword = "x"\n')
        proc = memreport("send", d, "--config", cfg)
        assert proc.returncode == 2
        assert (
            proc.stderr.strip()
            == f"memreport: error: {cfg}: put the SMTP password in password_env or password_file, not in the config"
        )
    finally:
        c.stop()


# --- refusals: one line, non-zero exit, the .eml kept -----------------------------------------------


def assert_refused(proc: subprocess.CompletedProcess[str], d: Path, line: str) -> None:
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"memreport: error: {line} (the message is kept in {d / 'report.eml'})"
    kept = email.message_from_bytes((d / "report.eml").read_bytes(), policy=policy.default)
    assert kept["Subject"].startswith("[memreport] kvm-day: ") and kept["To"] == "ops@example.com"


def test_connection_refused(report_dir: Path, tmp_path: Path) -> None:
    d = fresh(report_dir, tmp_path)
    port = free_port()  # nothing listens there
    proc = memreport("send", d, "--smtp-host", "127.0.0.1", "--smtp-port", port, "--security", "none", *ADDR)
    assert_refused(proc, d, f"cannot connect to 127.0.0.1:{port}: connection refused")


@pytest.mark.parametrize("server", [("starttls", False)], indirect=True)
def test_untrusted_certificate(server: Server, report_dir: Path, tmp_path: Path) -> None:
    d = fresh(report_dir, tmp_path)
    proc = memreport("send", d, "--smtp-host", "127.0.0.1", "--smtp-port", server.port, *ADDR)  # no --tls-ca
    assert_refused(
        proc,
        d,
        f"TLS error with 127.0.0.1:{server.port}: certificate not trusted: self-signed certificate "
        "(trust the server's CA with --tls-ca FILE)",
    )
    assert server.handler.received == []


@pytest.mark.parametrize("server", [("tls", False)], indirect=True)
def test_untrusted_certificate_implicit_tls(server: Server, report_dir: Path, tmp_path: Path) -> None:
    d = fresh(report_dir, tmp_path)
    proc = memreport("send", d, "--smtp-host", "127.0.0.1", "--smtp-port", server.port, "--security", "tls", *ADDR)
    assert_refused(
        proc,
        d,
        f"TLS error with 127.0.0.1:{server.port}: certificate not trusted: self-signed certificate "
        "(trust the server's CA with --tls-ca FILE)",
    )


@pytest.mark.parametrize("server", [("starttls", True)], indirect=True)
def test_auth_failed(server: Server, report_dir: Path, tmp_path: Path, cert: tuple[Path, Path]) -> None:
    d = fresh(report_dir, tmp_path)
    proc = memreport(
        "send",
        d,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        server.port,
        "--tls-ca",
        cert[0],
        "--user",
        USER,
        "--password-env",
        "SMTP_PW",
        *ADDR,
        env={"SMTP_PW": "wrong"},
    )
    assert_refused(
        proc, d, f"authentication failed for 'reporter' at 127.0.0.1:{server.port}: 535 5.7.8 Authentication credentials invalid"
    )
    assert server.handler.received == []


@pytest.mark.parametrize("server", [("starttls", True)], indirect=True)
def test_auth_is_not_sent_in_clear(server: Server, report_dir: Path, tmp_path: Path) -> None:
    d = fresh(report_dir, tmp_path)
    proc = memreport(
        "send",
        d,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        server.port,
        "--security",
        "none",
        "--user",
        USER,
        "--password-env",
        "SMTP_PW",
        *ADDR,
        env={"SMTP_PW": PASSWORD},
    )
    assert_refused(proc, d, f"127.0.0.1:{server.port} does not offer AUTH before TLS")


@pytest.mark.parametrize("server", [("none", False)], indirect=True)
def test_recipient_refused(server: Server, report_dir: Path, tmp_path: Path) -> None:
    d = fresh(report_dir, tmp_path)
    proc = memreport(
        "send",
        d,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        server.port,
        "--security",
        "none",
        "--from",
        "memreport@example.com",
        "--to",
        "nobody@example.com",
    )
    assert proc.returncode == 4
    assert proc.stderr.strip() == (
        f"memreport: error: 127.0.0.1:{server.port} refused recipient nobody@example.com: "
        f"550 5.1.1 <nobody@example.com>: mailbox unavailable (the message is kept in {d / 'report.eml'})"
    )
    assert (d / "report.eml").is_file() and server.handler.received == []


def test_password_never_on_the_command_line() -> None:
    proc = memreport("send", "--help")
    assert "--password-env" in proc.stdout and "--password-file" in proc.stdout
    assert "--password " not in proc.stdout and "--password\n" not in proc.stdout
    proc = memreport("send", ".", "--password", "x")
    assert proc.returncode == 2 and "No such option" in proc.stderr


@pytest.mark.parametrize("server", [("none", False)], indirect=True)
def test_library_send(server: Server, report_dir: Path) -> None:
    """The same delivery as a library call: send() returns the accepted recipients or raises DeliveryError."""
    from memreport.mail import Recipients

    msg = build_message(report_dir, Recipients(sender="m@example.com", to=("a@example.com",)))
    s = SmtpSettings(host="127.0.0.1", port=server.port, security="none")
    assert send(msg, s) == ["a@example.com"]
    with pytest.raises(DeliveryError, match=r"refused recipient nobody@example.com: 550"):
        send(msg, s, recipients=["nobody@example.com"])


@pytest.fixture(scope="module")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two captures (one short of swap, one fine) and an unreadable bundle."""
    from memreport.synthetic import GIB, HostSpec, write_capture

    root = tmp_path_factory.mktemp("fleetmail") / "inputs"
    write_capture(
        HostSpec(hostname="kvm-short", seed=1, days=0.1, interval_s=60, swap_bytes=2 * GIB, thrash=()), root / "a", gz=True
    )
    write_capture(
        HostSpec(hostname="kvm-fine", seed=2, days=0.1, interval_s=60, swap_bytes=64 * GIB, thrash=()), root / "b", gz=True
    )
    (root / "c-broken.tar.gz").write_bytes(b"\x1f\x8b\x08\x00not a gzip stream")
    return root


@pytest.mark.parametrize("server", [("none", False)], indirect=True)
def test_fleet_email_sends_one_digest(server: Server, small_fleet: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "memreport.toml"
    cfg.write_text(
        f'[mail]\nfrom = "memreport@example.com"\nto = ["capacity@example.com"]\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {server.port}\nsecurity = "none"\n'
    )
    out = tmp_path / "fleet"
    proc = memreport("fleet", small_fleet, "-o", out, "--jobs", "1", "--email", "--config", cfg)
    assert proc.returncode == 1, proc.stderr  # the broken bundle: listed, mailed, and the exit code says so
    assert "mailed the fleet digest to capacity@example.com" in proc.stdout
    assert len(server.handler.received) == 1
    mail_from, rcpts, data = server.handler.received[0]
    assert (mail_from, rcpts) == ("memreport@example.com", ["capacity@example.com"])
    msg = email.message_from_bytes(data, policy=policy.default)
    assert msg["Subject"].startswith("[memreport] fleet of 2 hosts: 1 CRIT, 0 WARN, 1 input unreadable; worst kvm-short")
    text = msg.get_body(("plain",)).get_content()
    assert "c-broken.tar.gz" in text and "kvm-fine" in text
    html = msg.get_body(("html",)).get_content()
    assert "Inputs that could not be read (1)" in html
    pdf = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf[0].get_content() == (out / "fleet.pdf").read_bytes()
    assert (out / "fleet-digest.eml").read_bytes().count(b"Subject: [memreport] fleet of 2 hosts") == 1


def test_fleet_email_failures(small_fleet: Path, tmp_path: Path) -> None:
    # No recipient: refused before any work is done.
    out = tmp_path / "fleet"
    proc = memreport("fleet", small_fleet / "a", "-o", out, "--email", "--smtp-host", "127.0.0.1")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("memreport: error: --email needs a recipient")
    assert not (out / "fleet.json").exists()
    # Nobody listening: the run completes, the digest is kept, exit 4 with one line.
    port = free_port()
    proc = memreport(
        "fleet",
        small_fleet / "a",
        "-o",
        out,
        "--no-fleet-pdf",
        "--email",
        "--to",
        "ops@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        port,
        "--security",
        "none",
    )
    assert proc.returncode == 4, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("memreport: error: ") and "refused" in last and str(out / "fleet-digest.eml") in last
    assert "Traceback" not in proc.stderr
    assert (out / "fleet.json").is_file() and (out / "fleet-digest.eml").is_file()


# --- a server that never finishes: the delivery's overall deadline (issue 11, defect 16) ------------


class Dribbler:
    """A real SMTP peer on 127.0.0.1 that keeps talking and never completes a reply: one continuation
    line every `every` seconds, in the greeting (`at="greeting"`) or in the reply to EHLO."""

    def __init__(self, at: str, every: float = 0.2) -> None:
        import threading

        self.at, self.every = at, every
        self.stop = threading.Event()
        self.lines_sent = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import threading

        self.sock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            try:
                if self.at == "ehlo":
                    conn.sendall(b"220 slow.example ESMTP\r\n")
                    conn.recv(1024)  # EHLO
                code = b"220" if self.at == "greeting" else b"250"
                while not self.stop.wait(self.every):
                    conn.sendall(code + b"-still thinking\r\n")
                    self.lines_sent += 1
            except OSError:
                return  # the client gave up and closed

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def dribbler(request: pytest.FixtureRequest) -> Iterator[Dribbler]:
    d = Dribbler(request.param)
    try:
        yield d
    finally:
        d.close()


@pytest.mark.parametrize("dribbler", ["greeting"], indirect=True)
def test_send_gives_up_at_its_deadline_on_a_dribbling_server(dribbler: Dribbler, report_dir: Path, tmp_path: Path) -> None:
    # Before, each continuation line reset the 30 s per-read timeout and `send` never returned.
    d = fresh(report_dir, tmp_path)
    proc = memreport(
        "send", d, "--smtp-host", "127.0.0.1", "--smtp-port", dribbler.port, "--security", "none", "--deadline", "2", *ADDR
    )
    assert_refused(proc, d, f"delivery to 127.0.0.1:{dribbler.port} took longer than 2 s (mail deadline): gave up")
    assert dribbler.lines_sent >= 3  # it was still talking when the deadline ended the delivery


@pytest.mark.parametrize("dribbler", ["ehlo"], indirect=True)
def test_mail_deadline_setting_bounds_the_library_send(dribbler: Dribbler, report_dir: Path, tmp_path: Path) -> None:
    from memreport.mail import Recipients, load_mail_config

    cfg = tmp_path / "memreport.toml"
    cfg.write_text(f'[mail]\nsmtp_host = "127.0.0.1"\nsmtp_port = {dribbler.port}\nsecurity = "none"\ndeadline = 1.5\n')
    settings = load_mail_config(cfg).smtp
    assert settings.deadline == 1.5 and settings.timeout == 30
    msg = build_message(report_dir, Recipients(sender="m@example.com", to=("a@example.com",)))
    with pytest.raises(
        DeliveryError, match=rf"^delivery to 127.0.0.1:{dribbler.port} took longer than 1.5 s \(mail deadline\): gave up$"
    ):
        send(msg, settings)
    assert dribbler.lines_sent >= 3
    for bad in ("0", "-5", '"soon"', "true", "inf"):
        cfg.write_text(f"[mail]\ndeadline = {bad}\n")
        with pytest.raises(ConfigError, match="mail.deadline must be a number of seconds > 0"):
            load_mail_config(cfg)
    proc = memreport("send", report_dir, "--deadline", "0", "--smtp-host", "127.0.0.1", "--to", "a@example.com")
    assert proc.returncode == 2 and proc.stderr.strip() == "memreport: error: --deadline 0.0: expected seconds > 0"
