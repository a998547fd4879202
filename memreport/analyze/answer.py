"""The answer: one bottom line per host, computed once from the checks and printed the same everywhere.

Report, `memreport analyze`, the mail and the fleet row all show `Answer.lines` and report.json's
`answer` object; nothing else restates these figures. Every figure is rounded once, here: swap to add
is a deficit, so it is rounded up to whole GiB (never too little; a size one can type).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memreport.analyze.confidence import Confidence
from memreport.analyze.hugepages import HugepagesResult
from memreport.analyze.ksm import KsmResult
from memreport.analyze.oom import CapacityModel, OomResult
from memreport.analyze.swap_sizing import SwapSizing
from memreport.analyze.thrash import CAUSE_LIMIT, CAUSE_NONE, CAUSE_SHORT, CAUSE_UNKNOWN, ThrashResult
from memreport.analyze.wording import fmt_bytes, fmt_duration, fmt_pct, round_up_gib
from memreport.model import Finding, Severity


@dataclass(frozen=True)
class ThrashAnswer:
    windows: int | None  # None = swap rates unknown
    seconds: float | None
    cause: str  # host_memory_short | memory_limit | none | unknown


@dataclass(frozen=True)
class AnswerItem:
    key: str  # swap | thrash | fit | ksm | confidence
    label: str  # "Swap", "Thrash", "VMs that fit", "KSM", "Confidence"
    text: str  # the sentence
    tone: str  # ok | warn | crit | unknown: the most severe finding behind it (unknown: not answered)


@dataclass(frozen=True)
class Answer:
    """report.json's `answer` (docs/REPORT-JSON.md) plus the sentences that say it."""

    swap_to_add_bytes: int | None  # whole GiB; 0 = enough; None = unknown
    swap_to_add_rule: str | None  # peak_inactive | peak_inactive_anon | oom_headroom | none | None
    thrash: ThrashAnswer
    vm_size_bytes: int
    vms_that_fit: int | None
    vms_that_fit_model: str | None  # safe | observed (the recommended model), None when unknown
    ksm: str  # keep | slow_down | turn_off | off | unknown
    confidence: str  # high | medium | low
    confidence_reason: str
    items: list[AnswerItem] = field(default_factory=list)
    # hugepage-backed VMs of vm_size that still fit the hugepage pool; None when the host has no pool or
    # no VM backing is known (vms_that_fit then counts VMs backed by ordinary RAM)
    vms_that_fit_hugepages: int | None = None  # swap, thrash, fit, KSM, confidence, in this order

    @property
    def lines(self) -> list[str]:
        return [i.text for i in self.items]

    def item(self, key: str) -> AnswerItem:
        return next(i for i in self.items if i.key == key)

    @property
    def nothing_known(self) -> bool:
        """None of the four questions (swap, thrash, fit, KSM) could be answered: `analyze` exits 3."""
        return (
            self.swap_to_add_bytes is None
            and self.thrash.cause == CAUSE_UNKNOWN
            and self.vms_that_fit is None
            and self.ksm == "unknown"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "swap_to_add_bytes": self.swap_to_add_bytes,
            "swap_to_add_rule": self.swap_to_add_rule,
            "thrash": {"windows": self.thrash.windows, "seconds": self.thrash.seconds, "cause": self.thrash.cause},
            "vm_size_bytes": self.vm_size_bytes,
            "vms_that_fit": self.vms_that_fit,
            "vms_that_fit_model": self.vms_that_fit_model,
            "vms_that_fit_hugepages": self.vms_that_fit_hugepages,
            "ksm": self.ksm,
            "confidence": self.confidence,
            "confidence_reason": self.confidence_reason,
            "lines": self.lines,
        }


CAUSE_NAMES = {
    CAUSE_SHORT: "host memory short",
    CAUSE_LIMIT: "forced by a memory limit",
    CAUSE_NONE: "none",
    CAUSE_UNKNOWN: "cause not known",
}

RULE_NAMES = {
    "peak_inactive": "swap ≥ the largest Inactive ever seen",
    "peak_inactive_anon": "swap ≥ the largest Inactive(anon) ever seen",
    "oom_headroom": "allocations ≤ RAM + swap",
    "none": "every rule is met",
}


