"""The columnar replay (book frames from their integer columns, trade batches from theirs) leaves
the engine exactly as the JSON path does: every book of every depth, candles, flows, tickers,
counters, notifications; for recordings of either codec, and of both in one data dir."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import msgspec
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper import replay
from scalper.engine import Engine, Notification
from scalper.replay import Decode, replay_columns, replay_recording
from scalper.settings import EngineSettings, RecorderSettings
from scalper.storage.codec import FrameCodec
from scalper.storage.layout import CLOCK_TOPIC
from scalper.storage.query import run_query
from scalper.storage.reader import iter_recorded_tables
from scalper.storage.recorder import Recorder
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.book_columns import book_columns
from scalper.venues.bybit.frame_codec import FRAME_CODEC
from scalper.venues.bybit.frames import CODECS, FrameApplier, record_frame
from scalper.venues.bybit.ticker_columns import TickerColumns
from scalper.venues.bybit.trade_columns import TradeColumns
from scalper.venues.bybit.wire import BookData, decode_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket
from scalper.views import engine_view

T0 = 1_764_000_000 * 10**9
CONFIG = EngineSettings(timeframes=("1s", "5s"), flow_windows=("1s", "10s"))


def settings_small() -> RecorderSettings:
    return RecorderSettings(chunk_rows=64, max_disk_bytes=None, retention_days=None)


def record_all(
    data_dir: Path,
    rows: list[tuple[int, bytes | int]],
    group_rows: int,
    source: str = "test",
    settings: RecorderSettings | None = None,
    codec: FrameCodec = FRAME_CODEC,
) -> None:
    """Record frames (bytes) and wall-clock candle closes (int: the close time) as the live feed
    does, in row groups of `group_rows`, with `codec` (the recorder's, or an older one)."""
    recorder = Recorder(data_dir, settings or settings_small(), source=source, codec=codec)
    recorder._writers["raw"].fmt.row_group_rows = group_rows
    recorder.start()
    for recv_ns, row in rows:
        if isinstance(row, int):
            recorder.record_clock(row, recv_ns)
        else:
            record_frame(recorder, row, recv_ns)
    recorder.stop()


def full_state(engine: Engine, applier: FrameApplier, notes: list[Notification]) -> bytes:
    """Everything the engine holds, as bytes (floats in shortest round-trip form)."""
    symbols = {
        name: {
            "books": {
                depth: [
                    book.bids.top(100_000),
                    book.asks.top(100_000),
                    book.state.value,
                    book.out_of_sync_reason,
                    book.update_id,
                    book.ts_event_ns,
                    book.trimmed_levels,
                ]
                for depth, book in state.books.items()
            },
            "recent_trades": list(state.recent_trades),
            "forming": {name: series.forming for name, series in state.candles.items()},
            "ticker_ts": state.ticker.ts_event_ns,
            "ticker_updates": state.ticker.updates,
            "flow_trades": state.flow.trade_count,
        }
        for name, state in engine.symbols.items()
    }
    return msgspec.json.encode(
        {
            "view": engine_view(engine, levels=100_000),
            "symbol_order": list(engine.symbols),
            "symbols": symbols,
            "large_trades": list(engine.large_trades),
            "control_messages": applier.control_messages,
            "notifications": notes,
        }
    )


def replayed(data_dir: Path, decode: Decode, **filters: object) -> tuple[bytes, int]:
    engine = Engine(CONFIG)
    notes: list[Notification] = []
    engine.subscribe(notes.append)
    applier = FrameApplier(engine)
    count = replay_recording(applier, data_dir, decode=decode, **filters)  # type: ignore[arg-type]
    return full_state(engine, applier, notes), count


def assert_same_replays(data_dir: Path, **filters: object) -> bytes:
    by_json, json_rows = replayed(data_dir, "json", **filters)
    by_columns, column_rows = replayed(data_dir, "columns", **filters)
    assert column_rows == json_rows
    assert by_columns == by_json
    return by_json


def market_rows(count: int, symbols: int, seed: int) -> list[tuple[int, bytes | int]]:
    market = SyntheticMarket(MarketConfig(symbols=symbols, seconds=600, seed=seed))
    frames = list(islice(market.frames(), count))
    base = frames[0][0]
    rows: list[tuple[int, bytes | int]] = [(T0 + recv - base, raw) for recv, raw in frames]
    # A wall-clock candle close every 500 rows, as the live feed's timer records them.
    for k in range(len(rows) - 1, 0, -500):
        recv_ns = rows[k][0]
        rows.insert(k, (recv_ns, recv_ns - 2 * 10**9))
    return rows


def small_pieces(monkeypatch: pytest.MonkeyPatch, rows: int | None) -> None:
    """Have the columnar replay decode and apply `rows` rows at a time (None: as it does)."""
    if rows is not None:
        monkeypatch.setattr(replay, "_PIECE_ROWS", rows)


@pytest.mark.parametrize("codec", [FRAME_CODEC, BOOK_CODEC], ids=lambda codec: codec.name)
@pytest.mark.parametrize("piece_rows", [None, 37])
def test_synthetic_market_same_state_over_several_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece_rows: int | None, codec: FrameCodec
) -> None:
    """Also in pieces smaller than a row group, with wall-clock candle closes among them."""
    small_pieces(monkeypatch, piece_rows)
    rows = market_rows(6000, symbols=7, seed=11)
    record_all(tmp_path, rows, group_rows=1000, codec=codec)
    state = json.loads(assert_same_replays(tmp_path))
    assert len(state["symbol_order"]) == 7
    assert any(
        series for s in state["view"]["symbols"].values() for series in s["candles"].values()
    )


