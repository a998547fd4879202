"""weasyprint's libraries found from one `ldconfig -p` (memreport/render/libfind.py): the lookup
answers as CPython's does from the listing, and importing the renderer starts no compiler."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from memreport.render import libfind

LISTING = """\
1234 libs found in cache `/etc/ld.so.cache'
\tlibpango-1.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libpango-1.0.so.0
\tlibgobject-2.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libgobject-2.0.so.0
\tlibgobject-2.0.so.0 (libc6) => /lib/i386-linux-gnu/libgobject-2.0.so.0
\tlibfontconfig.so.1 (libc6,AArch64) => /lib/aarch64-linux-gnu/libfontconfig.so.1
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the listing above is an x86_64 machine's")
def test_names_are_answered_from_the_listing_as_cpython_does():
    find = libfind.finder(LISTING)
    assert find("gobject-2.0") == "libgobject-2.0.so.0"
    assert find("pango-1.0") == "libpango-1.0.so.0"
    # weasyprint's Windows and macOS names miss, as they do with ctypes' own lookup
    assert find("libgobject-2.0-0") is None
    assert find("gobject-2.0-0") is None
    # another architecture's entry is not this machine's library
    assert find("fontconfig") is None


def test_importing_the_renderer_starts_at_most_ldconfig():
    code = (
        "import sys, json\n"
        "runs = []\n"
        "sys.addaudithook(lambda event, args: runs.append(str(args[0])) if event == 'subprocess.Popen' else None)\n"
        "import memreport.render.weasy, ctypes.util\n"
        "print(json.dumps([runs, ctypes.util.find_library.__module__]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    runs, module = json.loads(out.stdout)
    assert all(os.path.basename(r) == "ldconfig" for r in runs), runs  # no gcc, no ld
    assert len(runs) <= 1
    assert module == "ctypes.util"  # the real lookup is back once weasyprint is imported
