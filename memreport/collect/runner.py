"""`memreport collect`: run the capture collector, collectors/memsnap.py, in this process.

The collector is a single stand-alone file (stdlib only, Python 3.6+) so that it can be copied to a
customer host; memreport does not duplicate its logic, it loads that file and calls its `main`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from memreport.errors import MemreportError
from memreport.resources import COLLECTOR_ENV, collector_path


def load_collector(path: Path | None = None) -> ModuleType:
    """The collector file loaded as a module (not registered in sys.modules)."""
    path = path or collector_path()
    spec = importlib.util.spec_from_file_location("memreport_memsnap", path)
    if spec is None or spec.loader is None:
        raise MemreportError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_collector(argv: list[str]) -> int:
    """Run memsnap.py with these arguments (as on its command line); its exit code.

    It samples until --duration ends or SIGINT/SIGTERM/SIGHUP arrives (then it finishes the sample
    and returns 0); its signal handlers are restored when it returns. --help and --version print
    and return 0, bad arguments print usage and return 2.
    """
    module = load_collector()
    return int(module.main(list(argv), prog="memreport collect"))


__all__ = ["COLLECTOR_ENV", "collector_path", "load_collector", "run_collector"]
