"""One host name -> one directory name, for every directory memreport names after a host: the
report's OUTDIR/<host>/, the fleet's hosts/<host>/ and claims, and the store's host=<host>/.

Host names come from customer data: they can hold `/`, `..`, markup, any Unicode, and be longer
than a file name may be (ENAMETOOLONG at 255 bytes). A plain name (letters, digits, `.`, `_`,
`-`, at most MAX_NAME_CHARS) is used as it is; any other is cleaned, cut and given a hash of the
full name, so that two names that clean up alike (`web<1>`, `web_1_`) never share a directory.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME_CHARS = 100  # + "-" + HASH_CHARS: far below NAME_MAX (255 bytes), room for a prefix
HASH_CHARS = 12
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# A plain name that already ends like a hashed one gets a hash too: no name can pose as another's.
_LOOKS_HASHED = re.compile(rf"-[0-9a-f]{{{HASH_CHARS}}}$")


def host_dir_name(host: str) -> str:
    """The directory name of `host`: safe, at most MAX_NAME_CHARS + 1 + HASH_CHARS characters of
    [A-Za-z0-9._-], never `.`/`..`, and distinct for distinct host names."""
    name = _UNSAFE.sub("_", host).strip(".")[:MAX_NAME_CHARS] or "host"
    if name != host or _LOOKS_HASHED.search(name):
        name += "-" + hashlib.sha256(host.encode("utf-8", "surrogateescape")).hexdigest()[:HASH_CHARS]
    return name


def partition_name(host: str) -> str:
    """The store's hive partition directory of a host (docs/STORE.md)."""
    return "host=" + host_dir_name(host)


__all__ = ["HASH_CHARS", "MAX_NAME_CHARS", "host_dir_name", "partition_name"]