def test_filters_give_the_same_state(tmp_path: Path) -> None:
    rows = market_rows(4000, symbols=5, seed=5)
    record_all(tmp_path, rows, group_rows=700)
    symbols = sorted(
        {decode_frame(raw, 0).symbol for _, raw in rows[:50] if isinstance(raw, bytes)}
    )  # type: ignore[union-attr]
    middle = rows[len(rows) // 2][0]
    assert_same_replays(tmp_path, symbols=symbols[:2])
    assert_same_replays(tmp_path, from_ns=middle)
    assert_same_replays(tmp_path, to_ns=middle, symbols=symbols[1:3])


def _text(frame: dict[str, object]) -> bytes:
    return json.dumps(frame, separators=(",", ":")).encode()


@pytest.mark.parametrize("piece_rows", [None, 7])
def test_real_frames_with_every_kind_of_row(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    xrp_frames,
    bybit_fixture,
    piece_rows: int | None,
) -> None:
    """Real XRPUSDT orderbook.500 frames (stored split) among real trades, tickers and control
    replies, a wall-clock candle close, and book frames stored split that the columns must not
    shortcut: a type the decoder refuses, a zero price, a time beyond 2262, price digits beyond
    a double's exact integers; and one stored whole. Trade frames stored split that the columns
    must not shortcut either: a zero price, a time beyond 2262, price digits beyond a double's
    exact integers; ticker frames stored split with an empty value (the decoder's lenient path)
    or a value that is no number. Those are decoded from their JSON, as live (malformed where
    they were malformed); also in pieces smaller than a row group."""
    small_pieces(monkeypatch, piece_rows)
    first = json.loads(xrp_frames[0])
    odd = [
        _text({**first, "type": "update"}),
        _text({**first, "type": "delta", "data": {**first["data"], "b": [["0", "5"]]}}),
        _text({**first, "cts": 10**17}),
        xrp_frames[1].replace(b'"data":', b'"data": '),  # not the codec's layout: stored whole
        _text({**first, "data": {**first["data"], "b": [["1.2345678901234567", "5"]], "a": []}}),
    ]
    others = [
        bybit_fixture(name)
        for name in (
            "trade_linear",
            "trade_linear_several",
            "ticker_linear_snapshot",
            "ticker_linear_delta",
            "pong_linear",
            "subscribe_ok_linear",
        )
    ]
    several = json.loads(others[1])
    trade = several["data"][0]
    odd_trades = [
        _text({**several, "data": [{**trade, "p": "0"}]}),
        _text({**several, "data": [{**trade, "T": 10**17}]}),
        _text({**several, "data": [{**trade, "p": "12345678901234567"}]}),
    ]
    ticker = json.loads(others[2])
    odd_tickers = [
        _text({**ticker, "type": "delta", "data": {"symbol": "BTCUSDT", "fundingRate": ""}}),
        _text({**ticker, "data": {**ticker["data"], "markPrice": "x"}}),  # malformed
        # (the first goes the decoder's lenient way, both are decoded from their JSON)
    ]
    # The fixtures less their spaces and newline: split, and built from the columns (in the
    # last row group: one with a split frame refused is all decoded from its JSON).
    built = [_text(several), _text(ticker)]
    sequence = [
        *xrp_frames[:20],
        *others[:3],
        *xrp_frames[20:],
        *odd,
        *odd_trades,
        *odd_tickers,
        *others[3:],
        *built,
    ]
    rows: list[tuple[int, bytes | int]] = [(T0 + k * 1000, raw) for k, raw in enumerate(sequence)]
    rows.insert(30, (T0 + 29 * 1000 + 1, 1_733_011_205_000_000_000))
    record_all(tmp_path, rows, group_rows=40)  # row groups of 64 rows (the recorder's chunks)
    state = json.loads(assert_same_replays(tmp_path))
    split = shortcut = trades_split = trades_built = tickers_split = tickers_built = 0
    for table, _, rows_read in iter_recorded_tables(tmp_path, codecs=CODECS):
        split += len(rows_read) - table["book_u"].null_count
        shortcut += int(book_columns(table, rows_read).book_row.sum())
        trades_split += len(rows_read) - table["trade_times"].null_count
        tickers_split += len(rows_read) - table["ticker_keys"].null_count
        recv_ns = table["recv_ns"].to_numpy()
        trades_built += int(TradeColumns(table, recv_ns).applied.sum())
        tickers_built += int(TickerColumns(table, recv_ns).applied.sum())
    assert (split, shortcut) == (len(xrp_frames) + 4, len(xrp_frames))
    # The fixture files (indented, or ending in a newline) are stored whole.
    assert (trades_split, trades_built) == (4, 1)
    assert (tickers_split, tickers_built) == (3, 1)
    malformed = {
        "bad_book_data": 1,
        "bad_time": 2,
        "bad_type": 1,
        "bad_trade_data": 1,
        "bad_ticker_data": 1,
    }
    assert state["view"]["malformed"] == malformed
    assert state["control_messages"] == 2
    book = state["view"]["symbols"]["XRPUSDT"]["book"]
    assert (book["state"], book["bids"][0][0]) == ("in_sync", 1.2345678901234567)
    assert state["view"]["symbols"]["BTCUSDT"]["counters"]["trades"] == 8
    prices = [trade["price"] for trade in state["symbols"]["BTCUSDT"]["recent_trades"]]
    assert prices[-4:] == [float("12345678901234567"), 16578.0, 16577.5, 16580.0]
    assert state["view"]["symbols"]["BTCUSDT"]["ticker"]["last_price"] == 17216.0


_DECIMAL = st.builds(
    lambda digits, scale: (
        f"{digits // 10**scale}.{digits % 10**scale:0{scale}d}" if scale else str(digits)
    ),
    st.integers(1, 10**17 - 1),
    st.integers(0, 16),
).filter(lambda text: len(text) <= 18)


@settings(max_examples=300, deadline=None)
@given(st.lists(_DECIMAL, min_size=1, max_size=20))
def test_a_level_from_its_digits_is_the_float_the_decoder_parses(texts: list[str]) -> None:
    """digits / 10**scale, both exact doubles, is the decimal's correctly rounded float, the one
    msgspec parses from the frame's text."""
    parsed = msgspec.json.decode(
        _text({"s": "X", "b": [[t, t] for t in texts], "a": [], "u": 1}),
        type=BookData,
        strict=False,
    )
    for text, (price, _) in zip(texts, parsed.b, strict=True):
        digits = int(text.replace(".", ""))
        scale = len(text) - text.index(".") - 1 if "." in text else 0
        if digits <= 2**53:
            assert digits / 10.0**scale == price == float(text)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(50, 1500),
    group_rows=st.integers(20, 600),
    symbols=st.integers(1, 4),
)
def test_random_markets_same_state(
    tmp_path_factory: pytest.TempPathFactory, seed: int, count: int, group_rows: int, symbols: int
) -> None:
    data_dir = tmp_path_factory.mktemp("market")
    record_all(data_dir, market_rows(count, symbols, seed), group_rows)
    assert_same_replays(data_dir)


