"""Memory reports: off by default, one JSON line per report, Python's growth with tracemalloc."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from pathlib import Path

from scalper.memory_report import MemoryReporter, memory_reporter, rss_bytes
from scalper.settings import DiagnosticsSettings, Settings


def test_no_reports_unless_a_file_is_set() -> None:
    assert Settings().diagnostics.memory_report_file == ""
    assert memory_reporter(Settings().diagnostics) is None


def test_each_report_is_a_json_line_with_the_owners(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "memory.jsonl"
    reporter = memory_reporter(
        DiagnosticsSettings(memory_report_file=str(path)), lambda: {"symbols": 3}
    )
    assert reporter is not None
    reporter.write()
    reporter.write()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["rss_bytes"] > 0 and lines[0]["symbols"] == 3
    assert {"t_ns", "uptime_s", "python_blocks", "glibc", "arrow"} <= set(lines[0])
    assert "tracemalloc" not in lines[0]
    assert rss_bytes() > 0


def test_tracemalloc_names_the_line_that_grew(tmp_path: Path) -> None:
    settings = DiagnosticsSettings(
        memory_report_file=str(tmp_path / "m.jsonl"), tracemalloc=True, tracemalloc_top=5
    )
    was_tracing = tracemalloc.is_tracing()
    try:
        reporter = MemoryReporter(settings)
        first = reporter.report()["tracemalloc"]
        assert "growth" not in first and first["traced_bytes"] >= 0
        grown = [bytearray(1000) for _ in range(2000)]  # about 2 MB on this line
        second = reporter.report()["tracemalloc"]
        site, size, count = second["growth"][0]
        assert site.endswith(f"test_memory_report.py:{_line_of('grown = [bytearray')}")
        assert size >= 2_000_000 and count >= 2000
        assert len(second["top"]) <= 5
        del grown
    finally:
        if not was_tracing:
            tracemalloc.stop()


def test_run_reports_until_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    reporter = MemoryReporter(
        DiagnosticsSettings(memory_report_file=str(path), memory_report_every_s=0.01)
    )

    async def main() -> None:
        task = asyncio.create_task(reporter.run())
        await asyncio.sleep(0.1)
        task.cancel()

    asyncio.run(main())
    assert len(path.read_text().splitlines()) >= 2


def _line_of(text: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(
        number for number, line in enumerate(lines, 1) if text in line and "_line_of" not in line
    )
