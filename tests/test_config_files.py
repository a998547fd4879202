"""A --config file is customer-adjacent text: any way it can be wrong is one line naming the file
and the setting, never a traceback (issue 11, defects 17-19)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memreport.config import load_thresholds
from memreport.errors import ConfigError
from memreport.fleet.settings import load_fleet_settings
from memreport.mail.smtp import load_mail_config

LOADERS = (load_thresholds, load_mail_config, load_fleet_settings)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_a_config_that_is_not_utf8_is_one_config_error(tmp_path: Path, loader) -> None:  # noqa: ANN001
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes('[mail]\nfrom = "r\u00e9port@example.com"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"{cfg.name}: not UTF-8 text \(byte 16\)"):
        loader(cfg)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_a_huge_config_is_refused_before_it_is_parsed(tmp_path: Path, loader) -> None:  # noqa: ANN001
    cfg = tmp_path / "huge.toml"
    with open(cfg, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: nothing to read but zeros
    with pytest.raises(ConfigError, match="not a settings file"):
        loader(cfg)


@pytest.mark.parametrize(
    "line, message",
    [
        ('timeout = "abc"', r"mail.timeout must be a number of seconds > 0, got 'abc'"),
        ("timeout = nan", r"mail.timeout must be a number of seconds > 0, got nan"),
        ("timeout = inf", r"mail.timeout must be a number of seconds > 0, got inf"),
        ("timeout = -1", r"mail.timeout must be a number of seconds > 0, got -1"),
        ("timeout = 0", r"mail.timeout must be a number of seconds > 0, got 0"),
        ("timeout = true", r"mail.timeout must be a number of seconds > 0, got True"),
        ("deadline = -5", r"mail.deadline must be a number of seconds > 0, got -5"),
        ("smtp_host = 123", r"mail.smtp_host must be text, got 123"),
        ('smtp_host = ""', r"mail.smtp_host must be text, got ''"),
        ("smtp_port = true", r"mail.smtp_port must be a port number \(1-65535\), got True"),
        ("smtp_port = 70000", r"mail.smtp_port must be a port number \(1-65535\), got 70000"),
        ('smtp_port = "25"', r"mail.smtp_port must be a port number \(1-65535\), got '25'"),
        ('verify = "no"', r"mail.verify must be true or false, got 'no'"),
        ("user = 5", r"mail.user must be text, got 5"),
        ("password_env = []", r"mail.password_env must be text, got \[\]"),
        ("tls_ca = 1", r"mail.tls_ca must be text, got 1"),
        ("from = 7", r"mail.from must be text, got 7"),
        ('security = "ssl"', r"mail.security must be one of none, starttls, tls, got 'ssl'"),
    ],
)
def test_mail_settings_are_type_checked(tmp_path: Path, line: str, message: str) -> None:
    cfg = tmp_path / "mail.toml"
    cfg.write_text(f'[mail]\nsmtp_host = "mx.example.com"\n{line}\n' if not line.startswith("smtp_host") else f"[mail]\n{line}\n")
    with pytest.raises(ConfigError, match=message):
        load_mail_config(cfg)


def test_good_mail_settings_are_kept_with_their_types(tmp_path: Path) -> None:
    cfg = tmp_path / "mail.toml"
    cfg.write_text(
        '[mail]\nsmtp_host = "mx.example.com"\nsmtp_port = 2525\ntimeout = 7\ndeadline = 60.5\nverify = false\n'
        'tls_ca = "ca.pem"\nto = ["a@example.com", "b@example.com"]\n'
    )
    m = load_mail_config(cfg)
    assert (m.smtp.host, m.smtp.port, m.smtp.timeout, m.smtp.deadline, m.smtp.verify) == (
        "mx.example.com",
        2525,
        7.0,
        60.5,
        False,
    )
    assert m.smtp.ca_file == tmp_path / "ca.pem" and m.to == ("a@example.com", "b@example.com")


def test_mail_table_that_is_not_a_table(tmp_path: Path) -> None:
    cfg = tmp_path / "mail.toml"
    cfg.write_text('mail = "mx.example.com"\n')
    with pytest.raises(ConfigError, match=r"\[mail\] must be a table"):
        load_mail_config(cfg)


@pytest.mark.parametrize("value", ["1e300", "100.5", "101"])
def test_percentages_above_100_are_refused(value: str) -> None:
    # 1e300 % would never be reached: the check would be silently switched off.
    with pytest.raises(ConfigError, match=r"thrash.limit_available_percent: a percentage must be between 0 and 100"):
        load_thresholds(None, [f"thrash.limit_available_percent={value}"])


def test_percentages_in_a_config_file_are_bounded_too(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text("[oom]\nheadroom_warn_percent = 1e300\n")
    with pytest.raises(ConfigError, match=r"oom.headroom_warn_percent: a percentage must be between 0 and 100, got 1e\+300"):
        load_thresholds(cfg, [])
    cfg.write_text("[oom]\nheadroom_warn_percent = 100\n[active]\nwarn_percent = 0\ncrit_percent = 100\n")
    t = load_thresholds(cfg, [])
    assert (t.oom_headroom_warn_percent, t.active_warn_percent, t.active_crit_percent) == (100.0, 0.0, 100.0)


def test_byte_settings_use_the_one_size_rule() -> None:
    t = load_thresholds(None, ["oom.new_vm_bytes=1.5GiB", "ksm.min_saved_bytes=64KiB"])
    assert t.oom_new_vm_bytes == 3 * 1024**3 // 2 and t.ksm_min_saved_bytes == 65536
    with pytest.raises(ConfigError, match="whole number"):
        load_thresholds(None, ["oom.new_vm_bytes=1.5"])


@pytest.mark.parametrize(
    "command, body",
    [
        (["analyze", "sample_data/kvm-sample"], b"[thrash]\nmin_duration_s = 60 # \xe9t\xe9\n"),
        (["report", "sample_data/kvm-sample", "-o", "OUT"], b"[oom]\nheadroom_warn_percent = 1e300\n"),
        (["send", "OUT", "--to", "a@example.com", "--from", "b@example.com"], b'[mail]\nsmtp_host = "h"\ntimeout = "abc"\n'),
    ],
)
def test_the_cli_says_one_line(cli, tmp_path: Path, command: list[str], body: bytes) -> None:  # noqa: ANN001
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(body)
    (tmp_path / "OUT").mkdir()
    args = [str(tmp_path / a) if a == "OUT" else a for a in command]
    proc = cli(*args, "--config", str(cfg))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode not in (0, 1), proc.stderr  # 1 would be an unhandled exception
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert str(cfg) in lines[0] or "c.toml" in lines[0]
