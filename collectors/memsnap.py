#!/usr/bin/env python3
"""memsnap.py: memory snapshots of a Linux KVM host for memreport (capture format 1).

A single file with no dependencies beyond the standard library of Python 3.6 or later, so it can be
copied to a customer host and run there:

    python3 memsnap.py --output /var/tmp/memsnap --interval 10          # until Ctrl-C / SIGTERM
    nohup python3 memsnap.py --output /var/tmp/memsnap --duration 604800 --bundle &

It writes what docs/FORMAT.md (in the memreport source tree) describes: one tab-separated stream
per source per UTC day, each row with a single write() to a file opened with O_APPEND, so a
collector killed at any instant leaves every complete row readable.
"""

import argparse
import errno
import gzip
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time

VERSION = "1.3.0"
FORMAT = 1

# a qemu process: comm (truncated by the kernel to 15 characters) or argv[0] basename
VM_EXACT = ("qemu-kvm", "kvm")
VM_PREFIX = "qemu-system-"
VM_SCAN_SECONDS = 30.0  # new qemu processes are looked for this often, not every sample
KSMD_RETRY_SECONDS = 60.0  # a missing ksmd is looked for again this often
SIZE_CHECK_SECONDS = 60.0  # the disk bound is checked this often, at start and at every rotation
VIRSH_TIMEOUT = 30  # a hung libvirtd must not stall sampling

PSI_KEYS = ("some_avg10", "some_avg60", "some_avg300", "some_total",
            "full_avg10", "full_avg60", "full_avg300", "full_total")
SWAPS_KEYS = ("filename", "type", "size_kb", "used_kb", "priority")
VMS_KEYS = ("pid", "rss_kb", "swap_kb", "ksm_merging_pages", "ksm_profit", "hugetlb_kb")
VMDEFS_KEYS = ("pid", "name", "uuid", "mem_arg", "cmd", "mem_backend")
HUGEPAGES_KEYS = ("node", "size_kb", "nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages")
HUGEPAGES_DIR = "/sys/kernel/mm/hugepages"
NODES_DIR = "/sys/devices/system/node"
VIRSH_KEYS = ("domain", "key", "value")
DOMINFO_KEYS = {"Max memory": "max_memory_kb", "Used memory": "used_memory_kb", "State": "state"}
MEMTUNE_KEYS = {"hard_limit": "hard_limit_kb", "soft_limit": "soft_limit_kb", "swap_hard_limit": "swap_hard_limit_kb"}
DOMXML_KEYS = ("domain", "id", "xml")


def is_vm_name(name):
    return name.startswith(VM_PREFIX) or name in VM_EXACT


def is_int(text):
    body = text[1:] if text.startswith("-") else text
    return body.isdigit()


def parse_name_arg(arg):
    """The guest name of a qemu `-name` argument.

    `guest=web01,debug-threads=on` → web01; `web01,process=x` → web01; `,,` is an escaped comma.
    """
    parts = []
    cur = []
    i = 0
    while i < len(arg):
        if arg.startswith(",,", i):
            cur.append(",")
            i += 2
        elif arg[i] == ",":
            parts.append("".join(cur))
            cur = []
            i += 1
        else:
            cur.append(arg[i])
            i += 1
    parts.append("".join(cur))
    bare = None
    for part in parts:
        if part.startswith("guest="):
            return part[len("guest="):]
        if "=" not in part and bare is None:
            bare = part
    return bare or ""


def parse_qemu_cmdline(args):
    """(name, uuid, mem_arg, cmd) from a qemu argv; '-' for what is not given."""
    name = uuid = mem = "-"
    for prev, arg in zip(args, args[1:]):
        if prev in ("-name", "--name"):
            name = parse_name_arg(arg) or "-"
        elif prev in ("-uuid", "--uuid"):
            uuid = arg or "-"
        elif prev in ("-m", "--m"):
            mem = arg or "-"
    cmd = os.path.basename(args[0]) if args and args[0] else "-"
    return name, uuid, mem, cmd


def backing_args(args):
    """The memory-backing part of a qemu argv: `-mem-path P` and `-object memory-backend-*`, as one
    field: flag and value pairs joined by spaces, a space inside a value written \\040; '-' when none.
    memreport decides from it whether the guest is hugepage-backed."""
    out = []
    for prev, arg in zip(args, args[1:]):
        if prev in ("-mem-path", "--mem-path") or (prev in ("-object", "--object") and "memory-backend" in arg):
            out += [prev, arg.replace(" ", "\\040")]
    return " ".join(out) or "-"


def node_number(name):
    """`node12` -> '12', anything else -> None."""
    return name[4:] if name.startswith("node") and name[4:].isdigit() else None


