"""Thresholds: named settings with documented defaults, a TOML file (`--config`) and `--set` overrides.

Every setting has a dotted name, `<check>.<name>` (e.g. `thrash.rate_bytes_per_s`). In a TOML file
they are written as tables:

    [thrash]
    rate_bytes_per_s = 2097152
    min_duration_s = 120

On the command line: `--set thrash.min_duration_s=120`. Byte settings also take sizes with a binary
suffix (`512MiB`, `4G`). The report prints the values it used (docs/CHECKS.md explains each one).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

from memreport.config_file import read_toml
from memreport.errors import ConfigError
from memreport.units import size_value

MIB = 1024**2
GIB = 1024**3


def _setting(default: Any, doc: str, unit: str = "", choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"doc": doc, "unit": unit, "choices": choices})


@dataclass(frozen=True)
class Thresholds:
    """The values the checks compare against. Field `a_b` is the setting `a.b` (first `_` = the dot).

    `Thresholds(vm_size="8GiB")` is `Thresholds(oom_new_vm_bytes=8 * GIB)`: the size a new VM has for
    "how many more VMs fit", as --vm-size takes it (a size string or bytes)."""

    vm_size: InitVar[str | int | None] = None

    swap_basis: str = _setting(
        "inactive",
        "Which peak swap must cover: inactive (the rule “swap ≥ the largest Inactive ever seen”, conservative) or inactive_anon "
        "(only anonymous pages can be swapped)",
        choices=("inactive", "inactive_anon"),
    )
    swap_pressure_psi_full_percent: float = _setting(
        5.0,
        "On a host without swap, an interval whose PSI memory full reaches this counts as memory pressure (Meta oomd: 5 %)",
        "%",
    )
    active_warn_percent: float = _setting(90.0, "Active ÷ MemTotal at or above this is WARN (Netdata RAM warn 90 %)", "%")
    active_crit_percent: float = _setting(98.0, "Active ÷ MemTotal at or above this is CRIT (Netdata RAM crit 98 %)", "%")
    active_roundtrip_bytes_per_s: float = _setting(
        40960.0,
        "An interval where both swap-in and swap-out reach this rate is a round trip: pages swapped "
        "out and read back (atop: swout > 10 pages/s is critical; 10 × 4 KiB)",
        "B/s",
    )
    active_roundtrip_warn_s: float = _setting(60.0, "Total round-trip time at or above this is WARN", "s")
    thrash_rate_bytes_per_s: float = _setting(1048576.0, "Swap traffic (in + out) at or above this rate is thrash-level", "B/s")
    thrash_min_duration_s: float = _setting(60.0, "A thrash window lasts at least this long; shorter bursts are not windows", "s")
    thrash_merge_gap_s: float = _setting(60.0, "Windows closer than this gap are merged into one", "s")
    thrash_max_interval_s: float = _setting(
        900.0, "A rate measured over a longer interval than this is ignored (a gap in the data, not a rate)", "s"
    )
    thrash_limit_available_percent: float = _setting(
        20.0,
        "A thrash window during which MemAvailable never fell below this share of MemTotal was forced by a "
        "memory limit (cgroup memory.max/high, libvirt memtune), not by the host running short",
        "%",
    )
    thrash_crit_total_s: float = _setting(900.0, "Total thrash time at or above this is CRIT (node_exporter mixin: 15 min)", "s")
    thrash_psi_full_crit_percent: float = _setting(
        5.0, "A window whose mean PSI memory full reaches this is CRIT (Meta oomd: 5 %)", "%"
    )
    oom_new_vm_bytes: int = _setting(
        4 * GIB,
        "Size of a new VM for 'how many more VMs fit' (--vm-size): 4 GiB, a common KVM guest; the same in report, "
        "analyze and fleet",
        "B",
    )
    oom_headroom_warn_percent: float = _setting(
        10.0, "Headroom (RAM + swap − allocated) below this share of RAM + swap is WARN", "%"
    )
    oom_commit_warn_percent: float = _setting(100.0, "Committed_AS ÷ CommitLimit at or above this is WARN", "%")
    oom_available_warn_percent: float = _setting(
        10.0, "Lowest MemAvailable ÷ MemTotal below this is WARN (Netdata 90 % used)", "%"
    )
    oom_available_crit_percent: float = _setting(
        2.0, "Lowest MemAvailable ÷ MemTotal below this is CRIT (Netdata 98 % used)", "%"
    )
    ksm_cpu_warn_percent: float = _setting(25.0, "ksmd mean CPU (% of one CPU) at or above this is WARN", "%")
    ksm_min_saved_bytes: int = _setting(512 * MIB, "KSM saving below this while ksmd uses CPU is not worth it", "B")
    ksm_idle_cpu_percent: float = _setting(1.0, "ksmd mean CPU below this counts as free", "%")
    ksm_unshared_warn_ratio: float = _setting(
        2.0, "pages_unshared ÷ pages_sharing above this means wasted scanning (kernel docs)", ""
    )
    confidence_high_days: float = _setting(
        7.0,
        "Data covering at least this many days, sampled at most every confidence.high_max_interval_s, is high confidence",
        "d",
    )
    confidence_high_max_interval_s: float = _setting(
        300.0, "The coarsest median sampling interval that can give high confidence (short peaks hide between samples)", "s"
    )
    confidence_medium_days: float = _setting(
        1.0,
        "Data covering at least this many days is medium confidence; less is low, and peak-based findings are at most WARN",
        "d",
    )
    numa_low_free_percent: float = _setting(
        2.0,
        "A NUMA node whose MemFree fell below this share of its MemTotal ran out (guests bound to it reclaim, swap "
        "or OOM there; kernel docs, NUMA node meminfo)",
        "%",
    )
    numa_host_free_percent: float = _setting(
        10.0,
        "… while the whole host still had at least this share free: the node is flagged (WARN), memory was free elsewhere",
        "%",
    )
    vms_swap_warn_percent: float = _setting(25.0, "A VM whose peak VmSwap reaches this share of its allocation is WARN", "%")
    vms_hard_limit_percent: float = _setting(
        90.0,
        "A VM whose peak resident memory (RSS + hugetlb pages) reaches this share of its hard limit (libvirt "
        "<memtune><hard_limit>, the VM cgroup's memory.max) is WARN: past the limit it swaps or is OOM-killed inside its "
        "cgroup while the host has room",
        "%",
    )
    vms_balloon_low_percent: float = _setting(
        75.0,
        "A VM whose balloon (current memory) is at or below this share of its <memory> is reported: the guest may "
        "take the difference back at any time by deflating it, so the OOM rule counts <memory>",
        "%",
    )

    render_pdf_timeout_s: float = _setting(
        120.0,
        "Deadline for rendering one PDF (report.pdf, fleet.pdf); 0 = none. A PDF not done by then is not written, "
        "its HTML and JSON are, and the run fails (a week of one host renders in seconds)",
        "s",
    )

    def __post_init__(self, vm_size: str | int | None) -> None:
        if vm_size is not None:
            object.__setattr__(self, "oom_new_vm_bytes", vm_size_bytes(vm_size))

    @staticmethod
    def names() -> list[str]:
        return [dotted(f.name) for f in dataclasses.fields(Thresholds)]

    def as_dict(self) -> dict[str, Any]:
        """Dotted name -> value, in declaration order (for report.json and the method appendix)."""
        return {dotted(f.name): getattr(self, f.name) for f in dataclasses.fields(self)}

    @staticmethod
    def describe() -> list[dict[str, Any]]:
        """Name, default, unit and documentation of every setting."""
        return [
            {
                "name": dotted(f.name),
                "default": f.default,
                "unit": f.metadata["unit"],
                "doc": f.metadata["doc"],
                "choices": list(f.metadata["choices"]),
            }
            for f in dataclasses.fields(Thresholds)
        ]


def vm_size_bytes(size: str | int) -> int:
    """A new VM's size in bytes from `4GiB`, `512M` or a number of bytes (--vm-size, Thresholds(vm_size=…))."""
    value = size_value(size) if isinstance(size, str) else size
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
        or value != int(value)
    ):
        raise ConfigError(f"vm size {size!r}: expected a whole positive size such as 4GiB or 512MiB")
    return int(value)


