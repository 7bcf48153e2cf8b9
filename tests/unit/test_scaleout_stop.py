"""The scale-out consumer stops when cancelled, even though nats-py's `fetch` turns a cancel that
arrives while it waits into a timeout (nats-io/nats.py#373): the engine's shutdown hung on it."""

from __future__ import annotations

import asyncio

import nats.errors

from scalper.engine import Engine
from scalper.scaleout.feed import ScaleoutFeed
from scalper.settings import ConnectionSettings, FeedSettings, ScaleoutSettings


class CancelSwallowingSubscription:
    """A pull subscription whose `fetch` behaves as nats-py's does when cancelled mid-wait."""

    def __init__(self) -> None:
        self.fetches = 0
        self.swallowed = False

    async def fetch(self, batch: int, timeout: float) -> list[object]:
        if self.swallowed:  # ends the test at once, rather than a consumer that never stops
            raise RuntimeError("fetched again after a cancel")
        self.fetches += 1
        try:
            await asyncio.sleep(timeout)
        except asyncio.CancelledError:
            self.swallowed = True
            raise nats.errors.TimeoutError from None
        raise nats.errors.TimeoutError


def test_a_cancel_turned_into_a_timeout_by_fetch_still_stops_the_consumer() -> None:
    async def scenario() -> None:
        feed = ScaleoutFeed(
            Engine(),
            ["BTCUSDT"],
            "ws://127.0.0.1:1/v5/public/linear",
            "linear",
            FeedSettings(warm_start=False),
            ConnectionSettings(),
            {},
            None,
            ScaleoutSettings(workers=1),
        )
        subscription = CancelSwallowingSubscription()
        feed._sub = subscription
        consumer = asyncio.create_task(feed._consume())
        while subscription.fetches == 0:
            await asyncio.sleep(0)
        consumer.cancel()
        done, _ = await asyncio.wait([consumer], timeout=5.0)
        assert done, "the consumer ignored its cancel"
        assert consumer.cancelled(), consumer.exception()

    asyncio.run(scenario())
