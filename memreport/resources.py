"""Where memreport's data files are: the jinja templates and the two collectors.

They live at the top of the repository (templates/, collectors/); a built wheel carries them inside
the package (memreport/templates/, memreport/collectors/: pyproject.toml, force-include). Code finds
them here, in the installed package first, else beside the package in a checkout, never through a
path relative to the working directory.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from memreport.errors import MemreportError

#: Environment variable naming the Python collector file to run instead of the packaged one.
COLLECTOR_ENV = "MEMREPORT_COLLECTOR"


def data_dir(name: str) -> Path:
    """The directory `name` (templates or collectors): in the installed package, else the checkout's."""
    package = Path(str(files("memreport")))
    for candidate in (package / name, package.parent / name):
        if candidate.is_dir():
            return candidate
    raise MemreportError(f"memreport's {name}/ not found in {package} or beside it: a broken install")


def templates_dir() -> Path:
    return data_dir("templates")


def collector_path(name: str = "memsnap.py") -> Path:
    """The collector `name` (memsnap.py or memsnap.sh); $MEMREPORT_COLLECTOR overrides memsnap.py."""
    env = os.environ.get(COLLECTOR_ENV)
    path = Path(env) if env and name == "memsnap.py" else data_dir("collectors") / name
    if not path.is_file():
        raise MemreportError(
            f"collector {name} not found at {path}" + (f" (${COLLECTOR_ENV})" if env and name == "memsnap.py" else "")
        )
    return path


__all__ = ["COLLECTOR_ENV", "collector_path", "data_dir", "templates_dir"]
