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
