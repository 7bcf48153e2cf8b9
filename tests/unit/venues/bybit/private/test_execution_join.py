"""BybitExecution's translation of stream pushes into the trading core's events, without I/O:
executions joined on orderId (even before the order is known), each fill once, stale order
pushes ignored, others' orders left alone."""

from __future__ import annotations

import asyncio
from typing import Any

from scalper.settings import BybitPrivateSettings
from scalper.trading.orders import (
    BUY,
    Fill,
    FundingPayment,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
)
from scalper.venues.bybit.private import wire
from scalper.venues.bybit.private.execution import BybitExecution


class _Rest:
    """Stands in for the REST client: placing is never awaited in these tests."""

    def venue_now_ms(self) -> int:
        return 1_000

    async def create_order(self, *args: Any, **kwargs: Any) -> wire.OrderAck:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


class _Stream:
    connected = True


def _client() -> tuple[BybitExecution, list[Any]]:
    exe = BybitExecution(
        _Rest(),  # type: ignore[arg-type]
        BybitPrivateSettings(),
        stream_factory=lambda owner: _Stream(),  # type: ignore[arg-type,return-value]
    )
    exe._blocks.clear()
    events: list[Any] = []
    exe.set_sink(events.append)
    return exe, events


def _order_row(link: str, status: str, filled: str, updated: int, order_id: str = "o1") -> bytes:
    return (
        b'{"topic":"order","creationTime":1,"data":[{"orderId":"%s","orderLinkId":"%s",'
        b'"symbol":"BTCUSDT","side":"Buy","orderType":"Limit","timeInForce":"GTC","price":"90",'
        b'"qty":"0.02","orderStatus":"%s","cumExecQty":"%s","avgPrice":"90",'
        b'"updatedTime":"%d"}]}'
    ) % (order_id.encode(), link.encode(), status.encode(), filled.encode(), updated)


def _exec_row(exec_id: str, order_id: str = "o1", exec_type: str = "Trade") -> bytes:
    return (
        b'{"topic":"execution","creationTime":1,"data":[{"execId":"%s","orderId":"%s",'
        b'"orderLinkId":"","symbol":"BTCUSDT","side":"Buy","execPrice":"90","execQty":"0.01",'
        b'"execFee":"0.0002","feeRate":"0.0002","isMaker":true,"execType":"%s",'
        b'"execTime":"5000","seq":1}]}'
    ) % (exec_id.encode(), order_id.encode(), exec_type.encode())


def _push(exe: BybitExecution, frame: bytes) -> None:
    message = wire.decode_stream(frame)
    assert isinstance(message, wire.StreamTopic)
    exe.on_stream_message(message)


def test_executions_join_on_order_id_even_before_the_order_is_known() -> None:
    async def scenario() -> None:
        exe, events = _client()
        exe.submit(
            OrderRequest(
                client_id="c1",
                symbol="BTCUSDT",
                side=BUY,
                qty=0.02,
                order_type=OrderType.LIMIT,
                price=90.0,
                decided_ns=1,
            )
        )
        link = exe.order_link_id("c1")
        # The fill arrives first, with no orderLinkId: held until orderId is known.
        _push(exe, _exec_row("e1"))
        assert events == []
        _push(exe, _order_row(link, "PartiallyFilled", "0.01", 2000))
        update, fill = events
        assert isinstance(update, OrderUpdate) and update.order.venue_id == "o1"
        assert update.order.status is OrderStatus.PARTIALLY_FILLED and update.ts_ns == 2 * 10**9
        assert isinstance(fill, Fill) and fill.client_id == "c1"
        assert fill.liquidity is Liquidity.MAKER and fill.fee == 0.0002 and fill.ts_ns == 5 * 10**9
        # The same execution again (a replay): reported once. An older order push: ignored.
        _push(exe, _exec_row("e1"))
        _push(exe, _order_row(link, "New", "0", 1500))
        assert len(events) == 2
        _push(exe, _order_row(link, "Filled", "0.02", 3000))
        assert events[-1].order.status is OrderStatus.FILLED
        assert exe.open_orders() == []
        # Someone else's order and executions: not ours, not reported.
        _push(exe, _order_row("manual-1", "New", "0", 4000, order_id="o9"))
        assert len(events) == 3
        for task in list(exe._tasks):
            task.cancel()

    asyncio.run(scenario())


