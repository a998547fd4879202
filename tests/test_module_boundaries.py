"""No module imports another module's `_private` name (issue 13): what a second module needs is
public, named and documented. Found: cli_report, cli_fleet and cli_email importing `_progress`,
`_print_warnings` and `_err` from cli.py, in a circle (cli.py imports them back)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "memreport"


def private_imports(text: str, where: str) -> list[str]:
    """`where:line: from memreport.x import _name` for each private name imported from memreport."""
    found = []
    for node in ast.walk(ast.parse(text, where)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "memreport":
            found += [
                f"{where}:{node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            ]
        if isinstance(node, ast.Import):
            found += [
                f"{where}:{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.startswith("memreport.")
                and any(part.startswith("_") and not part.startswith("__") for part in a.name.split(".")[1:])
            ]
    return found


def test_no_module_imports_a_private_name_of_another():
    found = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in private_imports(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    ]
    assert found == []


def test_the_scan_finds_the_imports_issue_13_found():
    text = "from memreport.cli import _progress, guarded\nimport memreport.analyze._util\nfrom os import _exit\n"
    assert private_imports(text, "probe.py") == [
        "probe.py:1: from memreport.cli import _progress",
        "probe.py:2: import memreport.analyze._util",
    ]


def test_the_cli_modules_form_no_circle():
    """The command modules import cli_common, never cli.py or each other's privates."""
    for name in ("cli_report.py", "cli_fleet.py", "cli_email.py", "cli_common.py"):
        tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "memreport.cli" not in modules, name
