"""Thresholds: defaults, TOML (--config) and --set overrides with type checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from memreport.config import Thresholds, load_thresholds
from memreport.errors import ConfigError


def test_defaults_are_documented_and_printed() -> None:
    t = load_thresholds(None, [])
    assert t == Thresholds()
    d = t.as_dict()
    assert d["thrash.rate_bytes_per_s"] == 1048576.0 and d["swap.basis"] == "inactive"
    assert all(item["doc"] for item in Thresholds.describe())
    assert set(Thresholds.names()) == set(d)


def test_toml_then_set(tmp_path: Path) -> None:
    cfg = tmp_path / "memreport.toml"
    cfg.write_text('[thrash]\nrate_bytes_per_s = 2097152\nmin_duration_s = 120\n[swap]\nbasis = "inactive_anon"\n')
    t = load_thresholds(cfg, ["thrash.min_duration_s=300", "oom.new_vm_bytes=4GiB", "ksm.min_saved_bytes=512M"])
    assert t.thrash_rate_bytes_per_s == 2097152.0
    assert t.thrash_min_duration_s == 300.0
    assert t.swap_basis == "inactive_anon"
    assert t.oom_new_vm_bytes == 4 * 1024**3
    assert t.ksm_min_saved_bytes == 512 * 1024**2


@pytest.mark.parametrize(
    "override, message",
    [
        ("thrash.rate=5", "unknown setting"),
        ("thrash.min_duration_s=soon", "expected a number"),
        ("thrash.min_duration_s=-1", "negative"),
        ("oom.new_vm_bytes=1.5", "whole number"),
        ("swap.basis=total", "not one of"),
        ("novalue", "key=value"),
        ("thrash.min_duration_s=nan", "finite"),
    ],
)
def test_bad_overrides(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_thresholds(None, [override])


def test_bad_toml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[thrash\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_thresholds(bad, [])
    typed = tmp_path / "typed.toml"
    typed.write_text('[thrash]\nmin_duration_s = "long"\n')
    with pytest.raises(ConfigError, match="thrash.min_duration_s"):
        load_thresholds(typed, [])
    boolean = tmp_path / "bool.toml"
    boolean.write_text("[thrash]\nmin_duration_s = true\n")
    with pytest.raises(ConfigError, match="expected a number"):
        load_thresholds(boolean, [])
    with pytest.raises(ConfigError, match="cannot read"):
        load_thresholds(tmp_path / "absent.toml", [])