def _swap(s: SwapSizing, o: OomResult) -> tuple[int | None, str | None, str]:
    """(bytes to add, the rule that asks the most, the sentence)."""
    asks: list[tuple[int, str, str]] = []  # (deficit, rule, why)
    if s.deficit_bytes is not None and s.required_bytes is not None:
        rule = "peak_inactive_anon" if s.basis == "inactive_anon" else "peak_inactive"
        name = "Inactive(anon)" if s.basis == "inactive_anon" else "Inactive"
        if s.swap_total_bytes == 0:  # the whole peak is the need: one figure, not "X more than none"
            why = f"no swap is configured, and peak {name} was {fmt_bytes(s.required_bytes)}"
        else:
            why = (
                f"peak {name} {fmt_bytes(s.required_bytes)} needs {fmt_bytes(max(0, s.deficit_bytes), round_up=True)} "
                f"more than the {fmt_bytes(s.swap_total_bytes)} configured"
            )
        asks.append((s.deficit_bytes, rule, why))
    if o.oom_headroom_bytes is not None:
        asks.append(
            (
                -o.oom_headroom_bytes,
                "oom_headroom",
                f"VMs are allocated {fmt_bytes(max(0, -o.oom_headroom_bytes), round_up=True)} beyond RAM + swap",
            )
        )
    if not asks:
        return (
            None,
            None,
            (
                "Swap: not known. The data has neither Inactive with SwapTotal nor VM allocations with "
                "MemTotal; see what is missing below."
            ),
        )
    asks.sort(key=lambda a: -a[0])
    deficit, rule, why = asks[0]
    if deficit <= 0:
        parts = []
        if s.deficit_bytes is not None:
            parts.append(
                f"{fmt_bytes(s.swap_total_bytes)} covers the peak "
                f"{'Inactive(anon)' if s.basis == 'inactive_anon' else 'Inactive'} "
                f"({fmt_bytes(s.required_bytes)})"
            )
        if o.oom_headroom_bytes is not None:
            parts.append(f"allocations fit in RAM + swap with {fmt_bytes(o.oom_headroom_bytes)} to spare")
        return 0, "none", "Swap is enough: " + " and ".join(parts) + "."
    add = round_up_gib(deficit)
    others = [f"this also covers {RULE_NAMES[r]} ({w})" for d, r, w in asks[1:] if d > 0]
    what = "swap (or RAM)" if rule == "oom_headroom" else "swap"
    sentence = f"Add {fmt_bytes(add)} of {what}: {why}"
    if others:
        sentence += "; " + "; ".join(others)
    return add, rule, sentence + "."


def _thrash(th: ThrashResult) -> tuple[ThrashAnswer, str]:
    if not th.available:
        return ThrashAnswer(None, None, CAUSE_UNKNOWN), "Thrash: not known (no swap-in/out rates in the data)."
    n = len(th.windows)
    ans = ThrashAnswer(n, th.total_window_seconds, th.cause if n else CAUSE_NONE)
    if not n:
        return ans, "No swap thrash."
    head = f"Swap thrash in {n} window{'s' if n != 1 else ''} ({fmt_duration(th.total_window_seconds)})"
    if th.cause == CAUSE_SHORT:
        low = min((w for w in th.windows if w.cause == CAUSE_SHORT), key=lambda w: w.min_available_percent or 0.0)
        return ans, (
            f"{head}: host memory is short (MemAvailable fell to {fmt_pct(low.min_available_percent, 1)} of RAM); "
            "reduce allocations or move a VM."
        )
    if th.cause == CAUSE_LIMIT:
        low = min((w for w in th.windows if w.cause == CAUSE_LIMIT), key=lambda w: w.min_available_percent or 0.0)
        return ans, (
            f"{head}: a memory limit forced swapping while {fmt_bytes(low.min_available_bytes)} stayed "
            "available; check the VMs' memtune/cgroup limits."
        )
    return ans, f"{head}: cause not known (no MemAvailable in the data)."


def recommended_fit(o: OomResult) -> CapacityModel | None:
    """The safe rule (allocations ≤ RAM + swap), unless the observed peak use leaves less room: then the data
    has proven the host fuller than its allocations say (host processes, page cache it cannot drop)."""
    by = {m.key: m for m in o.models}
    safe, observed = by.get("safe"), by.get("observed")
    known = [m for m in (safe, observed) if m is not None and m.more_vms is not None]
    if not known:
        return None
    return min(known, key=lambda m: (m.more_vms, m.key != "safe"))


def _fit(o: OomResult, size: int, hp: HugepagesResult | None = None) -> tuple[int | None, str | None, str]:
    n, key, sentence = _fit_ram(o, size)
    if hp is None or not hp.total_bytes or hp.more_vms is None:
        return n, key, sentence
    pool = (
        f"; backed by hugepages: {hp.more_vms} (the {fmt_bytes(hp.total_bytes)} pool has "
        f"{fmt_bytes(max(0, hp.unallocated_bytes or 0))} not allocated to VMs)"
    )
    return (
        n,
        key,
        sentence.rstrip(".")
        .replace(" VMs fit (", " VMs backed by ordinary RAM fit (", 1)
        .replace(" VM fit (", " VM backed by ordinary RAM fits (", 1)
        + pool
        + ".",
    )


