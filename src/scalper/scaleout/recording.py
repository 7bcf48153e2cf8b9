"""The recorder consumer of `--workers N` (`scaleout.recorder_consumer`): a process of its own
that records the stream's frames with the one-process recorder's code and format, as a durable
JetStream consumer (`scaleout.recorder_durable`), started and restarted by the supervisor.

Each pulled batch of messages becomes one chunk of the recorder (its own `chunk_rows` is not
used), in stream order. The batch is acknowledged only after the recorder's writer journaled
the chunk, and the position file (position.py) names the last recorded message: after a crash,
even kill -9, the recorder's recovery makes the journal a segment and the consumer resumes after
the last message the recording holds. No frame of the stream is lost or recorded twice (frames
the stream's limits discarded while no recorder ran are logged as lost).

Run as `python -m scalper.scaleout.recording SPEC_JSON` (the supervisor does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from scalper.errors import ScalperError
from scalper.scaleout.position import (
    POSITION_FILE,
    PositionState,
    Probe,
    StreamPosition,
    resume_after,
)
from scalper.scaleout.stream import (
    RECORDER_STATUS_SUBJECT,
    RecorderStatus,
    decode_batch,
    decode_clock,
    is_clock,
    resume_consumer,
)
from scalper.settings import RecorderSettings, ScaleoutSettings
from scalper.storage.layout import raw_root
from scalper.storage.reader import holds_frame
from scalper.storage.recorder import Recorder
from scalper.venues.bybit._wire import decode_one
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.topics import topic_of_frame
from scalper.venues.bybit.wire import ControlMessage

log = logging.getLogger(__name__)

DRAIN_S = 8.0
"""On SIGTERM, how long the stream's remaining messages may take to record (the supervisor
kills after 10 s)."""
_ONE_CHUNK = 1 << 62
"""The recorder's `chunk_rows` here: it never hands a chunk over by itself, this loop does."""


class RecordingSpec(msgspec.Struct, frozen=True):
    """Everything the recorder consumer needs, handed over on its command line as JSON."""

    nats_url: str
    category: str
    source: str
    """Name of the raw stream in the data dir (e.g. `bybit-linear`)."""
    data_dir: str
    recorder: RecorderSettings
    scaleout: ScaleoutSettings


class RecordingFailed(ScalperError):
    """The recorder lost a chunk (disk full, write error): exit, unacknowledged, and let the
    restart record it again."""


class StreamRecorder:
    """Records pulled messages, a batch at a time, and keeps the position file."""

    def __init__(self, recorder: Recorder, position: StreamPosition) -> None:
        self.recorder = recorder
        self.position = position
        self.frames = 0
        self.skipped = 0
        """Messages delivered again after they were recorded (not recorded again)."""

    def record(self, messages: list[tuple[int, str, bytes]]) -> bool:
        """Hand the frames of (seq, subject, payload) messages to the recorder as one chunk;
        False when there was nothing new. The caller waits for `durable` before the ack."""
        recorder = self.recorder
        last = self.position.recorded_seq
        probe: Probe | None = None
        for seq, subject, payload in messages:
            if seq <= last:
                self.skipped += 1
                continue
            last = seq
            if is_clock(subject):
                until_ns, now_ns = decode_clock(payload)
                recorder.record_clock(until_ns, now_ns)
                probe = Probe.of(now_ns, b"")  # a clock row: its time, no bytes
                continue
            for recv_ns, raw in decode_batch(payload):
                event = decode_one(raw, recv_ns)
                if type(event) is ControlMessage:  # not recorded, as by the engine's feed
                    continue
                recorder.record_frame(
                    raw,
                    recv_ns,
                    getattr(event, "ts_event_ns", 0),
                    topic_of_frame(raw),
                    getattr(event, "symbol", "") or "",
                )
                self.frames += 1
                probe = Probe.of(recv_ns, raw)
        if last == self.position.recorded_seq:
            return False
        # The chunk reaches the journal whole or not at all: any row of it tells which, and
        # a batch of messages without a row (all empty) needs no probe.
        self.position.begin(last, probe or Probe(-1, 0))
        recorder.flush()
        return True

    def durable(self) -> None:
        """Wait until the writer journaled the chunk (blocking: run it in a thread), then commit
        the position; RecordingFailed if the chunk was lost."""
        dropped = self.recorder.stats.frames_dropped
        self.recorder.drain()
        if self.recorder.stats.frames_dropped != dropped:
            raise RecordingFailed(
                f"the recorder lost a chunk ({self.recorder.stats.last_error or 'queue full'})"
            )
        self.position.commit()


