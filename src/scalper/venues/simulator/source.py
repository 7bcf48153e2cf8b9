"""Where the simulator's frames come from, and when each is due on the wall clock.

Two sources, one shape: an iterator of (due_ns, raw frame) in order, `due_ns` on the wall clock
(`time.time_ns()`), which the pump sends once due.

- The synthetic market, started at the current wall-clock millisecond and run "forever": its
  frame times are the due times, so published timestamps are wall-clock times. `rate` scales
  its event rates for load tests. Generating a frame costs ~30 us, twice what publishing it
  costs, so the market can run in a child process (`market_process_frames`) and the server
  process keeps its core for publishing and sending: 300 symbols at rate 1 need ~23k frames/s.
- A recorded frame file (lines as read by `scalper.replay.iter_frames`, which the caller opens:
  the venues layer does not import the replay module above it), replayed at the recorded pace
  divided by `speed`; the frames keep their recorded timestamps.
"""

from __future__ import annotations

import multiprocessing
import re
import signal
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Final

import msgspec

from scalper.venues.simulator.alpha import PlantedAlpha
from scalper.venues.simulator.market import Contract, MarketConfig, SyntheticMarket

LIVE_BOOK_DEPTHS: Final = frozenset({1, 50, 200, 1000})
"""Depths Bybit serves today (/docs/v5/websocket/public/orderbook); 500 was retired in 2025."""
RECORDED_BOOK_DEPTHS: Final = frozenset({*LIVE_BOOK_DEPTHS, 500})
"""Depths a recorded file may hold (Bybit's archives still have orderbook.500)."""
_FOREVER_S: Final = 10 * 365 * 86_400.0
_SYNTHETIC_BOOK_MS: Final = 20
"""orderbook.50 pushes every 20 ms (/docs/v5/websocket/public/orderbook)."""
_SYNTHETIC_TRADES_PER_S: Final = 20.0
_SYNTHETIC_TICKER_MS: Final = 150
_PROCESS_BATCH: Final = 512
"""Frames per message from the market process. The pipe between the processes is bounded (a
socket pair: a few hundred kB), so the child generates at most that far ahead."""
_NOT_READY_NS: Final = 2_000_000
"""When the market process is behind, the pump asks again after this long."""
_TS_FIELD: Final = re.compile(rb'"ts"\s*:\s*(\d{1,16})')


class Catalog:
    """What a source offers: its instruments (None: unknown up front, any symbol may appear)
    and the book depths it publishes."""

    def __init__(self, instruments: dict[str, Contract] | None, depths: frozenset[int]) -> None:
        self.instruments = instruments
        self.depths = depths

    def knows(self, symbol: str) -> bool:
        return self.instruments is None or symbol in self.instruments


def synthetic_market(
    symbols: int,
    seed: int,
    rate: float,
    depth: int,
    start_ms: int | None = None,
    alpha: PlantedAlpha | None = None,
) -> SyntheticMarket:
    """A synthetic market starting now on the wall clock; `rate` (>= 1) multiplies its event
    rates: books every max(1, 20 // rate) ms, trades x rate, tickers every 150 / rate ms.
    `alpha`: a planted alpha or null market (alpha.py)."""
    if rate < 1.0:
        raise ValueError(f"rate must be at least 1, not {rate}")
    return SyntheticMarket(
        MarketConfig(
            symbols=symbols,
            seconds=_FOREVER_S,
            seed=seed,
            depth=depth,
            start_ms=time.time_ns() // 1_000_000 if start_ms is None else start_ms,
            book_interval_ms=max(1, int(_SYNTHETIC_BOOK_MS // rate)),
            trade_messages_per_s=_SYNTHETIC_TRADES_PER_S * rate,
            ticker_interval_ms=max(1, int(_SYNTHETIC_TICKER_MS / rate)),
            alpha=alpha,
        )
    )


def synthetic_catalog(market: SyntheticMarket) -> Catalog:
    return Catalog(market.instruments, frozenset({market.config.depth}))


def synthetic_frames(market: SyntheticMarket) -> Iterator[tuple[int, bytes]]:
    """(due_ns, frame): the market's receive times are already wall-clock times."""
    return market.frames()


def market_process_frames(config: MarketConfig) -> Iterator[tuple[int, bytes]]:
    """The frames of `SyntheticMarket(config)`, generated in a child process.

    While the child is behind, yields (now + 2 ms, b"") — an empty frame that means "nothing
    ready yet", so the caller never blocks on the pipe. Closing the iterator ends the child.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_generate, args=(config, sender), name="scalper-market", daemon=True
    )
    process.start()
    sender.close()
    decode = msgspec.msgpack.Decoder(list[tuple[int, bytes]]).decode
    try:
        while True:
            if not receiver.poll():
                yield time.time_ns() + _NOT_READY_NS, b""
                continue
            try:
                batch = receiver.recv_bytes()
            except EOFError:  # the child finished the market (or died)
                return
            yield from decode(batch)
    finally:
        receiver.close()
        process.terminate()
        process.join(timeout=5)
        process.close()


def _generate(config: MarketConfig, sender: Connection) -> None:
    """Child process body: generate the market, send it in batches until done or unwanted."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    encode = msgspec.msgpack.encode
    batch: list[tuple[int, bytes]] = []
    try:
        for item in SyntheticMarket(config).frames():
            batch.append(item)
            if len(batch) >= _PROCESS_BATCH:
                sender.send_bytes(encode(batch))
                batch = []
        if batch:
            sender.send_bytes(encode(batch))
    except OSError:  # the parent closed its end: it no longer wants frames
        pass
    finally:
        sender.close()


def replay_frames(
    frames: Iterable[tuple[int, bytes]], speed: float, start_ns: int
) -> Iterator[tuple[int, bytes]]:
    """(due_ns, frame) of recorded frames: the first is due at `start_ns`, the others at their
    recorded distance from it divided by `speed`.

    A frame's recorded time is its receive time, or its `ts` field where the file has no
    receive times; a frame with neither keeps the time of the frame before it.
    """
    if speed <= 0.0:
        raise ValueError(f"speed must be positive, not {speed}")
    origin: int | None = None
    last = 0
    due = start_ns
    for recv_ns, raw in frames:
        stamp = recv_ns or _ts_ns(raw) or last
        last = stamp
        if origin is None:
            origin = stamp
        due = max(due, start_ns + int((stamp - origin) / speed))
        yield due, raw


def _ts_ns(raw: bytes) -> int:
    match = _TS_FIELD.search(raw)
    return int(match.group(1)) * 1_000_000 if match is not None else 0
