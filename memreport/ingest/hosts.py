"""One host, many inputs: which inputs are one machine, what the host is called, and how its
inputs become one HostData. `memreport ingest|report|analyze` (run.load) and `memreport fleet`
use these same functions, so a fleet merges a host's inputs exactly as `memreport report A B` does.

The rule (docs/INPUTS.md, "One host, many inputs"):
- inputs with the same machine-id are one host;
- an input without a machine-id joins the host of the same name when exactly one such host exists;
  otherwise inputs of one name without a machine-id are one host;
- machines that share a name (`localhost`) stay apart: each is named `<name>-<first 8 hex digits of
  its machine-id>`, more digits when 8 do not tell them apart;
- `--host NAME` names every input that gives no host name of its own (vmstat output, a snapshot
  tree without a hostname file); an input that names its host keeps its name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from memreport.ingest.options import DEFAULT, IngestOptions
from memreport.model import HostData, LogEntry

_MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")
_HOSTNAMECTL = re.compile(r"^\s*Machine ID:\s*(\S+)\s*$", re.MULTILINE)
# finalize() makes these entries; a host read back from a store already has them, and merging it
# with another input finalises again (which makes them anew for the merged series).
_FINALIZE_EVENTS = frozenset({"reordered", "duplicate", "reboot", "reset", "gap"})


def parse_machine_id(text: str | None) -> str | None:
    """/etc/machine-id: 32 lowercase hex digits on one line. `uninitialized` (systemd ≥ 247 on a
    first boot), an empty file or anything else is no machine-id."""
    if not text:
        return None
    first = text.strip().split("\n", 1)[0].strip().lower().replace("-", "")
    return first if _MACHINE_ID.match(first) and first.strip("0") else None


def machine_id_from_hostnamectl(text: str | None) -> str | None:
    """The `Machine ID: …` line of `hostnamectl [status]` output."""
    m = _HOSTNAMECTL.search(text or "")
    return parse_machine_id(m.group(1)) if m else None


@dataclass
class Part:
    """What one input says about one host, before the hosts of a run are told apart."""

    data: HostData
    final: bool = False  # already finalised: a host read back from a store


@dataclass(frozen=True)
class Identity:
    """What tells hosts apart, for `assign`."""

    name: str  # the name the input gives, else the one memreport made up (file name, --host)
    machine_id: str | None = None
    last_ms: int | None = None  # newest sample (epoch ms): a renamed machine is named as it is now


def read(path: Path, opts: IngestOptions = DEFAULT) -> list[Part]:
    """Every host of one input: a memreport store (already finalised) or anything a reader takes."""
    from memreport.ingest import sources, store

    path = Path(path)
    if store.is_store(path):
        return [Part(store.read_host(path, h), final=True) for h in store.list_hosts(path)]
    return [Part(d) for d in sources.read_input(path, opts)]


def name_unnamed(parts: Sequence[Part], host: str | None, label: str | None = None) -> list[LogEntry]:
    """`--host NAME`: every part whose input gives no host name is called NAME. Returns a note when
    NAME named nothing (every input names its own host)."""
    if not host:
        return []
    named = 0
    for p in parts:
        f = p.data.facts
        if f.hostname is None:
            note = LogEntry("info", "host_name", f"no host name in this input: named {host!r} (--host), not {f.host!r}")
            rename(p.data, host)
            p.data.log.append(_stamped(note, p.data))
            named += 1
    if named or not parts:
        return []
    return [LogEntry("warn", "host_name", f"--host {host!r} not used: every input names its own host", input=label)]


def identity(part: Part) -> Identity:
    f = part.data.facts
    return Identity(name=f.hostname or f.host, machine_id=f.machine_id, last_ms=_last_ms(part.data))


def _last_ms(data: HostData) -> int | None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    s = data.samples
    if isinstance(s, pa.Table):
        last = pc.max(s.column("ts")) if "ts" in s.column_names and s.num_rows else None
        return int(last.cast(pa.int64()).as_py()) if last is not None and last.is_valid else None
    if "ts" not in s or not len(s):
        return None
    t = pd.to_datetime(s["ts"], utc=True).max()
    return None if pd.isna(t) else int(t.value // 1_000_000)


@dataclass
class _Group:
    base: str
    machine_id: str | None
    members: list[int]


def assign(idents: Sequence[Identity]) -> tuple[list[str], dict[int, list[LogEntry]]]:
    """The host name of each identity (equal names = one host) and notes per identity for its log.

    Depends only on the set of identities, not their order, so a fleet and `memreport report` name
    a host alike whatever order the inputs come in.
    """
    notes: dict[int, list[LogEntry]] = {}
    by_mid: dict[str, list[int]] = {}
    for i, ident in enumerate(idents):
        if ident.machine_id:
            by_mid.setdefault(ident.machine_id, []).append(i)
    groups: dict[tuple[str, str], _Group] = {}
    for mid, members in by_mid.items():
        names = {idents[i].name for i in members}
        newest = max(members, key=lambda i: (idents[i].last_ms if idents[i].last_ms is not None else -1, _neg(idents[i].name)))
        base = idents[newest].name
        if len(names) > 1:
            for i in members:
                if idents[i].name != base:
                    notes.setdefault(i, []).append(
                        LogEntry(
                            "info",
                            "host_identity",
                            f"machine-id {mid} is called {sorted(names)} in its inputs: named {base!r}, its name in the newest data",
                        )
                    )
        groups[("mid", mid)] = _Group(base, mid, list(members))
    mid_names: dict[str, list[str]] = {}
    for mid, members in by_mid.items():
        for n in {idents[i].name for i in members}:
            mid_names.setdefault(n, []).append(mid)
    for i, ident in enumerate(idents):
        if ident.machine_id:
            continue
        mids = sorted(mid_names.get(ident.name, []))
        if len(mids) == 1:
            groups[("mid", mids[0])].members.append(i)
            notes.setdefault(i, []).append(
                LogEntry(
                    "info",
                    "host_identity",
                    f"no machine-id in this input: joined host {ident.name!r} (machine-id {mids[0]}) by its name",
                )
            )
            continue
        if len(mids) > 1:
            notes.setdefault(i, []).append(
                LogEntry(
                    "warn",
                    "host_identity",
                    f"no machine-id in this input and {len(mids)} machines are called {ident.name!r}: kept as a host of its own",
                )
            )
        groups.setdefault(("name", ident.name), _Group(ident.name, None, [])).members.append(i)
    final = _names(list(groups.values()))
    out = [""] * len(idents)
    for g, name in zip(groups.values(), final):
        for i in g.members:
            out[i] = name
            if name != idents[i].name and g.machine_id:
                notes.setdefault(i, []).append(
                    LogEntry(
                        "info",
                        "host_identity",
                        f"named {name!r}: several machines in these inputs are called {g.base!r} (this one is machine-id {g.machine_id})",
                    )
                )
    return out, notes


def _neg(name: str) -> tuple[int, ...]:
    """Sorts names in reverse, so that max() takes the first name alphabetically on a tie."""
    return tuple(-ord(c) for c in name)


def _names(groups: list[_Group]) -> list[str]:
    """Distinct names: a name shared by several machines gets a machine-id prefix, as short as tells
    them apart (8 hex digits, more on a clash); a group without machine-id keeps the bare name."""
    count: dict[str, int] = {}
    for g in groups:
        count[g.base] = count.get(g.base, 0) + 1
    taken = {g.base for g in groups if count[g.base] == 1 or g.machine_id is None}
    out = []
    for g in groups:
        if count[g.base] == 1 or g.machine_id is None:
            out.append(g.base)
            continue
        for n in (8, 12, 16, 32):
            name = f"{g.base}-{g.machine_id[:n]}"
            others = [
                h for h in groups if h is not g and h.base == g.base and h.machine_id and h.machine_id[:n] == g.machine_id[:n]
            ]
            if name not in taken and not others:
                break
        taken.add(name)
        out.append(name)
    return out


def rename(data: HostData, name: str) -> None:
    """Call the host `name` (its facts and its log entries); hostname stays what the input said."""
    old = data.facts.host
    if old == name:
        return
    data.facts.host = name
    data.log = [dataclasses.replace(e, host=name) if e.host in (None, old) else e for e in data.log]


def _stamped(e: LogEntry, data: HostData) -> LogEntry:
    inputs = {c.input for c in data.contributions}
    return dataclasses.replace(e, host=data.facts.host, input=e.input or (next(iter(inputs)) if len(inputs) == 1 else None))


def add_notes(data: HostData, notes: Sequence[LogEntry]) -> None:
    data.log = data.log + [_stamped(e, data) for e in notes]


def combine(parts: Sequence[Part], keep: frozenset[str] | None = None) -> HostData:
    """The parts of one host (in input order) as one finalised host: merge, then finalise once.
    A lone host read from a store is final already. keep: the sample columns to keep (store.finalize)."""
    from memreport.ingest import derive, store

    if len(parts) == 1 and parts[0].final:
        data = parts[0].data
        data.samples = derive.to_table(data.samples)  # the shape finalize() leaves
        return data
    datas = []
    for p in parts:
        if p.final:  # finalised again below, with the other inputs: its old entries would repeat
            p.data.log = [e for e in p.data.log if e.event not in _FINALIZE_EVENTS]
        datas.append(p.data)
    merged = store.merge_host(datas)
    inputs = sorted({c.input for d in datas for c in d.contributions})
    if len(inputs) > 1:
        merged.log.append(
            LogEntry(
                "info",
                "merged_inputs",
                f"{len(inputs)} inputs of this host merged into one series: {', '.join(inputs)}",
                host=merged.facts.host,
            )
        )
    return store.finalize(merged, keep)


def group(parts: Sequence[Part]) -> tuple[dict[str, list[int]], list[list[LogEntry]]]:
    """Host name → indexes of its parts (in input order), after naming every part by `assign`;
    and per part the notes `assign` made (already added to the part's log)."""
    names, notes = assign([identity(p) for p in parts])
    out: dict[str, list[int]] = {}
    per_part: list[list[LogEntry]] = []
    for i, (p, name) in enumerate(zip(parts, names)):
        rename(p.data, name)
        add_notes(p.data, notes.get(i, []))
        per_part.append(notes.get(i, []))
        out.setdefault(name, []).append(i)
    return out, per_part
