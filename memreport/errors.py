"""Domain errors. The CLI maps them to exit codes; nothing below the CLI prints or exits."""

from __future__ import annotations

from pathlib import Path


class MemreportError(Exception):
    """Base of every error a user can cause; str() is the one line they see."""


class InputError(MemreportError):
    """An input that cannot be read: names the file, the line where there is one, and why."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None, log: list | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        self.log = log or []  # what the reader noted before giving up (LogEntry records)
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class OutputError(MemreportError):
    """An output that cannot be written (no permission, not a directory, disk full): names the path."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class RenderError(MemreportError):
    """A PDF that could not be rendered: its deadline (setting render.pdf_timeout_s) passed, or the
    process rendering it died. The PDF is not written, never half of it; the message names what was."""

    def __init__(self, message: str, written: dict[str, Path] | None = None, reason: str | None = None) -> None:
        self.written = written or {}  # the files written without the PDF (report.html, report.json)
        self.reason = reason or message  # why, without the host and path (the deadline passed …)
        super().__init__(message)


class UnsafeArchiveError(InputError):
    """A customer archive that breaks the safety rules (traversal, links, devices, bombs)."""


class ConfigError(MemreportError):
    """A bad --config file or --set override."""


class DeliveryError(MemreportError):
    """Mail could not be delivered (connection, TLS, auth, recipients)."""
