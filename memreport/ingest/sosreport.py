"""sosreport bundles (sos 3.x and 4.x), unpacked or as extracted by archive.py.

sos copies files at their real paths (proc/meminfo, sys/kernel/mm/ksm/*, etc/libvirt/qemu/*.xml,
var/log/sa/saDD) and puts command output under sos_commands/<plugin>/<mangled command>. Plugin and
file names moved between sos versions (3.x `general` plugin → 4.x `date`/`host`), so every item
has a fallback list, first match wins. The time series is the bundle's sar history; the /proc and
/sys files are one snapshot at the bundle's time (`date --utc` output).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from memreport.errors import InputError
from memreport.ingest import bundle, hosts, pagesize, sos_libvirt, virsh
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.model import HostData, LogEntry
from memreport.units import is_digits

KIND = "sosreport"

HOSTNAME = (
    "sos_commands/host/hostname",
    "sos_commands/general/hostname",
    "hostname",
    "etc/hostname",
    "proc/sys/kernel/hostname",
    "sos_commands/host/hostname_-f",
)
# /etc/machine-id when a plugin copied it; dbus (sos 4.x) copies /var/lib/dbus/machine-id, the same
# id on systemd hosts; `hostnamectl status` (host plugin) prints it as "Machine ID:".
MACHINE_ID = ("etc/machine-id", "var/lib/dbus/machine-id")
HOSTNAMECTL = (
    "sos_commands/host/hostnamectl_status",
    "sos_commands/systemd/hostnamectl_status",
    "sos_commands/general/hostnamectl_status",
)
DATE_UTC = ("sos_commands/date/date_--utc", "sos_commands/general/date_--utc")
DATE_LOCAL = ("sos_commands/date/date", "sos_commands/general/date", "date")
UNAME = ("sos_commands/kernel/uname_-a", "sos_commands/general/uname_-a", "uname")
PROC = {
    "meminfo": ("proc/meminfo",),
    "vmstat": ("proc/vmstat",),
    "psi": ("proc/pressure/memory",),  # sos >= 4.1, kernel >= 4.20
    "swaps": ("proc/swaps",),
    "boot_id": ("proc/sys/kernel/random/boot_id",),
}
KSM_DIRS = ("sys/kernel/mm/ksm",)
FREE = (
    ("sos_commands/memory/free", 1024),
    ("sos_commands/memory/free_-k", 1024),
    ("sos_commands/memory/free_-b", 1),
    ("sos_commands/memory/free_-m", 1024**2),
    ("free", 1024),
)
SYSCTL = ("sos_commands/kernel/sysctl_-a", "sos_commands/general/sysctl_-a")
VM_SYSCTL_FILES = ("swappiness", "overcommit_memory", "overcommit_ratio")
GETCONF = ("sos_commands/*/getconf_PAGESIZE", "sos_commands/*/getconf_PAGE_SIZE", "sos_commands/*/getconf_-a")
CPUINFO = ("proc/cpuinfo",)
LSCPU = ("sos_commands/processor/lscpu", "sos_commands/cpu/lscpu")
# sar: sadf XML made by sos first (UTC, full precision), then sar text, then the binary files.
SAR_DIRS = ("sos_commands/sar", "var/log/sa", "var/log/sysstat")
PS = (
    "sos_commands/process/ps_auxwww",
    "sos_commands/process/ps_auxfwww",
    "sos_commands/process/ps_alxwww",
    "sos_commands/process/ps_auxwwwm",
    "ps",
)


def sniff(path: Path) -> bool:
    if not path.is_dir():
        return False
    if not (path / "sos_commands").is_dir():
        return False
    return any((path / p).exists() for p in ("sos_reports", "sos_logs", "proc", "version.txt", "sys"))


def _text(root: Path, p: Path | None, log: list[LogEntry]) -> str | None:
    if p is None:
        return None
    try:
        return bundle.read_text(p)
    except bundle.Unreadable as e:
        log.append(LogEntry("warn", e.event, e.reason, file=str(p.relative_to(root)), line=e.line))
        return None


def _first_text(root: Path, candidates: tuple[str, ...], log: list[LogEntry]) -> tuple[Path | None, str | None]:
    p = bundle.first_existing(root, candidates)
    return p, _text(root, p, log)


def read(path: Path, label: str, opts: IngestOptions = DEFAULT) -> list[HostData]:
    root = Path(path)
    log: list[LogEntry] = []
    found = bundle.Found(kind=KIND, extra={"bundle": root.name})
    _, text = _first_text(root, HOSTNAME, log)
    if text and text.strip():
        found.hostname = text.strip().splitlines()[0].split(".")[0] or None
    _, text = _first_text(root, MACHINE_ID, log)
    found.machine_id = hosts.parse_machine_id(text)
    if found.machine_id is None:
        _, text = _first_text(root, HOSTNAMECTL, log)
        found.machine_id = hosts.machine_id_from_hostnamectl(text)
    # time: date --utc, then date (with its zone), then sos's manifest (local time, no zone)
    for cands in (DATE_UTC, DATE_LOCAL):
        dp, text = _first_text(root, cands, log)
        if text:
            when, zone = bundle.parse_date_output(text)
            if when is not None:
                found.when, found.when_source = when, str(dp.relative_to(root)) if dp else None
                if cands is DATE_LOCAL and zone and found.zone is None:
                    found.zone = bundle.zone_of(zone)
                break
            log.append(
                LogEntry(
                    "warn",
                    "bad_timestamp",
                    f"date output {text.strip()[:60]!r} not understood (zone {zone})",
                    file=str(dp.relative_to(root)) if dp else None,
                )
            )
    found.zone = bundle.localtime_zone(root) or found.zone
    if found.zone is None:
        _, text = _first_text(root, DATE_LOCAL, [])
        if text:
            _, zone = bundle.parse_date_output(text)
            found.zone = bundle.zone_of(zone)
    manifest = root / "sos_reports" / "manifest.json"
    if bundle.inside(root, manifest):
        try:
            m = json.loads(bundle.read_text(manifest, 64 * 1024**2))
            found.collector_version = str(m.get("version") or "") or None
            if m.get("policy"):
                found.extra = {**(found.extra or {}), "sos_policy": str(m["policy"])}
        except (ValueError, bundle.Unreadable, AttributeError):
            log.append(LogEntry("info", "bad_value", "manifest.json not readable: ignored", file="sos_reports/manifest.json"))
    elif (root / "version.txt").is_file():
        v = _text(root, root / "version.txt", log) or ""
        found.collector_version = v.strip().splitlines()[0][:40] if v.strip() else None  # sos 3.x
    up, text = _first_text(root, UNAME, log)
    if text and text.split():
        words = text.split()
        found.kernel = words[2] if len(words) > 2 else None
        found.arch = pagesize.arch_from_uname(text)
        found.arch_from = str(up.relative_to(root)) if up else None
    # /proc and /sys
    proc: dict[str, tuple[str, str]] = {}
    for what, where in PROC.items():
        pp, text = _first_text(root, where, log)
        if pp is not None and text is not None:
            proc[what] = (str(pp), text)
    found.proc = proc
    for d in KSM_DIRS:
        kd = root / d
        if kd.is_dir() and not kd.is_symlink():
            files = {}
            for kf in sorted(kd.iterdir()):
                if bundle.inside(root, kf):
                    t = _text(root, kf, log)
                    if t is not None:
                        files[kf.name] = t
            found.ksm = files or None
            break
    for rel, unit in FREE:
        if bundle.inside(root, root / rel):
            t = _text(root, root / rel, log)
            if t:
                found.free = bundle.parse_free(t, unit)
                break
    sysctl: dict[str, str] = {}
    _, text = _first_text(root, SYSCTL, log)
    if text:
        sysctl.update(bundle.parse_sysctl(text))
    for name in VM_SYSCTL_FILES:
        vp = root / "proc/sys/vm" / name
        if bundle.inside(root, vp):
            t = _text(root, vp, log)
            if t and t.strip():
                sysctl[f"vm.{name}"] = t.strip()
    found.sysctl = sysctl
    gp, text = _first_text(root, GETCONF, log)
    if text:
        for line in text.splitlines():
            parts = line.split()
            if parts and is_digits(parts[-1]) and (len(parts) == 1 or parts[0] in ("PAGESIZE", "PAGE_SIZE")):
                found.page_size = int(parts[-1])
                found.page_size_from = str(gp.relative_to(root)) if gp else None
                break
    cp, text = _first_text(root, CPUINFO, log)
    if text:
        n = sum(1 for line in text.splitlines() if line.startswith("processor"))
        found.cpus = n or None
        if found.arch is None:
            found.arch = pagesize.arch_from_cpuinfo(text)
            found.arch_from = "proc/cpuinfo"
    lp, text = _first_text(root, LSCPU, log)
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key == "CPU(s)" and is_digits(value.strip()) and found.cpus is None:
            found.cpus = int(value)
        elif key == "Architecture" and found.arch is None and value.strip():
            found.arch = pagesize.normalise_arch(value)
            found.arch_from = str(lp.relative_to(root)) if lp else "lscpu"
    # sar history
    sar_files: list[Path] = []
    for d in SAR_DIRS:
        sd = root / d
        if sd.is_dir() and not sd.is_symlink():
            sar_files += [f for f in sorted(sd.iterdir()) if f.name.startswith("sa") and bundle.inside(root, f)]
    found.sar_files = sar_files
    # VMs: libvirt's view (sos_libvirt.py), then the qemu processes in ps
    vms, rows = sos_libvirt.read(root, lambda p: _text(root, p, log), log)
    _, text = _first_text(root, PS, log)
    if text:
        vms += [("ps", vm) for vm in virsh.parse_ps_qemu(text)]
    found.vms = vms
    found.virsh_rows = rows
    if not proc and not sar_files and not vms:
        raise InputError(label, "sosreport with no proc/meminfo, no sar history and no VM data: nothing to read")
    if "meminfo" not in proc:
        log.append(LogEntry("warn", "missing_source", "no proc/meminfo in the sosreport (memory plugin not run?)"))
    data = bundle.assemble(found, label, log, opts)
    if len(data.samples) and "ts" in data.samples:
        from memreport.ingest import sysfs_mem

        snap_ts = pd.Timestamp(data.samples["ts"].max())
        data.hugepages, data.numa = sysfs_mem.read(root, snap_ts, data.log)
    return [data]
