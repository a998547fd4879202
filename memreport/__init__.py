"""memreport: memory capacity reports for KVM hosts. The Python API (docs/API.md):

    import memreport
    hosts = memreport.load(["sosreport.tar.xz", "sa26"])
    result = memreport.analyze(hosts[0], memreport.Thresholds(vm_size="4GiB"))
    memreport.write_report(result, "out/kvm01/", pdf=True)

Importing memreport is cheap: each name is imported from memreport.api on first use, and the calls
import pandas, pyarrow and weasyprint only when they need them (`memreport --help` loads none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from memreport.api import (
        COLLECTORS as COLLECTORS,
        Result as Result,
        analyze as analyze,
        collector as collector,
        ingest as ingest,
        ingest_options as ingest_options,
        load as load,
        read as read,
        report_dir as report_dir,
        run_fleet as run_fleet,
        thresholds as thresholds,
        what_if as what_if,
        write_report as write_report,
    )
    from memreport.config import Thresholds as Thresholds
    from memreport.errors import (
        ConfigError as ConfigError,
        DeliveryError as DeliveryError,
        InputError as InputError,
        MemreportError as MemreportError,
        OutputError as OutputError,
    )
    from memreport.model import Finding as Finding, HostData as Host, Severity as Severity  # noqa: F401 (Host: the public name)

_LAZY = {
    **dict.fromkeys(
        (
            "COLLECTORS",
            "Result",
            "analyze",
            "collector",
            "ingest",
            "ingest_options",
            "load",
            "read",
            "report_dir",
            "run_fleet",
            "thresholds",
            "what_if",
            "write_report",
        ),
        "memreport.api",
    ),
    "Thresholds": "memreport.config",
    **dict.fromkeys(("ConfigError", "DeliveryError", "InputError", "MemreportError", "OutputError"), "memreport.errors"),
    **dict.fromkeys(("Finding", "Host", "Severity"), "memreport.model"),
}
_RENAMED = {"Host": "HostData"}
_SUBPACKAGES = frozenset({"ingest", "analyze"})

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memreport' has no attribute {name!r}")
    import importlib

    if name in _SUBPACKAGES:  # callable modules (api_modules.py): the subpackage is the call
        value = importlib.import_module(f"memreport.{name}")
    else:
        value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
