"""Periodic memory reports of a long-running process, one JSON line each.

Switched on by `diagnostics.memory_report_file` (settings.py); `runtime.py` runs it as one of
its tasks. Each line holds what tells the owners of memory apart: RSS; Python's allocated
blocks; glibc's arenas (in use, free inside them, mapped on their own); Arrow's pool; what the
caller adds (the recorder's buffers); and, with `diagnostics.tracemalloc`, the largest Python
allocation sites and the ones that grew most since the first report. A steady process shows
every figure level from one line to the next; a leak shows one of them climbing.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from scalper.allocators import arrow_pool, glibc_heap
from scalper.settings import DiagnosticsSettings

Extra = Callable[[], dict[str, Any]]
"""Figures the owner adds to each report (e.g. the recorder's buffered bytes)."""


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _site(stat: tracemalloc.Statistic | tracemalloc.StatisticDiff) -> str:
    frame = stat.traceback[0]
    return f"{frame.filename}:{frame.lineno}"


class MemoryReporter:
    """Writes a report line every `memory_report_every_s` to `memory_report_file` (appended)."""

    def __init__(self, settings: DiagnosticsSettings, extra: Extra | None = None) -> None:
        self.settings = settings
        self.path = Path(settings.memory_report_file)
        self._extra = extra
        self._first: tracemalloc.Snapshot | None = None
        self._started_ns = time.time_ns()
        if settings.tracemalloc and not tracemalloc.is_tracing():
            tracemalloc.start(settings.tracemalloc_depth)

    def report(self) -> dict[str, Any]:
        """The figures as of now (also takes the tracemalloc snapshot the next ones compare to)."""
        now = time.time_ns()
        line: dict[str, Any] = {
            "t_ns": now,
            "uptime_s": round((now - self._started_ns) / 1e9, 1),
            "rss_bytes": rss_bytes(),
            "python_blocks": sys.getallocatedblocks(),
            "glibc": glibc_heap(),
            "arrow": arrow_pool(),
        }
        if tracemalloc.is_tracing():
            line["tracemalloc"] = self._python_sites()
        if self._extra is not None:
            line.update(self._extra())
        return line

    def _python_sites(self) -> dict[str, Any]:
        snapshot = tracemalloc.take_snapshot().filter_traces(
            (tracemalloc.Filter(False, tracemalloc.__file__),)
        )
        top = self.settings.tracemalloc_top
        traced, peak = tracemalloc.get_traced_memory()
        figures: dict[str, Any] = {
            "traced_bytes": traced,
            "peak_bytes": peak,
            "top": [
                [_site(stat), stat.size, stat.count] for stat in snapshot.statistics("lineno")[:top]
            ],
        }
        if self._first is None:
            self._first = snapshot
        else:
            diffs = snapshot.compare_to(self._first, "lineno")
            figures["growth"] = [
                [_site(diff), diff.size_diff, diff.count_diff] for diff in diffs[:top]
            ]
        return figures

    def write(self) -> None:
        """Append one report line (the directory is created if needed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as file:
            file.write(msgspec.json.encode(self.report()) + b"\n")

    async def run(self) -> None:
        """Report now and every `memory_report_every_s` until cancelled."""
        while True:
            self.write()
            await asyncio.sleep(self.settings.memory_report_every_s)


def memory_reporter(
    settings: DiagnosticsSettings, extra: Extra | None = None
) -> MemoryReporter | None:
    """The reporter the settings ask for, or None when reports are off (the default)."""
    if not settings.memory_report_file:
        return None
    return MemoryReporter(settings, extra)
