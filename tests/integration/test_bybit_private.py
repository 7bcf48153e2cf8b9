"""BybitExecution end to end over loopback against a fake Bybit private API that checks
signatures, receive window and rate limits with its own code (fake_bybit_private.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from tests.integration.fake_bybit_private import FakeBybit
from tests.integration.support import wait_until

from scalper.settings import BybitPrivateSettings
from scalper.trading.orders import (
    BUY,
    SELL,
    Fill,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from scalper.venues.bybit.private.credentials import Credentials
from scalper.venues.bybit.private.errors import (
    AuthenticationError,
    DuplicateOrderError,
    RateLimitError,
)
from scalper.venues.bybit.private.execution import BybitExecution
from scalper.venues.bybit.private.rest import BybitPrivateRest

KEY = "fakeKeyABCDEF123456"
SECRET = "fakeSecretXYZ987654321qwerty"
ENV = {"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET}
TIMEOUT = 20.0


def _settings(fake: FakeBybit, **overrides: Any) -> BybitPrivateSettings:
    values: dict[str, Any] = {
        "rest_url": fake.rest_url,
        "ws_url": fake.ws_url,
        "disconnect_cancel_s": 0.5,
        "watchdog_interval_s": 0.05,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.2,
        "auth_timeout_s": 5.0,
        "rate_limit_backoff_s": 0.2,
        "ip_ban_backoff_s": 0.3,
    }
    values.update(overrides)
    return BybitPrivateSettings(**values)


class Harness:
    def __init__(self, fake: FakeBybit, exe: BybitExecution) -> None:
        self.fake = fake
        self.exe = exe
        self.events: list[Any] = []
        self._n = 0

    def updates(self, client_id: str) -> list[OrderUpdate]:
        return [
            e for e in self.events if isinstance(e, OrderUpdate) and e.order.client_id == client_id
        ]

    def fills(self, client_id: str) -> list[Fill]:
        return [e for e in self.events if isinstance(e, Fill) and e.client_id == client_id]

    def status(self, client_id: str) -> OrderStatus | None:
        updates = self.updates(client_id)
        return updates[-1].order.status if updates else None

    def request(self, **kw: Any) -> OrderRequest:
        self._n += 1
        values: dict[str, Any] = {
            "client_id": f"c{self._n}",
            "symbol": "BTCUSDT",
            "side": BUY,
            "qty": 0.01,
            "order_type": OrderType.LIMIT,
            "time_in_force": TimeInForce.GTC,
            "price": 90.0,
            "decided_ns": 1,
        }
        values.update(kw)
        return OrderRequest(**values)

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        await wait_until(condition, TIMEOUT, what)


@asynccontextmanager
async def running(**overrides: Any) -> AsyncIterator[Harness]:
    fake = FakeBybit(KEY, SECRET)
    await fake.start()
    exe = BybitExecution.from_settings(_settings(fake, **overrides), environ=ENV)
    harness = Harness(fake, exe)
    exe.set_sink(harness.events.append)
    try:
        await exe.start()
        await harness.until(lambda: not exe.blocked, "the stream up and reconciled")
        yield harness
    finally:
        await exe.close()
        await fake.stop()


def test_place_amend_cancel_cancel_all_and_fills() -> None:
    async def scenario() -> None:
        async with running() as h:
            exe, fake = h.exe, h.fake
            assert exe.fee_rates["BTCUSDT"].taker == 0.00055
            assert exe.instruments["BTCUSDT"].qty_step == "0.001"
            resting = h.request(time_in_force=TimeInForce.POST_ONLY)
            exe.submit(resting)
            await h.until(lambda: h.status("c1") is OrderStatus.NEW, "c1 acknowledged")
            (order,) = fake.orders.values()
            assert order.link == exe.order_link_id("c1") and order.tif == "PostOnly"
            exe.amend("c1", price=91.04)
            await h.until(lambda: order.price == 91.0, "the amend at the venue (on tick)")
            exe.cancel("c1", 2)
            await h.until(lambda: h.status("c1") is OrderStatus.CANCELLED, "c1 cancelled")

            exe.submit(h.request(side=SELL, price=110.0))
            exe.submit(h.request(side=SELL, price=111.0))
            await h.until(
                lambda: h.status("c2") is h.status("c3") is OrderStatus.NEW, "c2, c3 resting"
            )
            assert await exe.cancel_all("BTCUSDT") == 2
            await h.until(
                lambda: h.status("c2") is h.status("c3") is OrderStatus.CANCELLED,
                "c2, c3 cancelled by cancel-all",
            )

            exe.submit(h.request(order_type=OrderType.MARKET, price=None, qty=0.02))
            await h.until(lambda: h.status("c4") is OrderStatus.FILLED, "c4 filled")
            await h.until(lambda: len(h.fills("c4")) == 1, "c4's fill")
            (taker,) = h.fills("c4")
            assert taker.liquidity is Liquidity.TAKER and taker.qty == 0.02
            assert taker.fee == pytest.approx(100.0 * 0.02 * 0.00055)
            await h.until(lambda: "BTCUSDT" in exe.positions, "the position push")
            assert exe.positions["BTCUSDT"].size == 0.02

            # A maker fill whose execution has no orderLinkId: joined on orderId.
            exe.submit(h.request(side=SELL, price=101.0, qty=0.02, reduce_only=True))
            await h.until(lambda: h.status("c5") is OrderStatus.NEW, "c5 resting")
            venue_id = next(o.order_id for o in fake.orders.values() if o.price == 101.0)
            fake.fill(venue_id, 0.02, 101.0, maker=True)
            await h.until(lambda: len(h.fills("c5")) == 1, "c5's maker fill")
            (maker,) = h.fills("c5")
            assert maker.liquidity is Liquidity.MAKER and maker.side == SELL
            await h.until(lambda: exe.positions["BTCUSDT"].size == 0.0, "flat")
            assert all(code == 0 for _, code in fake.codes)

    asyncio.run(scenario())


def test_a_lost_create_answer_is_retried_and_found_already_placed() -> None:
    async def scenario() -> None:
        async with running() as h:
            h.fake.fail_after_accept = 1
            h.exe.submit(h.request())
            await h.until(lambda: h.status("c1") is OrderStatus.NEW, "c1 acknowledged")
            await h.until(
                lambda: ("/v5/order/create", 110072) in h.fake.codes, "the duplicate answer"
            )
            assert len(h.fake.orders) == 1
            assert all(u.order.status is not OrderStatus.REJECTED for u in h.updates("c1"))
            # Through the REST client directly, a duplicate orderLinkId is a typed error.
            link = h.exe.order_link_id("c1")
            with pytest.raises(DuplicateOrderError):
                await h.exe.rest.create_order(h.request(), link)

    asyncio.run(scenario())


def test_rate_limit_hit_and_recovered() -> None:
    async def scenario() -> None:
        async with running() as h:
            h.fake.limits["create"] = 2
            for _ in range(4):
                h.exe.submit(h.request())
            await h.until(
                lambda: all(h.status(f"c{i}") is OrderStatus.NEW for i in range(1, 5)),
                "all four orders placed",
            )
            assert ("/v5/order/create", 10006) in h.fake.codes
            assert h.exe.rest.rate_limit_hits >= 1
            assert len(h.fake.orders) == 4

            # HTTP 403: every kind pauses, the error says so, and requests resume after it.
            h.fake.forbid_next = 1
            with pytest.raises(RateLimitError, match="403"):
                await h.exe.rest.wallet()
            started = asyncio.get_running_loop().time()
            wallet = await h.exe.rest.wallet()
            assert wallet.total_equity == 10000.0
            assert asyncio.get_running_loop().time() - started >= 0.2

    asyncio.run(scenario())


def test_clock_skew_beyond_the_receive_window_resyncs_once() -> None:
    async def scenario() -> None:
        async with running() as h:
            syncs = h.exe.rest.clock_syncs
            h.fake.skew_ms = 30_000
            h.exe.submit(h.request())
            await h.until(lambda: h.status("c1") is OrderStatus.NEW, "c1 placed after resync")
            assert ("/v5/order/create", 10002) in h.fake.codes
            assert h.exe.rest.clock_syncs == syncs + 1
            assert abs(h.exe.rest.clock_offset_ms - 30_000) < 2_000

    asyncio.run(scenario())


def test_a_bad_secret_is_an_authentication_error() -> None:
    async def scenario() -> None:
        fake = FakeBybit(KEY, SECRET)
        await fake.start()
        rest = BybitPrivateRest(
            Credentials(KEY, "wrong-secret"), _settings(fake), base_url=fake.rest_url
        )
        try:
            with pytest.raises(AuthenticationError, match="10004") as caught:
                await rest.wallet()
            assert "wrong-secret" not in str(caught.value)
        finally:
            await rest.close()
            await fake.stop()

    asyncio.run(scenario())


def test_stream_drop_cancels_our_orders_blocks_entries_and_reconcile_restores() -> None:
    async def scenario() -> None:
        async with running() as h:
            exe, fake = h.exe, h.fake
            exe.submit(h.request(order_type=OrderType.MARKET, price=None, qty=0.03))
            exe.submit(h.request(price=95.0))
            await h.until(lambda: h.status("c2") is OrderStatus.NEW, "c2 resting")
            await h.until(
                lambda: (
                    exe.positions.get("BTCUSDT") is not None
                    and exe.positions["BTCUSDT"].size == 0.03
                ),
                "the position",
            )
            before = exe.positions["BTCUSDT"]
            reconciles = exe.reconciles

            fake.refuse_streams = True
            await fake.drop_streams()
            await h.until(lambda: exe.blocked, "entries blocked on the drop")
            assert "private stream" in exe.blocked_reason
            resting = next(o for o in fake.orders.values() if o.price == 95.0)
            await h.until(lambda: resting.status == "Cancelled", "our order cancelled over REST")
            assert exe.disconnect_cancels == 1

            exe.submit(h.request())
            await h.until(lambda: h.status("c3") is OrderStatus.REJECTED, "the entry refused")
            assert "entries blocked" in h.updates("c3")[-1].order.reason
            assert len(fake.orders) == 2

            fake.refuse_streams = False
            await h.until(lambda: not exe.blocked, "back and reconciled")
            assert exe.reconciles > reconciles
            assert exe.positions["BTCUSDT"].size == before.size
            assert exe.positions["BTCUSDT"].entry_price == before.entry_price
            await h.until(lambda: h.status("c2") is OrderStatus.CANCELLED, "c2's final state")
            assert any("c2" in d for d in exe.differences)

    asyncio.run(scenario())


def test_lost_market_data_cancels_that_symbols_orders_until_it_is_back() -> None:
    async def scenario() -> None:
        async with running() as h:
            exe, fake = h.exe, h.fake
            exe.note_market_data("BTCUSDT")
            exe.submit(h.request())
            await h.until(lambda: h.status("c1") is OrderStatus.NEW, "c1 resting")
            await h.until(lambda: exe.blocked, "stale market data blocks")
            assert "market data of BTCUSDT" in exe.blocked_reason
            await h.until(lambda: h.status("c1") is OrderStatus.CANCELLED, "c1 cancelled")
            assert next(iter(fake.orders.values())).status == "Cancelled"
            exe.note_market_data("BTCUSDT")
            await h.until(lambda: not exe.blocked, "data back and reconciled")

    asyncio.run(scenario())


def test_keys_and_signatures_never_reach_logs_errors_or_reprs(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    async def scenario() -> None:
        async with running() as h:
            texts.extend([repr(h.exe), repr(h.exe.rest), str(h.exe.rest._credentials)])
            h.fake.skew_ms = 30_000
            h.exe.submit(h.request())
            await h.until(lambda: h.status("c1") is OrderStatus.NEW, "c1 placed")
            h.fake.limits["create"] = 1
            for _ in range(3):
                h.exe.submit(h.request())
            await h.until(lambda: len(h.fake.orders) == 4, "all placed")
            h.fake.forbid_next = 1
            with pytest.raises(RateLimitError) as caught:
                await h.exe.rest.wallet()
            texts.append(str(caught.value))
            await h.fake.drop_streams()
            await h.until(lambda: h.exe.blocked, "the drop noticed")
            await h.until(lambda: not h.exe.blocked, "back")
            signatures.extend(h.fake.signatures)

    signatures: list[str] = []
    asyncio.run(scenario())
    assert len(signatures) > 10
    logged = caplog.text + "\n".join(texts)
    assert "Bybit private stream" in caplog.text  # the run did log
    for secret in (SECRET, KEY, *signatures):
        assert secret not in logged


def _book_frame(symbol: str, u: int) -> bytes:
    """A Bybit orderbook.50 snapshot (the wire format of ../shared/data's frames)."""
    return (
        f'{{"topic":"orderbook.50.{symbol}","type":"snapshot","ts":1700000000{u:03d},'
        f'"data":{{"s":"{symbol}","b":[["99.5","1"]],"a":[["100.5","1"]],"u":{u},"seq":{u}}},'
        f'"cts":1700000000{u:03d}}}'
    ).encode()


def test_the_runtime_tells_the_watchdog_about_market_data() -> None:
    """`runtime.exchange_for` taps the engine: a traded symbol whose feed goes quiet has its
    orders cancelled and its entries (only its) blocked until a market event and a reconcile;
    a quiet symbol where we hold nothing blocks nothing."""
    from scalper.engine import Engine
    from scalper.runtime import exchange_for
    from scalper.settings import Settings, TradingSettings
    from scalper.venues.bybit.frames import FrameApplier

    async def scenario() -> None:
        fake = FakeBybit(KEY, SECRET)
        await fake.start()
        trading = TradingSettings(enabled=True, execution="exchange", bybit=_settings(fake))
        settings = Settings(trading=trading)
        engine = Engine(settings.engine)
        exe = exchange_for(settings, engine, ENV)
        assert exe is not None
        assert exchange_for(Settings(), Engine(settings.engine), ENV) is None
        apply = FrameApplier(engine)
        h = Harness(fake, exe)
        exe.set_sink(h.events.append)
        try:
            await exe.start()
            await h.until(lambda: not exe.blocked, "the stream up and reconciled")
            assert exe.market_data_age_s("BTCUSDT") is None
            apply(_book_frame("BTCUSDT", 1), 1)
            apply(_book_frame("ETHUSDT", 1), 1)
            age = exe.market_data_age_s("BTCUSDT")
            assert age is not None and age < 0.5
            exe.submit(h.request())
            await h.until(lambda: h.status("c1") is OrderStatus.NEW, "c1 resting")
            await h.until(lambda: h.status("c1") is OrderStatus.CANCELLED, "c1 cancelled")
            assert "market data of BTCUSDT lost" in exe.entries_blocked("BTCUSDT")
            assert exe.entries_blocked("ETHUSDT") == ""  # quiet too, but nothing held there
            exe.submit(h.request())  # an entry on the quiet symbol is refused, with why
            await h.until(lambda: h.status("c2") is OrderStatus.REJECTED, "c2 refused")
            assert "market data of BTCUSDT lost" in h.updates("c2")[-1].order.reason
            apply(_book_frame("BTCUSDT", 2), 2)
            await h.until(lambda: exe.entries_blocked("BTCUSDT") == "", "back and reconciled")
            assert not exe.blocked
        finally:
            await exe.close()
            await fake.stop()

    asyncio.run(scenario())
