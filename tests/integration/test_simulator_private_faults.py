"""The local exchange's private-side faults, one at a time, against BybitExecution over
loopback: refused creates (110007, 10001), late REST answers, late stream pushes, dropped
private streams; and executions missed while the stream was down, read back over REST
(/v5/execution/list) after it returns and reported exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from tests.integration.support import wait_until
from tests.integration.test_simulator_private import ENV, SYMBOL, TIMEOUT, Harness, _settings

from scalper.settings import FaultSettings, RiskSettings, SimulatorSettings
from scalper.trading.orders import OrderStatus, OrderType, OrderUpdate
from scalper.trading.risk import RiskEngine, TradingState
from scalper.venues.bybit.private.execution import BybitExecution
from scalper.venues.simulator.exchange import ExchangeSimulator
from scalper.venues.simulator.faults import parse_fault_spec
from scalper.venues.simulator.private_faults import PrivateFaults


@asynccontextmanager
async def running(faults: FaultSettings | None = None, **client: Any) -> AsyncIterator[Harness]:
    config = SimulatorSettings(symbols=2, depth=50, seed=7, faults=faults or FaultSettings())
    async with ExchangeSimulator(config) as simulator:
        await wait_until(
            lambda: SYMBOL in simulator.account.books and simulator.account.books[SYMBOL].in_sync,
            TIMEOUT,
            "the simulator's own book",
        )
        settings = msgspec.structs.replace(_settings(simulator), **client)
        exe = BybitExecution.from_settings(settings, environ=ENV)
        harness = Harness(simulator, exe)
        exe.set_sink(harness.events.append)
        try:
            await exe.start()
            await harness.until(lambda: not exe.blocked, "the stream up and reconciled")
            yield harness
        finally:
            await exe.close()


def _venue_orders(h: Harness, client_id: str) -> list[Any]:
    link = h.exe.order_link_id(client_id)
    return [o for o in h.simulator.account.orders.values() if o.link == link]


def test_fault_settings_parse_and_roll() -> None:
    faults = parse_fault_spec(
        "order_reject_per_request=1,order_reject_code=10001,ack_delay_s=0.5,"
        "private_push_delay_s=0.25,private_drop_per_s=1"
    )
    assert (faults.order_reject_code, faults.ack_delay_s) == (10001, 0.5)
    private = PrivateFaults(faults, seed=1)
    assert private.refusal()[0] == 10001
    assert private.ack_delay("/v5/order/create") == 0.5
    assert private.ack_delay("/v5/order/realtime") == 0.0
    assert private.roll_drop()
    quiet = PrivateFaults(FaultSettings(), seed=1)
    quiet.reject_next(110007, 2)
    assert [quiet.refusal()[0] for _ in range(3)] == [110007, 110007, 0]
    assert quiet.counts["reject"] == 2
    assert not quiet.roll_drop()


def test_refused_creates_reach_the_trader_as_rejects_the_risk_engine_counts_them() -> None:
    async def scenario() -> None:
        async with running() as h:
            sim = h.simulator
            bid, _ = h.best()
            sim.reject_orders(110007)
            c1 = h.request(price=bid - 20 * h.tick)
            await h.until(lambda: h.status(c1) is OrderStatus.REJECTED, "c1 refused")
            reason = h.updates(c1)[-1].order.reason
            assert "retCode 110007" in reason and "insufficient available balance" in reason

            sim.private_faults.reject_per_request = 1.0
            sim.private_faults.reject_code = 10001
            c2 = h.request(price=bid - 21 * h.tick)
            await h.until(lambda: h.status(c2) is OrderStatus.REJECTED, "c2 refused")
            assert "retCode 10001" in h.updates(c2)[-1].order.reason
            assert _venue_orders(h, c1) == [] and _venue_orders(h, c2) == []
            assert sim.private_faults.counts["reject"] == 2

            sim.private_faults.reject_per_request = 0.0
            c3 = h.request(price=bid - 22 * h.tick)
            await h.until(lambda: h.status(c3) is OrderStatus.NEW, "c3 placed once refusals end")

            # What the trader does with each update: the risk engine counts the rejects.
            risk = RiskEngine(RiskSettings(reject_burst=2))
            for event in h.events:
                if isinstance(event, OrderUpdate):
                    risk.on_order_update(event.ts_ns, event.order)
            assert risk.state is TradingState.HALTED
            assert "2 rejects" in risk.state_reason

    asyncio.run(scenario())


def test_late_answers_never_place_an_order_twice() -> None:
    async def scenario() -> None:
        async with running(request_timeout_s=1.0) as h:
            sim = h.simulator
            bid, _ = h.best()
            # Later than the client waits: it times out, retries with the same orderLinkId
            # (110072), times out again, and finds the order by its orderLinkId.
            sim.delay_acks(1.6)
            c1 = h.request(price=bid - 20 * h.tick)
            await h.until(lambda: h.status(c1) is OrderStatus.NEW, "c1 told by the stream")
            await h.until(
                lambda: ("/v5/order/create", 110072) in sim.private_rest.codes, "the retry"
            )
            await asyncio.sleep(2.5)  # both late answers are in; the client is done with c1
            assert len(_venue_orders(h, c1)) == 1
            assert [u.order.status for u in h.updates(c1)] == [OrderStatus.NEW]

            # Late but within the timeout: the stream tells first, the answer follows.
            sim.delay_acks(0.4)
            c2 = h.request(price=bid - 21 * h.tick)
            await h.until(lambda: h.status(c2) is OrderStatus.NEW, "c2 resting")
            h.exe.cancel(c2, 1)
            await h.until(lambda: h.status(c2) is OrderStatus.CANCELLED, "c2 cancelled")
            await asyncio.sleep(0.6)
            assert len(_venue_orders(h, c2)) == 1
            assert sim.private_rest.codes.count(("/v5/order/create", 110072)) == 1
            assert sim.private_faults.counts["late_ack"] >= 4
            assert not any(
                u.order.status is OrderStatus.REJECTED
                for u in h.events
                if isinstance(u, OrderUpdate)
            )

    asyncio.run(scenario())


def test_late_pushes_still_report_each_fill_once() -> None:
    async def scenario() -> None:
        async with running() as h:
            sim = h.simulator
            sim.delay_private_pushes(0.5)
            qty = h.lot(2)
            c1 = h.request(order_type=OrderType.MARKET, qty=qty)
            await h.until(lambda: h.status(c1) is OrderStatus.FILLED, "c1 filled, late")
            venue = _venue_orders(h, c1)[0]
            executions = [e for e in sim.account.executions if e["orderId"] == venue.order_id]
            await h.until(lambda: len(h.fills(c1)) == len(executions), "every fill")
            await asyncio.sleep(0.8)
            assert len(h.fills(c1)) == len(executions)
            assert sum(f.qty for f in h.fills(c1)) == sum(float(e["execQty"]) for e in executions)

    asyncio.run(scenario())


def test_dropped_private_streams_block_entries_until_back_and_keep_orders() -> None:
    async def scenario() -> None:
        async with running() as h:
            sim, exe = h.simulator, h.exe
            bid, _ = h.best()
            c1 = h.request(price=bid - 20 * h.tick)
            await h.until(lambda: h.status(c1) is OrderStatus.NEW, "c1 resting")
            connects = sim.private_streams.connects
            sim.private_faults.drop_per_s = 1.0  # every second of stream time
            await h.until(lambda: sim.private_faults.counts["private_drop"] >= 2, "two drops")
            await h.until(lambda: sim.private_streams.connects >= connects + 2, "reconnects")
            sim.private_faults.drop_per_s = 0.0
            await h.until(lambda: exe.stream_connected and not exe.blocked, "back")
            assert h.status(c1) is OrderStatus.NEW
            assert _venue_orders(h, c1)[0].status == "New"
            c2 = h.request(price=bid - 21 * h.tick)
            await h.until(lambda: h.status(c2) is OrderStatus.NEW, "entries again")

    asyncio.run(scenario())


def test_a_fill_missed_while_the_stream_was_down_arrives_once() -> None:
    async def scenario() -> None:
        async with running() as h:
            sim, exe = h.simulator, h.exe
            bid, ask = h.best()
            qty = h.lot(2)
            c1 = h.request(price=bid - 20 * h.tick, qty=qty)
            await h.until(lambda: h.status(c1) is OrderStatus.NEW, "c1 resting")

            sim.private_streams.refuse = True
            sim.drop_private_streams()
            await h.until(lambda: exe.blocked, "the drop noticed")
            # While the stream is down, c1 fills: amended through the ask, it takes liquidity.
            exe.amend(c1, price=ask + 20 * h.tick)
            await h.until(lambda: _venue_orders(h, c1)[0].status == "Filled", "c1 filled")
            venue = _venue_orders(h, c1)[0]
            executions = [e for e in sim.account.executions if e["orderId"] == venue.order_id]
            assert executions and h.fills(c1) == []  # nothing reached us yet

            sim.private_streams.refuse = False
            await h.until(lambda: not exe.blocked, "back, replayed and reconciled")
            assert len(h.fills(c1)) == len(executions)
            assert sorted(f.exec_id for f in h.fills(c1)) == sorted(e["execId"] for e in executions)
            assert exe.replayed_executions == len(executions)
            assert h.status(c1) is OrderStatus.FILLED
            await h.until(
                lambda: SYMBOL in exe.positions and exe.positions[SYMBOL].size > 0, "position"
            )

            # Another outage: the replay window covers the same fills again; none repeats.
            sim.drop_private_streams()
            await h.until(lambda: exe.blocked, "the second drop noticed")
            await h.until(lambda: not exe.blocked, "back again")
            await asyncio.sleep(0.3)
            assert len(h.fills(c1)) == len(executions)
            assert exe.replayed_executions == len(executions)

    asyncio.run(scenario())


def test_the_simulators_execution_list_pages_and_time_ranges() -> None:
    from scalper.settings import SimulatedAccountSettings
    from scalper.venues.simulator.private_venue import WEEK_MS, SimulatedAccount

    account = SimulatedAccount(SimulatedAccountSettings())
    now_ms = account.now_ns() // 1_000_000
    for i in range(5):
        row = {"execId": f"x{i}", "orderId": "o", "symbol": SYMBOL, "execType": "Trade"}
        account.executions.append({**row, "execTime": str(now_ms - 1000 + i)})
    account.executions.appendleft({"execId": "old", "execTime": str(now_ms - WEEK_MS - 5000)})
    code, page = account.execution_list({"limit": "2"})
    assert code == 0 and [r["execId"] for r in page["list"]] == ["x4", "x3"]
    code, page = account.execution_list({"limit": "2", "cursor": page["nextPageCursor"]})
    assert [r["execId"] for r in page["list"]] == ["x2", "x1"]
    code, page = account.execution_list({"startTime": str(now_ms - 998)})
    assert [r["execId"] for r in page["list"]] == ["x4", "x3", "x2"]
    assert page["nextPageCursor"] == ""
    assert account.execution_list({"startTime": "1", "endTime": str(WEEK_MS + 2)})[0] == 10001
    assert account.execution_list({"limit": "101"})[0] == 10001
    code, page = account.execution_list({"endTime": str(now_ms)})
    assert "old" not in [r["execId"] for r in page["list"]]
