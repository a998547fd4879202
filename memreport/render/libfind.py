"""A quick ctypes.util.find_library for importing weasyprint on Linux.

weasyprint's bindings (cffi) look up gobject, pango, harfbuzz, fontconfig and pangoft2 under several
names each, most of them Windows' or macOS's ('libgobject-2.0-0', 'harfbuzz-0.0'). On Linux every
name that misses costs find_library three programs: `ldconfig -p`, then gcc (with collect2 and ld)
and ld: 22 programs for one import, ≈ 0.25 s of CPU and 0.2–0.35 s of wall time in every process
that renders a PDF (issue 12). Here `ldconfig -p` is read once and every name is answered from it,
with the pattern CPython's own _findSoname_ldconfig uses. A name it does not hold is a miss (weasyprint
goes on to its next name; its list ends in sonames such as 'libpango-1.0.so.0', which dlopen finds
on LD_LIBRARY_PATH too). Without ldconfig, or when it lists nothing, the real find_library answers.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import functools
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

LDCONFIG = ("/sbin/ldconfig", "/usr/sbin/ldconfig")
# CPython's ctypes.util: the ABI tag of this machine's entries in ldconfig's cache.
_ABI = {
    "x86_64-64": "libc6,x86-64",
    "ppc64-64": "libc6,64bit",
    "sparc64-64": "libc6,64bit",
    "s390x-64": "libc6,64bit",
    "ia64-64": "libc6,IA-64",
}


def _ldconfig_listing() -> str:
    for path in LDCONFIG:
        if os.access(path, os.X_OK):
            try:
                done = subprocess.run(
                    [path, "-p"], capture_output=True, text=True, env={"LC_ALL": "C", "LANG": "C"}, timeout=10, check=False
                )
            except (OSError, subprocess.SubprocessError):
                return ""
            return done.stdout if done.returncode == 0 else ""
    return ""


def finder(listing: str) -> Callable[[str], str | None]:
    """find_library answered from an `ldconfig -p` listing (memoised)."""
    machine = os.uname().machine + ("-64" if sys.maxsize > 2**32 else "-32")
    abi = _ABI.get(machine, "libc6")

    @functools.cache
    def find(name: str) -> str | None:
        m = re.search(rf"\s+(lib{re.escape(name)}\.[^\s]+)\s+\({abi}", listing)
        return m.group(1) if m else None

    return find


@contextlib.contextmanager
def quick_find_library() -> Iterator[None]:
    """ctypes.util.find_library answered from one `ldconfig -p` while the block runs (Linux only)."""
    if not sys.platform.startswith("linux"):
        yield
        return
    listing = _ldconfig_listing()
    if not listing.strip():
        yield
        return
    real = ctypes.util.find_library
    ctypes.util.find_library = finder(listing)  # type: ignore[assignment]
    try:
        yield
    finally:
        ctypes.util.find_library = real
