"""scripts/system-deps: a machine missing system packages gets one clear instruction (not root),
and nothing is asked of a machine that has them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-deps"


def run(path_dir: Path, need: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), need],
        env={"PATH": str(path_dir), "HOME": os.environ.get("HOME", "/")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_user_without_the_packages_is_told_the_one_command(tmp_path: Path) -> None:
    (tmp_path / "id").write_text("#!/bin/sh\necho 1000\n")  # not root: nothing is installed
    (tmp_path / "id").chmod(0o755)
    (tmp_path / "python3").symlink_to(sys.executable)  # python3 with its headers, nothing else
    done = run(tmp_path, "build")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "missing system packages; run: sudo apt-get install -y build-essential nodejs npm"
    ]
    tests = run(tmp_path, "test")
    assert tests.returncode == 1 and "curl jq" in tests.stderr


def test_a_machine_with_everything_passes_silently() -> None:
    if (
        not all(shutil.which(tool) for tool in ("cc", "npm", "curl", "jq"))
        or not Path("/usr/bin/chromium").exists()
    ):
        raise AssertionError("this machine lacks a system package: run `make test` once as root")
    done = subprocess.run([str(SCRIPT), "test"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")
