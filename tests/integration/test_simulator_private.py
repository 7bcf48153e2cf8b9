"""BybitExecution end to end over loopback against the local exchange's private API: signed
REST and the private stream, matched by the simulator's own engine against its own market."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.integration.support import wait_until

from scalper.settings import BybitPrivateSettings, SimulatedAccountSettings, SimulatorSettings
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
from scalper.venues.bybit.private.errors import AuthenticationError, DuplicateOrderError
from scalper.venues.bybit.private.execution import BybitExecution
from scalper.venues.bybit.private.rest import BybitPrivateRest
from scalper.venues.simulator.exchange import ExchangeSimulator

ACCOUNT = SimulatedAccountSettings()
ENV = {"BYBIT_API_KEY": ACCOUNT.api_key, "BYBIT_API_SECRET": ACCOUNT.api_secret}
SYMBOL = "SYM000USDT"
TIMEOUT = 30.0


def _settings(simulator: ExchangeSimulator) -> BybitPrivateSettings:
    return BybitPrivateSettings(
        rest_url=simulator.rest_url,
        ws_url=simulator.private_ws_url,
        disconnect_cancel_s=5.0,
        watchdog_interval_s=0.05,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        auth_timeout_s=5.0,
        rate_limit_backoff_s=0.2,
        ip_ban_backoff_s=0.3,
    )


class Harness:
    def __init__(self, simulator: ExchangeSimulator, exe: BybitExecution) -> None:
        self.simulator = simulator
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

    def best(self) -> tuple[float, float]:
        book = self.simulator.account.books[SYMBOL]
        return book.best_bid()[0], book.best_ask()[0]

    @property
    def tick(self) -> float:
        return float(self.exe.instruments[SYMBOL].tick_size)

    def lot(self, lots: int) -> float:
        return float(Decimal(self.exe.instruments[SYMBOL].qty_step) * lots)

    def request(self, **kw: Any) -> str:
        self._n += 1
        values: dict[str, Any] = {
            "client_id": f"c{self._n}",
            "symbol": SYMBOL,
            "side": BUY,
            "qty": self.lot(1),
            "order_type": OrderType.LIMIT,
            "time_in_force": TimeInForce.GTC,
            "decided_ns": 1,
        }
        values.update(kw)
        self.exe.submit(OrderRequest(**values))
        return values["client_id"]

    def venue_order(self, client_id: str) -> Any:
        link = self.exe.order_link_id(client_id)
        return next(o for o in self.simulator.account.orders.values() if o.link == link)

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        await wait_until(condition, TIMEOUT, what)


@asynccontextmanager
async def running() -> AsyncIterator[Harness]:
    config = SimulatorSettings(symbols=2, depth=50, seed=7)
    async with ExchangeSimulator(config) as simulator:
        await wait_until(
            lambda: SYMBOL in simulator.account.books and simulator.account.books[SYMBOL].in_sync,
            TIMEOUT,
            "the simulator's own book",
        )
        exe = BybitExecution.from_settings(_settings(simulator), environ=ENV)
        harness = Harness(simulator, exe)
        exe.set_sink(harness.events.append)
        try:
            await exe.start()
            await harness.until(lambda: not exe.blocked, "the stream up and reconciled")
            yield harness
        finally:
            await exe.close()


def test_orders_fills_and_refusals_through_the_simulators_private_api() -> None:
    async def scenario() -> None:
        async with running() as h:
            exe, sim = h.exe, h.simulator
            assert exe.fee_rates[SYMBOL].taker == ACCOUNT.taker_fee
            bid, ask = h.best()

            # PostOnly below the bid rests; amend moves it (on tick); cancel ends it.
            c1 = h.request(price=bid - 20 * h.tick, time_in_force=TimeInForce.POST_ONLY)
            await h.until(lambda: h.status(c1) is OrderStatus.NEW, "c1 resting")
            exe.amend(c1, price=bid - 25 * h.tick)
            await h.until(
                lambda: h.venue_order(c1).request.price == pytest.approx(bid - 25 * h.tick),
                "the amend at the venue",
            )
            exe.cancel(c1, 2)
            await h.until(lambda: h.status(c1) is OrderStatus.CANCELLED, "c1 cancelled")

            # PostOnly that would cross is cancelled by the venue (the ask read now: on a loaded
            # machine the market moved while c1 was amended and cancelled).
            bid, ask = h.best()
            c2 = h.request(price=ask + 5 * h.tick, time_in_force=TimeInForce.POST_ONLY)
            await h.until(lambda: h.status(c2) is OrderStatus.CANCELLED, "c2 cancelled")
            assert h.fills(c2) == []

            # A market buy: a taker fill at the book's asks, the position and the wallet.
            qty = h.lot(3)
            c3 = h.request(order_type=OrderType.MARKET, qty=qty)
            await h.until(lambda: h.status(c3) is OrderStatus.FILLED, "c3 filled")
            await h.until(lambda: sum(f.qty for f in h.fills(c3)) >= qty * 0.999, "c3's fills")
            taker = h.fills(c3)[0]
            assert taker.liquidity is Liquidity.TAKER
            assert taker.fee == pytest.approx(taker.price * taker.qty * ACCOUNT.taker_fee)
            await h.until(
                lambda: (
                    SYMBOL in exe.positions and exe.positions[SYMBOL].size == pytest.approx(qty)
                ),
                "the long position",
            )

            # Reduce-only that would add to the position: refused (110017).
            c4 = h.request(side=BUY, price=bid - 30 * h.tick, reduce_only=True)
            await h.until(lambda: h.status(c4) is OrderStatus.REJECTED, "c4 refused")
            assert ("/v5/order/create", 110017) in sim.private_rest.codes

            # A reduce-only sell inside the spread (or at the ask): a maker fill, flat again.
            # PostOnly, so that a market that moved through the price meanwhile (a loaded
            # machine) cancels it instead of filling it as taker: then again at a fresh price.
            for _ in range(10):
                bid, ask = h.best()
                price = bid + h.tick if bid + h.tick < ask - h.tick / 2 else ask
                c5 = h.request(
                    side=SELL,
                    price=price,
                    qty=qty,
                    reduce_only=True,
                    time_in_force=TimeInForce.POST_ONLY,
                )
                await h.until(
                    lambda c=c5: h.status(c) in (OrderStatus.FILLED, OrderStatus.CANCELLED),
                    "c5 filled as maker, or cancelled as crossing",
                )
                if h.status(c5) is OrderStatus.FILLED:
                    break
            assert h.status(c5) is OrderStatus.FILLED, "ten PostOnly sells all crossed"
            await h.until(lambda: sum(f.qty for f in h.fills(c5)) >= qty * 0.999, "c5's fills")
            assert all(f.liquidity is Liquidity.MAKER for f in h.fills(c5))
            await h.until(lambda: exe.positions[SYMBOL].size == 0.0, "flat")
            wallet = await exe.rest.wallet()
            assert wallet.coins["USDT"] != ACCOUNT.starting_balance  # fees and P&L booked

            # A duplicate orderLinkId is refused (110072), typed by the client.
            with pytest.raises(DuplicateOrderError):
                await exe.rest.create_order(
                    OrderRequest(
                        client_id="x",
                        symbol=SYMBOL,
                        side=BUY,
                        qty=h.lot(1),
                        order_type=OrderType.LIMIT,
                        price=bid - 40 * h.tick,
                        decided_ns=1,
                    ),
                    exe.order_link_id(c1),
                )
            assert ("/v5/order/create", 110072) in sim.private_rest.codes

    asyncio.run(scenario())


def test_rate_limit_hit_and_recovered_and_skew_resynced() -> None:
    async def scenario() -> None:
        async with running() as h:
            sim = h.simulator
            bid, _ = h.best()
            sim.gate.limits["create"] = 2
            ids = [h.request(price=bid - (30 + i) * h.tick) for i in range(4)]
            await h.until(
                lambda: all(h.status(c) is OrderStatus.NEW for c in ids), "all four resting"
            )
            assert ("/v5/order/create", 10006) in sim.private_rest.codes
            assert h.exe.rest.rate_limit_hits >= 1
            assert await h.exe.cancel_all(SYMBOL) == 4
            await h.until(
                lambda: all(h.status(c) is OrderStatus.CANCELLED for c in ids), "all cancelled"
            )

            syncs = h.exe.rest.clock_syncs
            sim.gate.skew_ms = 30_000
            c = h.request(price=bid - 50 * h.tick)
            await h.until(lambda: h.status(c) is OrderStatus.NEW, "placed after a resync")
            assert ("/v5/order/create", 10002) in sim.private_rest.codes
            assert h.exe.rest.clock_syncs == syncs + 1

    asyncio.run(scenario())


def test_a_bad_secret_is_refused_with_10004_and_unsigned_requests_with_10003() -> None:
    async def scenario() -> None:
        async with ExchangeSimulator(SimulatorSettings(symbols=1)) as sim:
            rest = BybitPrivateRest(
                Credentials(ACCOUNT.api_key, "wrong-secret"),
                _settings(sim),
                base_url=sim.rest_url,
            )
            try:
                with pytest.raises(AuthenticationError, match="10004"):
                    await rest.wallet()
            finally:
                await rest.close()
            async with httpx.AsyncClient(base_url=sim.rest_url) as client:
                answer = (await client.get("/v5/position/list?category=linear")).json()
            assert answer["retCode"] == 10003

    asyncio.run(scenario())
