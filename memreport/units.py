"""Unit conversion at parse time. Display formatting lives in render/formatters.py."""

from __future__ import annotations

import re

KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4

_SUFFIX = {"b": 1, "k": KIB, "m": MIB, "g": GIB, "t": TIB, "p": 1024**5, "e": 1024**6}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpeb]?)(?:i?b)?\s*$", re.IGNORECASE)


def kib_to_bytes(value: int | None) -> int | None:
    return None if value is None else value * KIB


def pages_to_bytes(pages: int | None, page_size: int) -> int | None:
    return None if pages is None else pages * page_size


def size_value(text: str, bare: int = 1) -> float | None:
    """`4GiB`, `4G`, `4g`, `512MiB`, `64KiB`, `1.5G`, `4096` → bytes, exactly as written (binary
    suffixes; a bare number counts `bare` bytes per unit), so a caller can refuse a fraction of a
    byte. None if unparsable. The one size rule of memreport: qemu's `-m`, --vm-size, --page-size
    and byte settings all go through it."""
    m = _SIZE.match(text)
    if not m:
        return None
    number, suffix = m.groups()
    return float(number) * (_SUFFIX[suffix.lower()] if suffix else bare)


def parse_size(text: str, bare: int = 1) -> int | None:
    """size_value in whole bytes (a fraction of a byte is dropped)."""
    value = size_value(text, bare)
    return None if value is None else int(value)


def parse_qemu_size(text: str) -> int | None:
    """A qemu size (`-m` value): a bare number is MiB; suffixes k/M/G/T (binary). None if unparsable."""
    return parse_size(text, bare=MIB)


def parse_qemu_mem_arg(arg: str) -> tuple[int | None, int | None]:
    """qemu's `-m` argument -> (initial RAM bytes, maxmem bytes or None).

    Accepts `512`, `4G`, `size=4G`, `size=4G,slots=4,maxmem=8G` and the legacy `4096M,slots=..`.
    """
    size: int | None = None
    maxmem: int | None = None
    for i, part in enumerate(arg.split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            if i == 0:
                size = parse_qemu_size(key)
            continue
        if key.strip() == "size":
            size = parse_qemu_size(value)
        elif key.strip() == "maxmem":
            maxmem = parse_qemu_size(value)
    return size, maxmem


def is_digits(text: str) -> bool:
    """Only ASCII digits 0-9: what int() takes. str.isdigit() is also true for '²' or '①', which int() refuses."""
    return text.isascii() and text.isdigit()
