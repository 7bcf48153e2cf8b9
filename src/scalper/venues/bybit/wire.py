"""Bybit v5 public WebSocket frames -> our typed events. Pure functions, no I/O.

Frame shapes: /docs/v5/websocket/public/orderbook, /trade and /ticker; control replies (acks,
pongs): /docs/v5/ws/connect. `decode_frame` never raises: anything it cannot read comes back as a
`MalformedFrame` with a kind to count by, and with the symbol (and book depth) when the topic can
be salvaged, so that a broken book frame can still trigger a resync of that one book.
"""

from __future__ import annotations

import re
import sys
import typing
from typing import Annotated, Any, Final

import msgspec

from scalper.events import (
    BUY,
    SELL,
    UNKNOWN_SIDE,
    BookUpdate,
    Event,
    MalformedFrame,
    TickerFields,
    TickerUpdate,
    Trade,
    TradeBatch,
)
from scalper.venues.bybit.topics import BOOK as _BOOK
from scalper.venues.bybit.topics import TICKER as _TICKER
from scalper.venues.bybit.topics import TRADE as _TRADE
from scalper.venues.bybit.topics import cached_route, parse_topic

_MS_TO_NS: Final = 1_000_000
_SAMPLE_CHARS: Final = 200
_TOPIC_IN_BYTES: Final = re.compile(rb'"topic"\s*:\s*"([A-Za-z0-9._-]{1,100})"')


class ControlMessage(msgspec.Struct, gc=False):
    """A reply that is not market data: subscription ack or error, pong. The connection's
    session consumes it (session.py); it never reaches the engine."""

    op: str
    success: bool
    message: str
    recv_ns: int
    req_id: str = ""
    conn_id: str = ""


Decoded = Event | ControlMessage
"""What `decode_frame` gives: an event for the engine, or a control reply for the session."""


class _Envelope(msgspec.Struct):
    """The outer frame; `data` stays raw until the topic says what it is (the slow path)."""

    topic: str | None = None
    type: str | None = None
    ts: int | None = None
    cts: int | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None
    conn_id: str | None = None
    req_id: str | None = None


# Constraints are checked by msgspec in C while decoding (NaN fails every comparison), so a
# non-finite, non-positive price or a negative size never reaches the book.
_Price = Annotated[float, msgspec.Meta(gt=0.0, le=sys.float_info.max)]
_Size = Annotated[float, msgspec.Meta(ge=0.0, le=sys.float_info.max)]
# The engine keeps event times (ns) and update ids in C int64 fields: a time outside 1970-2262 or
# an id without room for its successor is a malformed frame here, not an overflow in the engine.
# Times are checked in Python (against MAX_MILLIS): a msgspec Meta bound on `cts: int | None`
# costs more per book frame than the check here (decode B in `make bench`); a bound on `u` nothing.
MAX_MILLIS: Final = (2**63 - 1) // _MS_TO_NS
"""The latest time (ms) whose nanoseconds fit int64."""
MAX_UPDATE_ID: Final = 2**63 - 2
"""The largest book update id with room for its successor."""
_UpdateId = Annotated[int, msgspec.Meta(ge=0, le=MAX_UPDATE_ID)]


class BookData(msgspec.Struct, gc=False):
    s: str
    b: list[tuple[_Price, _Size]]
    a: list[tuple[_Price, _Size]]
    u: _UpdateId
    seq: int = 0


class _TradeData(msgspec.Struct, gc=False):
    T: int
    s: str
    p: _Price
    v: _Size
    S: str = ""
    L: str | None = None
    i: str = ""
    BT: bool = False


def _ticker_data(name: str, value_type: Any | None) -> type[msgspec.Struct]:
    """The `data` of a ticker frame: `symbol`, then TickerFields' fields in their order (so
    astuple() maps across) under Bybit's names (/docs/v5/websocket/public/ticker), each typed
    as in TickerFields (or `value_type` for all)."""
    types = typing.get_type_hints(TickerFields)
    fields = [(field, value_type or types[field], None) for field in TickerFields.__struct_fields__]
    names = {field: _TICKER_NAMES.get(field, _camel(field)) for field, *_ in fields}
    return msgspec.defstruct(name, [("symbol", str), *fields], rename=names, gc=False)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


_TICKER_NAMES: Final = {"next_funding_time_ms": "nextFundingTime"}
"""The one ticker field whose Bybit name is not the camel case of ours."""
_TickerData = _ticker_data("_TickerData", None)
_LenientTickerData = _ticker_data("_LenientTickerData", str | None)
"""The fallback when a ticker carries empty strings where numbers belong ("" means no value)."""
TICKER_KEYS_OF_FIELDS: Final = _TickerData.__struct_encode_fields__[1:]
"""Bybit's key of each TickerFields field, in TickerFields' order."""


class BookFrame(msgspec.Struct, gc=False):
    """A whole book frame, decoded in one pass (the fast path; the simulator reads the frames
    it publishes with it too)."""

    topic: str
    type: str
    ts: int
    data: BookData
    cts: int | None = None


