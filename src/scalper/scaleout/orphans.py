"""Children that die with their parent: `python -m scalper.scaleout.orphans PARENT_PID PROGRAM
ARGS...` asks Linux to send it SIGTERM when its parent dies (even by kill -9), then becomes
PROGRAM (`execv` keeps that request), so no worker or nats-server outlives scalper.

This runs in the child after its exec, never as a `preexec_fn`: a `preexec_fn` runs Python
between fork and exec in a copy of a process whose other threads may hold locks (malloc's, the
dynamic loader's: `ctypes.CDLL` takes it), and the parent waits for that exec inside the event
loop, so a child stuck there froze scalper until a signal (the rare `demo --workers 2` hang).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def dying_with_parent(argv: list[str]) -> list[str]:
    """The command that runs `argv` (PROGRAM, ARGS...) as a child of this process that dies
    with it."""
    return [sys.executable, "-m", "scalper.scaleout.orphans", str(os.getpid()), *argv]


def die_with_parent(parent_pid: int) -> None:
    """SIGTERM this process when its parent dies; exit at once if `parent_pid` is no longer its
    parent (it died before the request was made)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:
        raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        raise SystemExit("usage: python -m scalper.scaleout.orphans PARENT_PID PROGRAM [ARGS...]")
    die_with_parent(int(args[0]))
    os.execv(args[1], args[1:])


if __name__ == "__main__":
    main()
