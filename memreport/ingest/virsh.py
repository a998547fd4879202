"""Pure parsers for what bundles say about VMs: `virsh dominfo`, `virsh dommemstat`, libvirt domain
XML (etc/libvirt/qemu/*.xml) and the VMs of `ps` output.

Sizes are bytes. libvirt's default unit is KiB; `KB`/`MB`/`GB` are powers of 1000, `k`/`KiB`/`M`… powers
of 1024 (libvirt formatdomain.html, "memory"). ps prints RSS in KiB.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from memreport.ingest.bundle import VmInfo
from memreport.ingest.proc_pid import parse_ps
from memreport.ingest.procfs import (
    BACKING_ANONYMOUS,
    BACKING_FILE,
    BACKING_HUGEPAGES,
    BACKING_MEMFD,
    ParseError,
    is_qemu,
    parse_qemu_argv,
)
from memreport.ingest.xmlsafe import parse_untrusted_xml
from memreport.units import KIB, is_digits

_LIBVIRT_UNITS = {
    "b": 1,
    "bytes": 1,
    "kb": 1000,
    "k": 1024,
    "kib": 1024,
    "mb": 1000**2,
    "m": 1024**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "g": 1024**3,
    "gib": 1024**3,
    "tb": 1000**4,
    "t": 1024**4,
    "tib": 1024**4,
}


def libvirt_size(value: str, unit: str | None) -> int | None:
    """A libvirt `<memory unit=…>` value in bytes; None when not a size (negative, not a number, an
    unknown unit) or past any memory (libvirt writes 2^53 - 1 KiB for "no limit")."""
    text = value.strip()
    scale = _LIBVIRT_UNITS.get((unit or "KiB").lower())
    if not is_digits(text) or scale is None:
        return None
    n = int(text) * scale
    return n if n < _MAX_VALUE * 1024 else None


def parse_domain_xml(text: str) -> VmInfo:
    """A libvirt domain: `<domain>` (etc/libvirt/qemu/*.xml, `virsh dumpxml`) or the live status file
    `<domstatus pid=…><domain>…` (run/libvirt/qemu/*.xml). What it says about memory (formatdomain.html):

    - `<memory>`: the allocation at boot, what the guest may take back by deflating its balloon;
      `<currentMemory>`: the balloon target; `<maxMemory>`: the hotplug ceiling.
    - `<memoryBacking>`: `<hugepages/>` puts the guest RAM in the hugetlb pool; else `<source type=
      'file'|'memfd'|'anonymous'/>` (anonymous when absent).
    - `<memtune>`: hard_limit, soft_limit, swap_hard_limit (the VM's memory cgroup).
    """
    root = parse_untrusted_xml(text)
    pid: int | None = None
    if root.tag == "domstatus":
        p = root.get("pid", "")
        pid = int(p) if is_digits(p) else None
        dom = root.find("domain")
        if dom is None:
            raise ParseError(None, "<domstatus> without a <domain>")
        root = dom
    if root.tag != "domain":
        raise ParseError(None, f"<{root.tag}> is not a libvirt <domain>")
    name = (root.findtext("name") or "").strip()
    if not name:
        raise ParseError(None, "domain without <name>")

    def size(tag: str) -> int | None:
        el = root.find(tag)
        return None if el is None or el.text is None else libvirt_size(el.text, el.get("unit"))

    return VmInfo(
        name=name,
        uuid=(root.findtext("uuid") or "").strip() or None,
        pid=pid,
        allocated_bytes=size("memory"),
        maxmem_bytes=size("maxMemory"),
        current_bytes=size("currentMemory"),
        backing=domain_backing(root),
        hard_limit_bytes=size("memtune/hard_limit"),
        soft_limit_bytes=size("memtune/soft_limit"),
        swap_hard_limit_bytes=size("memtune/swap_hard_limit"),
    )


def domain_backing(dom: ET.Element) -> str:
    """anonymous | hugepages | file | memfd from a <domain>'s <memoryBacking> (libvirt's default is anonymous)."""
    if dom.find("memoryBacking/hugepages") is not None:
        return BACKING_HUGEPAGES
    source = dom.find("memoryBacking/source")
    kind = source.get("type", "") if source is not None else ""
    return kind if kind in (BACKING_FILE, BACKING_MEMFD) else BACKING_ANONYMOUS


def parse_memtune(text: str) -> dict[str, int | None]:
    """`virsh memtune DOM` (`hard_limit     : 524288`, KiB, or `unlimited`) -> {hard_limit: bytes or None}.
    A key missing from the output is missing from the result; `unlimited` is None (no limit)."""
    out: dict[str, int | None] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or key not in MEMTUNE_KEYS:
            continue
        # libvirt's "no limit" is 9007199254740991 KiB (2^53 - 1) where it prints a number.
        if value == "unlimited" or (is_digits(value) and int(value) >= _MAX_VALUE):
            out[key] = None
        elif is_digits(value):
            out[key] = int(value) * KIB
        else:
            raise ParseError(None, f"memtune {key} {value[:30]!r} is neither KiB nor 'unlimited'")
    if not out:
        raise ParseError(None, "no hard_limit/soft_limit/swap_hard_limit lines: not virsh memtune output")
    return out


MEMTUNE_KEYS = ("hard_limit", "soft_limit", "swap_hard_limit")


def parse_dominfo(text: str) -> tuple[VmInfo, dict[str, int]]:
    """`virsh dominfo DOM` -> (VM, virsh rows {max_memory, used_memory} in bytes)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    name = fields.get("name")
    if not name:
        raise ParseError(None, "no 'Name:' line: not virsh dominfo output")
    rows: dict[str, int] = {}
    for key, store in (("max memory", "max_memory"), ("used memory", "used_memory")):
        parts = fields.get(key, "").split()
        if parts and is_digits(parts[0]):
            b = libvirt_size(parts[0], parts[1] if len(parts) > 1 else "KiB")
            if b is not None:
                rows[store] = b
    # "Used memory" is the balloon's current size as libvirt last heard it from qemu.
    vm = VmInfo(
        name=name, uuid=fields.get("uuid") or None, allocated_bytes=rows.get("max_memory"), current_bytes=rows.get("used_memory")
    )
    return vm, rows


_MAX_VALUE = 2**52
# dommemstat keys that are KiB (virsh(1)); the rest (faults, last_update) are counts.
_DOMMEMSTAT_KIB = frozenset({"actual", "swap_in", "swap_out", "unused", "available", "usable", "rss", "disk_caches"})


def parse_dommemstat(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        # Counters and KiB sizes are never negative; one past 2^52 is no memory size and would
        # overflow int64 once in bytes: both are left out.
        if len(parts) == 2 and is_digits(parts[1]) and int(parts[1]) < _MAX_VALUE:
            v = int(parts[1])
            out[parts[0]] = v * KIB if parts[0] in _DOMMEMSTAT_KIB else v
    return out


def parse_ps_qemu(text: str) -> list[VmInfo]:
    """qemu processes with a `-name` in `ps` output (proc_pid.parse_ps: columns by header name)."""
    try:
        rows = parse_ps(text)
    except ParseError:
        return []
    out: list[VmInfo] = []
    for row in rows:
        if not row.argv or not is_qemu(row.argv[0]):
            continue
        q = parse_qemu_argv(list(row.argv))
        if q.name:
            out.append(
                VmInfo(
                    name=q.name,
                    uuid=q.uuid,
                    pid=row.pid,
                    allocated_bytes=q.allocated_bytes,
                    maxmem_bytes=q.maxmem_bytes,
                    rss_bytes=row.rss_bytes,
                    backing=q.backing,
                )
            )
    return out


_MANGLED = re.compile(r"^virsh_(?:-r_)?(dominfo|dommemstat|memtune|dumpxml)_(.+)$")


def domain_from_filename(name: str) -> str | None:
    """sos_commands/virsh/virsh_-r_dominfo_web01 -> web01 (sos mangles spaces to _)."""
    m = _MANGLED.match(name)
    return m.group(2) if m else None


def command_from_filename(name: str) -> str | None:
    """sos_commands/virsh/virsh_-r_memtune_web01 -> memtune."""
    m = _MANGLED.match(name)
    return m.group(1) if m else None


def parse_numa_maps_hugetlb(text: str) -> int:
    """Bytes of hugetlb pages a process has faulted in, from /proc/<pid>/numa_maps (sos's libvirt plugin
    copies it for each qemu): the `huge` mappings' per-node page counts `N<node>=<pages>` times their
    `kernelpagesize_kB` (kernel docs, numa_memory_policy.rst / proc.rst). /proc/<pid>/status HugetlbPages
    says the same where a bundle has it; hugetlb pages are not in VmRSS."""
    total = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if "huge" not in words[2:]:
            continue
        page = next((w.partition("=")[2] for w in words if w.startswith("kernelpagesize_kB=")), "")
        if not is_digits(page):
            raise ParseError(lineno, "a huge mapping without kernelpagesize_kB")
        pages = sum(
            int(w.partition("=")[2])
            for w in words
            if w.startswith("N") and w.partition("=")[0][1:].isdigit() and is_digits(w.partition("=")[2])
        )
        total += pages * int(page) * KIB
        if total >= _MAX_VALUE * KIB:
            raise ParseError(lineno, "hugetlb pages past any memory size")
    return total