class _TradeFrame(msgspec.Struct, gc=False):
    topic: str
    type: str
    ts: int
    data: list[_TradeData]


class _TickerFrame(msgspec.Struct, gc=False):
    topic: str
    type: str
    ts: int
    data: _TickerData


# strict=False lets msgspec parse Bybit's decimal strings ("71419.80") straight into floats in C.
_ENVELOPE_DECODER: Final = msgspec.json.Decoder(_Envelope, strict=False)
_BOOK_DECODER: Final = msgspec.json.Decoder(BookData, strict=False)
_TRADES_DECODER: Final = msgspec.json.Decoder(list[_TradeData], strict=False)
_TICKER_DECODER: Final = msgspec.json.Decoder(_TickerData, strict=False)
_LENIENT_TICKER_DECODER: Final = msgspec.json.Decoder(_LenientTickerData, strict=False)

_FAST_DECODERS: Final = {
    b'{"topic":"orde': msgspec.json.Decoder(BookFrame, strict=False),
    b'{"topic":"publ': msgspec.json.Decoder(_TradeFrame, strict=False),
    b'{"topic":"tick': msgspec.json.Decoder(_TickerFrame, strict=False),
}
"""Bybit writes `topic` first; keyed by the first 14 bytes, which name the channel. A frame of
another channel that happens to share the prefix fails the frame type's check (slow path)."""

_SIDES: Final = {"Buy": BUY, "Sell": SELL}
_TICK_DIRECTIONS: Final = {
    name: name for name in ("PlusTick", "ZeroPlusTick", "MinusTick", "ZeroMinusTick")
}
"""Shared strings for `L`, so kept trades share one copy (/docs/v5/websocket/public/trade)."""
_DATA_ERROR_KIND: Final = {
    _BOOK: "bad_book_data",
    _TRADE: "bad_trade_data",
    _TICKER: "bad_ticker_data",
}


def decode_frame(raw: bytes, recv_ns: int) -> Decoded:
    """Decode one raw WebSocket frame into an event; never raises.

    Market frames take a one-pass fast path (the topic prefix picks the frame type, about half
    the cost of decoding the envelope and then the data); anything that fails it goes the slow
    path, which finds the precise error.
    """
    try:
        decoder = _FAST_DECODERS.get(raw[:14])
        if decoder is not None:
            event = _decode_fast(decoder, raw, recv_ns)
            if event is not None:
                return event
        return _decode_slow(raw, recv_ns)
    except RecursionError:  # msgspec raises it, not DecodeError, for JSON nested ~1000 deep
        return _malformed(raw, recv_ns, "too_deep", "JSON nested too deeply")


def _decode_fast(
    decoder: msgspec.json.Decoder[Any], raw: bytes, recv_ns: int
) -> BookUpdate | TradeBatch | TickerUpdate | None:
    """The event, or None to let the slow path find and name whatever is wrong."""
    try:
        frame = decoder.decode(raw)
        route = cached_route(frame.topic) or parse_topic(frame.topic)
        if route is None:
            return None
        channel, depth, symbol = route
        if channel == _BOOK and type(frame) is BookFrame:
            ts = frame.cts if frame.cts is not None else frame.ts
            return _book(frame.type, ts, frame.data, depth, symbol, recv_ns)
        if channel == _TRADE and type(frame) is _TradeFrame:
            return _trades(frame.data, symbol, recv_ns)
        if channel == _TICKER and type(frame) is _TickerFrame:
            return _ticker(frame.type, frame.ts, frame.data, symbol, recv_ns)
    except (msgspec.DecodeError, _FrameError):
        return None
    return None


def _decode_slow(raw: bytes, recv_ns: int) -> Decoded:
    try:
        envelope = _ENVELOPE_DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        return _malformed(raw, recv_ns, "bad_envelope", str(exc))
    except msgspec.DecodeError as exc:
        cut_short = raw.strip() and str(exc).startswith("Input data was truncated")
        kind = "truncated" if cut_short else "not_json"
        return _malformed(raw, recv_ns, kind, str(exc))
    topic = envelope.topic
    if topic is None:
        return _control(envelope, raw, recv_ns)
    route = parse_topic(topic)
    if route is None:
        return _malformed(raw, recv_ns, "unknown_topic", f"topic {topic!r} is not decoded")
    channel, depth, symbol = route
    ts = envelope.ts
    if ts is None:
        return _malformed(raw, recv_ns, "missing_ts", f"{topic}: no 'ts' field")
    try:
        if channel == _BOOK:
            data = _BOOK_DECODER.decode(envelope.data)
            book_ts = envelope.cts if envelope.cts is not None else ts
            return _book(envelope.type, book_ts, data, depth, symbol, recv_ns)
        if channel == _TRADE:
            return _trades(_TRADES_DECODER.decode(envelope.data), symbol, recv_ns)
        return _ticker(envelope.type, ts, _decode_ticker_data(envelope.data), symbol, recv_ns)
    except msgspec.DecodeError as exc:
        return _malformed(raw, recv_ns, _DATA_ERROR_KIND[channel], f"{topic}: {exc}")
    except _FrameError as exc:
        return _malformed(raw, recv_ns, exc.kind, f"{topic}: {exc}")


