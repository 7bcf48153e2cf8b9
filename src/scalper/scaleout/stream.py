"""The market-data stream: subjects, batches of raw frames, and the stream's and consumer's
configuration from `ScaleoutSettings`.

A message is one batch of one symbol's frames, oldest first: msgpack of `[[recv_ns, raw], ...]`,
where `raw` is the venue's frame exactly as received and `recv_ns` the worker's receive time.
The engine's wall-clock candle closes go into the stream too (`<prefix>.<category>._clock`,
msgpack `[until_ns, now_ns]`), so every consumer applies or records them at the same place
among the frames.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import msgspec

from scalper.settings import ScaleoutSettings

if TYPE_CHECKING:
    from nats.js.api import ConsumerConfig, StreamConfig

Frames = list[tuple[int, bytes]]
"""A batch: (receive time in ns, raw frame) pairs of one symbol, oldest first."""

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list[tuple[int, bytes]])
_CLOCK_DECODER = msgspec.msgpack.Decoder(tuple[int, int])

CLOCK_SUBJECT_TOKEN = "_clock"
"""Last token of the subject of the engine's wall-clock candle closes (no symbol has it)."""

STATUS_SUBJECT = "scalper.worker.status"
"""Workers publish their figures (`WorkerStatus`) here, core NATS, not stored."""
RESYNC_SUBJECT = "scalper.worker.resync"
"""The engine asks for a fresh book snapshot here: `<RESYNC_SUBJECT>.<SYMBOL>` (core NATS)."""


def encode_batch(frames: Frames) -> bytes:
    return _ENCODER.encode(frames)


def decode_batch(payload: bytes) -> Frames:
    return _DECODER.decode(payload)


def encode_clock(until_ns: int, now_ns: int) -> bytes:
    """A candle close by the wall clock: close every candle that ends by `until_ns`."""
    return _ENCODER.encode((until_ns, now_ns))


def decode_clock(payload: bytes) -> tuple[int, int]:
    """(until_ns, now_ns) of a clock message."""
    return _CLOCK_DECODER.decode(payload)


def is_clock(subject: str) -> bool:
    return subject.endswith("." + CLOCK_SUBJECT_TOKEN)


def subject_of(settings: ScaleoutSettings, category: str, symbol: str) -> str:
    """e.g. md.bybit.linear.BTCUSDT."""
    return f"{settings.subject_prefix}.{category}.{symbol}"


def stream_config(settings: ScaleoutSettings, category: str) -> StreamConfig:
    """The stream: every symbol of the category, bounded in bytes and age, on disk."""
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

    return StreamConfig(
        name=settings.stream,
        subjects=[subject_of(settings, category, ">")],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_bytes=settings.max_bytes,
        max_age=settings.max_age_s,
        discard=DiscardPolicy.OLD,
    )


def consumer_config(
    settings: ScaleoutSettings,
    category: str,
    name: str,
    symbols: list[str] | None = None,
    after_seq: int = 0,
) -> ConsumerConfig:
    """A durable pull consumer of every symbol (or of `symbols`, a shard), delivering from the
    message after `after_seq`: it acknowledges everything up to a message at once (one ack per
    fetched batch)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    config = ConsumerConfig(
        name=name,
        durable_name=name,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=after_seq + 1,
        ack_policy=AckPolicy.ALL,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.max_ack_pending,
        max_waiting=16,
    )
    if symbols is None:
        config.filter_subject = subject_of(settings, category, ">")
    else:
        config.filter_subjects = [subject_of(settings, category, s) for s in symbols]
    return config


async def resume_consumer(
    js: Any,
    settings: ScaleoutSettings,
    category: str,
    name: str,
    after_seq: int | None = None,
) -> Any:
    """The pull subscription of durable consumer `name`, delivering in stream order from the
    message after `after_seq` (default: after the consumer's acknowledged position, its ack
    floor; the stream's start if it is new).

    The consumer is created anew at that position rather than reused: a reused one would first
    deliver the messages after its last delivery and the ones a crashed process held unacked
    only when `ack_wait_s` expires, out of order."""
    import nats

    if after_seq is None:
        try:
            info = await js.consumer_info(settings.stream, name)
            after_seq = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
        except nats.js.errors.NotFoundError:
            after_seq = 0
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await js.delete_consumer(settings.stream, name)
    return await js.pull_subscribe(
        subject_of(settings, category, ">"),
        durable=name,
        stream=settings.stream,
        config=consumer_config(settings, category, name, after_seq=after_seq),
    )


class WorkerStatus(msgspec.Struct):
    """What an ingest worker reports every `status_every_s`."""

    index: int
    pid: int
    state: str
    """open when every connection of the worker is open, else the first one's state."""
    frames: int
    """Frames received from the venue since the worker started."""
    published: int
    """Batches the stream acknowledged."""
    last_seq: int
    """Stream sequence of the newest acknowledged batch."""
    publish_errors: int
    last_frame_ns: int
    connects: int
    reconnects: int
    last_error: str = ""


RECORDER_STATUS_SUBJECT = "scalper.recorder.status"
"""The recorder consumer publishes its figures (`RecorderStatus`) here, core NATS."""


class RecorderStatus(msgspec.Struct):
    """What the recorder consumer (scaleout/recording.py) reports every `status_every_s`."""

    pid: int
    recorded_seq: int
    """Stream sequence of the newest message whose frames are on disk (acknowledged after)."""
    stream_seq: int
    """The stream's newest sequence, as of the report."""
    pending: int
    """Messages in the stream not yet delivered to the recorder consumer."""
    frames: int
    """Frames this process recorded."""
    frames_dropped: int
    write_errors: int
    last_error: str = ""
