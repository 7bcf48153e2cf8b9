"""The queue position of resting paper orders, as `/api/trading/orders` serves it: a hand-built
book and trades (the paper broker's queue model, trading/queue.py), numbers worked out below."""

from __future__ import annotations

from types import SimpleNamespace

import msgspec
from tests.unit.trading.test_paper import SELLER, SYMBOL, Venue

from scalper.api.trading_views import orders_view
from scalper.events import Instrument
from scalper.settings import PaperSettings
from scalper.trading.orders import BUY, Order
from scalper.trading.paper import PaperBroker
from scalper.trading.queue import QueueEstimate

STEP = Instrument(SYMBOL, "Trading", "USDT", tick_size="0.5", qty_step="0.1", min_qty="0.1")


def venue_with_steps() -> Venue:
    venue = Venue(bids=[(99.5, 10.0), (99.0, 5.0)])
    settings = PaperSettings(entry_latency_ms=1.0, response_latency_ms=2.0, latency_jitter_ms=0.0)
    venue.broker = PaperBroker(settings, {SYMBOL: STEP})
    venue.broker.set_sink(venue.events.append)
    venue.book_update(0.5, [(99.5, 10.0), (99.0, 5.0)], [(100.0, 1.0)], snapshot=True)
    return venue


def test_the_estimate_follows_the_queue_model() -> None:
    venue = venue_with_steps()
    venue.submit("b1", BUY, 2.0, 99.5, ms=1.0)  # arrives at 2 ms behind the 10 displayed
    venue.submit("b2", BUY, 1.0, 99.5, ms=1.0)  # behind those 10 and our 2 (b1)
    assert venue.broker.queue_estimate("b1") is None  # still on its way
    venue.advance(3)
    assert venue.broker.queue_estimate("b1") == QueueEstimate(
        ahead=10.0, ahead_lots=100.0, level=10.0, fraction=1.0
    )
    venue.trade(5, 99.5, 4.0, SELLER)  # sellers hit 4 at our price: 6 ahead of b1, 8 of b2
    assert venue.broker.queue_estimate("b1") == QueueEstimate(
        ahead=6.0, ahead_lots=60.0, level=10.0, fraction=0.6
    )
    assert venue.broker.queue_estimate("b2") == QueueEstimate(
        ahead=8.0, ahead_lots=80.0, level=10.0, fraction=0.8
    )
    assert venue.broker.queue_estimate("nope") is None


def test_the_orders_view_carries_the_estimate_of_open_paper_orders() -> None:
    venue = venue_with_steps()
    venue.submit("b1", BUY, 2.0, 99.5, ms=1.0)
    venue.advance(3)
    venue.trade(5, 99.5, 2.5, SELLER)  # 7.5 ahead: 75 lots, 0.75 of the level
    (resting,) = venue.broker.open_orders()
    gone = msgspec.structs.replace(
        resting, request=msgspec.structs.replace(resting.request, client_id="b0")
    )
    trader = SimpleNamespace(
        orders={"b1": resting}, finished=[gone], execution=venue.broker
    )  # what orders_view reads of a Trader
    view = orders_view(trader, None, 10)  # type: ignore[arg-type]
    (row,) = view.open
    assert row.queue == QueueEstimate(ahead=7.5, ahead_lots=75.0, level=10.0, fraction=0.75)
    assert [r.queue for r in view.recent] == [None]
    wire = msgspec.json.decode(msgspec.json.encode(view))
    assert wire["open"][0]["queue"] == {
        "ahead": 7.5,
        "ahead_lots": 75.0,
        "level": 10.0,
        "fraction": 0.75,
    }
    no_estimate = SimpleNamespace(orders={"b1": resting}, finished=[], execution=object())
    assert orders_view(no_estimate, None, 10).open[0].queue is None  # type: ignore[arg-type]
    assert isinstance(resting, Order)
