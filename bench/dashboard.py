"""Where the dashboard's main thread spends its time with many symbols streaming.

    .venv/bin/python -m bench.dashboard [--symbols 300] [--seconds 10] [--no-trading] [--views]

Starts the simulator -> feed -> engine -> API stack of the dashboard tests (with the demo's paper
trader unless `--no-trading`), opens the page in headless Chromium (`--views`: with the heatmap
and the footprint shown), and prints the long-task time per second (PerformanceObserver) and a
CDP CPU profile's self time by function, largest first. "(program)" is the browser's own work:
style, layout, paint.
"""

from __future__ import annotations

import argparse
import collections
import logging
from typing import Any

from tests.integration.test_dashboard import CHROMIUM, CHROMIUM_ARGS, HOLDING
from tests.integration.test_dashboard_flow import LONG_TASKS, QUICK_ALERTS, _serve

from scalper.settings import FootprintSettings


def self_times(profile: dict[str, Any]) -> collections.Counter[str]:
    """Microseconds of self time per function (name, file and line) of a CDP profile."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    times: collections.Counter[str] = collections.Counter()
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[node_id]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        where = frame["url"].rsplit("/", 1)[-1]
        times[f"{name} {where}:{frame['lineNumber'] + 1}" if where else name] += delta
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-trading", action="store_true")
    parser.add_argument("--views", action="store_true", help="show the heatmap and footprint")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    # Closing the browser leaves the server writing to dead sockets for a moment: asyncio's
    # "socket.send() raised exception." lines would bury the figures.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    from playwright.sync_api import sync_playwright

    stack_iter = _serve(
        symbols=args.symbols,
        ready_timeout=120,
        trading=None if args.no_trading else HOLDING,
        alerts=QUICK_ALERTS,
        footprint=FootprintSettings(),
    )
    stack = next(stack_iter)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.add_init_script(LONG_TASKS)
                query = "?tf=15s&heatmap=1&footprint=1" if args.views else "?tf=15s"
                page.goto(f"{stack.url}/{query}", wait_until="load")
                page.wait_for_function(
                    "(n) => window.__dashboard && window.__dashboard.stateMessages >= n",
                    arg=args.symbols,
                    timeout=120_000,
                )
                page.wait_for_timeout(3000)
                cdp = page.context.new_cdp_session(page)
                cdp.send("Profiler.enable")
                cdp.send("Profiler.setSamplingInterval", {"interval": 1000})
                start = page.evaluate("() => performance.now()")
                cdp.send("Profiler.start")
                page.wait_for_timeout(args.seconds * 1000)
                profile = cdp.send("Profiler.stop")["profile"]
                long_ms, span_ms = page.evaluate(
                    """(start) => [window.__longTasks.filter(([t]) => t >= start)
                        .reduce((sum, [, d]) => sum + d, 0), performance.now() - start]""",
                    start,
                )
            finally:
                browser.close()
    finally:
        for _ in stack_iter:
            pass
    print(
        f"{args.symbols} symbols, trading {'off' if args.no_trading else 'on'},"
        f" views {'on' if args.views else 'off'}: long tasks {long_ms / span_ms * 1000:.0f} ms"
        f" per second over {span_ms / 1000:.1f} s"
    )
    times = self_times(profile)
    print(f"CPU profile, {sum(times.values()) / 1000:.0f} ms sampled; self time:")
    for name, us in times.most_common(args.top):
        print(f"{us / 1000:9.1f} ms  {name}")


if __name__ == "__main__":
    main()
