"""The capacity report as one standards-compliant mail (RFC 2045/2046/2387/2392):

    multipart/mixed
    ├── multipart/related; type="multipart/alternative"
    │   ├── multipart/alternative
    │   │   ├── text/plain      the summary (html_mail.render_text)
    │   │   └── text/html       mail-safe HTML (html_mail.render_html), charts as <img src="cid:…">
    │   └── image/png …         one per chart, Content-ID <chart-….@memreport>, inline
    └── application/pdf         report.pdf, attachment

Everything is built from a report directory (report.json, report.html for the charts, report.pdf),
so `memreport email DIR` needs nothing but what `memreport report` wrote.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from memreport.atomic import write_bytes
from memreport.errors import InputError
from memreport.mail.charts import ChartImage, report_charts
from memreport.mail.html_mail import one_line, render_html, render_text, subject

POLICY = policy.SMTP  # CRLF line ends, as on the wire and in .eml files
DEFAULT_FROM = "memreport@localhost"


@dataclass(frozen=True)
class Recipients:
    """Who the mail is from and to. Empty `to` is allowed for an .eml written to disk."""

    sender: str = DEFAULT_FROM
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()


@dataclass
class ReportDir:
    """What a report directory holds, read once."""

    path: Path
    doc: dict[str, Any]
    pdf: bytes | None
    charts: list[ChartImage]


def read_report_dir(path: Path) -> ReportDir:
    """report.json (required), report.pdf and the charts of report.html (each optional)."""
    path = Path(path)
    rj = path / "report.json"
    try:
        doc = json.loads(rj.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "not a report directory: no report.json (write one with `memreport report`)") from None
    except (OSError, ValueError) as e:
        raise InputError(rj, f"cannot read: {e}") from None
    if not isinstance(doc, dict) or "host" not in doc:
        raise InputError(rj, "not a memreport report.json (no host)")
    pdf = (path / "report.pdf").read_bytes() if (path / "report.pdf").is_file() else None
    html_path = path / "report.html"
    charts = report_charts(html_path.read_text(encoding="utf-8")) if html_path.is_file() else []
    return ReportDir(path, doc, pdf, charts)


def safe_filename(text: str, suffix: str) -> str:
    """A customer host name as an attachment file name: no path, no quotes, no control characters."""
    stem = re.sub(r"[^A-Za-z0-9._-]+|\.{2,}", "_", text)
    stem = re.sub(r"_+", "_", stem).strip("._")[:80] or "host"
    return f"{stem}{suffix}"


def content_id(name: str, png: bytes) -> str:
    # Unique per content, stable for the same chart: the same report gives the same Content-IDs.
    return f"{name}.{hashlib.sha256(png).hexdigest()[:12]}@memreport"


def _domain(sender: str) -> str:
    return sender.rpartition("@")[2] or "memreport"


def assemble(
    subject_line: str,
    text: str,
    html: str,
    images: Sequence[tuple[ChartImage, str]],
    attachments: Iterable[tuple[str, str, bytes]],
    who: Recipients,
    extra_headers: Mapping[str, str] | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The MIME tree above from finished parts. `attachments` are (filename, mime type, bytes)."""
    alt = MIMEPart(policy=POLICY)
    alt.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    html_part = MIMEPart(policy=POLICY)
    html_part.set_content(html, subtype="html", charset="utf-8", cte="quoted-printable")
    alt.make_alternative()
    alt.attach(html_part)

    related = MIMEPart(policy=POLICY)
    related.set_type("multipart/related")
    related.set_param("type", "multipart/alternative")
    related.set_payload([alt])
    del related["MIME-Version"]  # only the top level carries it
    for chart, cid in images:
        img = MIMEPart(policy=POLICY)
        img.set_content(
            chart.png, maintype="image", subtype="png", disposition="inline", filename=f"{chart.name}.png", cid=f"<{cid}>"
        )
        related.attach(img)

    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = one_line(subject_line, 250)
    msg["From"] = who.sender
    if who.to:
        msg["To"] = ", ".join(who.to)
    if who.cc:
        msg["Cc"] = ", ".join(who.cc)
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = make_msgid("memreport", domain=_domain(who.sender))
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to a report
    for k, v in (extra_headers or {}).items():
        msg[k] = one_line(v)
    msg.set_type("multipart/mixed")
    msg.set_payload([related])
    for filename, mime, data in attachments:
        part = MIMEPart(policy=POLICY)
        maintype, _, subtype = mime.partition("/")
        part.set_content(data, maintype=maintype, subtype=subtype, disposition="attachment", filename=filename)
        msg.attach(part)  # type: ignore[arg-type]  # typeshed wants EmailMessage; any MIMEPart is valid
    return msg


def build_message(report_dir: Path, who: Recipients | None = None) -> EmailMessage:
    """The mail for one host's report directory (see the module doc for its structure)."""
    r = read_report_dir(report_dir)
    who = who or Recipients()
    pdf_name = safe_filename(str(r.doc.get("host") or "host"), "-memory-report.pdf") if r.pdf is not None else None
    cids = {c.name: content_id(c.name, c.png) for c in r.charts}
    html = render_html(r.doc, r.charts, cids, pdf_name)
    text = render_text(r.doc, pdf_name)
    attachments = [(pdf_name, "application/pdf", r.pdf)] if r.pdf is not None and pdf_name else []
    return assemble(
        subject(r.doc),
        text,
        html,
        [(c, cids[c.name]) for c in r.charts],
        attachments,
        who,
        {"X-Memreport-Host": str(r.doc.get("host") or ""), "X-Memreport-Verdict": str(r.doc.get("verdict") or "")},
    )


def write_message(msg: EmailMessage, out: Path) -> Path:
    """The message as an .eml file (CRLF, as sent), written atomically."""
    return write_bytes(Path(out), msg.as_bytes(policy=POLICY))


def write_eml(report_dir: Path, out: Path | None = None, who: Recipients | None = None) -> Path:
    """Build the mail of a report directory and write it to `out` (default REPORT_DIR/report.eml)."""
    report_dir = Path(report_dir)
    return write_message(build_message(report_dir, who), out or report_dir / "report.eml")


def read_eml(path: Path) -> EmailMessage:
    from email import message_from_bytes

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    msg = message_from_bytes(data, policy=POLICY)
    if not msg.get("Subject") and not msg.is_multipart():
        raise InputError(path, "not a mail message (.eml)")
    return msg  # type: ignore[return-value]


def check_address(addr: str) -> str:
    """One mail address, as given; a malformed one is an input error (not a refusal at send time)."""
    a = addr.strip()
    try:
        parsed = Address(addr_spec=a) if "<" not in a else None
    except Exception:
        parsed = None
    if "<" not in a and (parsed is None or not parsed.username or not parsed.domain):
        raise InputError("address", f"{a!r} is not a mail address (user@domain)")
    return a


__all__ = [
    "Recipients",
    "ReportDir",
    "assemble",
    "build_message",
    "check_address",
    "content_id",
    "read_eml",
    "read_report_dir",
    "safe_filename",
    "write_eml",
    "write_message",
]
