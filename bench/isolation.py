"""One benchmark step in a forked child: its RSS is its own and its failure is a result.

The parent's objects (the frames) are shared with the child copy-on-write, so a step that only
reads them adds nothing to the child's RSS but its own work.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

Result = dict[str, Any]


def rss_bytes() -> int:
    """This process's resident set size now (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child(step: Callable[..., Result], args: tuple[Any, ...], conn: Connection) -> None:
    try:
        conn.send(step(*args))
    except Exception as exc:  # a failing step is a row of the table, not the end of the bench
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def run_forked(step: Callable[..., Result], *args: Any) -> Result:
    """`step(*args)` in a forked child: its result, or {"error": ...} if it raised or died."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(step, args, sender))
    process.start()
    sender.close()
    try:
        result: Result = receiver.recv()
    except EOFError:
        result = {"error": "child died without a result"}
    process.join()
    if process.exitcode not in (0, None) and "error" not in result:
        result["error"] = f"child exit code {process.exitcode}"
    return result