def test_replay_columns_yields_each_row_group(tmp_path: Path) -> None:
    rows = market_rows(900, symbols=3, seed=2)
    record_all(tmp_path, rows, group_rows=300)
    engine = Engine(CONFIG)
    counts = list(replay_columns(FrameApplier(engine), tmp_path))
    assert sum(counts) == len(rows)
    assert len(counts) >= 3


def test_frames_stored_whole_or_several_sources_take_the_json_path(tmp_path: Path) -> None:
    rows = market_rows(1200, symbols=3, seed=9)
    whole = tmp_path / "whole"
    unsplit = RecorderSettings(
        chunk_rows=64, max_disk_bytes=None, retention_days=None, split_book_frames=False
    )
    record_all(whole, rows, group_rows=400, settings=unsplit)
    assert_same_replays(whole)
    two = tmp_path / "two"
    record_all(two, rows[::2], group_rows=400, source="a")
    record_all(two, rows[1::2], group_rows=400, source="b")
    assert_same_replays(two)


def test_a_binary_column_is_read_as_values_and_offsets_whatever_its_layout() -> None:
    """One chunk, several chunks, a slice of a longer array, 64-bit offsets: the same frames."""
    frames = [b"ab", b"", b"cde"]
    columns = (
        pa.chunked_array([pa.array(frames, pa.binary())]),
        pa.chunked_array([pa.array(frames[:1], pa.binary()), pa.array(frames[1:], pa.binary())]),
        pa.chunked_array([pa.array([b"zz", *frames], pa.binary()).slice(1)]),
        pa.chunked_array([pa.array(frames, pa.large_binary())]),
    )
    for column in columns:
        values, offsets = replay._binary_buffers(column)
        assert [bytes(values[offsets[r] : offsets[r + 1]]) for r in range(3)] == frames


