"""/docs works offline: Swagger UI's assets come from the vendored npm package, not a CDN (the
browser here has no network beyond loopback, so a CDN page would stay blank)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scalper.api import create_app, serve_api
from scalper.api.app import DASHBOARD_DIR
from scalper.engine import Engine

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_the_api_docs_render_from_local_assets() -> None:
    assert (DASHBOARD_DIR / "vendor" / "swagger-ui-bundle.js").is_file(), "run `make` (npm build)"

    async def scenario() -> tuple[str, list[str], str]:
        from playwright.async_api import async_playwright

        server = await serve_api(create_app(Engine()), port=0)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = await browser.new_page()
                outside: list[str] = []
                page.on(
                    "request",
                    lambda request: (
                        outside.append(request.url)
                        if not request.url.startswith((server.url, "data:"))
                        else None
                    ),
                )
                html = await (await page.goto(f"{server.url}/docs")).text()  # type: ignore[union-attr]
                await page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
                title = await page.inner_text(".swagger-ui .info .title")
                await page.wait_for_selector('[data-path="/api/symbols"]', timeout=20_000)
                await browser.close()
        finally:
            await server.stop()
        return title, outside, html

    title, outside, html = asyncio.run(scenario())
    assert title.startswith("scalper")
    assert outside == []  # nothing but loopback (and inline data)
    assert "cdn" not in html.lower()
