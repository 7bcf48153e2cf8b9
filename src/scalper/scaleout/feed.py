"""The engine's side of `--workers N`: the live feed's engine wiring (`LiveFeed`: recorder,
per-symbol statistics, candle timer, book healing) fed from the JetStream stream instead of
sockets, plus the processes it supervises (the ingest workers and, with
`scaleout.recorder_consumer`, the recorder consumer that records the frames instead of this
process) and, unless `nats_url` is set, the NATS server.

The consumer is durable and acknowledges a fetched batch of messages once all of them are
applied, so after a restart of this process it resumes after the last batch it applied; a
message delivered again (an ack lost on the way) is recognised by its stream sequence and not
applied twice. Health sees every worker as one connection of the feed, with its process id,
its stream position and the receive-to-apply lag of its newest frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec

from scalper.engine import Engine
from scalper.events import Instrument
from scalper.feed_status import ConnectionStats, RecordingProcessStats
from scalper.scaleout.recording import RecordingSpec
from scalper.scaleout.server import NatsServer
from scalper.scaleout.stream import (
    CLOCK_SUBJECT_TOKEN,
    RECORDER_STATUS_SUBJECT,
    RESYNC_SUBJECT,
    STATUS_SUBJECT,
    RecorderStatus,
    WorkerStatus,
    decode_batch,
    decode_clock,
    encode_clock,
    is_clock,
    resume_consumer,
    stream_config,
    subject_of,
)
from scalper.scaleout.supervisor import SupervisedProcess
from scalper.scaleout.worker import WorkerSpec
from scalper.settings import ConnectionSettings, FeedSettings, ScaleoutSettings
from scalper.venues.bybit._wire import decode_one
from scalper.venues.bybit.feed import FrameRecorder, LiveFeed
from scalper.venues.bybit.topics import symbol_of, topics_for
from scalper.venues.bybit.wire import ControlMessage

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
"""How long `stop` waits for the feed's tasks to end after cancelling them."""


class WorkerLink:
    """A worker as the feed's health sees a connection: name, symbols, figures."""

    def __init__(self, index: int, symbols: list[str], url: str, topics: int) -> None:
        self.name = f"worker-{index}"
        self.symbols = symbols
        self.stats = ConnectionStats(self.name, url, topics)
        self.process: SupervisedProcess | None = None
        self.reported_reconnects = 0


def shards(symbols: list[str], workers: int) -> list[list[str]]:
    """Symbols dealt round-robin over the workers (the busiest, listed first, spread out)."""
    count = max(1, min(workers, len(symbols)))
    return [symbols[index::count] for index in range(count)]


