"""The dashboard as a scalping screen, at 1280x720 in headless Chromium against the simulator
stack: scanner freeze, search, watchlist and ticker columns; imbalance colours on the engine's
thresholds; gauges from REST; the tick ladder over /ws; the chart's readout, session VWAP and
CVD; the tape's grouped prints and per-symbol large trades."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from tests.integration.test_dashboard import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    SUFFIXES,
    LiveStack,
    _require_browser,
    _serve,
)

SCREENSHOT = ARTIFACTS / "dashboard-1280x720.png"
NO_WEBSOCKET = "window.WebSocket = class { constructor() {} addEventListener() {} send() {} };"
"""A WebSocket that never opens: what the page shows from REST alone."""


@pytest.fixture
def live_stack() -> Iterator[LiveStack]:
    """The simulator stack without a trader."""
    yield from _serve(None)


def _number(text: str) -> float:
    text = text.replace("◆", "").strip()
    scale = SUFFIXES.get(text[-1])
    return float(text[:-1]) * scale if scale else float(text)


def _scanner(page: object) -> list[dict]:
    return page.evaluate(  # type: ignore[attr-defined]
        """() => {
            const heads = [...document.querySelectorAll('#scanner .th')]
                .map(th => th.dataset.sort);
            return [...document.querySelectorAll('#scanner .row[data-symbol]')]
                .sort((a, b) => a.dataset.index - b.dataset.index).map(tr =>
                Object.fromEntries([...tr.children].map((td, i) =>
                    [heads[i], { text: td.textContent, cls: td.className }])));
        }"""
    )


def _ladder(page: object) -> list[dict]:
    return page.evaluate(  # type: ignore[attr-defined]
        """() => [...document.querySelectorAll('#ladder tbody tr')].map(tr => ({
            index: Number(tr.dataset.price), cls: tr.className,
            cells: [...tr.cells].map(td => td.querySelector('span').textContent),
        }))"""
    )


def test_gauges_and_quote_are_filled_from_rest_before_any_stream_message(
    live_stack: LiveStack,
) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.add_init_script(NO_WEBSOCKET)
            page.goto(f"{live_stack.url}/", wait_until="load")
            page.wait_for_function(
                "() => document.querySelectorAll('#gauges .gauge').length === 7", timeout=30_000
            )
            state = page.evaluate(
                """() => ({
                    messages: window.__dashboard.stateMessages,
                    quote: document.querySelector('#quote').textContent,
                    values: [...document.querySelectorAll('#gauges .gauge .num')]
                        .map(s => [s.dataset.value, s.className]),
                    label: document.querySelector('#imb-label').textContent,
                })"""
            )
        finally:
            browser.close()
    assert state["messages"] == 0
    assert re.match(r"bid \d", state["quote"]) and " ask " in state["quote"]
    assert state["label"] in ("bid pressure", "ask pressure", "neutral")
    for text, cls in state["values"]:
        value = float(text)
        want = "pos" if value > 0.6 else "neg" if value < 0.4 else ""
        assert cls.split()[1:] == ([want] if want else []), (text, cls)


def test_the_scalping_screen_at_1280x720(live_stack: LiveStack) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    book_requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on(
                "request",
                lambda request: (
                    book_requests.append(request.url) if "/book" in request.url else None
                ),
            )
            page.goto(f"{live_stack.url}/?tf=15s", wait_until="load")
            page.wait_for_function(
                "() => window.__dashboard && window.__dashboard.ws === 'open'"
                " && window.__dashboard.ladderUpdates > 2 && window.__dashboard.candles.length > 1"
                " && window.__dashboard.ladder.volumePrices > 0"
                " && document.querySelectorAll('#tape tbody tr').length > 0",
                timeout=20_000,
            )

            # Layout: the toolbar (timeframes, heatmap, quote) on one line, nothing wider
            # than the window.
            layout = page.evaluate(
                """() => ({
                    tops: [...document.querySelectorAll('#timeframes button')]
                        .map(b => b.offsetTop),
                    toolbar: document.querySelector('#symbol-panel .toolbar').offsetHeight,
                    quoteHeight: document.querySelector('#quote').offsetHeight,
                    width: document.documentElement.scrollWidth,
                })"""
            )
            assert len(set(layout["tops"])) == 1, layout
            assert layout["toolbar"] <= 30 and layout["quoteHeight"] <= 20, layout
            assert layout["width"] <= 1280, layout

            # Scanner: ticker columns filled, imbalance coloured on 0.6 / 0.4.
            page.wait_for_function(
                "() => [...document.querySelectorAll('#scanner .row[data-symbol]')]"
                ".every(tr => !tr.textContent.includes('—%'))",
                timeout=10_000,
            )
            rows = _scanner(page)
            assert len(rows) == 5
            for row in rows:
                assert row["change_24h"]["text"].endswith("%")
                assert row["funding_rate"]["text"].endswith("%")
                assert _number(row["open_interest_value"]["text"]) > 0
                value = float(row["imbalance"]["text"])
                if min(abs(value - 0.6), abs(value - 0.4)) <= 0.0005:
                    continue  # shown rounded to 3 decimals: either colour is right
                want = "pos" if value > 0.6 else "neg" if value < 0.4 else None
                assert (
                    (want in row["imbalance"]["cls"].split())
                    if want
                    else (
                        "pos" not in row["imbalance"]["cls"]
                        and "neg" not in row["imbalance"]["cls"]
                    )
                ), row["imbalance"]

            # Freeze: the order holds while values change.
            page.click("#btn-freeze")
            frozen = [row["symbol"]["text"] for row in _scanner(page)]
            renders = page.evaluate("() => window.__dashboard.scanner.renders")
            page.wait_for_function(
                f"() => window.__dashboard.scanner.renders > {renders + 4}", timeout=10_000
            )
            assert [row["symbol"]["text"] for row in _scanner(page)] == frozen
            assert page.get_attribute("#scanner", "data-frozen") == "true"
            page.click("#btn-freeze")
            page.mouse.move(5, 5)
            page.wait_for_function(
                "() => document.querySelector('#scanner').dataset.frozen === 'false'"
            )
            # The pointer over the rows freezes them too.
            page.hover("#scanner .row[data-symbol]")
            page.wait_for_function(
                "() => document.querySelector('#scanner').dataset.frozen === 'true'"
            )
            page.mouse.move(5, 5)

            # Search filters by symbol.
            symbols = sorted(live_stack.symbols)
            page.fill("#scanner-search", symbols[3].lower())
            assert [row["symbol"]["text"] for row in _scanner(page)] == [symbols[3]]
            page.fill("#scanner-search", "")
            assert len(_scanner(page)) == 5

            # Watchlist: a star pins the symbol first, survives a reload, "★ only" shows it alone.
            page.click(f"#scanner .row[data-symbol='{symbols[2]}'] .watch")
            assert _scanner(page)[0]["symbol"]["text"] == symbols[2]
            page.reload(wait_until="load")
            page.wait_for_function(
                "() => document.querySelectorAll('#scanner .row[data-symbol]').length === 5"
            )
            assert page.evaluate("() => localStorage.getItem('scalper.watchlist')") == (
                f'["{symbols[2]}"]'
            )
            assert _scanner(page)[0]["watch"]["text"] == "★"
            page.click("#btn-watch-only")
            assert [row["symbol"]["text"] for row in _scanner(page)] == [symbols[2]]
            page.click("#btn-watch-only")
            page.wait_for_function(
                "() => window.__dashboard.ws === 'open' && window.__dashboard.ladderUpdates > 2"
                " && window.__dashboard.ladder.volumePrices > 0",
                timeout=20_000,
            )

            # Ladder: a row per tick, sizes on their side, cumulative depth growing away
            # from the best price, traded volume at some prices, walls marked.
            book_requests.clear()
            updates = page.evaluate("() => window.__dashboard.ladderUpdates")
            page.wait_for_function(
                f"() => window.__dashboard.ladderUpdates > {updates + 3}", timeout=10_000
            )
            assert book_requests == []  # streamed over /ws, not polled
            ladder = _ladder(page)
            assert len(ladder) == 41
            assert [row["index"] for row in ladder] == list(
                range(ladder[0]["index"], ladder[0]["index"] - 41, -1)
            )
            asks = [row for row in ladder if "ask-row" in row["cls"]]
            bids = [row for row in ladder if "bid-row" in row["cls"]]
            assert asks and bids
            ask_cum = [_number(row["cells"][4]) for row in reversed(asks) if row["cells"][4]]
            bid_cum = [_number(row["cells"][0]) for row in bids if row["cells"][0]]
            assert ask_cum == sorted(ask_cum) and bid_cum == sorted(bid_cum)
            assert all(not row["cells"][1] for row in asks)
            assert all(not row["cells"][3] for row in bids)
            assert any(row["cells"][5] for row in ladder)
            walls = page.evaluate("() => window.__dashboard.ladder.walls")
            marked = [row for row in ladder if "wall" in row["cls"]]
            assert len(marked) == walls
            assert all("◆" in (row["cells"][1] + row["cells"][3]) for row in marked)

            # Chart: taller lower panes, the readout under the crosshair, VWAP, CVD's origin.
            chart = page.evaluate(
                """() => ({
                    panes: window.__dashboard.paneHeights(),
                    vwap: Number(document.querySelector('#chart').dataset.vwap),
                    lows: window.__dashboard.candles.map(c => c.low),
                    highs: window.__dashboard.candles.map(c => c.high),
                    legend: document.querySelector('#chart-legend').textContent,
                    quote: document.querySelector('#quote').textContent,
                    label: window.__dashboard.cvdLabel,
                })"""
            )
            assert all(height >= 65 for height in chart["panes"][1:]), chart["panes"]
            assert chart["panes"][0] >= 150, chart["panes"]
            assert min(chart["lows"]) <= chart["vwap"] <= max(chart["highs"])
            assert re.fullmatch(r"CVD since \d\d:\d\d UTC", chart["label"])
            assert chart["label"] in chart["legend"] and chart["label"] in chart["quote"]
            box = page.locator("#chart").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.3)
            page.wait_for_function(
                "() => document.querySelector('#chart-readout').dataset.hovered !== ''",
                timeout=5_000,
            )
            fields = page.evaluate(
                """() => Object.fromEntries(
                    [...document.querySelectorAll('#chart-readout [data-field]')]
                        .map(e => [e.dataset.field, e.textContent]))"""
            )
            assert set(fields) == {"time", "O", "H", "L", "C", "Vol", "Buy", "Sell", "Δ"}
            assert float(fields["L"]) <= min(float(fields["O"]), float(fields["C"]))
            assert float(fields["H"]) >= max(float(fields["O"]), float(fields["C"]))

            # Tape: no two rows of one millisecond and side; large = at or above the p99.
            time.sleep(1.0)
            tape = page.evaluate(
                """() => ({
                    rows: [...document.querySelectorAll('#tape tbody tr')].map(tr => ({
                        time: tr.cells[0].textContent,
                        side: tr.classList.contains('buy') ? 'buy' : 'sell',
                        large: tr.classList.contains('large'), notional: tr.cells[3].textContent,
                        count: Number(tr.dataset.count)})),
                    threshold: document.querySelector('#tape-label').dataset.threshold,
                    label: document.querySelector('#tape-label').textContent,
                })"""
            )
            pairs = zip(tape["rows"], tape["rows"][1:], strict=False)
            assert all((a["time"], a["side"]) != (b["time"], b["side"]) for a, b in pairs)
            if tape["threshold"]:
                threshold = float(tape["threshold"])
                assert tape["label"].startswith("large ≥ p99 of the last")
                for row in tape["rows"]:
                    notional = _number(row["notional"])
                    if row["large"]:
                        assert notional >= threshold * 0.99, (row, threshold)
                    else:
                        assert notional <= threshold * 1.01, (row, threshold)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
    assert errors == [], errors
