"""A consumer whose durable state is its journal: every batch it applies is appended (stream
sequence + payload) before it is acknowledged, so after a crash, even kill -9, it rebuilds its
engine from the journal and resumes the durable consumer, in stream order, after the last
journaled message (at or past its acknowledged position: a batch journaled whose ack died with
the process is not delivered again; one delivered twice anyway is recognised by its sequence and
skipped). No stored frame is lost and none is applied twice.

The journal is length-prefixed records, `<u32 length><msgpack [seq, payload]>`; a record torn by
a crash mid-write is cut off on the next start. Run as
`python -m scalper.scaleout.journal URL DURABLE JOURNAL FRAMES OUT_JSON [FETCH_BATCH]` (the
tests do): consume until FRAMES frames are applied, then write each book's top 50 levels to
OUT_JSON.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from pathlib import Path
from typing import BinaryIO

import msgspec

from scalper.engine import Engine
from scalper.scaleout.stream import decode_batch, resume_consumer
from scalper.settings import ScaleoutSettings
from scalper.venues.bybit.frames import FrameApplier

_LENGTH = struct.Struct("<I")
_RECORD = msgspec.msgpack.Decoder(tuple[int, bytes])
_ENCODER = msgspec.msgpack.Encoder()


class JournalConsumer:
    """An engine fed by a durable consumer, its applied batches journaled before each ack."""

    def __init__(self, path: Path, engine: Engine | None = None) -> None:
        self.path = path
        self.applier = FrameApplier(engine or Engine())
        self.last_seq = 0
        self.frames = 0
        self.skipped = 0
        """Messages delivered again after they were journaled (not applied again)."""
        self._file = self._recover()

    def _recover(self) -> BinaryIO:
        """Apply every whole record of the journal, cut a torn tail, open it for appending."""
        data = self.path.read_bytes() if self.path.exists() else b""
        offset = 0
        while offset + _LENGTH.size <= len(data):
            (length,) = _LENGTH.unpack_from(data, offset)
            end = offset + _LENGTH.size + length
            if end > len(data):
                break
            seq, payload = _RECORD.decode(data[offset + _LENGTH.size : end])
            self._apply(payload)
            self.last_seq = seq
            offset = end
        handle = self.path.open("ab")
        handle.truncate(offset)
        return handle

    def _apply(self, payload: bytes) -> None:
        for recv_ns, raw in decode_batch(payload):
            self.applier(raw, recv_ns)
            self.frames += 1

    def on_message(self, seq: int, payload: bytes) -> None:
        if seq <= self.last_seq:
            self.skipped += 1
            return
        record = _ENCODER.encode((seq, payload))
        self._file.write(_LENGTH.pack(len(record)) + record)
        self._apply(payload)
        self.last_seq = seq

    def sync(self) -> None:
        """Hand the journal to the OS (survives the process) before an ack."""
        self._file.flush()

    def close(self) -> None:
        self._file.close()


async def consume(
    url: str,
    settings: ScaleoutSettings,
    category: str,
    durable: str,
    journal: JournalConsumer,
    frames: int,
) -> None:
    """Pull until `frames` frames are applied; journal, then ack, every pulled batch."""
    import nats

    nc = await nats.connect(url)
    sub = await resume_consumer(nc.jetstream(), settings, category, durable, journal.last_seq)
    while journal.frames < frames:
        try:
            messages = await sub.fetch(settings.fetch_batch, timeout=0.5)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        for message in messages:
            journal.on_message(message.metadata.sequence.stream, message.data)
        if messages:
            journal.sync()
            await messages[-1].ack_sync()
    await nc.close()


def book_tops(engine: Engine, levels: int = 50) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for symbol, state in sorted(engine.symbols.items()):
        book = state.book
        if book is not None:
            out[symbol] = [book.update_id, book.bids.top(levels), book.asks.top(levels)]
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    url, durable, path, frames, out = args[:5]
    settings = ScaleoutSettings(fetch_batch=int(args[5]) if len(args) > 5 else 256)
    journal = JournalConsumer(Path(path))
    asyncio.run(consume(url, settings, "linear", durable, journal, int(frames)))
    journal.close()
    result = {"frames": journal.frames, "skipped": journal.skipped, "last_seq": journal.last_seq}
    result["books"] = book_tops(journal.applier.engine)  # type: ignore[assignment]
    Path(out).write_bytes(msgspec.json.encode(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
