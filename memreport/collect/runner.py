"""`memreport collect`: run the capture collector, collectors/memsnap.py, in this process.

The collector is a single stand-alone file (stdlib only, Python 3.6+) so that it can be copied to a
customer host; memreport does not duplicate its logic, it loads that file and calls its `main`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from memreport.errors import MemreportError

#: Environment variable naming the collector file, for installs without the source tree.
COLLECTOR_ENV = "MEMREPORT_COLLECTOR"


def collector_path(name: str = "memsnap.py") -> Path:
    """Where the collector `name` (memsnap.py or memsnap.sh) is.

    Looks at $MEMREPORT_COLLECTOR (memsnap.py only), the source tree (`collectors/` beside the
    package) and `<prefix>/share/memreport/collectors/`.
    """
    candidates: list[Path] = []
    env = os.environ.get(COLLECTOR_ENV)
    if env and name == "memsnap.py":
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parents[2] / "collectors" / name)
    candidates.append(Path(sys.prefix) / "share" / "memreport" / "collectors" / name)
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise MemreportError(f"collector {name} not found (looked in {looked}); "
                         f"set {COLLECTOR_ENV} to its path")


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
    return int(module.main(list(argv)))
