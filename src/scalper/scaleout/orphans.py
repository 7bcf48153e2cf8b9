"""Children that die with their parent: a `preexec_fn` asking Linux to send SIGTERM to the child
when the process that started it dies (even by kill -9), so no worker or nats-server outlives
scalper."""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
