"""The app layers hold: surfaces → supervision → tasks → households → villages → shared ground (bazhou.core).

`make lint` runs ``lint-imports`` with the contract in pyproject.toml. These tests run the same contract on the
project as it is (kept) and on a copy with one deliberate upward import (broken), so a contract that could not fail
would be noticed.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bazhou", "villages", "households", "tasks", "supervision")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is a dev dependency (make venv)")


def copy_project(target: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def lint_imports(where: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH: the copy, not the installed project, is what grimp reads.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=where,
        env={"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_project_keeps_its_layers(tmp_path):
    result = lint_imports(copy_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("villages/models.py", "from tasks.models import Task  # noqa"),
        ("households/views.py", "from tasks.models import Task  # noqa"),
        ("tasks/services.py", "from supervision.models import Finding  # noqa"),
        ("supervision/services.py", "from bazhou.surfaces import dashboard  # noqa"),
        ("bazhou/core/access.py", "from villages.models import Village  # noqa"),
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path, module, upward):
    project = copy_project(tmp_path)
    path = project / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{upward}\n", encoding="utf-8")
    result = lint_imports(project)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    imported = upward.split()[1]
    assert f"-> {imported}" in result.stdout
