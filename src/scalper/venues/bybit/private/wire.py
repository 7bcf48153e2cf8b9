"""Bybit v5 private answers and pushes -> our types; pure, no I/O.

REST (every answer in the envelope `{"retCode","retMsg","result","retExtInfo","time"}`):
/v5/order/create|amend|cancel -> `{orderId, orderLinkId}`; /v5/order/cancel-all -> `{list:
[{orderId, orderLinkId}], success}`; /v5/order/realtime -> `{list: [order], nextPageCursor}`;
/v5/position/list -> `{list: [position]}`; /v5/account/wallet-balance -> `{list: [account]}`;
/v5/account/fee-rate -> `{list: [{symbol, takerFeeRate, makerFeeRate}]}`;
/v5/market/instruments-info -> `{list: [instrument], nextPageCursor}`; /v5/market/time ->
`{timeSecond, timeNano}`. Private WebSocket (/docs/v5/websocket/private/*): `{"topic", "id",
"creationTime", "data": [...]}` for `order`, `execution`, `execution.fast`, `position`,
`wallet`; control answers `{"op", "success", "ret_msg", "conn_id"}`.

Field names are Bybit's documented ones. Numbers arrive as strings ("" when not applicable)
and are parsed once here. One difference from BYBIT-V5.md's short list: the `position` push
names the entry price `entryPrice`, while /v5/position/list names it `avgPrice`; both are read.
"""

from __future__ import annotations

from typing import Final, TypeVar

import msgspec

from scalper.trading.orders import BUY, SELL, OrderStatus, OrderType, TimeInForce
from scalper.venues.bybit.private.errors import PrivateApiError, error_for

T = TypeVar("T")

# ---------------------------------------------------------------------- our decoded values


class VenueOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order as Bybit reports it (REST open orders or the `order` topic)."""

    order_id: str
    order_link_id: str
    symbol: str
    side: int
    order_type: OrderType
    time_in_force: TimeInForce
    price: float | None
    qty: float
    status: OrderStatus
    venue_status: str
    filled_qty: float
    avg_price: float
    reduce_only: bool
    reason: str
    """rejectReason or cancelType, when Bybit gives one ("" otherwise)."""
    updated_ms: int


class Execution(msgspec.Struct, frozen=True, kw_only=True):
    """One execution (`execution` / `execution.fast` topics): a fill, or funding."""

    exec_id: str
    order_id: str
    order_link_id: str
    """Empty on `execution.fast` for maker fills: join on order_id."""
    symbol: str
    side: int
    price: float
    qty: float
    fee: float
    """execFee; absent on `execution.fast` (then NaN: the full `execution` push brings it)."""
    fee_rate: float
    is_maker: bool
    exec_type: str
    """Trade, Funding, AdlTrade, BustTrade, ... (/docs/v5/enum, execType)."""
    time_ms: int
    seq: int
    fast: bool


class VenuePosition(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    size: float
    """Signed: positive long, negative short, 0 flat."""
    entry_price: float
    mark_price: float
    unrealised_pnl: float
    updated_ms: int
    seq: int


class Wallet(msgspec.Struct, frozen=True, kw_only=True):
    total_equity: float
    total_available_balance: float
    coins: dict[str, float]
    """Wallet balance per coin."""


class FeeRate(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    maker: float
    taker: float


class InstrumentFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What an order must respect (/docs/v5/market/instrument)."""

    symbol: str
    status: str
    tick_size: str
    qty_step: str
    min_qty: float
    max_qty: float
    max_market_qty: float
    min_notional: float
    funding_interval_min: int


class OrderAck(msgspec.Struct, frozen=True, kw_only=True):
    """A REST order answer: accepted only; the order's state comes from the stream."""

    order_id: str
    order_link_id: str


class StreamControl(msgspec.Struct, frozen=True, kw_only=True):
    op: str
    success: bool
    ret_msg: str
    req_id: str


class StreamTopic(msgspec.Struct, frozen=True, kw_only=True):
    topic: str
    """The base topic: order, execution, position or wallet (`.linear`, `.fast` folded)."""
    rows: list[VenueOrder] | list[Execution] | list[VenuePosition] | list[Wallet]
    creation_ms: int


class MalformedMessage(msgspec.Struct, frozen=True):
    reason: str


StreamMessage = StreamControl | StreamTopic | MalformedMessage

# ---------------------------------------------------------------------- wire shapes


