"""The command line itself: help for every command and option, version, module entry point."""

from __future__ import annotations

import re

import typer.main

from memreport import __version__
from memreport.cli import app, main  # noqa: F401  (main registers every command module)


def all_commands():
    import memreport.cli_email  # noqa: F401
    import memreport.cli_fleet  # noqa: F401
    import memreport.cli_report  # noqa: F401

    return typer.main.get_command(app).commands  # type: ignore[attr-defined]


def test_every_command_and_option_has_help(cli):
    commands = all_commands()
    assert {"ingest", "collect", "report", "analyze"} <= set(commands)
    for name, cmd in commands.items():
        assert cmd.help and cmd.help.strip(), f"{name} has no help"
        if name == "collect":  # its options are the collector's own (tested with the collector)
            continue
        for param in cmd.params:
            if getattr(param, "param_type_name", "") == "option":
                assert param.help and param.help.strip(), f"{name} {param.opts} has no help"
    proc = cli("--help")
    assert proc.returncode == 0
    for name in commands:
        assert name in proc.stdout


def test_version_and_module_entry_point(cli):
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"memreport {__version__}"


def test_collect_help_is_the_collectors(cli):
    proc = cli("collect", "--help")
    assert proc.returncode == 0
    assert re.search(r"--interval", proc.stdout) and "--max-size" in proc.stdout


def test_usage_error_is_exit_2(cli):
    proc = cli("ingest")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
