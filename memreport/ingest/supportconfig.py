"""SUSE supportconfig bundles (scc_<host>_<date>_<time>.txz, or unpacked).

Flat text files; each entry starts with a marker line `#==[ Command ]====#` (or `Configuration
File`, `System File`, `Note`, …) followed by `# <command or path>`, then the output. memory.txt has
`free -k`, `vmstat 1 4`, /proc/meminfo, /proc/vmstat and vm sysctls; basic-environment.txt the date
and uname; sar/ the sa/sar files; libvirt domain XML and qemu command lines come from
virt*.txt / plugin-*.txt / basic-health-check.txt. supportconfig collects no KSM values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from memreport.errors import InputError
from memreport.ingest import bundle, hosts, pagesize, virsh
from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.ingest.procfs import ParseError
from memreport.model import HostData, LogEntry
from memreport.units import is_digits

KIND = "supportconfig"

_MARK = re.compile(r"^#==\[ (.+?) \]=+#\s*$")
SAR_DIRS = ("sar", "sa")


@dataclass(frozen=True)
class Section:
    file: str
    line: int  # line of the marker, 1-based
    kind: str  # Command | Configuration File | System File | ...
    what: str  # the command or path after '# '
    body: str


def parse_sections(text: str, file: str = "") -> list[Section]:
    """Split a supportconfig text file at its `#==[ … ]===#` markers."""
    out: list[Section] = []
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _MARK.match(line)]
    for n, i in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        kind = _MARK.match(lines[i]).group(1)  # type: ignore[union-attr]
        what = lines[i + 1][1:].strip() if i + 1 < end and lines[i + 1].startswith("#") else ""
        body_from = i + 2 if what else i + 1
        out.append(Section(file, i + 1, kind, what, "\n".join(lines[body_from:end]).strip("\n") + "\n"))
    return out


def sniff(path: Path) -> bool:
    if not path.is_dir():
        return False
    for name in ("basic-environment.txt", "memory.txt", "supportconfig.txt"):
        p = path / name
        if p.is_file():
            try:
                with p.open("rb") as f:
                    if b"#==[" in f.read(65536):
                        return True
            except OSError:
                continue
    return False


def _cmd(section: Section) -> list[str]:
    """`/usr/bin/vmstat 1 4` -> ['vmstat', '1', '4']."""
    parts = section.what.split()
    if parts:
        parts[0] = parts[0].rsplit("/", 1)[-1]
    return parts


def read(path: Path, label: str, opts: IngestOptions = DEFAULT) -> list[HostData]:
    root = Path(path)
    log: list[LogEntry] = []
    sections: list[Section] = []
    for f in sorted(root.glob("*.txt")):
        if not bundle.inside(root, f):
            continue
        try:
            sections += parse_sections(bundle.read_text(f), f.name)
        except bundle.Unreadable as e:
            log.append(LogEntry("warn", e.event, e.reason, file=f.name, line=e.line))
    if not sections:
        raise InputError(label, "supportconfig with no readable '#==[ … ]==#' sections")
    found = bundle.Found(kind=KIND, extra={"bundle": root.name})
    proc: dict[str, tuple[str, str]] = {}
    vms: list[tuple[str, bundle.VmInfo]] = []
    rows: list[tuple[str, str, int]] = []
    vmstat_out: list[tuple[str, str, int | None]] = []
    sysctl: dict[str, str] = {}
    for s in sections:
        cmd = _cmd(s)
        name = cmd[0] if cmd else ""
        at = f"{s.file}:{s.line}"
        if s.what in ("/proc/meminfo", "/proc/vmstat", "/proc/swaps", "/proc/pressure/memory", "/proc/sys/kernel/random/boot_id"):
            key = {
                "/proc/meminfo": "meminfo",
                "/proc/vmstat": "vmstat",
                "/proc/swaps": "swaps",
                "/proc/pressure/memory": "psi",
                "/proc/sys/kernel/random/boot_id": "boot_id",
            }[s.what]
            proc.setdefault(key, (at, s.body))
        elif s.what.startswith("/sys/kernel/mm/ksm/"):
            found.ksm = {**(found.ksm or {}), s.what.rsplit("/", 1)[-1]: s.body}
        elif s.what.startswith("/proc/sys/vm/"):
            sysctl[f"vm.{s.what.rsplit('/', 1)[-1]}"] = s.body.strip()
        elif name == "sysctl":
            sysctl.update(bundle.parse_sysctl(s.body))
        elif name == "free" and found.free is None:
            unit = 1 if "-b" in cmd else (1024**2 if "-m" in cmd else 1024)
            found.free = bundle.parse_free(s.body, unit) or None
        elif name == "vmstat" and not any(c.startswith("-s") or c.startswith("-d") for c in cmd[1:]):
            interval = next((int(c) for c in cmd[1:] if is_digits(c)), None)
            text = s.body if "-S" not in cmd else f"vmstat {' '.join(cmd[1:])}\n{s.body}"
            vmstat_out.append((at, text, interval))
        elif name == "date" and found.when is None:
            when, zone = bundle.parse_date_output(s.body)
            if when is not None:
                found.when, found.when_source = when, at
                found.zone = found.zone or bundle.zone_of(zone)
        elif name == "uname" and found.kernel is None:
            words = s.body.split()
            if len(words) > 2:
                found.hostname = found.hostname or words[1].split(".")[0]
                found.kernel = words[2]
                uname_arch = pagesize.arch_from_uname(s.body)
                if uname_arch:
                    found.arch, found.arch_from = uname_arch, f"uname output ({at})"
        elif s.what in ("/etc/machine-id", "/var/lib/dbus/machine-id") and found.machine_id is None:
            found.machine_id = hosts.parse_machine_id(s.body)
        elif name == "hostnamectl" and found.machine_id is None:  # systemd.txt: `hostnamectl status`
            found.machine_id = hosts.machine_id_from_hostnamectl(s.body)
        elif name == "hostname" and s.body.strip():
            found.hostname = s.body.strip().splitlines()[0].split(".")[0]
        elif name == "getconf" and ("PAGESIZE" in cmd or "PAGE_SIZE" in cmd) and is_digits(s.body.strip()):
            found.page_size = int(s.body.strip())
            found.page_size_from = f"getconf output ({at})"
        elif re.match(r"^(/var)?/(etc|run)/libvirt/qemu/[^/]+\.xml$", s.what):
            live = "/run/" in s.what
            try:
                vms.append(("libvirt live XML" if live else "libvirt XML", virsh.parse_domain_xml(s.body)))
            except ParseError as e:
                log.append(LogEntry("warn", "bad_value", f"{e.reason}: skipped", file=at))
        elif name == "virsh" and any(c in cmd for c in ("dominfo", "dommemstat", "memtune", "dumpxml")):
            dom = cmd[-1]
            try:
                if "dominfo" in cmd:
                    vm, info = virsh.parse_dominfo(s.body)
                    vms.append(("virsh dominfo", vm))
                    rows += [(vm.name, k, v) for k, v in info.items()]
                elif "dommemstat" in cmd:
                    stats = virsh.parse_dommemstat(s.body)
                    rows += [(dom, k, v) for k, v in stats.items()]
                    if "actual" in stats:
                        vms.append(("virsh dommemstat", bundle.VmInfo(dom, current_bytes=stats["actual"])))
                elif "memtune" in cmd:
                    tune = virsh.parse_memtune(s.body)
                    rows += [(dom, k, v) for k, v in tune.items() if v is not None]
                    vms.append(
                        (
                            "virsh memtune",
                            bundle.VmInfo(
                                dom,
                                hard_limit_bytes=tune.get("hard_limit"),
                                soft_limit_bytes=tune.get("soft_limit"),
                                swap_hard_limit_bytes=tune.get("swap_hard_limit"),
                            ),
                        )
                    )
                else:
                    vms.append(("libvirt live XML", virsh.parse_domain_xml(s.body)))
            except ParseError as e:
                log.append(LogEntry("warn", "bad_value", f"{e.reason}: skipped", file=at))
        elif name == "ps":
            vms += [("ps", vm) for vm in virsh.parse_ps_qemu(s.body)]
        elif (name == "cat" and len(cmd) > 1 and cmd[1] == "/proc/cpuinfo") or s.what == "/proc/cpuinfo":
            found.cpus = sum(1 for line in s.body.splitlines() if line.startswith("processor")) or None
            cpu_arch = pagesize.arch_from_cpuinfo(s.body)
            if cpu_arch and found.arch is None:
                found.arch, found.arch_from = cpu_arch, f"/proc/cpuinfo ({at})"
    found.proc, found.vms, found.virsh_rows, found.sysctl, found.vmstat_outputs = proc, vms, rows, sysctl, vmstat_out
    sar_files: list[Path] = []
    for d in SAR_DIRS:
        sd = root / d
        if sd.is_dir() and not sd.is_symlink():
            sar_files += [f for f in sorted(sd.rglob("sa*")) if bundle.inside(root, f)]
    found.sar_files = sar_files
    if found.hostname is None:
        m = re.match(r"^scc_([^_]+)_", root.name)
        found.hostname = m.group(1) if m else None
    if not proc and not sar_files and not vmstat_out:
        raise InputError(label, "supportconfig without /proc/meminfo, vmstat or sar data: nothing to read")
    if found.ksm is None:
        log.append(LogEntry("info", "missing_source", "supportconfig collects no KSM values"))
    return [bundle.assemble(found, label, log, opts)]
