"""The command line itself: help for every command and option, version, module entry point."""

from __future__ import annotations

import re
from pathlib import Path

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


# Runs the real command line in a fresh interpreter and reports, when it exits, which of the heavy
# libraries it had imported (issue 12: `--help` and usage errors are instant because they load none).
_HEAVY_RUNNER = """
import atexit, json, sys
heavy = ("pandas", "pyarrow", "numpy", "weasyprint", "dask", "polars")
atexit.register(lambda: print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr))
sys.argv = ["memreport", *sys.argv[1:]]
from memreport.cli import main
main()
"""


def _heavy_modules_loaded(*args: str) -> tuple[int, str, list[str]]:
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _HEAVY_RUNNER, *args], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, json.loads(proc.stderr.strip().splitlines()[-1])


def test_help_and_usage_errors_load_no_pandas_pyarrow_or_weasyprint():
    code, out, heavy = _heavy_modules_loaded("--help")
    assert code == 0 and "report" in out and "fleet" in out
    assert heavy == []
    for args in (["report", "--help"], ["fleet", "--help"], ["send", "--help"], ["ingest", "--help"]):
        code, out, heavy = _heavy_modules_loaded(*args)
        assert code == 0 and "Usage: memreport" in out, args
        assert heavy == [], args
    for args in (["report"], ["report", "x", "--no-such-option"], ["fleet"], ["no-such-command"]):
        code, _, heavy = _heavy_modules_loaded(*args)
        assert code == 2, args
        assert heavy == [], args


# Issue 13: `memreport analyze` is read by monitoring, where 2 is CRIT: any input or usage error is
# 3 (UNKNOWN), and an input error is one line, printed once (it was printed twice).
def test_analyze_missing_input_is_unknown_with_one_line(cli, tmp_path):
    proc = cli("analyze", tmp_path / "MISSING")
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [f"memreport: error: {tmp_path / 'MISSING'}: no such file or directory"]
    assert proc.stdout == ""


def test_analyze_usage_errors_are_unknown(cli, tmp_path):
    for args in (
        ["analyze"],
        ["analyze", "--bogus", "x"],
        ["analyze", tmp_path, "--vm-size", "lots"],
        ["analyze", tmp_path, "--set", "nosuch.key=1"],
    ):
        proc = cli(*args)
        assert proc.returncode == 3, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_report_prints_an_input_error_once(cli, tmp_path):
    proc = cli("report", tmp_path / "MISSING", "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"memreport: error: {tmp_path / 'MISSING'}: no such file or directory"]
    assert not (tmp_path / "out").exists()


def test_report_of_several_bad_inputs_names_each(cli, tmp_path):
    proc = cli("report", tmp_path / "a", tmp_path / "b", "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"memreport: error: {tmp_path / 'a'}: no such file or directory",
        f"memreport: error: {tmp_path / 'b'}: no such file or directory",
        "memreport: error: 2 inputs: none could be read (each is listed above or in the error's log)",
    ]


def test_help_reads_like_a_manual(cli):
    """INPUT..., no Python types, an example for every command (issue 13)."""
    for name in all_commands():
        if name == "collect":  # the collector's own help (argparse), tested with the collector
            continue
        out = cli(name, "--help").stdout
        assert not re.search(r"<(list|str|int|path|bool|float)[^>]*>|\{\w+[^}]*\}\.\.\.", out), (name, out)
        assert re.search(r"^  Examples?:\n    memreport " + name, out, re.M), (name, out)
    assert "memreport report [OPTIONS] INPUT...\n" in cli("report", "--help").stdout
    assert "memreport analyze [OPTIONS] INPUT\n" in cli("analyze", "--help").stdout
    assert "\\[" not in cli("fleet", "--help").stdout


def test_collector_prints_each_collector(cli):
    root = Path(__file__).resolve().parents[1] / "collectors"
    for kind, name in (("sh", "memsnap.sh"), ("py", "memsnap.py")):
        proc = cli("collector", kind)
        assert proc.returncode == 0 and proc.stdout == (root / name).read_text()
    proc = cli("collector", "pl")
    assert proc.returncode == 2 and proc.stderr.strip() == "memreport: error: collector 'pl': one of sh, py"


def test_collect_help_names_memreport_collect(cli):
    # The collector's own argparse, run in-process: its usage must name the command typed, and a bad
    # option is one line naming it too (the stand-alone file keeps its own name).
    proc = cli("collect", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: memreport collect [-h] [--output DIR]")
    assert "memsnap.py" not in proc.stdout.splitlines()[0]
    proc = cli("collect", "--bogus")
    assert (
        proc.returncode == 2
        and proc.stderr.strip().splitlines()[-1] == "memreport collect: error: unrecognized arguments: --bogus"
    )