def open_recorder(spec: RecordingSpec) -> Recorder:
    """The one-process recorder's code on the frames of `spec.source` alone, crash recovered."""
    settings = msgspec.structs.replace(spec.recorder, chunk_rows=_ONE_CHUNK)
    recorder = Recorder(
        Path(spec.data_dir), settings, spec.source, codec=BOOK_CODEC, streams="frames"
    )
    recorder.start()
    return recorder


def recorded_after(state: PositionState, root: Path) -> int:
    """The last stream sequence the recording under `root` holds, by the position file's
    `state` and, for a batch it left pending, its probe frame looked up in the recording."""
    return resume_after(
        state,
        lambda probe: holds_frame(
            root, probe.recv_ns, lambda raw: Probe.of(probe.recv_ns, raw) == probe, [BOOK_CODEC]
        ),
    )


async def resume_position(js: Any, spec: RecordingSpec, position: StreamPosition) -> int:
    """The stream sequence recording resumes after, from the position file and the recording
    (the stream's start when either is new)."""
    settings = spec.scaleout
    info = await js.stream_info(settings.stream)
    created = str(info.created)
    state = position.load(settings.stream, created)
    root = raw_root(Path(spec.data_dir), spec.source)
    after = 0 if state is None else recorded_after(state, root)
    if state is not None and state.pending_seq:
        log.warning(
            "messages %d-%d were being recorded when the last process ended: %s",
            state.recorded_seq + 1,
            state.pending_seq,
            "on disk" if after == state.pending_seq else "not on disk, recording them again",
        )
    first = int(info.state.first_seq or 1)
    if after + 1 < first:
        log.error(
            "messages %d-%d left the stream (its limits) before they were recorded: lost",
            after + 1,
            first - 1,
        )
    position.start(settings.stream, created, after)
    return after


async def run_recording(spec: RecordingSpec) -> None:
    """Record the stream until SIGTERM/SIGINT (a batch being recorded is finished first)."""
    import nats

    settings = spec.scaleout
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    recorder = await asyncio.to_thread(open_recorder, spec)
    position = StreamPosition(raw_root(Path(spec.data_dir), spec.source) / POSITION_FILE)
    stream = StreamRecorder(recorder, position)
    nc = await nats.connect(spec.nats_url, name="scalper-recorder", max_reconnect_attempts=-1)
    reports: asyncio.Task[None] | None = None
    try:
        js = nc.jetstream()
        after = await resume_position(js, spec, position)
        sub = await resume_consumer(js, settings, spec.category, settings.recorder_durable, after)
        log.info("recording %s after message %d in %s", settings.stream, after, spec.data_dir)
        reports = asyncio.create_task(_report(nc, js, sub, stream, settings), name="status")
        await _pull(sub, stream, settings, stop.is_set)
        # Stopping: the workers stopped first, so record what the stream holds now.
        last = int((await js.stream_info(settings.stream)).state.last_seq or 0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                _pull(sub, stream, settings, lambda: stream.position.recorded_seq >= last),
                DRAIN_S,
            )
    finally:
        if reports is not None:
            reports.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reports
        await asyncio.to_thread(recorder.stop)
        with contextlib.suppress(Exception):  # every recorded batch is acknowledged by now
            await asyncio.wait_for(nc.close(), 5.0)


async def _pull(
    sub: Any, stream: StreamRecorder, settings: ScaleoutSettings, done: Callable[[], bool]
) -> None:
    """Pull, record, wait for the journal, acknowledge; until `done`."""
    import nats

    while not done():
        try:
            messages = await sub.fetch(settings.fetch_batch, timeout=settings.fetch_wait_s)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        pulled = [(m.metadata.sequence.stream, m.subject, m.data) for m in messages]
        if stream.record(pulled):
            await asyncio.to_thread(stream.durable)
        if messages:
            await messages[-1].ack()


async def _report(
    nc: Any, js: Any, sub: Any, stream: StreamRecorder, settings: ScaleoutSettings
) -> None:
    pid = os.getpid()
    while True:
        with contextlib.suppress(Exception):
            info = await sub.consumer_info()
            stats = stream.recorder.stats
            status = RecorderStatus(
                pid=pid,
                recorded_seq=stream.position.recorded_seq,
                stream_seq=int((await js.stream_info(settings.stream)).state.last_seq or 0),
                pending=int(info.num_pending or 0),
                frames=stream.frames,
                frames_dropped=stats.frames_dropped,
                write_errors=stats.write_errors,
                last_error=stats.last_error,
            )
            await nc.publish(RECORDER_STATUS_SUBJECT, msgspec.json.encode(status))
        await asyncio.sleep(settings.status_every_s)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = msgspec.json.decode(args[0], type=RecordingSpec)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s recorder %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(run_recording(spec))
    except ScalperError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
