"""Fleet run settings from the [fleet] table of the --config file (docs/FLEET.md):

    [fleet]
    input_timeout = 3600    # seconds one input may take; 0 = no limit

Command-line options (`--input-timeout`) win over the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memreport.config_file import table_of
from memreport.errors import ConfigError

# Generous: a host-week takes seconds and a large sosreport with --pdf a few minutes, even on a
# busy machine; an hour only stops what would otherwise stall an overnight run for good.
DEFAULT_INPUT_TIMEOUT_S = 3600.0
_KEYS = {"input_timeout"}


@dataclass(frozen=True)
class FleetSettings:
    input_timeout_s: float | None = DEFAULT_INPUT_TIMEOUT_S  # None: no limit


def input_timeout(value: Any, where: str) -> float | None:
    """Seconds, > 0; 0 means no limit (None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: expected seconds (a number ≥ 0; 0 = no limit), got {value!r}")
    return float(value) or None


def load_fleet_settings(path: Path | None) -> FleetSettings:
    if path is None:
        return FleetSettings()
    table = table_of(path, "fleet")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown fleet setting {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    timeout = (
        input_timeout(table["input_timeout"], f"{path}: fleet.input_timeout")
        if "input_timeout" in table
        else DEFAULT_INPUT_TIMEOUT_S
    )
    return FleetSettings(input_timeout_s=timeout)


__all__ = ["DEFAULT_INPUT_TIMEOUT_S", "FleetSettings", "input_timeout", "load_fleet_settings"]
