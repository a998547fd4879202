"""`memreport.ingest(...)` and `memreport.analyze(...)` are API calls (docs/API.md) and also the
names of two subpackages. Python binds a subpackage to its parent's attribute on import, so the
two cannot be plain functions; instead each subpackage module is callable and its call is the API
function. Everything else about them stays ordinary: `import memreport.ingest as i`, `from
memreport.analyze import x`, pickling and patch targets."""

from __future__ import annotations

import sys
import types
from typing import Any


def make_callable(module_name: str, api_name: str) -> None:
    """Calling the module `module_name` calls memreport.api.<api_name>."""

    class CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            from memreport import api

            return getattr(api, api_name)(*args, **kwargs)

    CallableModule.__call__.__doc__ = f"memreport.api.{api_name} (docs/API.md)."
    sys.modules[module_name].__class__ = CallableModule


__all__ = ["make_callable"]