def clean(value):
    """A value fit for a TSV field: no tab, no newline, '-' when empty."""
    value = value.replace("\t", " ").replace("\n", " ")
    return value if value else "-"


class Collector(object):
    def __init__(self, opts):
        self.opts = opts
        root = opts.root.rstrip("/")
        self.root = root
        self.out = os.path.abspath(opts.output)
        self.log_path = os.path.join(self.out, "collector.log")
        self.logged = set()
        self.stop = False
        self.euid = os.geteuid()
        # clock: wall time, or (hidden --start-epoch, for tests) a fixed start plus monotonic time
        self.mono0 = time.monotonic()
        self.epoch0 = opts.start_epoch
        # day files: stream -> fd of today's file; stream -> keys of the last header written
        self.day = None
        self.fds = {}
        self.headers = {}
        self.ksm_text = set()
        self.ksmd = None
        self.ksmd_next_try = 0.0
        self.vm_pids = []
        self.vm_start = {}  # pid -> start time when first seen: a reused pid is another process
        self.not_vm = set()
        self.next_vm_scan = 0.0
        self.next_virsh = 0.0
        self.dom_ids = {}  # domain -> the Id its XML was recorded for: a new Id is a new start
        self.next_size_check = 0.0
        self.samples = 0
        self.virsh = None

    # ---- basics ------------------------------------------------------------------------------
    def path(self, rel):
        return self.root + rel

    def now(self):
        if self.epoch0 is not None:
            return self.epoch0 + (time.monotonic() - self.mono0)
        return time.time()

    def reason(self, exc):
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied" if self.euid == 0 else "permission denied (not root)"
        if exc.errno == errno.ENOENT:
            return "not present"
        return exc.strerror or str(exc)

    def log(self, level, message):
        line = "%.3f\t%s\t%s\n" % (self.now(), level, message.replace("\n", " "))
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)

    def log_once(self, key, level, message):
        if key not in self.logged:
            self.logged.add(key)
            self.log(level, message)

    def read(self, rel, what=None):
        """Text of a file under the root, or None (logged once, with the reason, when `what`)."""
        path = self.path(rel)
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "surrogateescape")
        except OSError as e:
            if what:
                self.log_once(path, "warn", "%s: %s: %s" % (path, self.reason(e), what))
            return None

    def read_first_line(self, rel):
        text = self.read(rel)
        if text is None:
            return None
        text = text.split("\n", 1)[0].strip()
        return text

    # ---- files -------------------------------------------------------------------------------
    def put(self, stream, line):
        fd = self.fds.get(stream)
        if fd is None:
            name = "%s.%s.tsv" % (stream, self.day)
            fd = os.open(os.path.join(self.out, name), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                         0o644)
            self.fds[stream] = fd
        data = (line + "\n").encode("utf-8", "surrogateescape")
        # one write() per line: complete rows survive any kill
        n = os.write(fd, data)
        if n != len(data):
            self.log_once("short-write:" + stream, "error",
                          "%s: short write (%d of %d bytes): disk full?" % (stream, n, len(data)))

    def emit(self, stream, keys, row):
        """Append a row to today's file of stream, after a header when keys changed."""
        keys = tuple(keys)
        if self.headers.get(stream) != keys:
            self.put(stream, "#ts\t" + "\t".join(keys))
            self.headers[stream] = keys
        self.put(stream, "\t".join(row))

    def close_files(self):
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}
        self.headers = {}

    def set_day(self, day):
        if day == self.day:
            return False
        self.close_files()
        self.day = day
        self.compress_old()
        return True

    def compress_old(self):
        """gzip every day file older than today: tmp + rename, then the .tsv goes.

        A cut-short compression leaves only a .tmp that readers ignore. A .gz already there (the
        clock was set back) gets the new data appended as a second gzip member.
        """
        for name in sorted(os.listdir(self.out)):
            parts = name.split(".")
            if len(parts) != 3 or parts[2] != "tsv" or len(parts[1]) != 8 or not parts[1].isdigit():
                continue
            if parts[1] >= self.day:
                continue
            src = os.path.join(self.out, name)
            gz = src + ".gz"
            tmp = gz + ".tmp"
            try:
                with open(tmp, "wb") as raw:
                    if os.path.exists(gz):
                        with open(gz, "rb") as old:
                            shutil.copyfileobj(old, raw)
                    with open(src, "rb") as f, gzip.GzipFile(filename=name, mode="wb",
                                                             fileobj=raw) as z:
                        shutil.copyfileobj(f, z)
                os.rename(tmp, gz)
                os.unlink(src)
                self.log("info", "compressed " + name)
            except OSError as e:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                self.log_once("gzip:" + name, "warn",
                              "%s: compression failed (%s): left uncompressed" % (name, e))

    def disk_use(self):
        total = 0
        for dirpath, _dirs, files in os.walk(self.out):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                total += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
        return total

    def check_size(self):
        limit = self.opts.max_size * 1024 * 1024
        while True:
            used = self.disk_use()
            if used <= limit:
                return
            over = "output %s uses %d kB, over --max-size %s MB" % (self.out, used // 1024,
                                                                  fmt_num(self.opts.max_size))
            if self.opts.on_full == "stop":
                self.log("warn", over + ": stopping (--on-full stop)")
                self.stop = True
                return
            days = sorted(set(
                name.split(".")[1] for name in os.listdir(self.out)
                if name.endswith(".tsv.gz") and len(name.split(".")) == 4
                and name.split(".")[1].isdigit() and len(name.split(".")[1]) == 8))
            if not days:
                self.log("error", over + ", and no compressed day is left to delete: stopping")
                self.stop = True
                return
            oldest = days[0]
            for name in os.listdir(self.out):
                if name.endswith(".%s.tsv.gz" % oldest):
                    os.unlink(os.path.join(self.out, name))
            self.log("warn", over.replace("uses", "used") +
                     ": deleted day %s (--on-full rotate)" % oldest)

    # ---- sources -----------------------------------------------------------------------------
    def sample_clock(self, ts):
        boot_id = self.read_first_line("/proc/sys/kernel/random/boot_id")
        uptime = self.read_first_line("/proc/uptime")
        up = uptime.split()[0] if uptime else None
        self.emit("clock", ("boot_id", "uptime"), (ts, clean(boot_id or ""), clean(up or "")))

    def sample_keyed(self, ts, stream, rel, sep):
        """meminfo (`Key:   value kB`, split on the first ':') and vmstat (`key value`)."""
        text = self.read(rel, "%s not captured" % stream)
        if text is None:
            return
        keys = []
        row = [ts]
        for line in text.splitlines():
            if sep:
                key, _, rest = line.partition(sep)
            else:
                key, _, rest = line.strip().partition(" ")
            key = key.strip()
            if not key:
                continue
            fields = rest.split()
            keys.append(key)
            row.append(fields[0] if fields else "-")
        if keys:
            self.emit(stream, keys, row)

    def ksm_dir(self):
        return self.path("/sys/kernel/mm/ksm")

    def find_ksmd(self):
        try:
            pids = [p for p in os.listdir(self.path("/proc")) if p.isdigit()]
        except OSError:
            return None
        for pid in sorted(pids, key=int):
            comm = self.read_first_line("/proc/%s/comm" % pid)
            if comm == "ksmd":
                return pid
        return None

    def ksmd_ticks(self, mono):
        if self.ksmd is None and mono >= self.ksmd_next_try:
            self.ksmd = self.find_ksmd()
            if self.ksmd is None:
                self.ksmd_next_try = mono + KSMD_RETRY_SECONDS
                self.log_once("ksmd", "warn", "ksmd: no process with comm ksmd under %s: "
                              "ksmd_ticks written as -" % self.path("/proc"))
        if self.ksmd is None:
            return "-"
        stat = self.read_first_line("/proc/%s/stat" % self.ksmd)
        if not stat or "(ksmd) " not in stat:
            self.ksmd = None  # gone or pid reused: look again next sample
            return "-"
        # the comm field (2, in parentheses) may hold spaces: split after its closing ') '
        fields = stat.rsplit(") ", 1)[1].split()
        try:
            return str(int(fields[11]) + int(fields[12]))  # fields 14 (utime) and 15 (stime)
        except (IndexError, ValueError):
            return "-"

    def sample_ksm(self, ts, mono):
        ksm = self.ksm_dir()
        try:
            names = sorted(os.listdir(ksm))
        except OSError:
            return
        keys = []
        row = [ts]
        for name in names:
            if name in self.ksm_text:
                continue
            path = os.path.join(ksm, name)
            if not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as f:
                    value = f.read().decode("utf-8", "surrogateescape").strip()
            except OSError as e:
                self.log_once("ksm:" + name, "warn",
                              "%s: %s: written as -" % (path, self.reason(e)))
                value = "-"
            if value != "-" and not is_int(value):
                self.ksm_text.add(name)
                self.log_once("ksm:" + name, "info",
                              "%s: not a number: not in the ksm stream" % path)
                continue
            keys.append(name)
            row.append(value)
        keys.append("ksmd_ticks")
        row.append(self.ksmd_ticks(mono))
        self.emit("ksm", keys, row)

    def sample_psi(self, ts):
        text = self.read("/proc/pressure/memory")
        vals = {"some": ["-"] * 4, "full": ["-"] * 4}
        for line in (text or "").splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[0] in vals:
                vals[fields[0]] = [f.partition("=")[2] or "-" for f in fields[1:5]]
        self.emit("psi", PSI_KEYS, [ts] + vals["some"] + vals["full"])

    def sample_swaps(self, ts):
        text = self.read("/proc/swaps")
        for line in (text or "").splitlines()[1:]:
            fields = line.split()
            if not fields:
                continue
            fields = (fields + ["-"] * 5)[:5]
            self.emit("swaps", SWAPS_KEYS, [ts] + fields)

    def hugepage_rows(self, ts, node, rel):
        """One row per hugepages-<size>kB directory under rel (counts of pages, as the kernel gives)."""
        try:
            names = sorted(os.listdir(self.path(rel)))
        except OSError:
            return
        for name in names:
            size = name[len("hugepages-"):-2] if name.startswith("hugepages-") and name.endswith("kB") else ""
            if not size.isdigit():
                continue
            row = [ts, node, size]
            for key in HUGEPAGES_KEYS[2:]:
                value = self.read_first_line("%s/%s/%s" % (rel, name, key))
                row.append(value if value and is_int(value) else "-")
            self.emit("hugepages", HUGEPAGES_KEYS, row)

    def sample_hugepages(self, ts):
        """The host's hugepage pools, then each NUMA node's share (kernel docs, hugetlbpage.rst)."""
        self.hugepage_rows(ts, "-", HUGEPAGES_DIR)
        for node in self.nodes:
            self.hugepage_rows(ts, node, "%s/node%s/hugepages" % (NODES_DIR, node))

    def sample_numa(self, ts):
        """/sys/devices/system/node/node<N>/meminfo, one row per node: `Node N Key: value [kB]`."""
        for node in self.nodes:
            text = self.read("%s/node%s/meminfo" % (NODES_DIR, node), "numa not captured")
            if text is None:
                continue
            keys = ["node"]
            row = [ts, node]
            for line in text.splitlines():
                head, _, rest = line.partition(":")
                words = head.split()
                fields = rest.split()
                if len(words) == 3 and words[0] == "Node":
                    keys.append(words[2])
                    row.append(fields[0] if fields else "-")
            if len(keys) > 1:
                self.emit("numa", keys, row)

    def start_time(self, pid):
        """Field 22 of /proc/<pid>/stat (start time, clock ticks after boot): with the pid, the
        identity of a process. The comm field may hold spaces: split after its closing ') '."""
        text = self.read_first_line("/proc/%s/stat" % pid)
        if not text or ") " not in text:
            return None
        fields = text.rsplit(") ", 1)[1].split()
        return fields[19] if len(fields) >= 20 else None

    def vm_argv(self, pid):
        try:
            with open(self.path("/proc/%s/cmdline" % pid), "rb") as f:
                raw = f.read()
        except OSError:
            return None
        raw = raw.rstrip(b"\0")
        if not raw:
            return []
        return [a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0")]

    def scan_vms(self, ts):
        try:
            pids = sorted((p for p in os.listdir(self.path("/proc")) if p.isdigit()), key=int)
        except OSError as e:
            self.log_once("proc", "warn", "%s: %s: VMs not captured"
                          % (self.path("/proc"), self.reason(e)))
            return
        live = set(pids)
        self.not_vm &= live
        for pid in pids:
            if pid in self.vm_pids or pid in self.not_vm:
                continue
            comm = self.read_first_line("/proc/%s/comm" % pid)
            if comm is None:
                continue
            argv = None
            if not is_vm_name(comm):
                # a process renamed (qemu -name ...,process=X) still has its argv[0]
                argv = self.vm_argv(pid)
                if not argv or not is_vm_name(os.path.basename(argv[0])):
                    continue
            if argv is None:
                argv = self.vm_argv(pid)
            if argv is None:
                path = self.path("/proc/%s/cmdline" % pid)
                self.log_once("cmdline:" + pid, "warn", "%s: %s: VM definition not captured"
                              % (path, "permission denied"))
                self.not_vm.add(pid)
                continue
            if not argv:
                self.not_vm.add(pid)  # kernel threads (kvm-* workers) have no command line
                continue
            name, uuid, mem, cmd = parse_qemu_cmdline(argv)
            self.vm_pids.append(pid)
            self.vm_start[pid] = self.start_time(pid)
            self.emit("vmdefs", VMDEFS_KEYS, (ts, pid, clean(name), clean(uuid), clean(mem),
                                              clean(cmd), clean(backing_args(argv))))

    def sample_vms(self, ts, mono):
        if mono >= self.next_vm_scan:
            self.scan_vms(ts)
            self.next_vm_scan = mono + VM_SCAN_SECONDS
        keep = []
        for pid in self.vm_pids:
            if not os.path.exists(self.path("/proc/" + pid)):
                self.vm_start.pop(pid, None)
                continue
            was, now = self.vm_start.get(pid), self.start_time(pid)
            if was is not None and now is not None and now != was:
                # the VM's process ended and another process has its pid: not this VM's numbers
                self.log("info", "pid %s: a new process (start time %s, now %s): no longer the VM first "
                         "seen with this pid; looking again" % (pid, was, now))
                del self.vm_start[pid]
                self.next_vm_scan = 0.0
                continue
            keep.append(pid)
            rss = swap = hugetlb = "-"
            text = self.read("/proc/%s/status" % pid, "VM rss not captured")
            for line in (text or "").splitlines():
                if line.startswith("VmRSS:"):
                    rss = (line.split() + ["-"])[1]
                elif line.startswith("VmSwap:"):
                    swap = (line.split() + ["-"])[1]
                elif line.startswith("HugetlbPages:"):  # kernel >= 4.4; hugetlb pages are not in VmRSS
                    hugetlb = (line.split() + ["-"])[1]
            # ksm_stat (kernel >= 6.1): what KSM merged in this VM. Merged pages still count in
            # VmRSS, so this is the only per-VM view of KSM's saving.
            merging = profit = "-"
            if os.path.exists(self.path("/proc/%s/ksm_stat" % pid)):
                text = self.read("/proc/%s/ksm_stat" % pid, "VM KSM merging not captured")
                for line in (text or "").splitlines():
                    parts = line.split()
                    if len(parts) >= 2 and parts[0] == "ksm_merging_pages":
                        merging = parts[1]
                    elif len(parts) >= 2 and parts[0] == "ksm_process_profit":
                        profit = parts[1]
            self.emit("vms", VMS_KEYS, (ts, pid, rss, swap, merging, profit, hugetlb))
        self.vm_pids = keep

    def run_virsh(self, args):
        """stdout of virsh args, or None and the reason."""
        try:
            p = subprocess.Popen(self.virsh + args, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, universal_newlines=True)
        except OSError as e:
            return None, str(e)
        try:
            out, err = p.communicate(timeout=VIRSH_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return None, "timed out after %d s" % VIRSH_TIMEOUT
        if p.returncode != 0:
            first = (err.strip().splitlines() or ["exit status %d" % p.returncode])[0]
            return None, first
        return out, None

    def sample_virsh(self, ts, mono):
        if mono < self.next_virsh:
            return
        self.next_virsh = mono + self.opts.virsh_interval
        listing, why = self.run_virsh(["-r", "list", "--name"])
        if listing is None:
            self.log_once("virsh-fail", "warn",
                          "virsh: '%s -r list --name' failed: %s: virsh stream not captured "
                          "(tried again every %s s)" % (" ".join(self.virsh), why,
                                                       fmt_num(self.opts.virsh_interval)))
            return
        for dom in listing.splitlines():
            dom = dom.strip()
            if not dom:
                continue
            info, _ = self.run_virsh(["-r", "dominfo", dom])
            dom_id = None
            for line in (info or "").splitlines():
                key, sep, value = line.partition(":")
                if sep and key.strip() == "Id":
                    dom_id = value.strip()
                if sep and key.strip() in DOMINFO_KEYS:
                    value = value.strip()
                    if DOMINFO_KEYS[key.strip()].endswith("_kb"):
                        value = (value.split() or ["-"])[0]
                    self.emit("virsh", VIRSH_KEYS, (ts, clean(dom), DOMINFO_KEYS[key.strip()],
                                                    clean(value)))
            stats, _ = self.run_virsh(["-r", "dommemstat", dom])
            for line in (stats or "").splitlines():
                fields = line.split()
                if len(fields) >= 2:
                    self.emit("virsh", VIRSH_KEYS, (ts, clean(dom), fields[0], fields[1]))
            tune, _ = self.run_virsh(["-r", "memtune", dom])
            for line in (tune or "").splitlines():
                key, sep, value = line.partition(":")
                if sep and key.strip() in MEMTUNE_KEYS:
                    value = value.strip()  # KiB, or `unlimited`: no limit, written `-`
                    self.emit("virsh", VIRSH_KEYS, (ts, clean(dom), MEMTUNE_KEYS[key.strip()],
                                                    "-" if value == "unlimited" else clean(value)))
            # The domain XML once per start (a new Id): balloon, backing and <memtune> as libvirt
            # defines them. Read-only; one line, its tabs and newlines made spaces.
            if dom_id is not None and self.dom_ids.get(dom) != dom_id:
                xml, why = self.run_virsh(["-r", "dumpxml", dom])
                if xml is not None:
                    self.dom_ids[dom] = dom_id
                    self.emit("domxml", DOMXML_KEYS, (ts, clean(dom), clean(dom_id),
                                                      clean(xml.replace("\r", " ").strip())))
                else:
                    self.log_once("dumpxml:" + dom, "warn", "virsh: dumpxml %s failed: %s: its XML not captured"
                                  % (dom, why))

    # ---- start -------------------------------------------------------------------------------
    def hostname(self):
        return self.read_first_line("/proc/sys/kernel/hostname") or os.uname()[1]

    def machine_id(self):
        """Tells this host apart from others of the same name (every `localhost`); dbus keeps a copy."""
        for rel in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
            text = self.read_first_line(rel)
            if text:
                return text
        self.log("info", "%s: not present: machine_id not recorded" % self.path("/etc/machine-id"))
        return None

    def cpus(self):
        online = self.read_first_line("/sys/devices/system/cpu/online")
        if online:
            n = 0
            try:
                for part in online.split(","):
                    lo, _, hi = part.partition("-")
                    n += int(hi) - int(lo) + 1 if hi else 1
                return str(n)
            except ValueError:
                pass
        try:
            return str(os.sysconf("SC_NPROCESSORS_ONLN"))
        except (ValueError, OSError):
            return "-"

    def write_facts(self, started):
        def sysconf(name):
            try:
                return str(os.sysconf(name))
            except (ValueError, OSError):
                return "-"

        lines = [
            "format=%d" % FORMAT,
            "collector=memsnap.py",
            "collector_version=" + VERSION,
            "hostname=" + self.hostname(),
            "kernel=" + (self.read_first_line("/proc/sys/kernel/osrelease") or os.uname()[2]),
            "page_size=" + sysconf("SC_PAGE_SIZE"),
            "clock_ticks=" + sysconf("SC_CLK_TCK"),
            "cpus=" + self.cpus(),
            "interval=" + fmt_num(self.opts.interval),
            "started=%.3f" % started,
            "boot_id=" + (self.read_first_line("/proc/sys/kernel/random/boot_id") or "-"),
            "machine_id=" + (self.machine_id() or "-"),
        ]
        for key in ("swappiness", "overcommit_memory", "overcommit_ratio"):
            lines.append("vm.%s=%s" % (key, self.read_first_line("/proc/sys/vm/" + key) or "-"))
        try:
            names = sorted(os.listdir(self.ksm_dir()))
        except OSError:
            names = []
        for name in names:
            text = self.read_first_line("/sys/kernel/mm/ksm/" + name)
            if text and not is_int(text):
                self.ksm_text.add(name)
                lines.append("ksm_%s=%s" % (name, text))
        tmp = os.path.join(self.out, "facts.txt.tmp")
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(tmp, os.path.join(self.out, "facts.txt"))

    def check_host(self, hostname):
        """A capture directory holds one host: refuse to mix. Returns an error or None."""
        try:
            with open(os.path.join(self.out, "facts.txt")) as f:
                for line in f:
                    key, _, value = line.rstrip("\n").partition("=")
                    if key == "hostname" and value != hostname:
                        return ("%s/facts.txt is a capture of host '%s', not '%s': use another "
                                "--output" % (self.out, value, hostname))
        except OSError:
            pass
        return None

    def probe(self):
        """Which optional sources exist; what is missing is logged once, and skipped."""
        for name in ("meminfo", "vmstat"):
            path = self.path("/proc/" + name)
            if not os.access(path, os.R_OK):
                why = "not present" if not os.path.exists(path) else "permission denied"
                self.log("warn", "%s: %s: %s not captured" % (path, why, name))
        self.have_ksm = os.path.isdir(self.ksm_dir())
        if not self.have_ksm:
            self.log("info", "%s: not present (kernel without CONFIG_KSM): ksm not captured"
                     % self.ksm_dir())
        psi = self.path("/proc/pressure/memory")
        self.have_psi = False
        try:
            with open(psi) as f:
                self.have_psi = f.readline().startswith("some")
            if not self.have_psi:
                self.log("info", "%s: empty: psi not captured" % psi)
        except OSError as e:
            why = self.reason(e)
            if e.errno == errno.ENOENT:
                why = "not present (kernel < 4.20)"
            elif e.errno == errno.EOPNOTSUPP:
                # RHEL 8 kernels have the file but fail the read unless booted with psi=1
                why = "not supported (PSI disabled: boot with psi=1)"
            self.log("info", "%s: %s: psi not captured" % (psi, why))
        self.have_hugepages = os.path.isdir(self.path(HUGEPAGES_DIR))
        if not self.have_hugepages:
            self.log("info", "%s: not present (kernel without CONFIG_HUGETLBFS): hugepages not captured"
                     % self.path(HUGEPAGES_DIR))
        try:
            self.nodes = sorted((n for n in (node_number(x) for x in os.listdir(self.path(NODES_DIR))) if n),
                                key=int)
        except OSError:
            self.nodes = []
        if not self.nodes:
            self.log("info", "%s: no node directories: numa not captured" % self.path(NODES_DIR))
        swaps = self.path("/proc/swaps")
        self.have_swaps = os.access(swaps, os.R_OK)
        if not self.have_swaps:
            self.log("info", "%s: %s: swaps not captured" % (
                swaps, "not present" if not os.path.exists(swaps) else "permission denied"))
        cmd = self.opts.virsh
        if cmd is None and self.root:
            self.log("info", "virsh: not run with --root (give --virsh CMD): virsh not captured")
        else:
            argv = shlex.split(cmd or "virsh")
            if argv and find_executable(argv[0]):
                self.virsh = argv
            else:
                self.log("info", "virsh: '%s' not found: virsh not captured" % (cmd or "virsh"))

    # ---- loop --------------------------------------------------------------------------------
    def sample(self):
        t = self.now()
        mono = time.monotonic()
        ts = "%.3f" % t
        day = time.strftime("%Y%m%d", time.gmtime(int(float(ts))))
        if self.set_day(day):
            self.next_size_check = 0.0
        self.sample_clock(ts)
        self.sample_keyed(ts, "meminfo", "/proc/meminfo", ":")
        self.sample_keyed(ts, "vmstat", "/proc/vmstat", None)
        if self.have_ksm:
            self.sample_ksm(ts, mono)
        if self.have_psi:
            self.sample_psi(ts)
        if self.have_swaps:
            self.sample_swaps(ts)
        if self.have_hugepages:
            self.sample_hugepages(ts)
        if self.nodes:
            self.sample_numa(ts)
        self.sample_vms(ts, mono)
        if self.virsh:
            self.sample_virsh(ts, mono)
        self.samples += 1
        if mono >= self.next_size_check:
            self.check_size()
            self.next_size_check = mono + SIZE_CHECK_SECONDS

    def run(self, sleeper):
        started = self.now()
        self.log("info", "memsnap.py %s started: interval %s s, output %s, root %s"
                 % (VERSION, fmt_num(self.opts.interval), self.out, self.opts.root))
        self.probe()
        self.write_facts(started)
        sys.stderr.write("memsnap.py: sampling every %s s into %s (stop with Ctrl-C or SIGTERM)\n"
                         % (fmt_num(self.opts.interval), self.out))
        interval = self.opts.interval
        # the last slot --duration allows (slots are start + n * interval); None: until stopped
        last = None if self.opts.duration is None else int(self.opts.duration / interval + 1e-6)
        start = time.monotonic()
        slot = 0
        skipped = 0
        try:
            while True:
                self.sample()
                if self.stop:
                    break
                slot += 1
                if last is not None and slot > last:
                    break
                late = time.monotonic() - (start + slot * interval)
                if late >= 0:
                    # the sample took longer than the interval: skip the slots it overran
                    if not skipped:
                        self.log("warn", "a sample took longer than --interval %s s: slots "
                                 "skipped" % fmt_num(interval))
                    missed = int(late // interval) + 1
                    if last is not None:
                        missed = min(missed, last + 1 - slot)  # slots after --duration were never due
                    skipped += missed
                    slot += missed
                    if last is not None and slot > last:
                        break
                sleeper(start + slot * interval - time.monotonic())
                if self.stop:
                    break
        finally:
            self.close_files()
        if skipped:
            self.log("warn", "%d slots skipped in all (samples that took longer than --interval %s s)"
                     % (skipped, fmt_num(interval)))
        self.log("info", "stopped after %d samples" % self.samples)

    def bundle(self):
        """Pack the output into memsnap-<host>-<time>.tar.gz beside it, under one top dir."""
        name = "memsnap-%s-%s" % (self.hostname(), time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        parent = os.path.dirname(self.out)
        dest = os.path.join(parent, name + ".tar.gz")
        tmp = dest + ".tmp"
        try:
            with tarfile.open(tmp, "w:gz") as tar:
                tar.add(self.out, arcname=name)
            os.rename(tmp, dest)
        except (OSError, tarfile.TarError) as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            self.log("error", "bundle %s could not be written: %s" % (dest, e))
            return None
        self.log("info", "bundle written: " + dest)
        sys.stderr.write("memsnap.py: bundle %s\n" % dest)
        return dest


def find_executable(cmd):
    if os.sep in cmd:
        return os.access(cmd, os.X_OK)
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if d and os.access(os.path.join(d, cmd), os.X_OK):
            return True
    return False


def fmt_num(x):
    """10.0 → '10', 0.5 → '0.5'."""
    return ("%.3f" % x).rstrip("0").rstrip(".")


def seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of seconds: %r" % text) from None
    if value != value or value < 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("not a number of seconds: %r" % text)
    return value


def positive(text):
    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0: %r" % text)
    return value


def parse_args(argv, prog="memsnap.py"):
    p = argparse.ArgumentParser(
        prog=prog,
        description="Samples /proc/meminfo, /proc/vmstat, KSM, PSI, swaps and the qemu processes "
                    "of this host into tab-separated day files (capture format %d) for "
                    "memreport." % FORMAT)
    p.add_argument("--output", metavar="DIR", help="where to write (default: ./memsnap-<hostname>)")
    p.add_argument("--interval", metavar="SECONDS", type=positive, default=10.0,
                   help="between samples, fractions allowed (default 10)")
    p.add_argument("--duration", metavar="SECONDS", type=seconds, default=None,
                   help="stop after this long (default: until SIGINT/SIGTERM)")
    p.add_argument("--max-size", metavar="MB", type=positive, default=1024.0,
                   help="bound on the output directory (default 1024)")
    p.add_argument("--on-full", choices=("rotate", "stop"), default="rotate",
                   help="when over --max-size: delete the oldest compressed day, or stop "
                        "(default rotate)")
    p.add_argument("--virsh-interval", metavar="SECONDS", type=positive, default=60.0,
                   help="between virsh queries (default 60)")
    p.add_argument("--virsh", metavar="CMD", default=None,
                   help="virsh command (default virsh; with --root only when given)")
    p.add_argument("--root", metavar="DIR", default="/",
                   help="read /proc and /sys under DIR (default /), for tests")
    p.add_argument("--bundle", action="store_true",
                   help="when done, pack DIR into memsnap-<host>-<time>.tar.gz beside it")
    # hidden, for tests: pretend the capture started at this epoch (day rotation without waiting
    # for midnight)
    p.add_argument("--start-epoch", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--version", action="version",
                   version="memsnap.py %s (capture format %d)" % (VERSION, FORMAT))
    return p.parse_args(argv)


class Signals(object):
    """SIGINT/SIGTERM/SIGHUP set collector.stop; the sleep wakes at once (a wakeup fd + select).

    Off the main thread (signals cannot be set there) the sleep just polls the stop flag.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, collector):
        self.collector = collector
        self.old = {}
        self.old_wakeup = None
        self.pipe = None

    def __enter__(self):
        def handler(signum, frame):
            self.collector.stop = True

        try:
            for s in self.SIGNALS:
                self.old[s] = signal.signal(s, handler)
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            self.pipe = (r, w)
            self.old_wakeup = signal.set_wakeup_fd(w)
        except ValueError:  # not the main thread
            self.restore()
        return self

    def restore(self):
        for s, h in self.old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        self.old = {}
        if self.pipe:
            signal.set_wakeup_fd(self.old_wakeup if self.old_wakeup is not None else -1)
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None

    def __exit__(self, *exc):
        self.restore()
        return False

    def sleep(self, seconds):
        end = time.monotonic() + seconds
        while not self.collector.stop:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.pipe:
                ready, _, _ = select.select([self.pipe[0]], [], [], left)
                if ready:
                    try:
                        os.read(self.pipe[0], 512)
                    except OSError:
                        pass
            else:
                time.sleep(min(left, 0.1))


def main(argv=None, prog="memsnap.py"):
    # prog: the name usage and errors give (`memreport collect` runs this file too).
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv, prog)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else 2
    if opts.root != "/" and not os.path.isdir(opts.root):
        sys.stderr.write("%s: --root %s: not a directory\n" % (prog, opts.root))
        return 2
    if opts.output is None:
        host = (Collector(opts).read_first_line("/proc/sys/kernel/hostname")
                or os.uname()[1])
        opts.output = "memsnap-" + host
    try:
        os.makedirs(opts.output, exist_ok=True)
    except OSError as e:
        sys.stderr.write("%s: cannot create --output %s: %s\n" % (prog, opts.output, e))
        return 2
    c = Collector(opts)
    problem = c.check_host(c.hostname())
    if problem:
        sys.stderr.write("%s: %s\n" % (prog, problem))
        return 2
    with Signals(c) as signals:
        c.run(signals.sleep)
    if opts.bundle and c.bundle() is None:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