class _Envelope(msgspec.Struct, rename="camel"):
    ret_code: int
    ret_msg: str = ""
    result: msgspec.Raw = msgspec.Raw(b"null")
    time: int = 0


class _Ack(msgspec.Struct, rename="camel"):
    order_id: str = ""
    order_link_id: str = ""


class _AckList(msgspec.Struct):
    rows: list[_Ack] = msgspec.field(default_factory=list, name="list")


class _Order(msgspec.Struct, rename="camel"):
    order_id: str = ""
    order_link_id: str = ""
    symbol: str = ""
    side: str = ""
    order_type: str = ""
    time_in_force: str = ""
    price: str = ""
    qty: str = ""
    order_status: str = ""
    cum_exec_qty: str = ""
    avg_price: str = ""
    reduce_only: bool = False
    reject_reason: str = ""
    cancel_type: str = ""
    updated_time: str = ""


class _Orders(msgspec.Struct, rename="camel"):
    rows: list[_Order] = msgspec.field(default_factory=list, name="list")
    next_page_cursor: str = ""


class _Execution(msgspec.Struct, rename="camel"):
    exec_id: str = ""
    order_id: str = ""
    order_link_id: str = ""
    symbol: str = ""
    side: str = ""
    exec_price: str = ""
    exec_qty: str = ""
    exec_fee: str = ""
    fee_rate: str = ""
    is_maker: bool = False
    exec_type: str = "Trade"
    exec_time: str = ""
    seq: int = 0


class _Executions(msgspec.Struct, rename="camel"):
    rows: list[_Execution] = msgspec.field(default_factory=list, name="list")
    next_page_cursor: str = ""


class _Position(msgspec.Struct, rename="camel"):
    symbol: str = ""
    side: str = ""
    size: str = ""
    avg_price: str = ""
    entry_price: str = ""
    mark_price: str = ""
    unrealised_pnl: str = ""
    updated_time: str = ""
    seq: int = 0


class _Positions(msgspec.Struct, rename="camel"):
    rows: list[_Position] = msgspec.field(default_factory=list, name="list")
    next_page_cursor: str = ""


class _Coin(msgspec.Struct, rename="camel"):
    coin: str = ""
    wallet_balance: str = ""


class _Account(msgspec.Struct, rename="camel"):
    total_equity: str = ""
    total_available_balance: str = ""
    coin: list[_Coin] = msgspec.field(default_factory=list)


class _Accounts(msgspec.Struct):
    rows: list[_Account] = msgspec.field(default_factory=list, name="list")


class _Fee(msgspec.Struct, rename="camel"):
    symbol: str = ""
    taker_fee_rate: str = ""
    maker_fee_rate: str = ""


class _Fees(msgspec.Struct):
    rows: list[_Fee] = msgspec.field(default_factory=list, name="list")


class _PriceFilter(msgspec.Struct, rename="camel"):
    tick_size: str = ""


class _LotFilter(msgspec.Struct, rename="camel"):
    qty_step: str = ""
    min_order_qty: str = ""
    max_order_qty: str = ""
    max_mkt_order_qty: str = ""
    min_notional_value: str = ""


class _Instrument(msgspec.Struct, rename="camel"):
    symbol: str = ""
    status: str = ""
    price_filter: _PriceFilter = msgspec.field(default_factory=_PriceFilter)
    lot_size_filter: _LotFilter = msgspec.field(default_factory=_LotFilter)
    funding_interval: int = 0


class _Instruments(msgspec.Struct, rename="camel"):
    rows: list[_Instrument] = msgspec.field(default_factory=list, name="list")
    next_page_cursor: str = ""


class _Time(msgspec.Struct, rename="camel"):
    time_second: str = ""
    time_nano: str = ""


class _Frame(msgspec.Struct, rename="camel"):
    topic: str = ""
    op: str = ""
    success: bool | None = None
    ret_msg: str = msgspec.field(default="", name="ret_msg")
    req_id: str = msgspec.field(default="", name="req_id")
    creation_time: int = 0
    data: msgspec.Raw = msgspec.Raw(b"null")


_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)
_FRAME: Final = msgspec.json.Decoder(_Frame)

# ---------------------------------------------------------------------- conversions

_STATUS: Final = {
    "Created": OrderStatus.PENDING,
    "New": OrderStatus.NEW,
    "Untriggered": OrderStatus.NEW,
    "Triggered": OrderStatus.NEW,
    "Active": OrderStatus.NEW,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
}
"""orderStatus (/docs/v5/enum): a derivatives order Cancelled may have filled quantity."""

