"""Children started through `scalper.scaleout.orphans` (workers, nats-server) die with the
process that started them, even when it is killed with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scalper.scaleout.orphans import die_with_parent

PARENT = """
import subprocess, sys, time
from scalper.scaleout.orphans import dying_with_parent
child = subprocess.Popen(dying_with_parent(["/bin/sleep", "60"]))
print(child.pid, flush=True)
time.sleep(60)
"""


def _state(pid: int) -> str | None:
    """The process's state letter (Z: a zombie), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _until(condition: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_dies_with_its_parent_killed_by_sigkill() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True
    ) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            comm = Path(f"/proc/{child}/comm")
            assert _until(lambda: comm.read_text().strip() == "sleep"), "the child never exec'd"
            parent.kill()
            parent.wait()
            assert _until(lambda: _state(child) in (None, "Z")), "the child outlived its parent"
        finally:
            parent.kill()


def test_a_child_whose_parent_is_already_gone_exits_at_once() -> None:
    with pytest.raises(SystemExit) as exit_:
        die_with_parent(os.getppid() + 1_000_000)
    assert exit_.value.code == 0
