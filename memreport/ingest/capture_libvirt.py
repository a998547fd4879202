"""What a capture's virsh and domxml streams say about each VM, joined to its per-process rows.

The collectors (≥ 1.3.0, where `virsh` works) write `virsh -r memtune` into the virsh stream beside
dominfo and dommemstat, and each running domain's `virsh -r dumpxml` once per start into the domxml
stream (docs/FORMAT.md). A VM row (qemu pid, named by its `-name`) takes, by domain name, the latest
value at or before its time: the balloon from dommemstat `actual`, else dominfo `used_memory`, else
the XML's `<currentMemory>`; the limits from memtune, else the XML's `<memtune>`; the backing from
the XML where the command line did not give one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from memreport.ingest import virsh as virsh_mod
from memreport.ingest.procfs import ParseError
from memreport.model import LogEntry

# store column -> (virsh keys in order of preference, domain XML field)
_FIELDS = {
    "current_bytes": (("actual", "used_memory"), "current_bytes"),
    "hard_limit_bytes": (("hard_limit",), "hard_limit_bytes"),
    "soft_limit_bytes": (("soft_limit",), "soft_limit_bytes"),
    "swap_hard_limit_bytes": (("swap_hard_limit",), "swap_hard_limit_bytes"),
}


def domains(t: pa.Table | None, log: list[LogEntry], where: str) -> pd.DataFrame | None:
    """domxml stream -> one row per recorded domain start: ts, name and what its XML says."""
    if t is None:
        return None
    sec = t.column("ts").to_numpy(zero_copy_only=False)
    ts = pd.DatetimeIndex(np.round(sec * 1000.0).astype("int64").astype("datetime64[ms]"), tz="UTC")
    rows = []
    for when, dom, xml in zip(ts, t.column("domain").to_pylist(), t.column("xml").to_pylist()):
        if not dom or not xml:
            continue
        try:
            vm = virsh_mod.parse_domain_xml(xml)
        except ParseError as e:
            log.append(LogEntry("warn", "bad_value", f"domain XML of {dom}: {e.reason}: skipped", file=where))
            continue
        rows.append(
            {"ts": when, "name": dom, "backing": vm.backing, **{col: getattr(vm, field) for col, (_, field) in _FIELDS.items()}}
        )
    return pd.DataFrame(rows) if rows else None


def join(vms: pd.DataFrame, virsh: pd.DataFrame | None, xml: pd.DataFrame | None, unknown_columns: bool = True) -> pd.DataFrame:
    """vms with current_bytes, the three limits and (where null) backing from virsh and the domain XML.
    unknown_columns=False (a report): with neither source the columns are left out, not all null
    (the checks read an absent column as unknown; a year of VM rows would spend 0.5 GB on them)."""
    if not unknown_columns and virsh is None and xml is None:
        return vms
    for col in _FIELDS:
        vms[col] = pd.Series(pd.NA, index=vms.index, dtype="Int64")
    if "name" not in vms or (virsh is None and xml is None):
        return vms
    ts = pd.to_datetime(vms["ts"], utc=True).astype("datetime64[ms, UTC]")
    order = np.argsort(ts.to_numpy(), kind="stable")
    left = pd.DataFrame({"ts": ts.iloc[order].to_numpy(), "name": _keys(vms["name"].iloc[order]), "row": order})
    left["ts"] = left["ts"].astype("datetime64[ms, UTC]") if left["ts"].dt.tz is not None else left["ts"].dt.tz_localize("UTC")
    left = left[left["name"].notna()]

    def asof(right: pd.DataFrame, value: str) -> pd.Series:
        """The latest `value` of right at or before each VM row's time, by name; indexed by vms row."""
        right = right[right[value].notna()].sort_values("ts", kind="stable")
        if not len(right) or not len(left):
            return pd.Series(dtype="object")
        right = pd.DataFrame(
            {
                "ts": pd.to_datetime(right["ts"], utc=True).astype("datetime64[ms, UTC]").to_numpy(),
                "name": _keys(right["name"]),
                value: right[value].to_numpy(),
            }
        )
        right["ts"] = right["ts"].dt.tz_localize("UTC") if right["ts"].dt.tz is None else right["ts"]
        m = pd.merge_asof(left, right, on="ts", by="name", direction="backward")
        return m.set_index("row")[value].dropna()

    for col, (keys, _) in _FIELDS.items():
        got = pd.Series(pd.NA, index=vms.index, dtype="Int64")
        sources: list[pd.DataFrame] = []
        if virsh is not None and len(virsh):
            for key in keys:
                part = virsh[virsh["key"] == key]
                sources.append(pd.DataFrame({"ts": part["ts"], "name": part["domain"], col: part["value"]}))
        if xml is not None:
            sources.append(xml[["ts", "name", col]])
        for right in sources:  # first source that knows a row wins
            vals = asof(right, col)
            fill = vals.index[got.iloc[vals.index].isna().to_numpy()] if len(vals) else vals.index
            if len(fill):
                got.iloc[fill] = vals.loc[fill].astype("int64").to_numpy()
        vms[col] = got
    if xml is not None:
        backing = asof(xml, "backing")
        if len(backing):
            cur = vms["backing"].astype("object") if "backing" in vms else pd.Series(None, index=vms.index, dtype="object")
            cur = cur.where(cur.notna(), pd.Series(backing).reindex(range(len(vms))).to_numpy())
            vms["backing"] = cur.astype("category")
    return vms


def _keys(names: pd.Series) -> np.ndarray:
    """Domain names as plain Python strings (category, arrow and object columns alike), None for missing."""
    return np.array(
        [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v) for v in names.tolist()],
        dtype=object,
    )
