"""MemTotal from `sar -r`: sar never prints it, but every sysstat version prints kbmemused computed
from it, so it can be recovered exactly (to the kB) when the version's definition is known.

kbmemused by sysstat version (pr_stats.c / rndr_stats.c / xml_stats.c / json_stats.c):

| sysstat | kbmemused | so MemTotal = |
|---|---|---|
| before 11.7.4 (and 11.6.4, 11.4.10 in their branches) | MemTotal − MemFree | kbmemfree + kbmemused |
| 11.7.4 … 12.7.7 | MemTotal − (MemFree + Buffers + Cached + Slab), 0 when that sum exceeds MemTotal | kbmemfree + kbmemused + kbbuffers + kbcached + kbslab |
| 12.7.8 and later | MemTotal − MemAvailable | kbavail + kbmemused |

`%memused` is kbmemused ÷ MemTotal × 100 in every version. The output does not say which sysstat
wrote it, so every definition whose columns are present is tried: the one whose total reproduces
%memused on every row (to its printed precision) wins; where several do, the one that gives the
same total on every row (MemTotal does not change while the host runs). Where none or more than
one fits, MemTotal stays null and the log says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# (which sysstat, the formula, columns added to kbmemused), newest definition first.
DEFINITIONS = (
    ("sysstat 12.7.8 and later", "kbavail + kbmemused", ("kbavail",)),
    (
        "sysstat 11.7.4 to 12.7.7",
        "kbmemfree + kbmemused + kbbuffers + kbcached + kbslab",
        ("kbmemfree", "kbbuffers", "kbcached", "kbslab"),
    ),
    ("sysstat before 11.7.4", "kbmemfree + kbmemused", ("kbmemfree",)),
)


@dataclass(frozen=True)
class MemTotal:
    """kB per row time (None: not derived), and the log sentence saying how or why not."""

    values: dict[datetime, int] | None
    level: str  # info | warn
    detail: str


def _tolerance(pcts: list[float]) -> float:
    """Half the printed precision of %memused (2 decimals by default; `--dec=0|1` prints fewer)."""
    if any(round(p * 100) % 10 for p in pcts):
        step = 0.01
    elif any(round(p * 10) % 10 for p in pcts):
        step = 0.1
    else:
        step = 1.0
    return step / 2 + 1e-6


def derive(rows: dict[datetime, dict[str, float]]) -> MemTotal | None:
    """MemTotal (kB) of each row that has kbmemused; None when no row has it (nothing to say)."""
    stamps = [t for t in sorted(rows) if "kbmemused" in rows[t]]
    if not stamps:
        return None
    pcts = [rows[t]["%memused"] for t in stamps if "%memused" in rows[t]]
    tol = _tolerance(pcts) if pcts else 0.0
    fits: list[tuple[str, str, dict[datetime, int], int]] = []
    for name, formula, adds in DEFINITIONS:
        totals: dict[datetime, int] = {}
        checked = 0
        ok = True
        for t in stamps:
            r = rows[t]
            if any(k not in r for k in adds):
                ok = False
                break
            used = r["kbmemused"]
            total = used + sum(r[k] for k in adds)
            if used <= 0 or total <= 0:
                continue  # 11.7.4+ prints 0 when free + buffers + cached + slab exceed MemTotal: no evidence
            if "%memused" in r:
                if abs(100.0 * used / total - r["%memused"]) > tol:
                    ok = False
                    break
                checked += 1
            totals[t] = int(round(total))
        if ok and totals:
            fits.append((name, formula, totals, checked))
    if not fits:
        slab_hint = (
            " (sysstat 11.7.4 to 12.7.7 needs kbslab: `sar -r ALL`)"
            if not any("kbslab" in rows[t] for t in stamps) and any("kbavail" in rows[t] for t in stamps)
            else ""
        )
        return MemTotal(
            None,
            "warn",
            f"sar -r: kbmemused fits none of sysstat's definitions with the columns present{slab_hint}: MemTotal not derived",
        )
    if len({tuple(sorted(f[2].items())) for f in fits}) > 1:
        steady = [f for f in fits if len(set(f[2].values())) == 1]
        if len(steady) != 1 or len(stamps) < 2:
            names = " / ".join(f[0] for f in fits)
            return MemTotal(
                None, "warn", f"sar -r: kbmemused fits more than one sysstat definition ({names}): MemTotal not derived"
            )
        fits = steady
    name, formula, totals, checked = fits[0]
    distinct = sorted(set(totals.values()))
    if len(distinct) == 1:
        for t in stamps:  # rows that gave no evidence (kbmemused 0) share the one value
            totals.setdefault(t, distinct[0])
        what = f"MemTotal {distinct[0]} kB"
    else:
        what = f"MemTotal {distinct[0]} to {distinct[-1]} kB (it changed)"
    check = f"confirmed by %memused on {checked} of {len(stamps)} rows" if checked else "no %memused to confirm it"
    return MemTotal(totals, "info", f"{what} derived from sar -r as {formula} (the {name} meaning of kbmemused), {check}")
