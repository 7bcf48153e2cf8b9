"""The dashboard in headless Chromium against simulator -> live feed -> engine -> API.

Needs Debian's Chromium at /usr/bin/chromium (CI installs it; `apt-get install chromium`) and
the vendored charting library (`npm ci && npm run build`, run by the Makefile's bootstrap).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import pytest
from tests.integration.support import DEMO_TRADING, api_stack

from scalper.api.app import DASHBOARD_DIR
from scalper.settings import TradingSettings
from scalper.signals import FACTOR_NAMES
from scalper.trading.trader import Trader

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VENDOR = DASHBOARD_DIR / "vendor" / "lightweight-charts.standalone.production.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SCREENSHOT = ARTIFACTS / "dashboard.png"
TRADING_SCREENSHOT = ARTIFACTS / "dashboard-trading.png"
HEATMAP_SCREENSHOT = ARTIFACTS / "heatmap.png"


@dataclass
class LiveStack:
    """Simulator + feed + API on an event loop in a background thread."""

    url: str = ""
    symbols: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    loop: asyncio.AbstractEventLoop | None = None
    stop: asyncio.Event | None = None
    trader: Trader | None = None


def _run_stack(stack: LiveStack, trading: TradingSettings | None) -> None:
    async def main() -> None:
        stack.loop = asyncio.get_running_loop()
        stack.stop = asyncio.Event()
        async with api_stack(ready_timeout=15, ws_tick_s=0.25, trading=trading) as live:
            stack.url = live.server.url
            stack.symbols = list(live.symbols)
            stack.trader = live.trader
            stack.ready.set()
            await stack.stop.wait()

    try:
        asyncio.run(main())
    except BaseException as exc:  # reported to the test thread
        stack.error = exc
        stack.ready.set()


def _serve(trading: TradingSettings | None) -> Iterator[LiveStack]:
    stack = LiveStack()
    thread = threading.Thread(target=_run_stack, args=(stack, trading), daemon=True)
    thread.start()
    assert stack.ready.wait(30), "the simulator stack did not start within 30 s"
    if stack.error is not None:
        raise stack.error
    try:
        yield stack
    finally:
        if stack.loop is not None and stack.stop is not None:
            stack.loop.call_soon_threadsafe(stack.stop.set)
        thread.join(15)


@pytest.fixture
def live_stack() -> Iterator[LiveStack]:
    """The stack without a trader (the /api/trading routes are absent)."""
    yield from _serve(None)


HOLDING = msgspec.structs.replace(
    DEMO_TRADING,
    strategy=msgspec.structs.replace(
        DEMO_TRADING.strategy, min_stop_bps=300.0, exit_score=1.0, time_stop_s=600.0
    ),
)
"""The demo's paper trading with stops far enough (and no exit on a reversing score) for its
positions to stay open while the test looks at them."""


@pytest.fixture
def trading_stack() -> Iterator[LiveStack]:
    """The stack with the demo's paper trader (wide stops)."""
    yield from _serve(HOLDING)


def _dashboard_state(page: object) -> dict:
    return page.evaluate(  # type: ignore[attr-defined]
        """() => {
            const d = window.__dashboard;
            const chart = document.querySelector('#chart').dataset;
            return {
                symbol: d.symbol, timeframe: d.timeframe, ws: d.ws,
                candles: d.candles.length,
                starts: d.candles.map(c => c.start_ns),
                closes: d.candles.map(c => c.close),
                chartSymbol: chart.symbol, chartTimeframe: chart.timeframe,
                chartCandles: Number(chart.candles),
                ladderUpdates: d.ladderUpdates, updateId: d.lastBook && d.lastBook.update_id,
                ladderRows: document.querySelectorAll('#ladder tbody tr').length,
                scannerRows: document.querySelectorAll('#scanner .row[data-symbol]').length,
                tapeRows: document.querySelectorAll('#tape tbody tr').length,
                health: document.querySelector('#health').dataset.status,
                stateMessages: d.stateMessages,
            };
        }"""
    )


