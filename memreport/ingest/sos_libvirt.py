"""What a sosreport says about each libvirt domain (sos's libvirt, virsh and cgroups plugins).

- etc/libvirt/qemu/<dom>.xml: the persistent definition (every defined domain, running or not);
- run/libvirt/qemu/<dom>.xml (var/run/… on older sos): the live `<domstatus pid=…>` of a running domain,
  and sos_commands/virsh/virsh_-r_dumpxml_<dom>: the live XML too;
- sos_commands/virsh/virsh_-r_dominfo_<dom> (Used memory: the balloon), …_dommemstat_<dom> (actual),
  …_memtune_<dom> where a sos version or a site plugin ran them;
- proc/<pid>/numa_maps of each qemu (the libvirt plugin copies it): its hugetlb pages;
- proc/<pid>/cgroup and the cgroups plugin's copy of sys/fs/cgroup: the VM's memory cgroup limits.

Pure parsers are in virsh.py and proc_pid.py; this module only finds the files and says where each
value came from (the source names of bundle.SOURCE_ORDER).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from memreport.ingest import bundle, proc_pid, virsh
from memreport.ingest.bundle import VmInfo
from memreport.ingest.procfs import ParseError
from memreport.model import LogEntry

VIRSH_DIRS = ("sos_commands/virsh", "sos_commands/libvirt", "sos_commands/kvm")
CONFIG_XML = ("etc/libvirt/qemu/*.xml",)
LIVE_XML = ("run/libvirt/qemu/*.xml", "var/run/libvirt/qemu/*.xml")
# cgroup v1 file -> VmInfo field (libvirt's mapping of <memtune>, vircgroupv1.c); v2 in V2_FILES.
V1_FILES = {
    "memory.limit_in_bytes": "hard_limit_bytes",
    "memory.soft_limit_in_bytes": "soft_limit_bytes",
    "memory.memsw.limit_in_bytes": "swap_hard_limit_bytes",
}
# v2 (vircgroupv2.c): hard_limit -> memory.max, soft_limit -> memory.high. memory.swap.max is swap alone,
# not libvirt's memory + swap, so it is not read as swap_hard_limit.
V2_FILES = {"memory.max": "hard_limit_bytes", "memory.high": "soft_limit_bytes"}

Reader = Callable[[Path], "str | None"]


def read(root: Path, text: Reader, log: list[LogEntry]) -> tuple[list[tuple[str, VmInfo]], list[tuple[str, str, int]]]:
    """(VMs by source, virsh rows (domain, key, value)) from one unpacked sosreport."""
    vms: list[tuple[str, VmInfo]] = []
    rows: list[tuple[str, str, int]] = []

    def rel(p: Path) -> str:
        return str(p.relative_to(root))

    for d in VIRSH_DIRS:
        vd = root / d
        if not vd.is_dir() or vd.is_symlink():
            continue
        for vf in sorted(vd.iterdir()):
            command, dom = virsh.command_from_filename(vf.name), virsh.domain_from_filename(vf.name)
            if command is None or dom is None or not bundle.inside(root, vf):
                continue
            t = text(vf)
            if not t or not t.strip():
                continue
            try:
                if command == "dominfo":
                    vm, info = virsh.parse_dominfo(t)
                    vms.append(("virsh dominfo", vm))
                    rows += [(vm.name, k, v) for k, v in info.items()]
                elif command == "dommemstat":
                    stats = virsh.parse_dommemstat(t)
                    rows += [(dom, k, v) for k, v in stats.items()]
                    if "actual" in stats:
                        vms.append(("virsh dommemstat", VmInfo(dom, current_bytes=stats["actual"])))
                elif command == "memtune":
                    tune = virsh.parse_memtune(t)
                    rows += [(dom, f"{k}", v) for k, v in tune.items() if v is not None]
                    vms.append(("virsh memtune", _limits(dom, tune)))
                else:  # dumpxml: the live definition
                    vms.append(("libvirt live XML", virsh.parse_domain_xml(t)))
            except ParseError as e:
                log.append(LogEntry("warn", "bad_value", f"{e.reason}: skipped", file=rel(vf), line=e.line))
    for source, patterns in (("libvirt live XML", LIVE_XML), ("libvirt XML", CONFIG_XML)):
        for pattern in patterns:
            for xf in sorted(root.glob(pattern)):
                if not bundle.inside(root, xf):
                    continue
                t = text(xf)
                if not t:
                    continue
                try:
                    vms.append((source, virsh.parse_domain_xml(t)))
                except ParseError as e:
                    log.append(LogEntry("warn", "bad_value", f"{e.reason}: skipped", file=rel(xf), line=e.line))
    # The qemu pid of each running domain (live XML's <domstatus pid=…>, else run/…/<dom>.pid): its
    # numa_maps and memory cgroup.
    pids: dict[str, int] = {vm.name: vm.pid for s, vm in vms if s == "libvirt live XML" and vm.pid is not None}
    for pattern in ("run/libvirt/qemu/*.pid", "var/run/libvirt/qemu/*.pid"):
        for pf in sorted(root.glob(pattern)):
            t = text(pf) if bundle.inside(root, pf) else None
            if t and t.strip().isdigit() and pf.stem != "driver":
                pids.setdefault(pf.stem, int(t.strip()))
    for name, pid in sorted(pids.items()):
        maps = root / "proc" / str(pid) / "numa_maps"
        if bundle.inside(root, maps):
            t = text(maps)
            if t is not None:
                try:
                    vms.append(("numa_maps", VmInfo(name, pid=pid, hugepages_bytes=virsh.parse_numa_maps_hugetlb(t))))
                except ParseError as e:
                    log.append(
                        LogEntry("warn", "bad_value", f"{e.reason}: hugetlb pages of {name} unknown", file=rel(maps), line=e.line)
                    )
        limits = _cgroup_limits(root, pid, text, log)
        if limits is not None:
            limits.name = name
            vms.append(("memory cgroup", limits))
    return vms, rows


def _limits(name: str, tune: dict[str, int | None]) -> VmInfo:
    return VmInfo(
        name,
        hard_limit_bytes=tune.get("hard_limit"),
        soft_limit_bytes=tune.get("soft_limit"),
        swap_hard_limit_bytes=tune.get("swap_hard_limit"),
    )


def _cgroup_limits(root: Path, pid: int, text: Reader, log: list[LogEntry]) -> VmInfo | None:
    """The limits of the memory cgroup proc/<pid>/cgroup names, from the cgroups plugin's copy of sys/fs/cgroup."""
    cg = root / "proc" / str(pid) / "cgroup"
    t = text(cg) if bundle.inside(root, cg) else None
    if not t:
        return None
    dirs: list[tuple[Path, dict[str, str]]] = []
    for line in t.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        path = parts[2].strip().lstrip("/")
        if "memory" in parts[1].split(","):
            dirs.append((root / "sys/fs/cgroup/memory" / path, V1_FILES))
        elif parts[0] == "0" and parts[1] == "":
            dirs += [(root / "sys/fs/cgroup" / path, V2_FILES), (root / "sys/fs/cgroup/unified" / path, V2_FILES)]
    vm = VmInfo(f"pid {pid}")
    found = False
    for d, files in dirs:
        for fname, field in files.items():
            f = d / fname
            if not bundle.inside(root, f):
                continue
            v = text(f)
            if v is None:
                continue
            try:
                setattr(vm, field, proc_pid.parse_cgroup_value(v))
                found = True
            except ParseError as e:
                log.append(LogEntry("warn", "bad_value", f"{e.reason}: skipped", file=str(f.relative_to(root)), line=e.line))
    return vm if found else None
