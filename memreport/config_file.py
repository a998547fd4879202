"""The one `--config` TOML file, read the same way by every part that has a table in it
(thresholds, [mail], [fleet]): any reason it cannot be used is one ConfigError naming the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from memreport.errors import ConfigError

# A settings file is a few kilobytes; a multi-gigabyte one is a mistake, not a config.
MAX_CONFIG_BYTES = 1024 * 1024


def read_toml(path: Path) -> dict[str, Any]:
    """The whole file as a table. Not UTF-8, not TOML, unreadable or too large: ConfigError."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB: not a settings file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}): TOML files are UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def table_of(path: Path, name: str) -> dict[str, Any]:
    """The `[name]` table of the file ({} when absent); anything but a table is a ConfigError."""
    table = read_toml(path).get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{name}] must be a table, got {table!r}")
    return table


__all__ = ["MAX_CONFIG_BYTES", "read_toml", "table_of"]