SCANNER_COLUMNS = (
    "watch",
    "symbol",
    "machine",
    "mid",
    "spread_bps",
    "imbalance",
    "score",
    "confluence",
    "volatility_regime",
    "delta_1m",
    "volume_5m",
    "change_24h",
    "funding_rate",
    "open_interest_value",
    "last_update_age_ms",
)
"""The scanner's columns, in the order of its cells (scanner.js)."""


SUFFIXES = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def _cell_value(column: str, text: str) -> str | float | None:
    """A scanner cell as shown: the symbol, None for a dash, else the number ("1.2k", "3.40M"
    and plain figures; the display rounds, which keeps the order of the values)."""
    if column == "symbol":
        return text
    if text in ("—", "-"):
        return None
    if text.endswith("%"):
        return float(text[:-1]) / 100
    scale = SUFFIXES.get(text[-1])
    return float(text[:-1].replace(",", "")) * scale if scale else float(text.replace(",", ""))


def _assert_scanner_sorted(page: object, column: str, descending: bool) -> list[str]:
    """The scanner's rows (in their shown order), read from the DOM in one go, are ordered by
    `column` as the test computes it from the cells shown (rows without a value last); returns
    the symbols in row order."""
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('#scanner').dataset.frozen === 'false'"
    )
    shown = page.evaluate(  # type: ignore[attr-defined]
        """() => ({
            rows: [...document.querySelectorAll('#scanner .row[data-symbol]')]
                .sort((a, b) => a.dataset.index - b.dataset.index)
                .map(tr => [...tr.children].map(td => td.textContent)),
            sorted: [...document.querySelectorAll('#scanner .th.sorted')].map(
                th => th.dataset.sort),
            asc: [...document.querySelectorAll('#scanner .th.asc')].map(th => th.dataset.sort),
        })"""
    )
    index = SCANNER_COLUMNS.index(column)
    values = [_cell_value(column, cells[index]) for cells in shown["rows"]]
    present = [value for value in values if value is not None]
    assert values == present + [None] * (len(values) - len(present)), (column, values)
    assert present == sorted(present, reverse=descending), (column, descending, values)
    assert len(set(present)) > 1, (column, values)  # an order that says something
    assert shown["sorted"] == [column]
    assert shown["asc"] == ([] if descending else [column])
    return [cells[SCANNER_COLUMNS.index("symbol")] for cells in shown["rows"]]


def _signals_state(page: object) -> dict:
    return page.evaluate(  # type: ignore[attr-defined]
        """() => ({
            meters: [...document.querySelectorAll('#meters .meter')].map(m => m.dataset.factor),
            bars: [...document.querySelectorAll('#meters .meter .bar')]
                .map(b => parseFloat(b.style.width)),
            badges: Object.fromEntries([...document.querySelectorAll('#regimes .badge')]
                .map(b => [b.dataset.regime, b.dataset.state])),
            headline: document.querySelector('#signal-score').textContent,
            scores: [...document.querySelectorAll('#scanner .row[data-symbol]')]
                .sort((a, b) => a.dataset.index - b.dataset.index)
                .map(tr => tr.querySelector('.score').textContent),
            regimes: [...document.querySelectorAll('#scanner .row[data-symbol] .regimes')]
                .map(td => [...td.querySelectorAll('.mini')].map(m => m.dataset.state)),
        })"""
    )


def _require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium); "
            "the dashboard test needs it and does not skip"
        )
    assert VENDOR.exists(), f"{VENDOR} is missing: run `npm ci && npm run build` (or make)"