def test_a_data_dir_of_both_codecs_replays_and_queries_exactly(tmp_path: Path) -> None:
    """Segments of bybit-book/1 (recorded before trades were split), then of bybit/2, in one
    data dir: both replays reach the state of the same frames recorded whole, and `scalper
    query` gives every frame's exact bytes."""
    rows = market_rows(3000, symbols=4, seed=21)
    mixed = tmp_path / "mixed"
    record_all(mixed, rows[:1500], group_rows=500, codec=BOOK_CODEC)
    record_all(mixed, rows[1500:], group_rows=500, codec=FRAME_CODEC)
    whole = tmp_path / "whole"
    unsplit = RecorderSettings(
        chunk_rows=64, max_disk_bytes=None, retention_days=None, split_book_frames=False
    )
    record_all(whole, rows, group_rows=500, settings=unsplit)
    codecs = {codec.name for _, codec, _ in iter_recorded_tables(mixed, codecs=CODECS)}
    assert codecs == {BOOK_CODEC.name, FRAME_CODEC.name}
    assert assert_same_replays(mixed) == assert_same_replays(whole)
    sql = f"select payload from frames where topic <> '{CLOCK_TOPIC}'"
    _, payloads = run_query(mixed, sql, CODECS)
    frames = [row for _, row in rows if isinstance(row, bytes)]
    assert sorted(payload for (payload,) in payloads) == sorted(frames)