_TIF: Final = {
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
    "PostOnly": TimeInForce.POST_ONLY,
}
TIF_NAMES: Final = {tif: name for name, tif in _TIF.items()}
ORDER_TYPE_NAMES: Final = {OrderType.MARKET: "Market", OrderType.LIMIT: "Limit"}
_ORDER_TYPE: Final = {name: kind for kind, name in ORDER_TYPE_NAMES.items()}
SIDE_NAMES: Final = {BUY: "Buy", SELL: "Sell"}
_SIDE: Final = {"Buy": BUY, "Sell": SELL}
_EMPTY_REASONS: Final = frozenset({"", "EC_NoError", "UNKNOWN"})


def _num(text: str, default: float = 0.0) -> float:
    return float(text) if text else default


def _int(text: str) -> int:
    return int(text) if text else 0


def _order(row: _Order) -> VenueOrder:
    reason = row.reject_reason if row.reject_reason not in _EMPTY_REASONS else ""
    if not reason and row.cancel_type not in _EMPTY_REASONS:
        reason = row.cancel_type
    return VenueOrder(
        order_id=row.order_id,
        order_link_id=row.order_link_id,
        symbol=row.symbol,
        side=_SIDE.get(row.side, 0),
        order_type=_ORDER_TYPE.get(row.order_type, OrderType.LIMIT),
        time_in_force=_TIF.get(row.time_in_force, TimeInForce.GTC),
        price=_num(row.price) or None,
        qty=_num(row.qty),
        status=_STATUS.get(row.order_status, OrderStatus.NEW),
        venue_status=row.order_status,
        filled_qty=_num(row.cum_exec_qty),
        avg_price=_num(row.avg_price),
        reduce_only=row.reduce_only,
        reason=reason,
        updated_ms=_int(row.updated_time),
    )


def _execution(row: _Execution, fast: bool) -> Execution:
    return Execution(
        exec_id=row.exec_id,
        order_id=row.order_id,
        order_link_id=row.order_link_id,
        symbol=row.symbol,
        side=_SIDE.get(row.side, 0),
        price=_num(row.exec_price),
        qty=_num(row.exec_qty),
        fee=_num(row.exec_fee, float("nan")),
        fee_rate=_num(row.fee_rate, float("nan")),
        is_maker=row.is_maker,
        exec_type=row.exec_type,
        time_ms=_int(row.exec_time),
        seq=row.seq,
        fast=fast,
    )


def _position(row: _Position) -> VenuePosition:
    size = _num(row.size)
    return VenuePosition(
        symbol=row.symbol,
        size=-size if row.side == "Sell" else (size if row.side == "Buy" else 0.0),
        entry_price=_num(row.entry_price or row.avg_price),
        mark_price=_num(row.mark_price),
        unrealised_pnl=_num(row.unrealised_pnl),
        updated_ms=_int(row.updated_time),
        seq=row.seq,
    )


def _wallet(row: _Account) -> Wallet:
    return Wallet(
        total_equity=_num(row.total_equity),
        total_available_balance=_num(row.total_available_balance),
        coins={c.coin: _num(c.wallet_balance) for c in row.coin},
    )


def _instrument(row: _Instrument) -> InstrumentFilter:
    lot = row.lot_size_filter
    return InstrumentFilter(
        symbol=row.symbol,
        status=row.status,
        tick_size=row.price_filter.tick_size,
        qty_step=lot.qty_step,
        min_qty=_num(lot.min_order_qty),
        max_qty=_num(lot.max_order_qty, float("inf")),
        max_market_qty=_num(lot.max_mkt_order_qty, float("inf")),
        min_notional=_num(lot.min_notional_value),
        funding_interval_min=row.funding_interval,
    )


# ---------------------------------------------------------------------- REST decoders


def decode_envelope(payload: bytes, what: str) -> tuple[msgspec.Raw, int]:
    """(result, venue time in ms) of a successful answer; the typed error of a refusal."""
    try:
        envelope = _ENVELOPE.decode(payload)
    except msgspec.DecodeError as exc:
        raise PrivateApiError(f"Bybit {what}: malformed answer: {exc}") from None
    if envelope.ret_code != 0:
        raise error_for(envelope.ret_code, envelope.ret_msg, what)
    return envelope.result, envelope.time


def _decode(raw: msgspec.Raw, kind: type[T], what: str) -> T:
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.DecodeError as exc:
        raise PrivateApiError(f"Bybit {what}: malformed result: {exc}") from None