def test_dashboard_renders_live_data(live_stack: LiveStack) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_stack.url}/?tf=15s", wait_until="load")

            # The scanner lists every symbol and the first one is selected with its candles.
            page.wait_for_function(
                "() => window.__dashboard && window.__dashboard.candles.length > 0"
                " && window.__dashboard.ladderUpdates > 0"
                " && document.querySelectorAll('#scanner .row[data-symbol]').length === 5"
                " && window.__dashboard.ws === 'open'",
                timeout=15_000,
            )
            first = _dashboard_state(page)
            assert first["symbol"] == sorted(live_stack.symbols)[0] == first["chartSymbol"]
            assert first["chartTimeframe"] == "15s" and first["chartCandles"] == first["candles"]
            assert all(close > 0 for close in first["closes"])
            assert first["ladderRows"] == 2 * 20 + 1  # a row per tick around the mid
            assert page.locator("#chart canvas").count() > 0
            # No trader behind this API: the trading panels and the scanner's State column
            # stay hidden (and nothing asks the absent routes: no 404 in the console).
            page.wait_for_function("() => window.__dashboard.trading.enabled === false")
            assert page.locator("#account").is_hidden()
            assert page.locator("#trading-panel").is_hidden()
            assert page.locator("#scanner .th[data-sort='machine']").is_hidden()

            # The ladder keeps updating over the WebSocket ticks.
            page.wait_for_function(
                f"() => window.__dashboard.ladderUpdates >= {first['ladderUpdates'] + 3}"
                f" && window.__dashboard.lastBook.update_id !== {first['updateId']}",
                timeout=15_000,
            )

            # Switching symbol redraws the chart with the other symbol's candles.
            other = sorted(live_stack.symbols)[2]
            page.click(f"#scanner .row[data-symbol='{other}']")
            page.wait_for_function(
                f"() => document.querySelector('#chart').dataset.symbol === '{other}'"
                " && window.__dashboard.candles.length > 0",
                timeout=10_000,
            )
            switched = _dashboard_state(page)
            assert switched["symbol"] == other
            assert switched["closes"][-1] != first["closes"][-1]

            # Switching timeframe redraws 5 m candles (starts on a 5 minute grid).
            page.click("#timeframes button[data-tf='5m']")
            page.wait_for_function(
                "() => document.querySelector('#chart').dataset.timeframe === '5m'"
                " && window.__dashboard.candles.length > 0",
                timeout=10_000,
            )
            five = _dashboard_state(page)
            assert all(start % 300_000_000_000 == 0 for start in five["starts"])
            # A fresh stack: the 5 m chart is not blank, it shows the forming candle (the one
            # of the latest 15 s candle's five minutes) from the first trade on.
            assert five["starts"][-1] >= switched["starts"][-1] // 300_000_000_000 * 300_000_000_000
            page.click("#timeframes button[data-tf='15s']")
            page.wait_for_function(
                "() => document.querySelector('#chart').dataset.timeframe === '15s'",
                timeout=10_000,
            )
            page.wait_for_function(
                "() => document.querySelector('#health').dataset.status === 'ok'"
                " && document.querySelectorAll('#tape tbody tr').length > 0",
                timeout=10_000,
            )

            # The scanner starts sorted by imbalance, descending. A click on another header
            # orders the rows by its column (numbers descending, the symbol ascending), a click
            # on the sorted one reverses the order: so imbalance goes ascending first.
            current, descending = "imbalance", True
            _assert_scanner_sorted(page, current, descending)
            for column in (
                "imbalance",
                "delta_1m",
                "spread_bps",
                "volume_5m",
                "change_24h",
                "funding_rate",
                "open_interest_value",
                "symbol",
            ):
                first = not descending if column == current else column != "symbol"
                page.click(f"#scanner .th[data-sort='{column}']")
                once = _assert_scanner_sorted(page, column, first)
                page.click(f"#scanner .th[data-sort='{column}']")
                twice = _assert_scanner_sorted(page, column, not first)
                assert sorted(twice) == sorted(once) == sorted(live_stack.symbols)
                if column == "symbol":  # values that do not change between the two clicks
                    assert twice == once[::-1]
                current, descending = column, not first

            # Signals: one meter per factor with its contribution, regime badges, and the
            # scanner's score and regime columns (sortable by score).
            page.wait_for_function(
                "() => window.__dashboard.lastSignals && window.__dashboard.lastSignals.score"
                " !== null && window.__dashboard.signalMessages > 0",
                timeout=20_000,
            )
            signals = _signals_state(page)
            assert signals["meters"] == list(FACTOR_NAMES)
            assert signals["badges"] == {
                "volatility": "warming_up",
                "trend": "warming_up",
                "volume": "warming_up",
            }
            assert any(width > 0 for width in signals["bars"])
            assert signals["headline"].split()[1] in ("long", "short", "flat")
            page.click("#scanner .th[data-sort='score']")
            page.wait_for_function(
                "() => document.querySelector('#scanner .th.sorted').dataset.sort === 'score'",
                timeout=5_000,
            )
            scores = _signals_state(page)["scores"]
            shown = [float(text) for text in scores if text not in ("—", "warm")]
            assert len(shown) == 5 and shown == sorted(shown, reverse=True)
            assert all(len(regimes) == 3 for regimes in _signals_state(page)["regimes"])

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert errors == [], f"console errors: {errors}"


