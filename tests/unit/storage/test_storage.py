"""The recorder and its segments: round trip, rolls, journal recovery, budget, warm start, query."""

from __future__ import annotations

import datetime
import logging
import os
from itertools import islice
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from scalper.candles import Candle, CandleSeries
from scalper.engine import CandleClosed, Engine
from scalper.errors import ConfigError, InputError
from scalper.events import BUY, BookUpdate, Trade, TradeBatch
from scalper.replay import replay_recording
from scalper.settings import EngineSettings, RecorderSettings, RegimeSettings, SignalSettings
from scalper.signals import SignalEngine
from scalper.storage.budget import disk_usage
from scalper.storage.layout import CLOCK_TOPIC, raw_format, raw_order
from scalper.storage.query import default_data_dir, run_query
from scalper.storage.reader import frame_payloads, iter_recorded
from scalper.storage.recorder import Recorder, binary_array
from scalper.storage.segments import (
    HOUR_NS,
    JOURNAL_SUFFIX,
    OpenSegment,
    complete_segments,
    read_journal,
    recover_journal,
)
from scalper.storage.trading_tables import TABLES as TRADING_TABLES
from scalper.storage.warm import warm_start, warm_start_signals
from scalper.units import parse_size, parse_time_ns
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.frames import CODECS, FrameApplier, record_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

T0 = 1_764_000_000 * 10**9 - (1_764_000_000 * 10**9) % HOUR_NS  # an hour boundary


def market_frames(count: int, symbols: int = 5, seed: int = 3) -> list[tuple[int, bytes]]:
    """The first `count` frames of a synthetic market, receive times moved to start at T0."""
    market = SyntheticMarket(MarketConfig(symbols=symbols, seconds=3600, seed=seed))
    frames = list(islice(market.frames(), count))
    base = frames[0][0]
    return [(T0 + recv - base, raw) for recv, raw in frames]


def record(recorder: Recorder, frames: list[tuple[int, bytes]]) -> None:
    """What the Bybit feed does with each frame it receives."""
    for recv_ns, raw in frames:
        record_frame(recorder, raw, recv_ns)


def bybit_recorder(data_dir: Path, settings: RecorderSettings, **options: object) -> Recorder:
    """A recorder of a Bybit source: book frames stored split by the venue's codec."""
    return Recorder(data_dir, settings, source="test", codec=BOOK_CODEC, **options)  # type: ignore[arg-type]


def read_back(data_dir: Path, **options: object) -> list[tuple[int, int, str, bytes]]:
    return list(iter_recorded(data_dir, codecs=CODECS, **options))  # type: ignore[arg-type]


def small(**overrides: object) -> RecorderSettings:
    settings = {"chunk_rows": 64, "max_disk_bytes": None, "retention_days": None}
    settings.update(overrides)
    return RecorderSettings(**settings)  # type: ignore[arg-type]


def test_frames_read_back_byte_identical_and_in_order(tmp_path: Path, xrp_frames) -> None:
    frames = [(T0 + i, raw) for i, raw in enumerate(xrp_frames)]
    frames += [(recv + 1000, raw) for recv, raw in market_frames(3000)]
    recorder = bybit_recorder(tmp_path, small(), clock=lambda: T0)
    recorder.start()
    record(recorder, frames)
    recorder.record_clock(T0 + 5, T0 + 10**12)
    recorder.stop()
    rows = read_back(tmp_path)
    assert [(recv, payload) for recv, _, topic, payload in rows[:-1]] == frames
    assert rows[-1][2] == CLOCK_TOPIC and rows[-1][1] == T0 + 5
    assert rows[0][2] == "orderbook.500.XRPUSDT"
    assert recorder.stats.frames_recorded == len(frames) + 1
    assert recorder.stats.frames_dropped == 0


def test_rows_are_grouped_by_topic_within_a_row_group_on_disk(tmp_path: Path) -> None:
    recorder = bybit_recorder(tmp_path, small())
    recorder.start()
    record(recorder, market_frames(500))
    recorder.stop()
    (segment,) = complete_segments(tmp_path / "raw" / "test")
    table = pq.read_table(segment)
    topics = table["topic"].to_pylist()
    runs = [topic for i, topic in enumerate(topics) if i == 0 or topics[i - 1] != topic]
    assert len(runs) == len(set(topics)) > 10  # each topic in one run
    assert table["seq"].null_count == len(table)  # receive times increase: they give the order
    received = table["recv_ns"].to_pylist()
    for topic in set(topics):  # arrival order kept within a topic
        mine = [recv for recv, t in zip(received, topics, strict=True) if t == topic]
        assert mine == sorted(mine)


