"""Trade frames split into typed columns and joined back: byte-identical or not split at all;
and `bybit/2`, the codec of book and trade frames, in Arrow and in `scalper query`'s SQL."""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import islice

import duckdb
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from scalper.storage.codec import FrameCodec
from scalper.storage.reader import frame_payloads as stored_payloads
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.frame_codec import FRAME_CODEC
from scalper.venues.bybit.topics import topic_of_frame
from scalper.venues.bybit.trade_codec import split_trade_frames
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

TOPIC = "publicTrade.BTCUSDT"
FRAME = (
    b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1758841135824,"data":['
    b'{"T":1758841135823,"s":"BTCUSDT","S":"Buy","v":"0.020","p":"109378.90","L":"ZeroPlusTick",'
    b'"i":"2a74ac78-691c-5b54-9dbe-5aafe8364627","BT":false,"RPI":false,"seq":457514743450},'
    b'{"T":1758841135823,"s":"BTCUSDT","S":"Sell","v":"1.500","p":"109378.80","L":"MinusTick",'
    b'"i":"3b85bd89-7a2d-5c65-8ecf-6bbf9475d738","BT":true,"seq":457514743451}]}'
)
"""Bybit's linear layout (2025): `RPI` and `seq` after `BT`, here one trade without `RPI`."""


def table_of(payloads: list[bytes], topic: str = TOPIC, symbol: str = "BTCUSDT") -> pa.Table:
    return pa.table(
        {
            "topic": pa.array([topic] * len(payloads), pa.string()),
            "symbol": pa.array([symbol] * len(payloads), pa.string()),
            "payload": pa.array(payloads, pa.binary()),
        }
    )


def split_rows(table: pa.Table) -> list[bool]:
    return [times is not None for times in table["trade_times"].to_pylist()]


def sql_payloads(stored: pa.Table, codec: FrameCodec = FRAME_CODEC) -> list[bytes]:
    """`frames.payload` as `scalper query` computes it over the stored columns."""
    connection = duckdb.connect()
    connection.register("stored", stored)
    return [
        row[0] for row in connection.execute(f"SELECT {codec.payload_sql()} FROM stored").fetchall()
    ]


def test_parts() -> None:
    (row,) = split_trade_frames(table_of([FRAME])).to_pylist()
    assert row == {
        "topic": TOPIC,
        "symbol": "BTCUSDT",
        "payload": b"",
        "trade_type": "snapshot",
        "trade_ts": 1758841135824,
        "trade_times": [1758841135823, 1758841135823],
        "trade_prices": [10937890, 10937880],
        "trade_sizes": [20, 1500],
        "trade_sides": [0, 1],
        "trade_ticks": [1, 2],
        "trade_ids": [
            "2a74ac78-691c-5b54-9dbe-5aafe8364627",
            "3b85bd89-7a2d-5c65-8ecf-6bbf9475d738",
        ],
        "trade_block": [False, True],
        "trade_rpi": [False, None],
        "trade_seqs": [457514743450, 457514743451],
        "price_scale": 2,
        "size_scale": 3,
    }


def test_fixture_frames_split_and_join_back(bybit_fixture) -> None:
    """Frames in Bybit's documented layouts, compact as the WebSocket sends them (with and
    without `RPI`; with `seq`)."""
    frames = [
        json.dumps(json.loads(bybit_fixture(name)), separators=(",", ":")).encode()
        for name in ("trade_linear", "trade_linear_several")
    ]
    table = FRAME_CODEC.split(table_of(frames))
    assert all(split_rows(table))
    assert stored_payloads(table, FRAME_CODEC).to_pylist() == frames
    assert sql_payloads(table) == frames


def test_the_simulators_frames_split_and_join_back() -> None:
    """Every frame of the bench's market split (books, trades, tickers), all exact."""
    frames = [
        raw for _, raw in islice(SyntheticMarket(MarketConfig(symbols=4, seed=3)).frames(), 2000)
    ]
    topics = [topic_of_frame(raw) for raw in frames]
    table = pa.table(
        {
            "topic": pa.array(topics, pa.string()),
            "symbol": pa.array([topic.rsplit(".", 1)[1] for topic in topics], pa.string()),
            "payload": pa.array(frames, pa.binary()),
        }
    )
    table = FRAME_CODEC.split(table)
    trades = [topic.startswith("publicTrade.") for topic in topics]
    assert split_rows(table) == trades
    assert sum(trades) > 100
    assert set(table["payload"].to_pylist()) == {b""}
    assert stored_payloads(table, FRAME_CODEC).to_pylist() == frames
    assert sql_payloads(table) == frames


def test_frames_not_in_the_exact_layout_stay_whole() -> None:
    variants = [
        FRAME.replace(b'"T":1758841135823', b'"T":01758841135823', 1),  # leading zero
        FRAME.replace(b',"s":"BTCUSDT"', b', "s":"BTCUSDT"', 1),  # spacing
        FRAME.replace(b'"BT":true', b'"BT":true,"x":1'),  # extra field
        FRAME.replace(b'"ts":1758841135824', b'"ts":"1758841135824"'),  # quoted number
        FRAME[:-1],  # truncated
        FRAME.replace(b'"v":"1.500"', b'"v":"1.5"'),  # sizes of two scales in one frame
        FRAME.replace(b'"p":"109378.90"', b'"p":"0109378.90"'),  # leading zero in a price
        FRAME.replace(b'"S":"Sell"', b'"S":"sell"'),  # a side not in SIDES
        FRAME.replace(b'"L":"MinusTick"', b'"L":"Minus"'),  # a tick direction not in the list
        FRAME.replace(b'"i":"3b85', b'"i":"\\"3b85'),  # an escape: JSON would decode it
        FRAME.replace(b'"i":"3b85', b'"i":"\xc3\xa93b85'),  # not ASCII
        FRAME.replace(b'"i":"3b85', b'"i":"\xff3b85'),  # not UTF-8
        FRAME.replace(b'"BT":true', b'"BT":1'),
        FRAME.replace(b'"seq":457514743451', b'"seq":9223372036854775808'),  # over int64
        FRAME.replace(b'"v":"1.500"', b'"v":"1e3"'),  # not a plain decimal
        FRAME.replace(b'"RPI":false,"seq":457514743450', b'"seq":457514743450,"RPI":false'),
        b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[]}',  # no trade
    ]
    table = split_trade_frames(table_of(variants))
    assert not any(split_rows(table))
    assert table["payload"].to_pylist() == variants
    assert not any(split_rows(split_trade_frames(table_of([FRAME], symbol="ETHUSDT"))))
    assert not any(split_rows(split_trade_frames(table_of([FRAME], "publicTrade.ETHUSDT"))))
    assert not any(split_rows(split_trade_frames(table_of([FRAME], "tickers.BTCUSDT"))))