def _trading_dom(page: object) -> dict:
    return page.evaluate(  # type: ignore[attr-defined]
        """() => {
            const text = (selector) => document.querySelector(selector).textContent;
            const rows = (selector) => [...document.querySelectorAll(selector + ' tbody tr')];
            return {
                equity: text('#acct-equity'), today: text('#acct-today'),
                realised: text('#acct-realised'), fees: text('#acct-fees'),
                state: document.querySelector('#trading-state').dataset.state,
                badge: text('#trading-state'),
                machines: Object.fromEntries(
                    [...document.querySelectorAll('#scanner .row[data-symbol]')].map(
                        tr => [tr.dataset.symbol, tr.querySelector('.machine').dataset.state])),
                positions: rows('#positions').map(tr => tr.dataset.symbol),
                positionCells: rows('#positions').map(
                    tr => [...tr.cells].map(td => td.textContent)),
                fills: rows('#fills').map(tr => tr.dataset.clientId),
                orders: rows('#orders').map(tr => tr.dataset.clientId),
                equityPoints: Number(document.querySelector('#equity-chart').dataset.points),
                markers: Number(document.querySelector('#chart').dataset.markers || 0),
                lines: document.querySelector('#chart').dataset.priceLines || '',
            };
        }"""
    )


def _money(text: str) -> float:
    return float(text.replace(",", "").replace("+", ""))


