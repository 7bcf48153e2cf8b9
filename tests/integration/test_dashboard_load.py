"""The dashboard streaming 300 symbols (`scalper demo --symbols 300`) in headless Chromium: the
time the page spends in long tasks (over 50 ms), measured with a PerformanceObserver.

Run with `-s` to see the figure: `.venv/bin/python -m pytest -s -q
tests/integration/test_dashboard_load.py`. The target is at most 50 ms of long tasks per second;
the bound asserted here is looser (the CI machine is shared and loaded).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.test_dashboard import ARTIFACTS, CHROMIUM_ARGS, _require_browser

SYMBOLS = 300
MEASURE_S = 20.0
BOUND_MS_PER_S = 400.0
"""Asserted ceiling of long-task time per second: the target is 50; this bound holds on the
2-CPU machine shared by several test runs (194 ms/s at a load average of 4 to 8, 301 ms/s at 14),
where the page before the virtualised scanner spent about 700 ms/s (issue 16)."""
SCREENSHOT = ARTIFACTS / "dashboard-300.png"
OBSERVER = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
  }
}).observe({ type: "longtask", buffered: true });
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_300(tmp_path: Path) -> Iterator[str]:
    """`scalper demo --symbols 300` (no recording, no trading) in a child process; its URL."""
    api_port = _free_port()
    command = [
        sys.executable,
        "-m",
        "scalper.cli",
        "demo",
        "--symbols",
        str(SYMBOLS),
        "--no-record",
        "--no-trading",
        "--port",
        str(api_port),
        "--set",
        f"simulator.port={_free_port()}",
    ]
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True
    )
    url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the demo did not serve 300 symbols in 90 s"
            try:
                count = httpx.get(f"{url}/api/symbols?limit=100000", timeout=5).json()["count"]
                if count == SYMBOLS:
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


def test_300_symbols_stream_without_long_tasks(demo_300: str) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright
    from tests.integration.test_dashboard import CHROMIUM

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.add_init_script(OBSERVER)
            page.goto(f"{demo_300}/", wait_until="load")
            page.wait_for_function(
                "() => window.__dashboard && window.__dashboard.ws === 'open'"
                f" && window.__dashboard.stateMessages > {2 * SYMBOLS}",
                timeout=60_000,
            )
            time.sleep(2.0)  # settle: the first burst of every symbol's state
            begin = page.evaluate("() => performance.now()")
            messages = page.evaluate("() => window.__dashboard.stateMessages")
            time.sleep(MEASURE_S)
            result = page.evaluate(
                """(begin) => {
                    const tasks = window.__longTasks.filter(t => t.start >= begin);
                    return {
                        elapsed: performance.now() - begin,
                        count: tasks.length,
                        total: tasks.reduce((sum, t) => sum + t.duration, 0),
                        max: Math.max(0, ...tasks.map(t => t.duration)),
                        messages: window.__dashboard.stateMessages,
                        rows: document.querySelectorAll('#scanner .row[data-symbol]').length,
                        shown: Number(document.querySelector('#scanner').dataset.shown),
                    };
                }""",
                begin,
            )
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    seconds = result["elapsed"] / 1000
    per_second = result["total"] / seconds
    rate = (result["messages"] - messages) / seconds
    print(
        f"\n{SYMBOLS} symbols, {seconds:.1f} s: {result['count']} long tasks, "
        f"{result['total']:.0f} ms in all ({per_second:.1f} ms/s), longest {result['max']:.0f} ms; "
        f"{rate:.0f} state messages/s; {result['rows']} scanner rows in the DOM"
    )
    assert errors == [], errors
    assert result["shown"] == SYMBOLS
    assert result["rows"] < 100  # virtualised: only the rows in view (and a few around)
    assert rate > SYMBOLS / 4  # the stream was flowing while measured
    assert per_second <= BOUND_MS_PER_S, result