def test_funding_executions_are_funding_payments() -> None:
    exe, events = _client()
    exe.positions["BTCUSDT"] = wire.VenuePosition(
        symbol="BTCUSDT",
        size=0.5,
        entry_price=90.0,
        mark_price=90.0,
        unrealised_pnl=0.0,
        updated_ms=0,
        seq=0,
    )
    _push(exe, _exec_row("f1", order_id="", exec_type="Funding"))
    (payment,) = events
    assert isinstance(payment, FundingPayment)
    assert payment.amount == 0.0002 and payment.position_qty == 0.5 and payment.rate == 0.0002


def _exec_dict(exec_id: str, order_id: str, link: str, exec_type: str = "Trade") -> bytes:
    return (
        b'{"execId":"%s","orderId":"%s","orderLinkId":"%s","symbol":"BTCUSDT","side":"Buy",'
        b'"execPrice":"90","execQty":"0.01","execFee":"0.0002","feeRate":"0.0002",'
        b'"isMaker":true,"execType":"%s","execTime":"5000","seq":1}'
    ) % (exec_id.encode(), order_id.encode(), link.encode(), exec_type.encode())


class _ReplayRest(_Rest):
    """/v5/execution/list of a fixed page; `during` runs inside the call (a second outage)."""

    def __init__(self, rows: list[bytes]) -> None:
        self.rows = rows
        self.since: list[int] = []
        self.during: Any = None

    async def executions(self, start_ms: int) -> list[wire.Execution]:
        self.since.append(start_ms)
        if self.during is not None:
            self.during()
        page, _ = wire.parse_executions(b'{"list":[%s]}' % b",".join(self.rows))
        return page


def test_missed_executions_are_replayed_once_and_only_ours() -> None:
    async def scenario() -> None:
        rest = _ReplayRest([])
        exe = BybitExecution(
            rest,  # type: ignore[arg-type]
            BybitPrivateSettings(replay_margin_ms=2_000),
            stream_factory=lambda owner: _Stream(),  # type: ignore[arg-type,return-value]
        )
        exe._blocks.clear()
        events: list[Any] = []
        exe.set_sink(events.append)
        exe.submit(
            OrderRequest(
                client_id="c1",
                symbol="BTCUSDT",
                side=BUY,
                qty=0.02,
                order_type=OrderType.LIMIT,
                price=90.0,
                decided_ns=1,
            )
        )
        link = exe.order_link_id("c1")
        _push(exe, _order_row(link, "New", "0", 2_000))
        _push(exe, _exec_row("x1"))  # seen on the stream before it went down
        rest.rows = [
            _exec_dict("x2", "o1", link),
            _exec_dict("x1", "o1", ""),
            _exec_dict("other", "o9", "someone-else"),
        ]
        assert await exe.replay_missed_executions() == 0  # no outage: nothing to read
        exe.on_stream_state(False, "test")
        rest.during = lambda: exe.on_stream_state(False, "down again while replaying")
        assert await exe.replay_missed_executions() == 1
        assert rest.since == [1_000 - 2_000]
        rest.during = None
        # The outage during the replay keeps the window open: the next replay reads from the
        # same time again, and reports nothing twice.
        assert await exe.replay_missed_executions() == 0
        assert rest.since == [-1_000, -1_000]
        assert await exe.replay_missed_executions() == 0
        assert rest.since == [-1_000, -1_000]  # closed now
        fills = [e for e in events if isinstance(e, Fill)]
        assert [f.exec_id for f in fills] == ["x1", "x2"]
        assert exe.replayed_executions == 1
        for task in exe._tasks:
            task.cancel()

    asyncio.run(scenario())