def test_trading_panels_and_the_kill_switch(trading_stack: LiveStack) -> None:
    """The account strip, the positions / orders / fills tables, the equity curve, the
    scanner's machine states and the chart's trade overlays against the paper trader of the
    demo; the kill switch halts trading within a second (the API confirms)."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    api = httpx.Client(base_url=trading_stack.url, timeout=10)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{trading_stack.url}/?tf=15s", wait_until="load")
            page.wait_for_function(
                "() => window.__dashboard && window.__dashboard.trading.polls > 1"
                " && document.querySelectorAll('#scanner .row .machine[data-state=\"\"]')"
                ".length === 0",
                timeout=20_000,
            )
            assert page.locator("#account").is_visible()
            assert page.locator("#trading-panel").is_visible()
            shown = _trading_dom(page)
            state = api.get("/api/trading/state").json()
            assert shown["state"] == state["state"] == "active" and shown["badge"] == "ACTIVE"
            assert _money(shown["equity"]) == pytest.approx(state["equity"], rel=0.01)
            assert set(shown["machines"]) == set(state["symbols"]) == set(trading_stack.symbols)
            assert shown["equityPoints"] > 0
            assert page.locator("#equity-chart canvas").count() > 0
            # No negative zero in the money shown (funding is 0 in a fresh paper account).
            strip = page.inner_text("#account")
            assert "-0.00" not in strip and "Funding 0.00" in " ".join(strip.split()), strip
            # Times in UTC, or local with the header's button (kept in the browser).
            assert page.get_attribute("#time-zone", "data-zone") == "utc"
            page.click("#time-zone")
            assert page.evaluate("() => window.__dashboard.timeZone") == "local"
            assert page.evaluate("() => localStorage.getItem('scalper.timeZone')") == "local"
            page.click("#time-zone")
            assert page.get_attribute("#time-zone", "data-zone") == "utc"

            # Paper fills on the simulator (the demo's strategy): the fills table shows the
            # API's latest fills, the orders table its orders, the positions table its positions.
            page.wait_for_function(
                "() => document.querySelectorAll('#fills tbody tr').length > 0", timeout=90_000
            )
            for _ in range(20):  # the page polls once a second: agree within a few polls
                shown = _trading_dom(page)
                fills = api.get("/api/trading/fills", params={"limit": 50}).json()["fills"]
                positions = api.get("/api/trading/positions").json()["positions"]
                if shown["fills"] == [f["client_id"] for f in fills] and shown["positions"] == [
                    p["symbol"] for p in positions
                ]:
                    break
                time.sleep(0.3)
            else:
                raise AssertionError(f"the tables never matched the API: {shown} {fills}")
            assert shown["orders"], "an order was filled, so the orders table lists it"
            assert _money(shown["fees"]) < 0  # paid fees, shown as a cost
            for cells in shown["positionCells"]:
                assert cells[1] in ("long", "short") and cells[5][0] in "+-0"

            # The chart of a traded symbol carries its fills as markers (and, while a position
            # is open, its entry, stop and take-profit lines).
            traded = positions[0]["symbol"] if positions else fills[0]["symbol"]
            page.click(f"#scanner .row[data-symbol='{traded}']")
            page.wait_for_function(
                f"() => document.querySelector('#chart').dataset.symbol === '{traded}'"
                " && Number(document.querySelector('#chart').dataset.markers) > 0",
                timeout=10_000,
            )
            if positions:
                page.wait_for_function(
                    "() => (document.querySelector('#chart').dataset.priceLines || '')"
                    ".includes('stop')",
                    timeout=5_000,
                )
            overlays = _trading_dom(page)

            # The kill switch: confirm, halted on the page within a second, the API agrees.
            page.once("dialog", lambda dialog: dialog.accept())
            clicked = time.monotonic()
            page.click("#btn-halt")
            page.wait_for_function(
                "() => document.querySelector('#trading-state').dataset.state === 'halted'",
                timeout=5_000,
            )
            halted_after = time.monotonic() - clicked
            command = page.evaluate("() => window.__dashboard.trading.lastCommand")
            assert command["path"] == "/api/trading/halt" and command["state"] == "halted"
            assert command["ms"] < 1000, f"the halt showed {command['ms']:.0f} ms after the OK"
            state = api.get("/api/trading/state").json()
            assert state["state"] == "halted" and "kill switch" in state["reason"]
            assert page.locator("#trading-state").text_content() == "HALTED"
            assert "kill switch" in (page.locator("#trading-reason").text_content() or "")
            page.wait_for_function(
                "() => Object.values(window.__dashboard.trading.state.symbols).includes('halted')",
                timeout=5_000,
            )
            TRADING_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(TRADING_SCREENSHOT), full_page=True)

            page.click("#btn-resume")
            page.wait_for_function(
                "() => document.querySelector('#trading-state').dataset.state === 'active'",
                timeout=5_000,
            )
            assert api.get("/api/trading/state").json()["state"] == "active"
        finally:
            browser.close()
            api.close()
    print(
        f"fills {len(fills)}, positions {len(positions)}, markers {overlays['markers']},"
        f" lines {overlays['lines']!r}, halt shown {command['ms']:.0f} ms"
        f" after the OK ({halted_after * 1000:.0f} ms after the click, Playwright's included)"
    )
    assert errors == [], f"console errors: {errors}"


def test_liquidity_heatmap_draws_the_book_and_the_trades(live_stack: LiveStack) -> None:
    """The heatmap button samples the selected symbol's book every 250 ms into a bounded ring
    and draws it with the trades as bubbles: the canvas holds more than background, in the
    colours of resting size (the blue end of the ramp) and of both sides (bid line and buy
    bubbles teal, ask line and sell bubbles red)."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_stack.url}/?tf=15s", wait_until="load")
            page.wait_for_function(
                "() => window.__dashboard && window.__dashboard.candles.length > 0", timeout=15_000
            )
            assert page.locator("#heatmap").is_hidden()
            page.click("#btn-heatmap")
            started = time.monotonic()
            page.wait_for_function(
                "() => window.__dashboard.heatmap.samples.length >= 40"
                " && window.__dashboard.heatmap.bubbles > 0",
                timeout=30_000,
            )
            elapsed = time.monotonic() - started
            drawn = page.evaluate(
                """() => {
                    const canvas = document.querySelector('#heatmap');
                    const data = canvas.getContext('2d')
                        .getImageData(0, 0, canvas.width, canvas.height).data;
                    let lit = 0, buy = 0, sell = 0, resting = 0;
                    for (let i = 0; i < data.length; i += 4) {
                        const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
                        if (r > 30 || g > 30 || b > 40) lit += 1;
                        if (g > r + 40 && g > b && g > 90) buy += 1;
                        if (r > g + 60 && r > 120) sell += 1;
                        if (b > 100 && r < 60 && g < b) resting += 1;
                    }
                    const h = window.__dashboard.heatmap;
                    return {
                        pixels: data.length / 4, lit, buy, sell, resting,
                        samples: h.samples.length, symbol: h.symbol, frames: h.frames,
                        drawMs: h.drawMs, maxDrawMs: h.maxDrawMs, bubbles: h.bubbles,
                        url: location.search, fetched: h.fetched,
                    };
                }"""
            )
            assert drawn["symbol"] == page.evaluate("() => window.__dashboard.symbol")
            assert drawn["lit"] > 0.02 * drawn["pixels"], drawn
            assert drawn["buy"] > 0 and drawn["sell"] > 0 and drawn["resting"] > 0, drawn
            assert drawn["bubbles"] > 0
            assert "heatmap=1" in drawn["url"]
            # The /ws stream (open) delivers the book: a book fetched only until its first one.
            assert drawn["fetched"] < drawn["samples"] / 4, drawn
            # Bounded: the ring keeps a minute of samples however long it runs.
            assert page.evaluate("() => window.__dashboard.heatmap.samples.length") <= 240
            HEATMAP_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.locator("#symbol-panel").screenshot(path=str(HEATMAP_SCREENSHOT))
        finally:
            browser.close()
    print(
        f"heatmap: {drawn['samples']} samples, {drawn['frames']} frames,"
        f" {drawn['bubbles']} bubbles drawn in {elapsed:.1f} s; drawing took"
        f" {drawn['drawMs']:.0f} ms in all ({drawn['drawMs'] / elapsed:.1f} ms per second),"
        f" at most {drawn['maxDrawMs']:.1f} ms a frame; {drawn['lit']} of {drawn['pixels']}"
        f" pixels lit ({drawn['resting']} resting-size blue, {drawn['buy']} teal,"
        f" {drawn['sell']} red)"
    )
    assert errors == [], f"console errors: {errors}"