class ScaleoutFeed(LiveFeed):
    """`MarketFeed` of a scale-out run: workers publish, this process's engine consumes."""

    def __init__(
        self,
        engine: Engine,
        symbols: list[str],
        ws_url: str,
        category: str,
        settings: FeedSettings,
        connection: ConnectionSettings,
        instruments: dict[str, Instrument],
        recorder: FrameRecorder | None,
        scaleout: ScaleoutSettings,
        recording: RecordingSpec | None = None,
    ) -> None:
        """`recorder` records the frames in this process; `recording` (its `nats_url` is set
        on start) runs the recorder consumer instead (`scaleout.recorder_consumer`)."""
        super().__init__(
            engine, symbols, ws_url, category, settings, connection, instruments, recorder
        )
        self.ws_url = ws_url
        self.category = category
        self.connection_settings = connection
        self.scaleout = scaleout
        depth = self.settings.depth
        self.workers = [
            WorkerLink(index, group, ws_url, sum(len(topics_for(s, depth)) for s in group))
            for index, group in enumerate(shards(self.symbols, scaleout.workers))
        ]
        self.connections = self.workers  # type: ignore[assignment]
        self._worker_of = {s: link for link in self.workers for s in link.symbols}
        self.server: NatsServer | None = None
        self.nats_url = scaleout.nats_url
        self._nc: Any = None
        self._sub: Any = None
        self.applied_seq = 0
        """Stream sequence of the newest message applied."""
        self.duplicates = 0
        """Messages delivered again after they were applied (skipped)."""
        self.pending = 0
        """Messages in the stream not yet delivered to the engine (the consumer's backlog)."""
        self._publishes: set[asyncio.Task[None]] = set()
        self._js: Any = None
        self._recording_spec = recording
        self.recording: SupervisedProcess | None = None
        """The recorder consumer's process slot, when it records the frames."""
        self.recording_status: RecorderStatus | None = None
        """Its newest report."""
        self.clock_errors = 0
        """Candle closes by the wall clock that could not be put in the stream."""

    async def start(self) -> None:
        """Start the server (if none is given), the stream, the consumer and the workers."""
        import nats

        self.started_ns = time.time_ns()
        settings = self.scaleout
        if not self.nats_url:
            self.server = NatsServer(settings.store_dir)
            await self.server.start()
            self.nats_url = self.server.url
        self._nc = await nats.connect(
            self.nats_url, name="scalper-engine", max_reconnect_attempts=-1
        )
        js = self._js = self._nc.jetstream()
        config = stream_config(settings, self.category)
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.update_stream(config)  # it exists with other limits: these settings win
        await self._nc.subscribe(f"{STATUS_SUBJECT}.*", cb=self._on_status)
        await self._nc.subscribe(RECORDER_STATUS_SUBJECT, cb=self._on_recording_status)
        self._sub = await resume_consumer(js, settings, self.category, settings.consumer)
        for link in self.workers:
            spec = WorkerSpec(
                index=int(link.name.rsplit("-", 1)[1]),
                nats_url=self.nats_url,
                ws_url=self.ws_url,
                category=self.category,
                symbols=link.symbols,
                feed=self.settings,
                connection=self.connection_settings,
                scaleout=settings,
            )
            link.process = SupervisedProcess(
                link.name, "scalper.scaleout.worker", spec, settings.restart_backoff_s
            )
        if self._recording_spec is not None:
            spec = msgspec.structs.replace(self._recording_spec, nats_url=self.nats_url)
            self.recording = SupervisedProcess(
                "recorder", "scalper.scaleout.recording", spec, settings.restart_backoff_s
            )
        log.info(
            "scale-out: %d workers publish to stream %s on %s",
            len(self.workers),
            settings.stream,
            self.nats_url,
        )
        self._supervisor = asyncio.create_task(self._run(), name="scale-out feed")
        self._supervisor.add_done_callback(_log_failure)

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for link in self.workers:
                assert link.process is not None
                tasks.create_task(link.process.run(), name=link.name)
            if self.recording is not None:
                tasks.create_task(self.recording.run(), name="recorder consumer")
            tasks.create_task(self._consume(), name="consumer")
            tasks.create_task(self._close_candles_on_time(), name="candles")
            tasks.create_task(self._watch(), name="stream watch")

    async def _consume(self) -> None:
        import nats

        sink = self._sink()
        end_read = sink.batch_end
        worker_of = self._worker_of
        fetch = self._sub.fetch
        batch = self.scaleout.fetch_batch
        wait = self.scaleout.fetch_wait_s
        task = asyncio.current_task()
        assert task is not None
        while True:
            try:
                messages = await fetch(batch, timeout=wait)
            except (nats.errors.TimeoutError, TimeoutError):
                if task.cancelling():  # nats-py turns a cancel during fetch into a timeout
                    raise asyncio.CancelledError from None  # (nats-io/nats.py#373)
                continue  # nothing new meanwhile (nats-py raises either)
            for message in messages:
                seq = message.metadata.sequence.stream
                if seq <= self.applied_seq:
                    self.duplicates += 1
                    continue
                if is_clock(message.subject):
                    end_read()
                    self._close_candles(*decode_clock(message.data))
                    self.applied_seq = seq
                    continue
                recv_ns = 0
                for stamp, raw in decode_batch(message.data):
                    if stamp != recv_ns:  # frames of one read of the worker's socket share it
                        end_read()
                        recv_ns = stamp
                    event = decode_one(raw, recv_ns)
                    if type(event) is not ControlMessage:
                        sink(raw, recv_ns, event)  # type: ignore[arg-type]
                end_read()
                self.applied_seq = seq
                link = worker_of.get(message.subject.rsplit(".", 1)[-1])
                if link is not None:
                    link.stats.applied_seq = seq
                    link.stats.apply_lag_ns = time.time_ns() - recv_ns
            if messages:  # nats-py may return none (a status reply)
                await messages[-1].ack()

    async def _close_candles_on_time(self) -> None:
        """The wall-clock edge through the stream: a candle close is published there and done
        when consumed (`_close_candles`), so the engine and any recorder consumer see it at the
        same place among the frames; books still out of sync are retried."""
        grace_ns = int(self.settings.candle_grace_s * 1e9)
        subject = subject_of(self.scaleout, self.category, CLOCK_SUBJECT_TOKEN)
        while True:
            await asyncio.sleep(self.settings.candle_timer_s)
            now_ns = time.time_ns()
            try:
                await self._js.publish(subject, encode_clock(now_ns - grace_ns, now_ns))
            except Exception as exc:  # the next close catches up (it closes *until* a time)
                self.clock_errors += 1
                log.warning("candle close not published to the stream: %s", exc)
            self._heal_books()
            self._update_rates(now_ns)

    def _close_candles(self, until_ns: int, now_ns: int) -> None:
        if self.recorder is not None:
            self.recorder.record_clock(until_ns, now_ns)
        self.engine.close_candles_until(until_ns)

    async def _watch(self) -> None:
        """Every `status_every_s`: the consumer's backlog, and each worker's process state."""
        while True:
            await asyncio.sleep(self.scaleout.status_every_s)
            with contextlib.suppress(Exception):
                info = await self._sub.consumer_info()
                self.pending = int(info.num_pending or 0)
            for link in self.workers:
                process = link.process
                if process is not None and process.pid is None:
                    link.stats.state = "restarting"
                    link.stats.pid = 0

    async def _on_status(self, message: Any) -> None:
        status = msgspec.json.decode(message.data, type=WorkerStatus)
        if not 0 <= status.index < len(self.workers):
            return
        link = self.workers[status.index]
        stats = link.stats
        process = link.process
        restarts = process.restarts if process is not None else 0
        if process is not None and process.pid != status.pid:
            return  # a late report of a process already replaced
        stats.state = status.state
        stats.pid = status.pid
        stats.frames = status.frames
        stats.stream_seq = status.last_seq
        stats.last_frame_ns = status.last_frame_ns
        stats.connects = status.connects
        stats.reconnects = status.reconnects + restarts
        stats.last_error = status.last_error

    @property
    def recording_process(self) -> RecordingProcessStats | None:
        """The recorder consumer as health shows it (None when this process records)."""
        process = self.recording
        if process is None:
            return None
        stats = RecordingProcessStats(process.pid, process.restarts, 0, 0, 0, 0, 0, 0, "")
        status = self.recording_status
        if status is not None:  # its newest report (a replaced process's are ignored)
            stats.recorded_seq = status.recorded_seq
            stats.stream_seq = status.stream_seq
            stats.pending = status.pending
            stats.frames = status.frames
            stats.frames_dropped = status.frames_dropped
            stats.write_errors = status.write_errors
            stats.last_error = status.last_error
        return stats

    async def _on_recording_status(self, message: Any) -> None:
        status = msgspec.json.decode(message.data, type=RecorderStatus)
        recording = self.recording
        if recording is not None and recording.pid == status.pid:  # not a replaced process's
            self.recording_status = status

    def _request_resync(self, topic: str) -> None:
        """Ask the worker that holds the topic for a fresh snapshot (rate-limited per topic)."""
        if self._nc is None:
            return
        now = time.monotonic()
        if now - self._last_resync.get(topic, -1e9) < self.settings.resync_retry_s:
            return
        self._last_resync[topic] = now
        symbol = symbol_of(topic)
        task = asyncio.get_running_loop().create_task(
            self._nc.publish(f"{RESYNC_SUBJECT}.{symbol}", b"")
        )
        self._publishes.add(task)
        task.add_done_callback(self._publishes.discard)
        stats = self.symbol_stats.get(symbol)
        if stats is not None:
            stats.resyncs_sent += 1

    async def stop(self) -> None:
        """Stop the workers (they flush), the recorder consumer (it records what the stream
        holds), the tasks, the connection, and the server we started."""
        for link in self.workers:
            if link.process is not None:
                await link.process.stop()
        if self.recording is not None:  # after the workers: it records what they flushed
            await self.recording.stop()
        supervisor, self._supervisor = self._supervisor, None
        try:
            if supervisor is not None:
                supervisor.cancel()
                done, _ = await asyncio.wait([supervisor], timeout=STOP_TIMEOUT_S)
                if not done:  # a task that ignores its cancel must not hang the shutdown
                    log.error("scale-out tasks still running %g s after stop", STOP_TIMEOUT_S)
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._nc.close(), 5.0)
                self._nc = None
        finally:
            if self.server is not None:
                await self.server.stop()
                self.server = None


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("scale-out feed failed", exc_info=task.exception())
