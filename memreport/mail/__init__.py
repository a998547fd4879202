"""Capacity reports by mail (issue 6): the .eml of a report directory, SMTP delivery, the fleet digest.

    write_eml(report_dir) -> Path              # REPORT_DIR/report.eml
    build_message(report_dir, Recipients(...)) -> EmailMessage
    build_fleet_digest(fleet_dir) -> EmailMessage
    send(msg, SmtpSettings(...))               # DeliveryError with one line on any failure

The format and the options are described in docs/EMAIL.md.
"""

from __future__ import annotations

from memreport.mail.digest import build_fleet_digest
from memreport.mail.message import Recipients, build_message, read_eml, write_eml, write_message
from memreport.mail.smtp import MailConfig, SmtpSettings, load_mail_config, send

__all__ = [
    "MailConfig",
    "Recipients",
    "SmtpSettings",
    "build_fleet_digest",
    "build_message",
    "load_mail_config",
    "read_eml",
    "send",
    "write_eml",
    "write_message",
]