class _FrameError(Exception):
    """A frame that parsed but breaks the protocol (wrong type, symbol mismatch)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _bad_time(ts_ms: int) -> _FrameError:
    """The error for a time whose nanoseconds do not fit int64 (see MAX_MILLIS)."""
    return _FrameError("bad_time", f"time {ts_ms} ms is outside 1970-2262")


def _book(
    kind: str | None, ts_ms: int, data: BookData, depth: int, symbol: str, recv_ns: int
) -> BookUpdate:
    if kind != "delta" and kind != "snapshot":
        raise _FrameError("bad_type", f"book frame type {kind!r}")
    if not 0 <= ts_ms <= MAX_MILLIS:
        raise _bad_time(ts_ms)
    if data.s != symbol:
        raise _FrameError("symbol_mismatch", f"data.s {data.s!r} in a {symbol} book frame")
    return BookUpdate(
        symbol,
        depth,
        kind == "snapshot",
        data.b,
        data.a,
        data.u,
        data.seq,
        ts_ms * _MS_TO_NS,
        recv_ns,
    )


def _trades(rows: list[_TradeData], symbol: str, recv_ns: int) -> TradeBatch:
    if not rows:
        raise _FrameError("empty_trades", "trade frame with no trades")
    sides = _SIDES
    ticks = _TICK_DIRECTIONS
    trades = []
    append = trades.append
    for row in rows:
        if row.s != symbol:
            raise _FrameError("symbol_mismatch", f"trade for {row.s!r} in a {symbol} frame")
        ts_ms = row.T
        if not 0 <= ts_ms <= MAX_MILLIS:
            raise _bad_time(ts_ms)
        append(
            Trade(
                symbol,
                row.p,
                row.v,
                sides.get(row.S, UNKNOWN_SIDE),
                ts_ms * _MS_TO_NS,
                recv_ns,
                row.i,
                ticks.get(row.L, row.L),  # type: ignore[arg-type]
                row.BT,
            )
        )
    return TradeBatch(symbol, trades, trades[-1].ts_event_ns, recv_ns)


def _decode_ticker_data(raw: msgspec.Raw) -> msgspec.Struct:
    try:
        return _TICKER_DECODER.decode(raw)
    except msgspec.ValidationError:
        return _LENIENT_TICKER_DECODER.decode(raw)


def _ticker(
    kind: str | None,
    ts_ms: int,
    data: msgspec.Struct,
    symbol: str,
    recv_ns: int,
) -> TickerUpdate:
    if kind != "delta" and kind != "snapshot":
        raise _FrameError("bad_type", f"ticker frame type {kind!r}")
    if not 0 <= ts_ms <= MAX_MILLIS:
        raise _bad_time(ts_ms)
    if data.symbol != symbol:
        raise _FrameError("symbol_mismatch", f"data.symbol {data.symbol!r} in a {symbol} frame")
    values = msgspec.structs.astuple(data)[1:]
    if type(data) is _LenientTickerData:
        values = (*map(_number, values[:-1]), _integer(values[-1]))
    fields = TickerFields(*values)
    return TickerUpdate(symbol, kind == "snapshot", fields, ts_ms * _MS_TO_NS, recv_ns)


def _number(value: float | str | None) -> float | None:
    if value is None or isinstance(value, float):
        return value
    try:
        return float(value) if value else None
    except ValueError as exc:
        raise _FrameError("bad_ticker_data", f"not a number: {value!r}") from exc


def _integer(value: int | str | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value) if value else None
    except ValueError as exc:
        raise _FrameError("bad_ticker_data", f"not an integer: {value!r}") from exc


def _control(envelope: _Envelope, raw: bytes, recv_ns: int) -> Decoded:
    if envelope.op is None:
        return _malformed(raw, recv_ns, "unknown_message", "neither a topic nor an op")
    return ControlMessage(
        op=envelope.op,
        success=envelope.success if envelope.success is not None else True,
        message=envelope.ret_msg or "",
        recv_ns=recv_ns,
        req_id=envelope.req_id or "",
        conn_id=envelope.conn_id or "",
    )


def _malformed(raw: bytes, recv_ns: int, kind: str, detail: str) -> MalformedFrame:
    """Build a MalformedFrame, salvaging the symbol (and the book's depth) from the topic in the
    bytes if we can."""
    symbol = depth = None
    match = _TOPIC_IN_BYTES.search(raw[:300])
    route = parse_topic(match.group(1).decode("ascii")) if match is not None else None
    if route is not None:
        symbol = route.symbol
        depth = route.depth if route.channel == _BOOK else None
    sample = raw[:_SAMPLE_CHARS].decode("utf-8", errors="replace")
    return MalformedFrame(kind, detail, sample, recv_ns, symbol, depth)