COLUMN_TEXT = """(key) => {
    const index = [...document.querySelectorAll('#scanner .shead .th')]
        .findIndex(th => th.dataset.sort === key);
    return Object.fromEntries([...document.querySelectorAll('#scanner .row[data-symbol]')]
        .map(row => [row.dataset.symbol, row.children[index].textContent]));
}"""
"""The text of one scanner column by symbol (the column found by its header's sort key)."""


def test_the_scanners_flows_are_in_usd_with_a_coin_units_toggle(live_stack: LiveStack) -> None:
    """The scanner's Δ 1m and Vol 5m are USD notional by default (a sub-cent coin's million
    coins are a few hundred dollars); the Units button switches them to coin units and back,
    and the choice is kept for the next visit."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    def volumes(page: object) -> dict[str, float]:
        cells = page.evaluate(COLUMN_TEXT, "volume_5m")  # type: ignore[attr-defined]
        return {symbol: _cell_value("volume_5m", text) for symbol, text in cells.items()}

    def header(page: object) -> str:
        return page.locator("#scanner .th[data-sort='volume_5m']").text_content()  # type: ignore[attr-defined]

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_stack.url}/?tf=15s", wait_until="load")
            ready = (
                "() => document.querySelectorAll('#scanner .row[data-symbol]').length === 5"
                " && [...document.querySelectorAll('#scanner .row[data-symbol]')].every(row =>"
                " row.children[[...document.querySelectorAll('#scanner .shead .th')]"
                ".findIndex(th => th.dataset.sort === 'volume_5m')].textContent !== '—')"
            )
            page.wait_for_function(ready, timeout=15_000)
            assert page.evaluate("() => window.__dashboard.flowUnit") == "usd"
            assert header(page) == "Vol 5m $" and page.locator("#flow-unit").text_content() == "USD"
            usd = volumes(page)
            page.wait_for_function(
                "() => /CVD[^$]*\\$/.test(document.querySelector('#quote').textContent)",
                timeout=10_000,
            )
            assert "$" in page.locator("#quote").text_content()
            # The candles carry the delta in both units, for the delta and CVD panes.
            candle = page.evaluate("() => window.__dashboard.candles.at(-1)")
            assert {"delta", "delta_quote", "buy_turnover", "sell_turnover"} <= set(candle)
            mids = {
                symbol: float(text) for symbol, text in page.evaluate(COLUMN_TEXT, "mid").items()
            }
            page.click("#flow-unit")
            assert page.evaluate("() => window.__dashboard.flowUnit") == "coin"
            assert header(page) == "Vol 5m"
            coins = volumes(page)
            page.wait_for_function(
                "() => !document.querySelector('#quote').textContent.includes('$')",
                timeout=10_000,
            )
            # USD / coins is about the price: far below 1 for a sub-cent coin, far above for
            # one near 90,000 (volumes grow between the two reads: a wide margin).
            cheap = min(mids, key=mids.get)
            dear = max(mids, key=mids.get)
            assert mids[cheap] < 0.01 and usd[cheap] < coins[cheap] / 10, (usd, coins, mids)
            assert mids[dear] > 1000 and usd[dear] > coins[dear] * 100, (usd, coins, mids)
            # One suffix scheme (K, M, B, T; three significant digits) in the scanner and tape.
            page.wait_for_function(
                "() => document.querySelectorAll('#tape tbody tr').length > 0", timeout=10_000
            )
            shown = [
                *page.evaluate(COLUMN_TEXT, "delta_1m").values(),
                *page.evaluate(COLUMN_TEXT, "volume_5m").values(),
                *page.evaluate(
                    """() => [...document.querySelectorAll('#tape tbody tr')]
                        .flatMap(tr => [tr.cells[2].textContent, tr.cells[3].textContent])"""
                ),
            ]
            figure = re.compile(r"^-?\d{1,3}(\.\d{1,2})?[KMBT]?$|^-?0\.\d+$")
            assert shown and all(figure.match(text) for text in shown), shown
            page.reload(wait_until="load")
            page.wait_for_function(ready, timeout=15_000)
            assert page.evaluate("() => window.__dashboard.flowUnit") == "coin"
            page.click("#flow-unit")
            assert header(page) == "Vol 5m $"
        finally:
            browser.close()
    assert errors == [], f"page errors: {errors}"
