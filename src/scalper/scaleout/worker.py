"""An ingest worker process: the Bybit client for a shard of the symbols, publishing the raw
frames it receives to the JetStream stream in small batches per symbol.

Started by the supervisor (supervisor.py) as `python -m scalper.scaleout.worker SPEC_JSON`. It
holds no state worth keeping: after a crash its replacement subscribes again and the venue sends
every book's snapshot anew. Publishing is asynchronous with at most `max_pending_acks` batches
unacknowledged; a batch is in the stream once acknowledged, and frames still buffered here when
the process dies are lost as a dropped connection loses them (the snapshot heals the books).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import sys

import msgspec

from scalper.events import Event, MalformedFrame
from scalper.scaleout.stream import (
    RESYNC_SUBJECT,
    STATUS_SUBJECT,
    Frames,
    WorkerStatus,
    encode_batch,
    subject_of,
)
from scalper.settings import ConnectionSettings, FeedSettings, ScaleoutSettings
from scalper.venues.bybit.connection import BybitConnection
from scalper.venues.bybit.subscriptions import shard
from scalper.venues.bybit.topics import book_topic, topics_for

log = logging.getLogger(__name__)


class WorkerSpec(msgspec.Struct, frozen=True):
    """Everything a worker process needs, handed over on its command line as JSON."""

    index: int
    nats_url: str
    ws_url: str
    category: str
    symbols: list[str]
    feed: FeedSettings
    connection: ConnectionSettings
    scaleout: ScaleoutSettings


class BatchPublisher:
    """Collects frames per symbol and publishes them as batches (size or time, first reached)."""

    def __init__(self, js: object, spec: WorkerSpec) -> None:
        self._js = js
        self.settings = spec.scaleout
        self._subjects = {s: subject_of(spec.scaleout, spec.category, s) for s in spec.symbols}
        self._malformed_subject = subject_of(spec.scaleout, spec.category, "_malformed")
        self._pending: dict[str, Frames] = {}
        self._full = asyncio.Event()
        self.frames = 0
        self.published = 0
        self.last_seq = 0
        self.errors = 0

    def on_frame(self, raw: bytes, recv_ns: int, event: Event | None) -> None:
        """A connection's sink: control replies stay here, everything else is batched."""
        if event is None:
            return
        self.frames += 1
        symbol = event.symbol if type(event) is not MalformedFrame else None
        key = symbol if symbol in self._subjects else ""
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = []
        batch.append((recv_ns, raw))
        if len(batch) >= self.settings.batch_frames:
            self._full.set()

    async def run(self) -> None:
        """Flush every `batch_ms`, or at once when a batch is full."""
        every = self.settings.batch_ms / 1000.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), every)
            self._full.clear()
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for key, frames in pending.items():
            subject = self._subjects.get(key, self._malformed_subject)
            future = await self._js.publish_async(subject, encode_batch(frames))  # type: ignore[attr-defined]
            future.add_done_callback(self._acked)

    def _acked(self, future: asyncio.Future[object]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.errors += 1
            return
        self.published += 1
        seq = int(future.result().seq)  # type: ignore[attr-defined]
        if seq > self.last_seq:
            self.last_seq = seq


async def run_worker(spec: WorkerSpec) -> None:
    """Connect to NATS and the venue; publish until SIGTERM/SIGINT."""
    import nats

    nc = await nats.connect(
        spec.nats_url, name=f"scalper-worker-{spec.index}", max_reconnect_attempts=-1
    )
    js = nc.jetstream(publish_async_max_pending=spec.scaleout.max_pending_acks)
    publisher = BatchPublisher(js, spec)
    feed = spec.feed
    rng = random.Random(feed.seed)
    links: list[BybitConnection] = []
    owner: dict[str, BybitConnection] = {}
    for number, group in enumerate(
        shard(spec.symbols, feed.max_symbols_per_connection, depth=feed.depth)
    ):
        topics = [topic for symbol in group for topic in topics_for(symbol, feed.depth)]
        link = BybitConnection(
            f"w{spec.index}-{spec.category}-{number}",
            spec.ws_url,
            topics,
            spec.category,
            on_frame=publisher.on_frame,
            settings=spec.connection,
            rng=random.Random(rng.random()),
        )
        links.append(link)
        for symbol in group:
            owner[symbol] = link

    async def on_resync(msg: object) -> None:
        symbol = msg.subject.rsplit(".", 1)[-1]  # type: ignore[attr-defined]
        link = owner.get(symbol)
        if link is not None:
            link.request_resync(book_topic(symbol, feed.depth))

    await nc.subscribe(f"{RESYNC_SUBJECT}.*", cb=on_resync)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker %d: %d symbols on %d connections", spec.index, len(spec.symbols), len(links))
    tasks = [asyncio.create_task(link.run(), name=link.name) for link in links]
    tasks.append(asyncio.create_task(publisher.run(), name="publisher"))
    tasks.append(asyncio.create_task(_report(nc, spec, publisher, links), name="status"))
    try:
        await stop.wait()
    finally:
        for link in links:
            await link.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await publisher.flush()
            await asyncio.wait_for(js.publish_async_completed(), 5.0)
        await nc.drain()


async def _report(
    nc: object, spec: WorkerSpec, publisher: BatchPublisher, links: list[BybitConnection]
) -> None:
    pid = os.getpid()
    while True:
        states = [link.stats.state for link in links]
        status = WorkerStatus(
            index=spec.index,
            pid=pid,
            state="open" if all(s == "open" for s in states) else states[0],
            frames=publisher.frames,
            published=publisher.published,
            last_seq=publisher.last_seq,
            publish_errors=publisher.errors,
            last_frame_ns=max(link.stats.last_frame_ns for link in links),
            connects=sum(link.stats.connects for link in links),
            reconnects=sum(link.stats.reconnects for link in links),
            last_error=next((link.stats.last_error for link in links if link.stats.last_error), ""),
        )
        await nc.publish(f"{STATUS_SUBJECT}.{spec.index}", msgspec.json.encode(status))  # type: ignore[attr-defined]
        await asyncio.sleep(spec.scaleout.status_every_s)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = msgspec.json.decode(args[0], type=WorkerSpec)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s worker-{spec.index} %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(run_worker(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
