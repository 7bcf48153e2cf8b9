"""The backtest report page in headless Chromium, opened from disk with nothing else around.

Needs Debian's Chromium at /usr/bin/chromium (CI installs it; `apt-get install chromium`), as
the dashboard test does. The screenshot is saved in the test's tmp dir (its path is printed).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from tests.integration.test_dashboard import CHROMIUM, CHROMIUM_ARGS
from tests.unit.backtest.hand_built import PRICES, inputs

from scalper.backtest import write_report
from scalper.backtest.report import REPORT_HTML


def test_the_report_opens_offline_with_every_metric_and_its_charts(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium); "
            "the report test needs it and does not skip"
        )
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report"
    metrics = write_report(out, inputs(), title="Hand-built run", prices=PRICES)
    url = (out / REPORT_HTML).as_uri()
    errors: list[str] = []
    requests: list[str] = []
    screenshot = tmp_path / "report.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # Offline: every request outside file:// would fail, and is recorded.
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on(
                "console",
                lambda message: errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(url, wait_until="load")
            shown = page.evaluate(
                """() => ({
                    title: document.querySelector('h1').textContent,
                    metrics: Object.fromEntries([...document.querySelectorAll('[data-metric]')]
                        .map(tr => [tr.dataset.metric, tr.dataset.value])),
                    texts: Object.fromEntries([...document.querySelectorAll('[data-metric]')]
                        .map(tr => [tr.dataset.metric, tr.cells[1].textContent])),
                    charts: Object.fromEntries([...document.querySelectorAll('svg')].map(svg => {
                        const box = svg.getBBox();
                        const line = svg.querySelector('polyline, polygon');
                        return [svg.id, {
                            points: Number(svg.dataset.points),
                            width: box.width, height: box.height,
                            drawn: line ? line.points.numberOfItems : 0,
                            trades: svg.querySelectorAll('g.trade').length,
                        }];
                    })),
                    tradeRows: document.querySelectorAll('#trades tbody tr').length,
                    regimeRows: document.querySelectorAll('#by-regime tbody tr').length,
                    decileRows: document.querySelectorAll('#by-decile tbody tr').length,
                })"""
            )
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {screenshot}")

    assert errors == []
    assert requests == [url], requests  # the page itself, nothing else
    assert shown["title"] == "Hand-built run"
    expected = {
        name: repr(value)
        for name, value in msgspec.structs.asdict(metrics).items()
        if name not in ("latency", "by_regime", "by_score_decile")
    }
    expected = {k: ("null" if v == "None" else v) for k, v in expected.items()}
    assert {k: v for k, v in shown["metrics"].items() if not k.startswith("latency.")} == expected
    assert shown["metrics"]["latency.p50_ms"] == "5.5"
    assert shown["texts"]["profit_factor"] == "2.375"
    assert shown["texts"]["win_rate"] == "40.000 %"
    assert shown["texts"]["max_drawdown"] == "22"
    equity, drawdown, price = (
        shown["charts"][k] for k in ("equity-chart", "drawdown-chart", "price-chart")
    )
    assert equity["points"] == equity["drawn"] == 9  # the start and the 8 points of the curve
    assert drawdown["drawn"] == 9 + 2  # the area closes on the zero line
    assert price["points"] == len(PRICES.points) and price["trades"] == 3  # BTCUSDT's three
    for chart in (equity, drawdown, price):
        assert chart["width"] > 500 and chart["height"] > 100
    assert (shown["tradeRows"], shown["regimeRows"], shown["decileRows"]) == (5, 4, 4)
    assert screenshot.stat().st_size > 20_000
