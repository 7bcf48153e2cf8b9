"""`_wire.decode_rows` (the compiled decoder of a replay's recorded frames, read in place from
their column) and `_wire.decode_one` (the live receiver's) give exactly `wire.decode_frame`'s
events, frame by frame, in the order of the rows asked for: on the docs' and the real frames,
on the simulator's books, trades and tickers, and on every broken variant that must come out
malformed."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import islice
from typing import Any

import numpy as np
import pytest

from scalper.events import BookUpdate, TickerUpdate, TradeBatch
from scalper.venues.bybit import _wire
from scalper.venues.bybit.wire import MAX_MILLIS, decode_frame
from scalper.venues.simulator.market import MarketConfig, generate_frames

RECV_NS = 1_733_011_200_999_000_123
FIXTURES = (
    "orderbook_delta_linear",
    "orderbook_snapshot_linear",
    "orderbook_snapshot_no_cts",
    "pong_linear",
    "pong_spot",
    "subscribe_fail_linear",
    "subscribe_ok_linear",
    "subscribe_ok_spot",
    "ticker_linear_delta",
    "ticker_linear_empty_fields",
    "ticker_linear_snapshot",
    "ticker_spot_snapshot",
    "trade_linear",
    "trade_linear_several",
    "trade_spot",
)


def _compact(raw: bytes) -> bytes:
    """The frame as Bybit sends it live: one line, `topic` first (the fast path's prefix)."""
    return json.dumps(json.loads(raw), separators=(",", ":")).encode()


def _column(frames: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(values, offsets) of the frames as a binary column's buffers."""
    offsets = np.zeros(len(frames) + 1, np.int32)
    np.cumsum([len(frame) for frame in frames], out=offsets[1:])
    return np.frombuffer(b"".join(frames) or b"\0", np.uint8), offsets


def _same_as_decode_frame(frames: list[bytes]) -> list[Any]:
    recv = [RECV_NS + i for i in range(len(frames))]
    expected = [decode_frame(frame, ns) for frame, ns in zip(frames, recv, strict=True)]
    values, offsets = _column(frames)
    backwards = np.arange(len(frames) - 1, -1, -1, dtype=np.int64)  # any order of rows
    events = _wire.decode_rows(values, offsets, backwards, np.array(recv, np.int64))
    assert events == expected[::-1]
    one_by_one = [_wire.decode_one(frame, ns) for frame, ns in zip(frames, recv, strict=True)]
    assert one_by_one == expected
    return events


def test_docs_frames(bybit_fixture: Callable[[str], bytes]) -> None:
    raws = [bybit_fixture(name) for name in FIXTURES]
    events = _same_as_decode_frame(raws + [_compact(raw) for raw in raws])
    kinds = {type(event) for event in events}
    assert TradeBatch in kinds and TickerUpdate in kinds


def test_real_book_frames(xrp_frames: list[bytes]) -> None:
    _same_as_decode_frame(xrp_frames)


def test_simulator_books_trades_and_tickers() -> None:
    frames = [raw for _, raw in islice(generate_frames(MarketConfig(symbols=3, seed=2)), 3000)]
    events = _same_as_decode_frame(frames)
    assert sum(type(event) is BookUpdate for event in events) > 100
    assert sum(type(event) is TradeBatch for event in events) > 100
    assert sum(type(event) is TickerUpdate for event in events) > 100


def _trade(**changes: Any) -> dict[str, Any]:
    row = {"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50"}
    row.update({"L": "PlusTick", "i": "20f43950-d8dd-5b31-9112-a178eb6023af", "BT": False})
    return {**row, **changes}


def _trade_frame(*rows: dict[str, Any], topic: str = "publicTrade.BTCUSDT") -> bytes:
    frame = {"topic": topic, "type": "snapshot", "ts": 1672304486868, "data": list(rows)}
    return json.dumps(frame, separators=(",", ":")).encode()


def _book_frame(kind: str = "delta", ts: int = 1672304484978, **data: Any) -> bytes:
    fields = {"s": "BTCUSDT", "b": [["16493.50", "0.006"]], "a": [], "u": 18521288, "seq": 7961}
    frame = {"topic": "orderbook.50.BTCUSDT", "type": kind, "ts": ts, "data": {**fields, **data}}
    return json.dumps(frame, separators=(",", ":")).encode()


def _ticker_frame(kind: str = "delta", ts: int = 1673853746003, **data: Any) -> bytes:
    fields = {"symbol": "BTCUSDT", "lastPrice": "21109.77", "fundingRate": "-0.000212"}
    frame = {"topic": "tickers.BTCUSDT", "type": kind, "ts": ts, "data": {**fields, **data}}
    return json.dumps(frame, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "raw",
    [
        _trade_frame(_trade()),
        _trade_frame(_trade(), _trade(S="Sell", L=None, BT=True), _trade(S="Other")),
        _trade_frame(),
        _trade_frame(_trade(s="ETHUSDT")),
        _trade_frame(_trade(), _trade(s="ETHUSDT")),
        _trade_frame(_trade(T=-1)),
        _trade_frame(_trade(T=MAX_MILLIS)),
        _trade_frame(_trade(T=MAX_MILLIS + 1)),
        _trade_frame(_trade(p="0")),
        _trade_frame(_trade(v="-1")),
        _trade_frame(_trade(), topic="publicTrade.ETHUSDT"),
        _trade_frame(_trade(), topic="publicTrade.BTC USDT"),
        _trade_frame(_trade(), topic="tickers.BTCUSDT"),
        _book_frame(),
        _book_frame("snapshot"),
        _book_frame("partial"),
        _book_frame(ts=-1),
        _book_frame(ts=MAX_MILLIS + 1),
        _book_frame(s="ETHUSDT"),
        _book_frame(b=[["0", "1"]]),
        _book_frame(a=[["16493.5", "-1"]]),
        _book_frame(u=-1),
        _book_frame()[:-1] + b',"cts":1672304484976}',
        _book_frame()[:-1] + b',"cts":-5}',
        _book_frame().replace(b"orderbook.50", b"orderbook.7"),
        _ticker_frame(),
        _ticker_frame("snapshot"),
        _ticker_frame("partial"),
        _ticker_frame(ts=MAX_MILLIS + 1),
        _ticker_frame(symbol="ETHUSDT"),
        _ticker_frame(fundingRate="", nextFundingTime=""),
        _ticker_frame(lastPrice="abc"),
        _trade_frame(_trade())[:-9],
        b'{"topic":"publicTrade.BTCUSDT"',
        b"",
        b"not json",
    ],
)
def test_broken_or_unusual_frames(raw: bytes) -> None:
    _same_as_decode_frame([raw])


def test_rows_outside_the_column_are_refused() -> None:
    values, offsets = _column([b"{}", b"[]"])
    recv = np.zeros(2, np.int64)
    with pytest.raises(IndexError, match="row 2 out of range for 2 frames"):
        _wire.decode_rows(values, offsets, np.array([0, 2], np.int64), recv)
    with pytest.raises(ValueError, match=r"row 1's frame \[2, 9\) is outside the data buffer"):
        _wire.decode_rows(values, np.array([0, 2, 9], np.int32), np.array([1], np.int64), recv)