def parse_ack(raw: msgspec.Raw, what: str) -> OrderAck:
    ack = _decode(raw, _Ack, what)
    return OrderAck(order_id=ack.order_id, order_link_id=ack.order_link_id)


def parse_cancel_all(raw: msgspec.Raw) -> list[OrderAck]:
    acks = _decode(raw, _AckList, "cancel-all")
    return [OrderAck(order_id=a.order_id, order_link_id=a.order_link_id) for a in acks.rows]


def parse_orders(raw: msgspec.Raw) -> tuple[list[VenueOrder], str]:
    orders = _decode(raw, _Orders, "open orders")
    return [_order(row) for row in orders.rows], orders.next_page_cursor


def parse_executions(raw: msgspec.Raw) -> tuple[list[Execution], str]:
    """A page of /v5/execution/list (rows as the `execution` topic's) and its next cursor."""
    executions = _decode(raw, _Executions, "executions")
    return [_execution(row, False) for row in executions.rows], executions.next_page_cursor


def parse_positions(raw: msgspec.Raw) -> tuple[list[VenuePosition], str]:
    positions = _decode(raw, _Positions, "positions")
    return [_position(row) for row in positions.rows], positions.next_page_cursor


def parse_wallet(raw: msgspec.Raw) -> Wallet:
    accounts = _decode(raw, _Accounts, "wallet balance")
    if not accounts.rows:
        raise PrivateApiError("Bybit wallet balance: no account in the answer")
    return _wallet(accounts.rows[0])


def parse_fee_rates(raw: msgspec.Raw) -> dict[str, FeeRate]:
    fees = _decode(raw, _Fees, "fee rates")
    return {
        f.symbol: FeeRate(
            symbol=f.symbol, maker=_num(f.maker_fee_rate), taker=_num(f.taker_fee_rate)
        )
        for f in fees.rows
    }


def parse_instruments(raw: msgspec.Raw) -> tuple[list[InstrumentFilter], str]:
    instruments = _decode(raw, _Instruments, "instruments-info")
    return [_instrument(row) for row in instruments.rows], instruments.next_page_cursor


def parse_server_time_ms(raw: msgspec.Raw) -> int:
    """Server time in ms from /v5/market/time (timeNano, else timeSecond)."""
    result = _decode(raw, _Time, "server time")
    if result.time_nano:
        return int(result.time_nano) // 1_000_000
    if result.time_second:
        return int(result.time_second) * 1000
    raise PrivateApiError("Bybit server time: neither timeNano nor timeSecond in the answer")


# ---------------------------------------------------------------------- stream decoder

_TOPIC_ROWS: Final = {
    "order": list[_Order],
    "execution": list[_Execution],
    "position": list[_Position],
    "wallet": list[_Account],
}


def base_topic(topic: str) -> tuple[str, bool]:
    """(order|execution|position|wallet|other, is execution.fast): `.linear` forms folded."""
    parts = topic.split(".")
    return parts[0], parts[0] == "execution" and len(parts) > 1 and parts[1] == "fast"


def decode_stream(frame: bytes | str) -> StreamMessage:
    """One private stream frame; never raises (a bad frame is a MalformedMessage naming why)."""
    try:
        outer = _FRAME.decode(frame)
    except msgspec.DecodeError as exc:
        return MalformedMessage(f"not a private stream frame: {exc}")
    if not outer.topic:
        if not outer.op:
            return MalformedMessage("a frame with neither topic nor op")
        success = outer.success if outer.success is not None else outer.op == "pong"
        return StreamControl(
            op=outer.op, success=success, ret_msg=outer.ret_msg, req_id=outer.req_id
        )
    topic, fast = base_topic(outer.topic)
    shape = _TOPIC_ROWS.get(topic)
    if shape is None:
        return MalformedMessage(f"unexpected topic {outer.topic!r}")
    try:
        rows = msgspec.json.decode(outer.data, type=shape)
        decoded: list = (
            [_order(r) for r in rows]
            if topic == "order"
            else [_execution(r, fast) for r in rows]
            if topic == "execution"
            else [_position(r) for r in rows]
            if topic == "position"
            else [_wallet(r) for r in rows]
        )
    except (msgspec.DecodeError, ValueError) as exc:
        return MalformedMessage(f"{outer.topic}: bad data: {exc}")
    return StreamTopic(topic=topic, rows=decoded, creation_ms=outer.creation_time)
