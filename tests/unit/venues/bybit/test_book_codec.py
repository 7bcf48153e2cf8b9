"""Book frames split into integer columns and joined back: byte-identical or not split at all."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from scalper.storage.reader import frame_payloads as stored_payloads
from scalper.venues.bybit.book_codec import BOOK_CODEC, split_book_frames


def frame_payloads(table: pa.Table) -> pa.Array:
    """Every row's frame bytes, as the readers join them with this codec."""
    return stored_payloads(table, BOOK_CODEC)


TOPIC = "orderbook.50.BTCUSDT"
FRAME = (
    b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1733011200021,"data":{"s":"BTCUSDT",'
    b'"b":[["97000.5","0"],["96999.0","1.25"]],"a":[],"u":50260700,"seq":42135002839},'
    b'"cts":1733011200020}'
)


def table_of(payloads: list[bytes], topic: str = TOPIC, symbol: str = "BTCUSDT") -> pa.Table:
    return pa.table(
        {
            "topic": pa.array([topic] * len(payloads), pa.string()),
            "symbol": pa.array([symbol] * len(payloads), pa.string()),
            "payload": pa.array(payloads, pa.binary()),
        }
    )


def split_rows(table: pa.Table) -> list[bool]:
    return [u is not None for u in table["book_u"].to_pylist()]


def test_real_frames_split_and_join_back(xrp_frames) -> None:
    table = split_book_frames(table_of(xrp_frames, "orderbook.500.XRPUSDT", "XRPUSDT"))
    assert all(split_rows(table))
    assert set(table["payload"].to_pylist()) == {b""}
    assert frame_payloads(table).to_pylist() == xrp_frames
    assert set(table["book_type"].to_pylist()) == {"snapshot", "delta"}
    assert set(table["price_scale"].to_pylist()) == {4}  # "1.9531"
    assert set(table["size_scale"].to_pylist()) == {0}  # "6203"


def test_parts() -> None:
    (row,) = split_book_frames(table_of([FRAME])).to_pylist()
    assert row == {
        "topic": TOPIC,
        "symbol": "BTCUSDT",
        "payload": b"",
        "book_type": "delta",
        "book_ts": 1733011200021,
        "book_u": 50260700,
        "book_seq": 42135002839,
        "book_cts": 1733011200020,
        "price_scale": 1,
        "size_scale": 2,  # "1.25"; "0" is zero at any scale
        "bid_prices": [970005, 969990],
        "bid_sizes": [0, 125],
        "ask_prices": [],
        "ask_sizes": [],
    }


def test_frames_not_in_the_exact_layout_stay_whole() -> None:
    variants = [
        FRAME.replace(b'"u":50260700', b'"u":050260700'),  # leading zero: int() would lose it
        FRAME.replace(b',"cts"', b', "cts"'),  # spacing
        FRAME.replace(b'"seq":42135002839}', b'"seq":42135002839,"x":1}'),  # extra field
        FRAME.replace(b'"ts":1733011200021', b'"ts":"1733011200021"'),  # quoted number
        FRAME[:-1],  # truncated
        FRAME.replace(b'"0"]', b'"2.5"]'),  # sizes of two scales (2.5, 1.25) in one frame
        FRAME.replace(b'"0"]', b'"0.00"]'),  # a zero written with decimals
        FRAME.replace(b'"97000.5"', b'"097000.5"'),  # leading zero in a price
        FRAME.replace(b'"1.25"', b'"1.25","x"'),  # not a pair
        FRAME.replace(b'"1.25"', b'"1e3"'),  # not a plain decimal
        FRAME.replace(b'"1.25"', b'"123456789012345678"'),  # too many digits for an int64
        FRAME.replace(b'"delta"', b'"d\xffelta"'),  # not UTF-8
        FRAME.replace(b'"96999.0"', b'"96\xff99.0"'),
        FRAME.replace(b'"seq":42135002839', b'"seq":9223372036854775808'),  # over int64
    ]
    table = split_book_frames(table_of(variants))
    assert not any(split_rows(table))
    assert table["payload"].to_pylist() == variants
    assert not any(split_rows(split_book_frames(table_of([FRAME], symbol="ETHUSDT"))))
    assert not any(split_rows(split_book_frames(table_of([FRAME], "orderbook.1.BTCUSDT"))))
    assert not any(split_rows(split_book_frames(table_of([FRAME], "publicTrade.BTCUSDT"))))


numbers = st.integers(min_value=0, max_value=10**18 - 1)  # longer numbers stay whole
prices = st.decimals(Decimal("0.0001"), 10**6, places=4).map(str)
sizes = st.one_of(st.just("0"), st.decimals(Decimal("0.001"), 10**4, places=3).map(str))
levels = st.lists(st.tuples(prices, sizes), max_size=5).map(
    lambda ls: ",".join(f'["{p}","{s}"]' for p, s in ls)
)
"""Bybit's levels: prices and sizes at fixed decimals per symbol, a deleted level's size "0"."""


def frame_of(kind: str, ts: int, bids: str, asks: str, u: int, seq: int, cts: int) -> bytes:
    return (
        f'{{"topic":"{TOPIC}","type":"{kind}","ts":{ts},"data":{{"s":"BTCUSDT","b":[{bids}],'
        f'"a":[{asks}],"u":{u},"seq":{seq}}},"cts":{cts}}}'
    ).encode()


@given(st.sampled_from(["snapshot", "delta"]), numbers, levels, levels, numbers, numbers, numbers)
def test_frames_of_the_layout_split_and_join_back(kind, ts, bids, asks, u, seq, cts) -> None:
    raw = frame_of(kind, ts, bids, asks, u, seq, cts)
    table = split_book_frames(table_of([raw]))
    assert frame_payloads(table).to_pylist() == [raw]
    (row,) = table.to_pylist()
    assert (row["book_ts"], row["book_u"], row["book_seq"], row["book_cts"]) == (ts, u, seq, cts)


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_any_bytes_split_only_if_they_join_back(noise) -> None:
    payloads = [raw for n in noise for raw in (n, FRAME[:60] + n, FRAME[:-20] + n, FRAME)]
    table = split_book_frames(table_of(payloads))
    assert frame_payloads(table).to_pylist() == payloads
