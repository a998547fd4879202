"""The built wheel installs anywhere (issue 13): `uv build` makes it from this checkout, it goes
into a fresh virtual environment outside the checkout, and the report is rendered from there with
the templates and collectors the wheel carries (they live at the top of the repository)."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".tools" / "bin" / "uv"
PYTHON = ROOT / ".venv" / "bin" / "python"

pytestmark = pytest.mark.slow


def _run(argv: list[object], cwd: Path, **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    p = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=900, **kw)
    assert p.returncode == 0, f"{argv}: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UV.exists():
        pytest.fail("uv not bootstrapped: run `make setup`")
    work = tmp_path_factory.mktemp("wheel")
    _run([UV, "build", "--wheel", "--offline", "-o", work / "dist", ROOT], cwd=work)
    [wheel] = (work / "dist").glob("memreport-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "memreport/templates/report.html.j2" in names and "memreport/collectors/memsnap.sh" in names
    # The locked versions of the dependencies, from uv's cache (the registry only for what is not cached).
    _run([UV, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-q", "-o", work / "reqs.txt"], cwd=ROOT)
    _run([UV, "venv", "-q", "--python", PYTHON, work / "venv"], cwd=work)
    install = [UV, "pip", "install", "-q", "--python", work / "venv" / "bin" / "python", "-r", work / "reqs.txt", wheel]
    if subprocess.run([str(a) for a in [*install, "--offline"]], cwd=work, capture_output=True).returncode != 0:
        _run(install, cwd=work)
    return work


def test_the_installed_wheel_renders_a_report_outside_the_checkout(installed: Path) -> None:
    venv = installed / "venv"
    where = _run(
        [
            venv / "bin" / "python",
            "-c",
            "import memreport, memreport.resources as r; print(memreport.__file__); print(r.templates_dir())",
        ],
        cwd=installed,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # not the checkout's package or templates
    _run([venv / "bin" / "memreport", "report", ROOT / "sample_data" / "kvm-sample", "-o", installed / "out"], cwd=installed)
    out = installed / "out" / "kvm-sample"
    doc = json.loads((out / "report.json").read_text())
    assert doc["host"] == "kvm-sample" and doc["verdict"] == "CRIT"
    assert doc["answer"]["swap_to_add_bytes"] == 20 * 1024**3
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "kvm-sample" in (out / "report.html").read_text()


def test_the_installed_wheel_prints_its_collectors(installed: Path) -> None:
    for kind, name in (("sh", "memsnap.sh"), ("py", "memsnap.py")):
        out = _run([installed / "venv" / "bin" / "memreport", "collector", kind], cwd=installed).stdout
        assert out == (ROOT / "collectors" / name).read_text()
