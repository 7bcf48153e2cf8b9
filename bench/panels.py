"""Screenshots of each dashboard panel, for the README (docs/panels/*.png, docs/dashboard.png).

    .venv/bin/python -m bench.panels [--out docs/panels] [--page docs/dashboard.png] [--wait 90]

Starts the simulator -> feed -> engine -> API stack of the dashboard tests with the demo's paper
trader (wide stops: positions stay open), alert rules and footprints, opens the page in headless
Chromium, waits until the trader holds a position, selects the symbol with a position and the
most fills (its entry markers and entry, stop and take-profit lines on the chart) and saves one
PNG per panel plus the whole page; then shows the heatmap and footprint and saves them (and the
page with them, `views.png`).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from tests.integration.test_dashboard import CHROMIUM, CHROMIUM_ARGS, HOLDING
from tests.integration.test_dashboard_flow import QUICK_ALERTS, _serve

from scalper.settings import FootprintSettings

PANELS = {
    "candle-chart": "#chart",
    "positions": "#positions-part",
    "account-strip": "#account",
    "orders": "#orders-part",
    "fills": "#fills-part",
    "equity-curve": "#equity-part",
    "signal-meters": "#signals-panel",
    "ladder": "#side-panel",
    "tape": "#tape-panel",
    "alerts-toast": "header",
    "scanner": "#scanner-panel",
}
"""File name -> the element it shows (the heatmap and footprint hidden); the chart and positions
first, while the position whose stop and take profit the chart shows is still open."""

VIEWS = {"heatmap": "#heatmap-wrap", "footprint": "#footprint-wrap"}
"""The same, once the heatmap and footprint are shown."""

READY = """() => {
    const d = window.__dashboard;
    return d && d.trading && d.trading.positions.length > 0 && d.trading.fills.length > 0
        && document.querySelectorAll('#tape tbody tr').length > 5;
}"""


WHY = """() => {
    const d = window.__dashboard;
    return {
        positions: d.trading.positions.length, fills: d.trading.fills.length,
        toasts: document.querySelectorAll('#toasts .toast').length,
        tape: document.querySelectorAll('#tape tbody tr').length,
    };
}"""
"""What READY waits for, to say what is missing."""

BUSIEST = """() => {
    const t = window.__dashboard.trading;
    const fills = (symbol) => t.fills.filter((f) => f.symbol === symbol).length;
    return t.positions.map((p) => p.symbol).sort((a, b) => fills(b) - fills(a))[0];
}"""
"""The symbol with a position and the most fills."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/panels"))
    parser.add_argument("--page", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--wait", type=float, default=180.0, help="seconds to wait for data")
    parser.add_argument("--symbols", type=int, default=8)
    parser.add_argument("--settle", type=float, default=60.0, help="seconds of trading first")
    args = parser.parse_args()
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    stack_iter = _serve(
        symbols=args.symbols,
        ready_timeout=120,
        trading=HOLDING,
        alerts=QUICK_ALERTS,
        footprint=FootprintSettings(),
    )
    stack = next(stack_iter)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.on("pageerror", lambda error: print("page error:", error))
                page.goto(f"{stack.url}/?tf=15s", wait_until="load", timeout=120_000)
                started = time.monotonic()
                page.wait_for_timeout(args.settle * 1000)  # candles, fills and exits to show
                try:
                    page.wait_for_function(READY, timeout=args.wait * 1000)
                except Exception:
                    print("not ready:", page.evaluate(WHY))
                    raise
                held = page.evaluate(BUSIEST)
                page.click(f"#scanner .row[data-symbol='{held}']")
                page.wait_for_function(
                    "(s) => document.querySelector('#chart').dataset.symbol === s"
                    " && document.querySelector('#chart').dataset.priceLines",
                    arg=held,
                    timeout=30_000,
                )
                page.wait_for_timeout(1000)  # the tape and ladder of the symbol
                markers = page.evaluate("() => document.querySelector('#chart').dataset.markers")
                print(f"{held}: {markers} markers on the chart")
                page.wait_for_function(
                    "() => document.querySelectorAll('#toasts .toast').length > 0", timeout=60_000
                )
                for name, selector in PANELS.items():
                    path = args.out / f"{name}.png"
                    page.locator(selector).first.screenshot(path=str(path))
                    print(path)
                page.screenshot(path=str(args.page))
                print(args.page)
                page.click("#btn-heatmap")
                page.click("#btn-footprint")
                page.wait_for_function(
                    "() => Number(document.querySelector('#heatmap').dataset.samples) >= 100"
                    " && Number(document.querySelector('#footprint').dataset.draws) > 0",
                    timeout=60_000,
                )
                for name, selector in VIEWS.items():
                    path = args.out / f"{name}.png"
                    page.locator(selector).first.screenshot(path=str(path))
                    print(path)
                page.screenshot(path=str(args.out / "views.png"))
                print(f"{time.monotonic() - started:.0f} s after the page opened")
            finally:
                browser.close()
    finally:
        next(stack_iter, None)


if __name__ == "__main__":
    main()