def test_book_codec_segments_read_as_before() -> None:
    """bybit/2 splits what bybit-book/1 split the same way, and its SQL reads bybit-book/1's
    rows (no trade columns: DuckDB's union by name gives them null)."""
    book = (
        b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1733011200021,"data":{"s":"BTCUSDT",'
        b'"b":[["97000.5","0"]],"a":[],"u":50260700,"seq":42135002839},"cts":1733011200020}'
    )
    table = pa.concat_tables([table_of([book], "orderbook.50.BTCUSDT"), table_of([FRAME])])
    old = BOOK_CODEC.split(table)
    new = FRAME_CODEC.split(table)
    assert new.select(old.column_names).slice(0, 1) == old.slice(0, 1)
    union = old
    for spec in FRAME_CODEC.fields:
        if spec.name not in union.column_names:
            union = union.append_column(spec, pa.nulls(len(union), spec.type))
    assert sql_payloads(union) == [book, FRAME] == sql_payloads(old, BOOK_CODEC)
    assert FRAME_CODEC.join(old).to_pylist() == [book, None]


decimal_texts = st.builds(
    lambda value, places: f"{value:.{places}f}",
    st.decimals(Decimal("0.0001"), 10**6, places=4),
    st.integers(0, 6),
)
trade_ids = st.text(
    st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=40
)
"""Printable ASCII but for the two characters JSON escapes (ids with them stay whole)."""
trades = st.fixed_dictionaries(
    {
        "T": st.integers(0, 10**15),
        "S": st.sampled_from(["Buy", "Sell"]),
        "L": st.sampled_from(["PlusTick", "ZeroPlusTick", "MinusTick", "ZeroMinusTick"]),
        "i": trade_ids,
        "BT": st.booleans(),
    },
    optional={"RPI": st.booleans(), "seq": st.integers(0, 10**17)},
)


def frame_of(ts: int, price_places: int, size_places: int, items: list[dict[str, object]]) -> bytes:
    """A trade frame in Bybit's layout (prices and sizes at fixed decimals per symbol)."""
    data = [
        {
            "T": item["T"],
            "s": "BTCUSDT",
            "S": item["S"],
            "v": f"{Decimal(index + 1) / 7:.{size_places}f}",
            "p": f"{Decimal(item['T'] % 10**7 + 1) / 10:.{price_places}f}",
            "L": item["L"],
            "i": item["i"],
            "BT": item["BT"],
            **{key: item[key] for key in ("RPI", "seq") if key in item},
        }
        for index, item in enumerate(items)
    ]
    frame = {"topic": TOPIC, "type": "snapshot", "ts": ts, "data": data}
    return json.dumps(frame, separators=(",", ":")).encode()


@given(st.integers(0, 10**15), st.integers(0, 8), st.integers(0, 8), st.lists(trades, max_size=6))
def test_frames_of_the_layout_split_and_join_back(ts, price_places, size_places, items) -> None:
    raw = frame_of(ts, price_places, size_places, items)
    table = FRAME_CODEC.split(table_of([raw]))
    assert split_rows(table) == [bool(items)]
    assert stored_payloads(table, FRAME_CODEC).to_pylist() == [raw]
    assert sql_payloads(table) == [raw]


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_any_bytes_split_only_if_they_join_back(noise) -> None:
    payloads = [raw for n in noise for raw in (n, FRAME[:90] + n, FRAME[:-20] + n, FRAME)]
    table = FRAME_CODEC.split(table_of(payloads))
    assert stored_payloads(table, FRAME_CODEC).to_pylist() == payloads