def test_seq_kept_where_receive_times_tie_or_step_back(tmp_path: Path) -> None:
    frames = market_frames(400)
    stamped = [(T0 + 10**10 + i // 3, raw) for i, (_, raw) in enumerate(frames[:200])]  # ties
    stamped += [(T0 + 9 * 10**9 + i, raw) for i, (_, raw) in enumerate(frames[200:])]  # 1 s back
    recorder = bybit_recorder(tmp_path, small())
    recorder.start()
    record(recorder, stamped)
    recorder.stop()
    assert [(recv, payload) for recv, _, _, payload in read_back(tmp_path)] == stamped
    (segment,) = complete_segments(tmp_path / "raw" / "test")
    assert pq.read_table(segment)["seq"].null_count == 0
    _, rows = run_query(tmp_path, "select payload from frames order by seq", CODECS)
    assert [bytes(payload) for (payload,) in rows] == [raw for _, raw in stamped]


def test_one_segment_per_hour_and_filters(tmp_path: Path) -> None:
    frames = market_frames(900, symbols=3)
    stamped = [(T0 + i * (HOUR_NS // 300), raw) for i, (_, raw) in enumerate(frames)]
    recorder = bybit_recorder(tmp_path, small())
    recorder.start()
    record(recorder, stamped)
    recorder.stop()
    segments = complete_segments(tmp_path / "raw" / "test")
    assert len(segments) == 3  # 900 frames over three hours, chunks of 64 rows
    assert recorder.stats.segments_written >= 3
    window = read_back(tmp_path, from_ns=T0 + HOUR_NS, to_ns=T0 + 2 * HOUR_NS)
    assert [r[0] for r in window] == [t for t, _ in stamped if T0 + HOUR_NS <= t < T0 + 2 * HOUR_NS]
    symbol = "SYM001USDT"
    only = read_back(tmp_path, symbols=[symbol.lower()])
    assert only and all(symbol.encode() in payload for *_, payload in only)


def test_torn_journal_recovers_complete_chunks(tmp_path: Path) -> None:
    fmt = raw_format(BOOK_CODEC)
    segment = OpenSegment(tmp_path / "date=2025-11-24", T0, fmt)
    frames = market_frames(300)
    recorder = bybit_recorder(tmp_path / "unused", small(chunk_rows=100))
    record(recorder, frames)  # not started: the three chunks wait in its queue
    for _ in range(3):
        _, chunk = recorder._queue.get_nowait()
        segment.append(chunk.to_batch())
    # A crash: the process dies with the files open (closing the handles flushes nothing more).
    segment._parquet.close()
    segment._journal_file.close()
    journal = segment.journal_path
    size = journal.stat().st_size
    with journal.open("r+b") as file:
        file.truncate(size - 50)  # a crash in the middle of the last chunk
    batches, torn = read_journal(journal)
    assert torn and sum(b.num_rows for b in batches) == 200
    path, count, torn = recover_journal(journal, fmt)
    assert path is not None and count == 200 and torn
    assert not journal.exists() and not segment.partial_path.exists()
    table = raw_order(pq.read_table(path))
    assert frame_payloads(table, BOOK_CODEC).to_pylist() == [raw for _, raw in frames[:200]]
    assert table["payload"].to_pylist().count(b"") > 50  # book frames stored split


def test_binary_array_holds_the_same_bytes() -> None:
    values = [b"", b'{"a":1}', b"\x00\xff" * 300, b"x"]
    assert binary_array(values).to_pylist() == values
    assert binary_array([]).to_pylist() == []


def test_reader_skips_an_unfinished_segment_with_a_warning(tmp_path: Path, caplog) -> None:
    recorder = bybit_recorder(tmp_path, small())
    recorder.start()
    record(recorder, market_frames(200))
    recorder.stop()
    unfinished = tmp_path / "raw" / "test" / "date=2025-11-24" / f"{T0 + HOUR_NS}{JOURNAL_SUFFIX}"
    unfinished.write_bytes(b"not an arrow stream")
    with caplog.at_level(logging.WARNING):
        rows = read_back(tmp_path)
    assert len(rows) == 200
    assert "skipping" in caplog.text and unfinished.name in caplog.text
    # The next recorder on the directory recovers (here: drops) it without crashing.
    again = bybit_recorder(tmp_path, small())
    assert again.recover() == 0
    assert not unfinished.exists()


def test_tiny_budget_deletes_oldest_and_stays_under(tmp_path: Path) -> None:
    budget = 400_000
    settings = small(max_disk_bytes=budget, max_segment_bytes=40_000, chunk_rows=256)
    recorder = bybit_recorder(tmp_path, settings)
    recorder.start()
    frames = market_frames(40_000, symbols=20)
    peak = 0
    for start in range(0, len(frames), 2000):
        record(recorder, frames[start : start + 2000])
        recorder.flush()
        recorder.drain()
        peak = max(peak, disk_usage(tmp_path, budget).bytes_used)
    recorder.stop()
    assert recorder.stats.segments_deleted > 0
    assert peak <= budget, peak
    assert disk_usage(tmp_path, budget).bytes_used <= budget
    first_kept = int(complete_segments(tmp_path / "raw" / "test")[0].name.split(".")[0])
    assert first_kept > frames[0][0]  # the oldest went first


def test_retention_deletes_old_segments(tmp_path: Path) -> None:
    day = 24 * HOUR_NS
    now = [T0]
    recorder = bybit_recorder(tmp_path, small(retention_days=1.0), clock=lambda: now[0])
    recorder.start()
    record(recorder, market_frames(100))
    recorder.stop()
    assert len(complete_segments(tmp_path / "raw" / "test")) == 1
    now[0] = T0 + 3 * day
    later = bybit_recorder(tmp_path, small(retention_days=1.0), clock=lambda: now[0])
    later.start()
    later.stop()
    assert complete_segments(tmp_path / "raw" / "test") == []


def test_full_queue_drops_and_counts_never_blocks(tmp_path: Path) -> None:
    recorder = bybit_recorder(tmp_path, small(queue_chunks=1, chunk_rows=10))
    # Not started: nothing drains the queue, as with a stalled disk.
    record(recorder, market_frames(35))
    assert recorder.stats.chunks_dropped == 2
    assert recorder.stats.frames_dropped == 20


def test_candles_and_metrics_recorded_and_queryable(tmp_path: Path) -> None:
    engine = Engine(EngineSettings(timeframes=("1s", "5s")))
    recorder = bybit_recorder(tmp_path, small())
    recorder.start()
    engine.subscribe(recorder.on_notification)
    apply = FrameApplier(engine)
    for recv_ns, raw in market_frames(4000):
        apply(raw, recv_ns)
    recorder.record_metrics(engine, T0)
    recorder.stop()
    columns, rows = run_query(
        tmp_path, "select timeframe, count(*) from candles group by 1 order by 1", CODECS
    )
    assert columns[0] == "timeframe" and [r[0] for r in rows] == ["1s", "5s"]
    closed = sum(len(s.candles["1s"].closed) for s in engine.symbols.values())
    assert dict(rows)["1s"] == closed == recorder.stats.candles_recorded - dict(rows)["5s"]
    _, metric_rows = run_query(tmp_path, "select count(*), min(mid) > 0 from metrics")
    assert metric_rows == [(len(engine.symbols), True)]
    # Flows in both units: coin units and quote currency (USD notional), as the engine has them.
    sql = (
        "select symbol, delta_1m, delta_quote_1m, volume_quote_5m, cumulative_delta_quote "
        "from metrics order by symbol"
    )
    _, flows = run_query(tmp_path, sql)
    for symbol, delta, delta_quote, volume_quote, cumulative in flows:
        state = engine.symbols[symbol]
        minute = state.flow.window(60 * 10**9, engine.clock_ns)
        five = state.flow.window(300 * 10**9, engine.clock_ns)
        assert delta == minute.delta
        assert delta_quote == minute.buy_notional - minute.sell_notional
        assert volume_quote == five.buy_notional + five.sell_notional > 0
        assert cumulative == state.flow.totals.buy_notional - state.flow.totals.sell_notional


def test_query_on_an_empty_data_dir_gives_empty_tables(tmp_path: Path) -> None:
    assert run_query(tmp_path, "select count(*) from candles")[1] == [(0,)]
    assert run_query(tmp_path, "select count(*) from frames")[1] == [(0,)]


def test_warm_start_restores_recent_candles_without_filling_the_gap(tmp_path: Path) -> None:
    config = EngineSettings(timeframes=("15s",), candle_history="1h")
    now = T0 + HOUR_NS
    recorder = bybit_recorder(tmp_path, small(), clock=lambda: now)
    recorder.start()
    for i, start in enumerate((now - 2 * HOUR_NS, now - 60 * 10**9, now - 45 * 10**9)):
        candle = Candle(start, 1.0 + i, 2.0 + i, 0.5, 1.5 + i, volume=3.0, trades=2)
        recorder.on_notification(CandleClosed("XRPUSDT", "15s", candle))
    recorder.stop()
    engine = Engine(config)
    assert warm_start(engine, tmp_path, now) == 2  # the 2-hour-old one is outside the history
    series = engine.symbols["XRPUSDT"].candles["15s"]
    assert [c.start_ns for c in series.closed] == [now - 60 * 10**9, now - 45 * 10**9]
    series.add_trade(now + 10**9, 9.0, 1.0, BUY)
    assert len(series.closed) == 2 and series.forming is not None  # no flats for the gap


def test_warm_start_reads_candles_recorded_before_the_notional_by_side(tmp_path: Path) -> None:
    """A candles segment written without buy_turnover / sell_turnover (a recording made before
    they were added) still warm-starts: those figures read 0; new segments carry them."""
    now = T0 + HOUR_NS
    recorder = bybit_recorder(tmp_path, small(), clock=lambda: now)
    recorder.start()
    candle = Candle(now - 60 * 10**9, 1.0, 2.0, 0.5, 1.5, 3.0, 4.5, 2, 2.0, 1.0, 0.0, 3.0, 1.5)
    recorder.on_notification(CandleClosed("XRPUSDT", "15s", candle))
    recorder.stop()
    (segment,) = complete_segments(tmp_path / "candles")
    table = pq.read_table(segment)
    assert table["buy_turnover"].to_pylist() == [3.0]
    pq.write_table(table.drop_columns(["buy_turnover", "sell_turnover"]), segment)
    engine = Engine(EngineSettings(timeframes=("15s",), candle_history="1h"))
    assert warm_start(engine, tmp_path, now) == 1
    (restored,) = engine.symbols["XRPUSDT"].candles["15s"].closed
    assert restored == Candle(now - 60 * 10**9, 1.0, 2.0, 0.5, 1.5, 3.0, 4.5, 2, 2.0, 1.0, 0.0)


def test_warm_start_rebuilds_the_signal_baselines_a_live_run_had(tmp_path: Path) -> None:
    """A live run records its closed candles; a restart feeding them back to fresh signals has
    the same regimes and candle-based factors (and the same regime states as without restart)."""
    settings = SignalSettings(
        regimes=RegimeSettings(min_history=5, volatility_window=3, trend_window=4, min_dwell="1m")
    )
    live = Engine(EngineSettings())
    live_signals = SignalEngine(live, settings)
    now = T0 + HOUR_NS
    recorder = bybit_recorder(tmp_path, small(), clock=lambda: now)
    recorder.start()
    live.subscribe(recorder.on_notification)
    start = now - 40 * 60 * 10**9
    live.on_event(BookUpdate("XRPUSDT", 50, True, [(0.99, 5.0)], [(1.01, 5.0)], 1, 0, start, start))
    for k in range(40 * 6):  # a trade every 10 s for 40 minutes, the price wandering
        ts = start + k * 10 * 10**9 + 1
        price = 1.0 + 0.001 * ((k * 7) % 11) + 0.0005 * (k // 30)
        live.on_event(
            TradeBatch("XRPUSDT", [Trade("XRPUSDT", price, 1.0 + k % 4, BUY, ts, ts)], ts, ts)
        )
    recorder.stop()
    restarted = Engine(EngineSettings())
    signals = SignalEngine(restarted, settings)
    assert warm_start_signals(signals, tmp_path, now) == 39 + 7  # closed 1m and 5m candles
    before, after = live_signals.regimes["XRPUSDT"], signals.regimes["XRPUSDT"]
    assert after.states() == before.states()
    assert after.context() == before.context()
    assert before.states()["trend"].state != "warming_up"


def test_restore_only_before_events() -> None:
    series = CandleSeries(10, 5)
    series.add_trade(5, 1.0, 1.0, BUY)
    with pytest.raises(ValueError):
        series.restore([Candle(0, 1.0, 1.0, 1.0, 1.0)])


def test_replay_recording_applies_clock_rows(tmp_path: Path) -> None:
    config = EngineSettings(timeframes=("1s",))
    live = Engine(config)
    recorder = bybit_recorder(tmp_path, small())
    recorder.start()
    frames = market_frames(2000)
    record(recorder, frames)
    apply = FrameApplier(live)
    for recv_ns, raw in frames:
        apply(raw, recv_ns)
    until = live.clock_ns + 5 * 10**9
    recorder.record_clock(until, until)
    live.close_candles_until(until)
    recorder.stop()
    replayed = Engine(config)
    assert replay_recording(FrameApplier(replayed), tmp_path) == len(frames) + 1
    for name, state in live.symbols.items():
        assert list(state.candles["1s"].closed) == list(replayed.symbols[name].candles["1s"].closed)
        assert state.candles["1s"].forming is None


@pytest.mark.parametrize(
    ("text", "size"), [("20GB", 20 * 10**9), ("512MiB", 512 * 2**20), ("1000", 1000)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_time() -> None:
    assert parse_time_ns("2025-11-24T16:00") == parse_time_ns("1764000000")
    assert parse_time_ns("2025-11-24T17:00+01:00") == 1_764_000_000 * 10**9
    assert parse_time_ns("1764000000000") == 1_764_000_000 * 10**9
    with pytest.raises(ConfigError):
        parse_time_ns("yesterday")
    with pytest.raises(ConfigError):
        parse_size("lots")


def test_query_frames_gives_the_exact_frame_bytes(tmp_path: Path, xrp_frames) -> None:
    frames = [(T0 + i, raw) for i, raw in enumerate(xrp_frames)] + market_frames(500)
    frames.sort()
    recorder = bybit_recorder(tmp_path, small())
    recorder.start()
    record(recorder, frames)
    recorder.stop()
    sql = "select recv_ns, payload, date from frames order by recv_ns, seq"
    columns, rows = run_query(tmp_path, sql, CODECS)
    assert columns == ["recv_ns", "payload", "date"]
    assert [(recv, bytes(payload)) for recv, payload, _ in rows] == frames
    assert rows[0][2] is not None


def test_health_warns_from_80_percent_of_the_budget(tmp_path: Path) -> None:
    from scalper.api.health import HealthReporter
    from scalper.storage.budget import DiskUsage

    recorder = bybit_recorder(tmp_path, small(max_disk_bytes=1000))
    reporter = HealthReporter(Engine(), None, T0, 10.0, recorder)
    recorder._usage = DiskUsage(bytes_used=790, files=3, segments=1, max_bytes=1000)
    report = reporter.report().data_dir
    assert report.recording and report.usage_pct == 79.0 and report.warning is None
    recorder._usage = DiskUsage(bytes_used=850, files=3, segments=1, max_bytes=1000)
    report = reporter.report().data_dir
    assert report.warning is not None and "85%" in report.warning
    recorder.stats.frames_dropped = 7
    assert "7 frames dropped" in (reporter.report().data_dir.warning or "")


def test_candle_columns_follow_the_candle_fields() -> None:
    from scalper.storage.layout import CANDLE_SCHEMA
    from scalper.storage.rows import candle_from_row, candle_row

    assert tuple(CANDLE_SCHEMA.names[3:]) == Candle.__struct_fields__
    candle = Candle(60, 1.0, 2.0, 0.5, 1.5, 3.0, 4.5, 2, 2.0, 1.0, 0.25)
    row = dict(zip(CANDLE_SCHEMA.names, candle_row(T0, "XRPUSDT", "1m", candle), strict=True))
    assert candle_from_row(row) == candle


def test_one_recorder_per_data_dir(tmp_path: Path) -> None:
    """A second recorder on a dir in use is refused: it would take the first's open journals for
    a crash's and recover them under it. The lock goes with the first recorder's stop."""
    first = bybit_recorder(tmp_path, small())
    first.start()
    second = bybit_recorder(tmp_path, small())
    with pytest.raises(
        ConfigError, match=f"being recorded by another process \\(pid {os.getpid()}\\)"
    ):
        second.start()
    first.stop()
    second.start()
    second.stop()


def test_query_warns_of_empty_tables_and_names_the_recordings_below(tmp_path: Path, caplog) -> None:
    """`scalper query` on ./data after `make demo` (which records into data/demo) used to
    answer 0 rows in silence."""
    demo = tmp_path / "demo"
    recorder = bybit_recorder(demo, small())
    recorder.start()
    record(recorder, market_frames(500))
    recorder.stop()
    with caplog.at_level(logging.WARNING, logger="scalper.storage.query"):
        assert run_query(tmp_path, "select count(*) from frames", CODECS)[1] == [(0,)]
    (warning,) = caplog.messages
    assert "holds no candles or metrics or frames yet" in warning
    assert f"recordings are in {demo}" in warning
    with pytest.raises(InputError, match="recordings are in"):
        run_query(tmp_path / "nothing", "select 1")


def test_query_with_the_default_data_dir_finds_the_demos_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `make demo` (which records into data/demo), `scalper query` run in the checkout
    queries data/demo and says so; an explicit --data-dir is taken as given."""
    from scalper.cli import main

    demo = tmp_path / "data" / "demo"
    recorder = bybit_recorder(demo, small())
    recorder.start()
    record(recorder, market_frames(200))
    recorder.stop()
    assert default_data_dir(tmp_path / "data") == demo
    assert default_data_dir(demo) == demo
    assert default_data_dir(tmp_path / "nothing") == tmp_path / "nothing"
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("SCALPER_")]:
        monkeypatch.delenv(name)
    assert main(["query", "select count(*) n from frames", "--csv"]) == 0
    out, err = capsys.readouterr()
    assert out == "n\n200\n"
    assert "data holds no recording; querying data/demo" in err
    assert main(["query", "select count(*) n from frames", "--csv", "--data-dir", "data"]) == 0
    out, err = capsys.readouterr()
    assert out == "n\n0\n" and "querying" not in err


def test_readable_views_show_utc_times_and_frames_as_text(tmp_path: Path) -> None:
    frames = market_frames(300)
    recorder = bybit_recorder(tmp_path, small())
    recorder.start()
    record(recorder, frames)
    recorder.stop()
    sql = "select received, text from readable_frames order by received, seq limit 1"
    _, [(received, text)] = run_query(tmp_path, sql, CODECS)
    recv_ns, raw = frames[0]
    assert (
        received.isoformat()
        == datetime.datetime.fromtimestamp(recv_ns // 1000 / 1e6, datetime.UTC)
        .replace(tzinfo=None)
        .isoformat()
    )
    assert text == raw.decode()


def test_buffered_rows_are_reported_until_their_row_group_is_written(tmp_path: Path) -> None:
    recorder = bybit_recorder(tmp_path, small(chunk_rows=100))
    recorder.start()
    record(recorder, market_frames(1000))
    recorder.flush()
    recorder.drain()
    # 1,000 rows are below a row group (65,536): all held, and counted, by the raw stream.
    assert recorder.stats.buffered_rows == 1000
    held = recorder.buffered_bytes()
    assert held["raw"] == recorder.stats.buffered_bytes > 1000 * 100
    assert held["candles"] == held["metrics"] == 0
    recorder.stop()
    streams = ["raw", "candles", "metrics", *(f"trading/{table}" for table in TRADING_TABLES)]
    assert recorder.buffered_bytes() == dict.fromkeys(streams, 0)


@pytest.mark.parametrize("pool", ["system", "jemalloc", "mimalloc"])
def test_the_arrow_pool_is_a_setting(tmp_path: Path, pool: str) -> None:
    import pyarrow as pa

    before = pa.default_memory_pool()
    try:
        recorder = bybit_recorder(tmp_path, small(arrow_memory_pool=pool))
        recorder.start()
        assert pa.default_memory_pool().backend_name == pool
        recorder.stop()
    finally:
        pa.set_memory_pool(before)


def test_the_mmap_threshold_is_set_when_the_recorder_starts(tmp_path: Path, monkeypatch) -> None:
    import scalper.storage.recorder as recorder_module

    calls: list[int] = []
    monkeypatch.setattr(recorder_module, "map_large_blocks", calls.append)
    recorder = bybit_recorder(tmp_path / "a", small(map_blocks_from_bytes=131072))
    recorder.start()
    recorder.stop()
    assert calls == [131072]
    recorder = bybit_recorder(tmp_path / "b", small(map_blocks_from_bytes=None))
    recorder.start()
    recorder.stop()
    assert calls == [131072]  # None: glibc's own rule, untouched