def _fit_ram(o: OomResult, size: int) -> tuple[int | None, str | None, str]:
    best = recommended_fit(o)
    if best is None:
        return None, None, ("VMs that fit: not known (needs MemTotal with VM allocations or MemAvailable).")
    context = [f"{m.name.split(':')[0].lower()} {m.more_vms}" for m in o.models if m.key != best.key and m.more_vms is not None]
    why = (
        "safe rule: allocations ≤ RAM + swap"
        if best.key == "safe"
        else "observed peak use, which leaves less room than the allocations suggest"
        if o.vm_allocated_bytes is not None
        else "observed peak use; no VM allocations in the data"
    )
    n = best.more_vms
    sentence = f"{n} more {fmt_bytes(size)} VM{'s' if n != 1 else ''} fit ({why})"
    if context:
        sentence += "; for context: " + ", ".join(context)
    return n, best.key, sentence + "."


def _ksm(k: KsmResult) -> str:
    if k.action == "unknown":
        return "KSM: not known (not in the data)."
    verdict = k.verdict.rstrip(".")
    return f"{verdict}." if verdict.startswith("KSM") else f"KSM: {verdict or k.action}."


_TONE = {Severity.OK: "ok", Severity.WARN: "warn", Severity.CRIT: "crit"}
_FIT_IDS = frozenset({"oom.overallocated", "oom.low_headroom", "oom.headroom", "oom.unknown"})


def _tone(findings: list[Finding], known: bool, belongs: object) -> str:
    if not known:
        return "unknown"
    sev = [f.severity for f in findings if belongs(f)]  # type: ignore[operator]
    return _TONE[max(sev, default=Severity.OK)]


def build(
    swap: SwapSizing,
    thrash: ThrashResult,
    oom: OomResult,
    ksm: KsmResult,
    conf: Confidence,
    vm_size: int,
    findings: list[Finding],
    hp: HugepagesResult | None = None,
) -> Answer:
    add, rule, swap_line = _swap(swap, oom)
    no_swap = next((f for f in swap.findings if f.id == "swap.none"), None)
    if no_swap is not None and no_swap.severity == Severity.OK and add:
        # Led by "optional": an idle swapless host's admin should not read an order first and the caveat last.
        swap_line = f"Optional (the host runs without swap and showed no memory pressure): {swap_line[:1].lower()}{swap_line[1:]}"
    th, thrash_line = _thrash(thrash)
    fit, model, fit_line = _fit(oom, vm_size, hp)
    if oom.zram_bytes and add is not None:
        swap_line = swap_line.rstrip(".") + f" (the {fmt_bytes(oom.zram_bytes)} of zram swap is not counted: it lives in RAM)."
    conf_line = f"Confidence {conf.level}: {conf.reason}" + (f"; {conf.needs}." if conf.needs and conf.level != "high" else ".")
    if conf.level == "low" and add:
        swap_line += " On this little data the peaks may be higher."
    items = [
        AnswerItem(
            "swap",
            "Swap",
            swap_line,
            _tone(findings, add is not None, lambda f: f.check == "swap_sizing" or f.id == "oom.overallocated"),
        ),
        AnswerItem(
            "thrash",
            "Thrash",
            thrash_line,
            _tone(findings, th.cause != CAUSE_UNKNOWN or bool(th.windows), lambda f: f.check == "thrash"),
        ),
        AnswerItem(
            "fit",
            "VMs that fit",
            fit_line,
            _tone(findings, fit is not None, lambda f: f.id in _FIT_IDS)
            if fit != 0
            else ("crit" if oom.oom_headroom_bytes is not None and oom.oom_headroom_bytes < 0 else "warn"),
        ),
        AnswerItem("ksm", "KSM", _ksm(ksm), _tone(findings, ksm.action != "unknown", lambda f: f.check == "ksm")),
        AnswerItem("confidence", "Confidence", conf_line, {"high": "ok", "medium": "ok", "low": "warn"}[conf.level]),
    ]
    return Answer(
        swap_to_add_bytes=add,
        swap_to_add_rule=rule,
        thrash=th,
        vm_size_bytes=vm_size,
        vms_that_fit=fit,
        vms_that_fit_model=model,
        ksm=ksm.action,
        confidence=conf.level,
        confidence_reason=conf.reason,
        items=items,
        vms_that_fit_hugepages=hp.more_vms if hp is not None and hp.total_bytes else None,
    )
