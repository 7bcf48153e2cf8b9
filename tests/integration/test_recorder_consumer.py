"""The recorder consumer (`scaleout.recorder_consumer`) against a real nats-server on loopback:
kill -9 it mid-stream, several times, and kill -9 an ingest worker while it records; the
recording read back from the data dir holds the stream's frames, in the stream's order, each
once."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
from tests.integration.support import wait_until
from tests.integration.test_live_feed import all_in_sync
from tests.integration.test_scaleout import CONNECTION, FEED

from scalper.api.health import HealthReporter
from scalper.engine import Engine
from scalper.scaleout.feed import ScaleoutFeed
from scalper.scaleout.position import POSITION_FILE, PositionState
from scalper.scaleout.recording import RecordingSpec
from scalper.scaleout.server import NatsServer
from scalper.scaleout.stream import (
    CLOCK_SUBJECT_TOKEN,
    decode_batch,
    decode_clock,
    encode_clock,
    is_clock,
    resume_consumer,
    stream_config,
    subject_of,
)
from scalper.scaleout.supervisor import SupervisedProcess
from scalper.settings import RecorderSettings, ScaleoutSettings, SimulatorSettings
from scalper.storage.layout import raw_root
from scalper.storage.reader import iter_recorded
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.simulator.exchange import serve_simulator

SOURCE = "simulator-linear"
Row = tuple[int, bytes]
"""(recv_ns, frame bytes) of a recorded row; a candle close by the clock has no bytes."""


def recorded(data_dir: Path) -> list[Row]:
    return [(recv, payload) for recv, _, _, payload in iter_recorded(data_dir, codecs=[BOOK_CODEC])]


def recorded_seq(data_dir: Path) -> int:
    path = raw_root(data_dir, SOURCE) / POSITION_FILE
    try:
        state = msgspec.json.decode(path.read_bytes(), type=PositionState)
    except (OSError, msgspec.DecodeError):
        return 0
    return state.recorded_seq


def rows_of(subject: str, payload: bytes) -> list[Row]:
    if is_clock(subject):
        return [(decode_clock(payload)[1], b"")]
    return decode_batch(payload)


async def stream_messages(url: str, settings: ScaleoutSettings) -> list[tuple[str, bytes]]:
    """Every message of the stream, in order (read by a consumer of its own)."""
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    last = (await js.stream_info(settings.stream)).state.last_seq
    sub = await resume_consumer(js, settings, "linear", "check", after_seq=0)
    out: list[tuple[str, bytes]] = []
    while len(out) < last:
        for message in await sub.fetch(256, timeout=5.0):
            out.append((message.subject, message.data))
            await message.ack()
    await nc.close()
    return out


def recording_spec(url: str, data_dir: Path, settings: ScaleoutSettings) -> RecordingSpec:
    return RecordingSpec(
        nats_url=url,
        category="linear",
        source=SOURCE,
        data_dir=str(data_dir),
        recorder=RecorderSettings(data_dir=str(data_dir), max_disk_bytes=None, retention_days=None),
        scaleout=settings,
    )


async def publish_market(url: str, settings: ScaleoutSettings) -> list[Row]:
    """The bench's market (8 symbols, 12k frames in 3k batches) with a candle close by the
    clock after every 100 batches; returns the rows the stream holds, in order."""
    import nats
    from bench.scaleout import market_batches

    batches, _, _ = market_batches(8, 20.0, 4, seed=11)
    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=settings.max_pending_acks)
    await js.add_stream(stream_config(settings, "linear"))
    rows: list[Row] = []
    clock = subject_of(settings, "linear", CLOCK_SUBJECT_TOKEN)
    for index, (symbol, payload) in enumerate(batches):
        await js.publish_async(subject_of(settings, "linear", symbol), payload)
        rows.extend(decode_batch(payload))
        if index % 100 == 99:
            now_ns = rows[-1][0] + 1
            await js.publish_async(clock, encode_clock(now_ns - 300_000_000, now_ns))
            rows.append((now_ns, b""))
    await js.publish_async_completed()
    await nc.close()
    return rows


async def record(
    url: str,
    data_dir: Path,
    settings: ScaleoutSettings,
    last_seq: int,
    while_recording: Callable[[SupervisedProcess], Awaitable[None]] | None = None,
) -> SupervisedProcess:
    """Run the recorder consumer under the supervisor until it recorded `last_seq`."""
    process = SupervisedProcess(
        "recorder", "scalper.scaleout.recording", recording_spec(url, data_dir, settings), 0.1
    )
    task = asyncio.create_task(process.run())
    try:
        await process.started()
        if while_recording is not None:
            await while_recording(process)
        await wait_until(lambda: recorded_seq(data_dir) >= last_seq, 120, "the whole stream")
    finally:
        await process.stop()
        await task
    return process


def test_a_recorder_consumer_killed_mid_stream_records_every_frame_once(tmp_path: Path) -> None:
    """kill -9 the recorder consumer three times while it records (small pulls: many batches
    in flight); the supervisor restarts it each time; the recording equals the stream's rows,
    in order, and the recording of a run without the kills."""
    settings = ScaleoutSettings(fetch_batch=4, restart_backoff_s=0.1)
    server = NatsServer()

    async def kill_three_times(process: SupervisedProcess) -> None:
        for share in (0.15, 0.4, 0.7):
            await wait_until(
                lambda share=share: recorded_seq(tmp_path / "killed") >= share * last,
                120,
                f"{share:.0%} of the stream recorded",
            )
            pid = process.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await wait_until(
                lambda pid=pid: process.pid not in (None, pid), 30, "a restarted recorder"
            )

    async def scenario() -> tuple[list[Row], SupervisedProcess]:
        nonlocal last
        await server.start()
        try:
            rows = await publish_market(server.url, settings)
            last = len(await stream_messages(server.url, settings))
            await record(server.url, tmp_path / "whole", settings, last)
            killed = await record(server.url, tmp_path / "killed", settings, last, kill_three_times)
            return rows, killed
        finally:
            await server.stop()

    last = 0
    rows, killed = asyncio.run(scenario())
    assert killed.starts == 4 and killed.exits[:3] == [-signal.SIGKILL] * 3
    whole = recorded(tmp_path / "whole")
    assert whole == rows
    again = recorded(tmp_path / "killed")
    assert len(again) == len(rows), "a frame was lost or recorded twice"
    assert again == rows
    assert list(iter_recorded(tmp_path / "killed", codecs=[BOOK_CODEC])) == list(
        iter_recorded(tmp_path / "whole", codecs=[BOOK_CODEC])
    )


def test_killed_worker_and_recorder_consumer_leave_every_stream_frame_recorded_once(
    tmp_path: Path,
) -> None:
    """`--workers 2` with the recorder consumer: kill -9 a worker, then the recorder consumer,
    mid-run; the supervisor restarts both; after a clean stop the recording holds every
    message the stream holds (frames and candle closes), in stream order, each once; the
    engine's process recorded no frame itself."""
    settings = ScaleoutSettings(workers=2, restart_backoff_s=0.2, status_every_s=0.2)
    server = NatsServer()

    async def scenario() -> tuple[list[tuple[str, bytes]], ScaleoutFeed]:
        await server.start()
        simulator = await serve_simulator(SimulatorSettings(symbols=6, seed=3))
        engine = Engine()
        scaleout = msgspec.structs.replace(settings, nats_url=server.url)
        feed = ScaleoutFeed(
            engine,
            simulator.symbols,
            simulator.ws_url("linear"),
            "linear",
            FEED,
            CONNECTION,
            {},
            None,
            scaleout,
            recording_spec("", tmp_path, scaleout),
        )
        try:
            await feed.start()
            await wait_until(lambda: all_in_sync(engine, simulator.symbols), 60, "snapshots")
            recording = feed.recording
            assert recording is not None
            await wait_until(lambda: recorded_seq(tmp_path) > 50, 30, "recording")
            victim = feed.workers[0]
            assert victim.process is not None and victim.process.pid is not None
            os.kill(victim.process.pid, signal.SIGKILL)
            await wait_until(
                lambda: victim.process is not None and victim.process.starts == 2,
                30,
                "a restarted worker",
            )
            await wait_until(lambda: all_in_sync(engine, simulator.symbols), 60, "healed books")
            await wait_until(
                lambda: (feed.recording_status or _NONE).recorded_seq > 0, 20, "a recorder report"
            )
            pid = recording.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await wait_until(
                lambda: recording.pid not in (None, pid), 30, "a restarted recorder consumer"
            )
            before = recorded_seq(tmp_path)
            await wait_until(lambda: recorded_seq(tmp_path) > before + 50, 30, "more recorded")
            health = HealthReporter(engine, feed, 0, 3.0)
            await wait_until(
                lambda: (health.report().data_dir.frames_process or _NONE).recorded_seq > before,
                20,
                "the restarted recorder's report in health",
            )
            shown = health.report().data_dir.frames_process
            assert shown is not None and shown.pid == recording.pid and shown.restarts == 1
            assert shown.stream_seq >= shown.recorded_seq and shown.frames > 0
            await feed.stop()
            return await stream_messages(server.url, scaleout), feed
        finally:
            await feed.stop()
            await simulator.stop()
            await server.stop()

    messages, feed = asyncio.run(scenario())
    assert feed.recording is not None and feed.recording.starts == 2
    assert feed.recording.exits == [-signal.SIGKILL]
    upto = recorded_seq(tmp_path)
    # Candle closes the engine's timer published after the recorder consumer stopped are the
    # only messages it may not have recorded.
    assert all(is_clock(subject) for subject, _ in messages[upto:])
    rows = [row for subject, payload in messages[:upto] for row in rows_of(subject, payload)]
    assert any(not payload for _, payload in rows), "no candle close in the stream"
    assert recorded(tmp_path) == rows
    assert [p.name for p in (tmp_path / "raw").iterdir()] == [SOURCE]


_NONE: Any = type("NoStatus", (), {"recorded_seq": 0})()
