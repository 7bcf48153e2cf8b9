"""The import-linter contract in pyproject.toml fails on a deliberate violation.

A copy of the package is linted twice: as it is (every contract kept), then with one upward
import added (the engine importing Bybit's decoder, as it did before the venue became a plug),
which must break the layers contract. The compiled modules are checked by
test_compiled_layers.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """The package's Python sources and pyproject.toml, importable from tmp_path/src."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "src" / "scalper",
        tmp_path / "src" / "scalper",
        ignore=shutil.ignore_patterns("*.so", "*.c", "*.html", "__pycache__", "web"),
    )
    return tmp_path


def test_the_contract_holds_and_breaks_on_an_upward_import(package_copy: Path) -> None:
    kept = lint(package_copy)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    engine = package_copy / "src" / "scalper" / "engine.py"
    engine.write_text(engine.read_text() + "\nimport scalper.venues.bybit.wire  # noqa\n")
    broken = lint(package_copy)
    assert broken.returncode != 0
    assert "Layers: data flows one way BROKEN" in broken.stdout
    assert "scalper.engine -> scalper.venues.bybit.wire" in broken.stdout


def test_the_api_may_not_import_a_venue(package_copy: Path) -> None:
    health = package_copy / "src" / "scalper" / "api" / "health.py"
    health.write_text(health.read_text() + "\nimport scalper.venues.bybit.feed  # noqa\n")
    broken = lint(package_copy)
    assert broken.returncode != 0
    assert "never a venue BROKEN" in broken.stdout
