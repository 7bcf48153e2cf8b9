"""Ticker frames split into key codes and value texts and joined back (byte-identical or not
split at all), and their TickerUpdates built from those columns: the decoder's, or none."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from scalper.storage.reader import frame_payloads
from scalper.venues.bybit.frame_codec import FRAME_CODEC
from scalper.venues.bybit.ticker_codec import split_ticker_frames
from scalper.venues.bybit.ticker_columns import TickerColumns
from scalper.venues.bybit.wire import TICKER_KEYS_OF_FIELDS, decode_frame

TOPIC = "tickers.BTCUSDT"


def compact(raw: bytes) -> bytes:
    """A fixture as the WebSocket sends it: one line, no spaces."""
    return json.dumps(json.loads(raw), separators=(",", ":")).encode()


def table_of(payloads: list[bytes], topic: str = TOPIC, symbol: str = "BTCUSDT") -> pa.Table:
    return pa.table(
        {
            "recv_ns": pa.array(range(7, 7 + len(payloads)), pa.int64()),
            "topic": pa.array([topic] * len(payloads), pa.string()),
            "symbol": pa.array([symbol] * len(payloads), pa.string()),
            "payload": pa.array(payloads, pa.binary()),
        }
    )


def split_rows(table: pa.Table) -> list[bool]:
    return [keys is not None for keys in table["ticker_keys"].to_pylist()]


def sql_payloads(stored: pa.Table) -> list[bytes]:
    connection = duckdb.connect()
    connection.register("stored", stored)
    sql = f"SELECT {FRAME_CODEC.payload_sql()} FROM stored"
    return [row[0] for row in connection.execute(sql).fetchall()]


def built(table: pa.Table) -> list[object]:
    """The events the columnar replay builds for every row it builds (None for the others)."""
    columns = TickerColumns(table, table["recv_ns"].to_numpy())
    rows = np.flatnonzero(columns.applied)
    out: list[object] = [None] * len(table)
    columns.place(out, rows, rows)
    return out


def test_fixture_frames_split_join_back_and_build_the_decoders_events(bybit_fixture) -> None:
    frames = [
        compact(bybit_fixture(name))
        for name in ("ticker_linear_snapshot", "ticker_linear_delta", "ticker_linear_empty_fields")
    ]
    table = FRAME_CODEC.split(table_of(frames))
    assert split_rows(table) == [True, True, True]
    assert frame_payloads(table, FRAME_CODEC).to_pylist() == frames
    assert sql_payloads(table) == frames
    events = built(table)
    decoded = [decode_frame(raw, recv) for raw, recv in zip(frames, range(7, 10), strict=True)]
    assert events[:2] == decoded[:2]
    assert events[2] is None  # empty values: the decoder's lenient path, by the JSON way


FRAME = compact(
    b'{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","lastPrice":"17216.00",'
    b'"fundingRate":"-0.000212","nextFundingTime":"1673280000000"},"cs":24987956060,'
    b'"ts":1673272861786}'
)


def test_frames_not_in_the_exact_layout_stay_whole() -> None:
    variants = [
        FRAME.replace(b'"lastPrice"', b'"lastPrize"'),  # a key not in TICKER_KEYS
        FRAME.replace(b'"17216.00"', b'"17216\\u002e00"'),  # an escape
        FRAME.replace(b'"17216.00"', b"17216.00"),  # a number, not a string
        FRAME.replace(b',"cs":24987956060', b""),  # no cs
        FRAME.replace(b'"ts":1673272861786', b'"ts": 1673272861786'),  # spacing
        FRAME.replace(b'"type":"delta"', b'"type":"Delta"'),
        FRAME[:-1],
    ]
    table = split_ticker_frames(table_of(variants))
    assert not any(split_rows(table))
    assert table["payload"].to_pylist() == variants
    assert not any(split_rows(split_ticker_frames(table_of([FRAME], symbol="ETHUSDT"))))


def test_values_the_strict_decoder_would_not_take_are_not_built() -> None:
    """Each of these rows is split (its bytes join back) but goes the JSON way in a replay."""
    variants = [
        FRAME.replace(b'"17216.00"', b'"1e5"'),
        FRAME.replace(b'"17216.00"', b'"017216.00"'),
        FRAME.replace(b'"17216.00"', b'"17216."'),
        FRAME.replace(b'"17216.00"', b'"nan"'),
        FRAME.replace(b'"1673280000000"', b'"1673280000000.5"'),
        FRAME.replace(b'"1673280000000"', b'"-1"'),
        FRAME.replace(b',"fundingRate"', b',"lastPrice":"1.5","fundingRate"'),  # twice
        FRAME.replace(b'"ts":1673272861786', b'"ts":100000000000000000'),  # beyond 2262
        FRAME,
    ]
    table = FRAME_CODEC.split(table_of(variants))
    assert all(split_rows(table))
    assert built(table)[:-1] == [None] * (len(variants) - 1)
    assert built(table)[-1] == decode_frame(FRAME, 7 + len(variants) - 1)


_NUMBER = st.builds(
    lambda sign, whole, fraction: f"{sign}{whole}{'.' + fraction if fraction else ''}",
    st.sampled_from(["", "-"]),
    st.integers(0, 10**17 - 1).map(str),
    st.text("0123456789", max_size=17),
)
_FIELD_KEYS = [key for key in TICKER_KEYS_OF_FIELDS if key != "nextFundingTime"]


@given(
    st.dictionaries(st.sampled_from(_FIELD_KEYS), _NUMBER, max_size=8),
    st.none() | st.integers(0, 10**17).map(str),
    st.sampled_from(["snapshot", "delta"]),
)
def test_built_events_are_the_decoders(
    values: dict[str, str], funding_time: str | None, kind: str
) -> None:
    """Any plain decimals (short ones divided exactly, long ones parsed): the decoder's floats."""
    data = {"symbol": "BTCUSDT", "tickDirection": "PlusTick", **values}
    if funding_time is not None:
        data["nextFundingTime"] = funding_time
    frame = {"topic": TOPIC, "type": kind, "data": data, "cs": 5, "ts": 1673272861786}
    raw = json.dumps(frame, separators=(",", ":")).encode()
    table = FRAME_CODEC.split(table_of([raw]))
    assert frame_payloads(table, FRAME_CODEC).to_pylist() == [raw]
    assert sql_payloads(table) == [raw]
    assert built(table) == [decode_frame(raw, 7)]