def dotted(field_name: str) -> str:
    check, _, rest = field_name.partition("_")
    return f"{check}.{rest}"


_FIELDS = {dotted(f.name): f for f in dataclasses.fields(Thresholds)}


def _coerce(name: str, value: Any, from_text: bool) -> Any:
    f = _FIELDS[name]
    kind = type(f.default)
    choices: tuple[str, ...] = f.metadata["choices"]
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected text, got {value!r}")
        if choices and value not in choices:
            raise ConfigError(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if from_text or isinstance(value, str):
        text = str(value).strip()
        size = size_value(text) if f.metadata["unit"] == "B" else None
        try:
            value = size if size is not None else float(text)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {text!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}")
    if value < 0:
        raise ConfigError(f"{name}: must not be negative, got {value!r}")
    if f.metadata["unit"] == "%" and value > 100:
        # 1e300 % would silently switch the check off: a share is 0-100.
        raise ConfigError(f"{name}: a percentage must be between 0 and 100, got {value!r}")
    if kind is int:
        if float(value) != int(value):
            raise ConfigError(f"{name}: expected a whole number, got {value!r}")
        return int(value)
    return float(value)


def _flatten(table: dict[str, Any], path: str, source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            out.update(_flatten(value, name, source))
        else:
            out[name] = value
    return out


def _check_known(name: str, source: str) -> None:
    if name not in _FIELDS:
        raise ConfigError(f"{source}: unknown setting {name!r} (known: {', '.join(_FIELDS)})")


OTHER_TABLES = frozenset({"mail", "fleet"})


def load_thresholds(config_path: Path | None = None, overrides: list[str] | None = None) -> Thresholds:
    """Defaults, then the TOML file, then each `key=value` override, each value type-checked."""
    values: dict[str, Any] = {}
    if config_path is not None:
        table = read_toml(config_path)
        # Other tables of the same file belong to other parts ([mail]: memreport.mail.smtp,
        # [fleet]: memreport.fleet.settings).
        table = {k: v for k, v in table.items() if k not in OTHER_TABLES}
        for name, value in _flatten(table, "", str(config_path)).items():
            _check_known(name, str(config_path))
            try:
                values[name] = _coerce(name, value, from_text=False)
            except ConfigError as e:
                raise ConfigError(f"{config_path}: {e}") from None
    for item in overrides or []:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ConfigError(f"--set {item!r}: expected key=value")
        _check_known(name, "--set")
        values[name] = _coerce(name, text.strip(), from_text=True)
    kwargs = {_FIELDS[k].name: v for k, v in values.items()}
    t = Thresholds(**kwargs)
    if t.active_crit_percent < t.active_warn_percent:
        raise ConfigError("active.crit_percent must not be below active.warn_percent")
    if t.oom_available_crit_percent > t.oom_available_warn_percent:
        raise ConfigError("oom.available_crit_percent must not be above oom.available_warn_percent")
    if t.oom_new_vm_bytes <= 0:
        raise ConfigError("oom.new_vm_bytes must be positive")
    return t
