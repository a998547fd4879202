"""What if: the host's answer recomputed as if VMs were added or removed, swap resized or KSM turned off.

The change is applied to the host's data, and the same analysis runs again, so "after" follows exactly the
rules "now" follows (docs/CHECKS.md, "What if"):

- added VMs: rows at the last per-VM sample with their allocation and backing; the observed model counts
  their whole allocation as used (no history of a VM that does not exist yet), so MemAvailable falls by it;
- removed VMs: their rows are dropped; MemAvailable rises by each one's resident memory at each sample;
- the swap rule: observed Inactive (and Inactive(anon)) scaled by the RAM-backed allocation after ÷ before
  (new guests are expected to leave as much idle memory per allocated byte as the present ones);
- --swap SIZE: SwapTotal becomes SIZE (SwapFree moves with it);
- --ksm off: KSM's saving at each sample comes back as demand (MemAvailable falls by pages_sharing bytes).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import pandas as pd

from memreport.analyze.hugepages import hugepage_mask, is_hugepage_backed, last_vm_rows
from memreport.errors import MemreportError
from memreport.model import HostData
from memreport.units import parse_size
from memreport.vm_digest import VmDigest, merged

_ADD = re.compile(r"^\s*(\d+)\s*[x×]\s*([^:]+?)\s*(?::\s*(hugepages|anonymous|ram))?\s*$", re.IGNORECASE)


class WhatIfError(MemreportError):
    """A --add-vms / --remove-vm / --swap / --ksm value that cannot be applied."""


@dataclass(frozen=True)
class AddVms:
    count: int
    size_bytes: int
    backing: str  # hugepages | anonymous


@dataclass(frozen=True)
class Change:
    add: tuple[AddVms, ...] = ()
    remove: tuple[str, ...] = ()
    swap_bytes: int | None = None
    ksm_off: bool = False

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove and self.swap_bytes is None and not self.ksm_off

    def as_json(self) -> dict[str, object]:
        return {
            "add_vms": [{"count": a.count, "size_bytes": a.size_bytes, "backing": a.backing} for a in self.add],
            "remove_vms": list(self.remove),
            "swap_bytes": self.swap_bytes,
            "ksm": "off" if self.ksm_off else None,
        }


def parse_add(text: str) -> AddVms:
    """`4x8GiB`, `2x16GiB:hugepages` -> AddVms."""
    m = _ADD.match(text)
    size = parse_size(m.group(2)) if m else None
    if not m or not size or int(m.group(1)) < 1:
        raise WhatIfError(f"--add-vms {text!r}: expected COUNTxSIZE[:hugepages], e.g. 4x8GiB or 2x16GiB:hugepages")
    # `ram` is the word before issue 18: ordinary memory, libvirt's `anonymous`.
    backing = (m.group(3) or "anonymous").lower()
    return AddVms(int(m.group(1)), size, "anonymous" if backing == "ram" else backing)


def parse_change(add: list[str] | None, remove: list[str] | None, swap: str | None, ksm: str | None) -> Change:
    swap_bytes = None
    if swap is not None:
        swap_bytes = parse_size(swap)
        if swap_bytes is None:
            raise WhatIfError(f"--swap {swap!r}: not a size (e.g. 32GiB)")
    if ksm is not None and ksm.lower() not in ("off", "on"):
        raise WhatIfError(f"--ksm {ksm!r}: expected off (or on, no change)")
    return Change(
        tuple(parse_add(a) for a in add or []), tuple(remove or []), swap_bytes, ksm is not None and ksm.lower() == "off"
    )


@dataclass
class Applied:
    data: HostData
    notes: list[str] = field(default_factory=list)  # how each part was applied, one sentence each


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col], errors="coerce").astype("float64")


def apply(data: HostData, change: Change) -> Applied:
    samples = data.samples.copy()
    vms = data.vm_digest if data.vm_digest is not None else VmDigest.of(data.vms)
    notes: list[str] = []
    last = last_vm_rows(vms)
    before_ram = 0.0
    if last is not None:
        ram_rows = last[~hugepage_mask(last["backing"])] if "backing" in last.columns else last
        before_ram = float(_num(ram_rows, "allocated_bytes").sum())
    added_ram = 0
    removed_ram = 0.0
    for name in change.remove:
        if vms is None or name not in vms.names:
            raise WhatIfError(f"--remove-vm {name!r}: no VM of that name in the data")
        if last is not None and (last["name"].astype(str) == name).any():
            row = last[last["name"].astype(str) == name].iloc[0]
            if not is_hugepage_backed(row.get("backing")):
                removed_ram += float(row["allocated_bytes"])
        peak_rss = vms.rss_max_of(name)
        vms, rss = vms.without(name)
        if "mem_MemAvailable" in samples.columns and len(rss):
            back = samples["ts"].map(rss).astype("float64").fillna(peak_rss if peak_rss == peak_rss else 0.0)
            samples["mem_MemAvailable"] = _num(samples, "mem_MemAvailable") + back
        notes.append(f"{name} removed: its allocation leaves the rules and its resident memory returns to MemAvailable")
    if change.add:
        ts = last["ts"].iloc[0] if last is not None else (samples["ts"].max() if len(samples) else None)
        rows = []
        k = 0
        for a in change.add:
            for _ in range(a.count):
                k += 1
                rows.append(
                    {"ts": ts, "name": f"new-{k}", "allocated_bytes": a.size_bytes, "backing": a.backing, "source": "what-if"}
                )
                if a.backing != "hugepages":
                    added_ram += a.size_bytes
        new = VmDigest.of(pd.DataFrame(rows))
        vms = new if vms is None else merged([vms, new])
        if "mem_MemAvailable" in samples.columns and added_ram:
            samples["mem_MemAvailable"] = _num(samples, "mem_MemAvailable") - added_ram
        notes.append("added VMs count their whole allocation as used in the observed model (no history yet)")
    after_ram = before_ram - removed_ram + added_ram
    if before_ram and after_ram != before_ram:
        factor = after_ram / before_ram
        for col in ("mem_Inactive", "mem_Inactive_anon"):
            if col in samples.columns:
                samples[col] = _num(samples, col) * factor
        notes.append(f"observed Inactive scaled by {factor:.3f}, the RAM-backed allocation after ÷ before")
    if change.swap_bytes is not None and "mem_SwapTotal" in samples.columns:
        delta = change.swap_bytes - _num(samples, "mem_SwapTotal")
        samples["mem_SwapTotal"] = float(change.swap_bytes)
        if "mem_SwapFree" in samples.columns:
            samples["mem_SwapFree"] = (_num(samples, "mem_SwapFree") + delta).clip(lower=0)
        notes.append("swap set to the given size on every sample")
    if change.ksm_off:
        if "ksm_pages_sharing_bytes" in samples.columns and "mem_MemAvailable" in samples.columns:
            samples["mem_MemAvailable"] = _num(samples, "mem_MemAvailable") - _num(samples, "ksm_pages_sharing_bytes").fillna(0)
        samples = samples.drop(columns=[c for c in samples.columns if c.startswith("ksm") and c != "ksmd_cpu_share"])
        notes.append("KSM off: its saving at each sample comes back as demand")
    return Applied(
        dataclasses.replace(
            data, samples=samples, vms=None, vm_digest=vms, swaps=None if change.swap_bytes is not None else data.swaps
        ),
        notes,
    )
