"""`python -m bench.peers`: the same raw Bybit frames through scalper, cryptofeed and nautilus.

Frames come from the synthetic market (`--symbols N --seconds S`) or a recorded frame file
(`--file PATH`) and are held in memory as one bytes blob. Each row runs in its own forked child
(so its peak RSS is its own: `ru_maxrss` in the child), timed with perf_counter around the
whole loop, then sends back the top `--levels` levels a side of every book, as floats, for the
equality check against the scalper engine (and the engine against the simulator's true books).

Pairs, each peer against the scalper row that does the same work:

- `scalper engine` (decode + Engine.on_event: books with `u` continuity and crossed checks, trade
  flow, candles, OFI, tickers) vs `cryptofeed`: `Bybit.message_handler` awaited per frame as its
  connection handler does, with a stand-in connection, no-op async callbacks, the symbol table
  filled locally (its own `_parse_symbol_data` on an instruments-info page made here) and L2
  books with `max_depth` = the topic's depth. Both take every frame (book, trade, ticker).
- `scalper book path` (wire.decode_frame + OrderBook.apply) vs `nautilus adapter path`: its Bybit
  adapter's msgspec order-book decoder, `parse_to_deltas` and `OrderBook.apply_deltas` (L2_MBP),
  all in the timed loop: what its data client does per book frame, minus the second decode it
  uses to route by topic and its message bus. Book frames only.
- `scalper book apply` (OrderBook.apply) vs `nautilus book apply` (OrderBook.apply_deltas): our
  decoded BookUpdates, converted to nautilus OrderBookDeltas for the nautilus row, both built
  before the timed loop: the book structures alone. Book frames only; their RSS includes the
  pre-built inputs.

Peak RSS is the child's `ru_maxrss`: the frames and interpreter all children share, plus its own
growth, of which the RSS its imports took is shown apart (nautilus_trader pulls numpy, pandas
and pyarrow in).

A peer that is not installed is skipped with a message; the exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import importlib.util
import multiprocessing
import os
import platform
import re
import resource
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

import msgspec
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.isolation import rss_bytes, run_forked
from scalper.events import BookUpdate, Level
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

MB: Final = 2**20
DEFAULT_LEVELS: Final = 50
INSTALL_HINT: Final = "pip install '.[bench]'"
_BOOK_TOPIC: Final = re.compile(rb'"topic":"orderbook\.(\d+)\.')

Books = dict[str, tuple[list[Level], list[Level]]]
"""Top levels a side per symbol: (bids best first, asks best first) as (price, size) floats."""


# -- the frames --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameSet:
    """Raw frames in one blob (frame i is blob[offsets[i]:offsets[i + 1]]) and what they hold.

    One object instead of a million, so a forked child reading them copies no pages.
    """

    blob: bytes
    offsets: array
    recv_ns: array
    book_index: array
    """Indices of the book frames."""
    mix: Counter[str]
    """Frames by kind: book, trade, ticker, other."""
    precisions: dict[str, tuple[int, int]]
    """(price decimals, size decimals) per symbol (nautilus needs them for Price/Quantity)."""
    depth: int
    """Depth of the book topic (orderbook.{depth}.{symbol})."""
    source: str
    truth: Books | None = None
    """The simulator's true books, top levels (synthetic frames only)."""

    def __len__(self) -> int:
        return len(self.recv_ns)


_KINDS: Final = (
    (b'"topic":"orderbook.', "book"),
    (b'"topic":"publicTrade.', "trade"),
    (b'"topic":"tickers.', "ticker"),
)


def _kind(raw: bytes) -> str:
    head = raw[:40]  # the topic is the first key of Bybit's frames (and of the simulator's)
    return next((kind for prefix, kind in _KINDS if prefix in head), "other")


def _pack(
    frames: list[tuple[int, bytes]],
) -> tuple[bytes, array, array, array, Counter[str], int]:
    offsets, recv, book_index = array("q", [0]), array("q"), array("q")
    mix: Counter[str] = Counter()
    depth = 0
    position = 0
    for i, (recv_ns, raw) in enumerate(frames):
        position += len(raw)
        offsets.append(position)
        recv.append(recv_ns)
        kind = _kind(raw)
        mix[kind] += 1
        if kind == "book":
            book_index.append(i)
            if not depth and (match := _BOOK_TOPIC.search(raw[:40])):
                depth = int(match.group(1))
    blob = b"".join(raw for _, raw in frames)
    return blob, offsets, recv, book_index, mix, depth


def _decimals(text: str) -> int:
    return len(text) - text.index(".") - 1 if "." in text else 0


def _synthetic_child(config: MarketConfig, levels: int, conn: Connection) -> None:
    market = SyntheticMarket(config)
    blob, offsets, recv, book_index, mix, depth = _pack(list(market.frames()))
    precisions = {
        name: (inst.price_decimals, max(0, -inst.qty_exponent))
        for name, inst in market.instruments.items()
    }
    truth = {}
    for name in market.symbols:
        bids, asks = market.true_book(name)
        truth[name] = (bids[:levels], asks[:levels])
    conn.send((offsets, recv, book_index, mix, precisions, depth, truth))
    conn.send_bytes(blob)
    conn.close()


def synthetic_frames(
    symbols: int, seconds: float, seed: int = 1, levels: int = DEFAULT_LEVELS
) -> FrameSet:
    """The synthetic market's frames, generated in a forked child so that the memory generation
    used is not resident here (nor in the children forked from here)."""
    config = MarketConfig(symbols=symbols, seconds=seconds, seed=seed)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_synthetic_child, args=(config, levels, sender))
    process.start()
    sender.close()
    offsets, recv, book_index, mix, precisions, depth, truth = receiver.recv()
    blob = receiver.recv_bytes()
    process.join()
    source = f"synthetic market: {symbols} symbols x {seconds:g} s, seed {seed}"
    return FrameSet(blob, offsets, recv, book_index, mix, precisions, depth, source, truth)


class _BookSides(msgspec.Struct):
    s: str
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class _BookMessage(msgspec.Struct):
    data: _BookSides


def file_frames(path: Path) -> FrameSet:
    """The frames of a recorded frame file (scalper.replay's format); precisions are the most
    decimals seen per symbol in its book frames."""
    from scalper.replay import iter_frames

    frames = list(iter_frames(path))
    blob, offsets, recv, book_index, mix, depth = _pack(frames)
    decoder = msgspec.json.Decoder(_BookMessage)
    precisions: dict[str, tuple[int, int]] = {}
    for i in book_index:
        data = decoder.decode(frames[i][1]).data
        price, size = precisions.get(data.s, (0, 0))
        for p, q in (*data.b, *data.a):
            price, size = max(price, _decimals(p)), max(size, _decimals(q))
        precisions[data.s] = (price, size)
    return FrameSet(blob, offsets, recv, book_index, mix, precisions, depth, f"file {path}")


# -- the implementations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """What one implementation did in its child."""

    elapsed_s: float
    frames: int
    books: Books
    version: str


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _scalper_engine(frames: FrameSet, levels: int) -> Measured:
    from scalper.engine import Engine
    from scalper.venues.bybit.frames import FrameApplier

    engine = Engine()
    on_frame = FrameApplier(engine)
    blob, offsets, recv = frames.blob, frames.offsets, frames.recv_ns
    started = time.perf_counter()
    for i in range(len(recv)):
        on_frame(blob[offsets[i] : offsets[i + 1]], recv[i])
    elapsed = time.perf_counter() - started
    books: Books = {}
    for name, state in engine.symbols.items():
        if state.book is not None:
            books[name] = (state.book.bids.top(levels), state.book.asks.top(levels))
    return Measured(elapsed, len(recv), books, _package_version("scalper"))


def _scalper_book_path(frames: FrameSet, levels: int) -> Measured:
    from scalper.book import OrderBook
    from scalper.venues.bybit.wire import decode_frame

    books: dict[str, OrderBook] = {}
    blob, offsets, recv = frames.blob, frames.offsets, frames.recv_ns
    started = time.perf_counter()
    for i in frames.book_index:
        update = decode_frame(blob[offsets[i] : offsets[i + 1]], recv[i])
        book = books.get(update.symbol)  # type: ignore[union-attr]
        if book is None:
            book = books[update.symbol] = OrderBook(update.symbol, update.depth)  # type: ignore[union-attr]
        book.apply(update)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    top = {name: (book.bids.top(levels), book.asks.top(levels)) for name, book in books.items()}
    return Measured(elapsed, len(frames.book_index), top, _package_version("scalper"))


def _decoded_book_updates(frames: FrameSet) -> list[BookUpdate]:
    from scalper.venues.bybit.wire import decode_frame

    blob, offsets, recv = frames.blob, frames.offsets, frames.recv_ns
    updates = [decode_frame(blob[offsets[i] : offsets[i + 1]], recv[i]) for i in frames.book_index]
    bad = [u for u in updates if type(u) is not BookUpdate]
    if bad:
        raise ValueError(f"{len(bad)} book frames did not decode, e.g. {bad[0]!r:.200}")
    return updates  # type: ignore[return-value]


def _scalper_book_apply(frames: FrameSet, levels: int) -> Measured:
    from scalper.book import OrderBook

    updates = _decoded_book_updates(frames)
    books: dict[str, OrderBook] = {}
    for update in updates:
        if update.symbol not in books:
            books[update.symbol] = OrderBook(update.symbol, update.depth)
    work = [(books[update.symbol].apply, update) for update in updates]
    started = time.perf_counter()
    for apply, update in work:
        apply(update)
    elapsed = time.perf_counter() - started
    top = {name: (book.bids.top(levels), book.asks.top(levels)) for name, book in books.items()}
    return Measured(elapsed, len(work), top, _package_version("scalper"))


class _StandInConnection:
    """What cryptofeed's Bybit handler reads from its connection: address, uuid, subscription."""

    def __init__(self, subscription: dict[str, Any]) -> None:
        self.address = "wss://stream.bybit.com/v5/public/linear"
        self.uuid = "bench-peers"
        self.subscription = subscription


async def _ignore(obj: object, receipt_timestamp: float) -> None:
    """A no-op cryptofeed callback."""


def _cryptofeed(frames: FrameSet, levels: int) -> Measured:
    from cryptofeed.defines import BYBIT, L2_BOOK, TICKER, TRADES
    from cryptofeed.exchanges import Bybit
    from cryptofeed.symbols import Symbols

    # The symbol table, without the network: Bybit's own parser on an instruments-info page.
    listing = [_instrument(name, price) for name, (price, _) in frames.precisions.items()]
    symbols, info = Bybit._parse_symbol_data([{"result": {"list": listing}}])
    Symbols.set(BYBIT, symbols, info)
    feed = Bybit(
        symbols=list(symbols),
        channels=[L2_BOOK, TRADES, TICKER],
        callbacks={L2_BOOK: _ignore, TRADES: _ignore, TICKER: _ignore},
        max_depth=frames.depth,
    )
    feed.tickers = {}  # a class attribute in cryptofeed 2.4: keep this feed's to itself
    conn = _StandInConnection(feed.subscription)
    handler = feed.message_handler
    blob, offsets, recv = frames.blob, frames.offsets, frames.recv_ns

    async def feed_all() -> float:
        started = time.perf_counter()
        for i in range(len(recv)):
            await handler(blob[offsets[i] : offsets[i + 1]], conn, recv[i] / 1e9)
        return time.perf_counter() - started

    elapsed = asyncio.run(feed_all())
    books: Books = {}
    for std, book in feed._l2_book.items():
        sides = book.book
        books[feed.std_symbol_to_exchange_symbol(std)] = (
            [(float(p), float(q)) for p, q in list(sides.bids.to_dict().items())[:levels]],
            [(float(p), float(q)) for p, q in list(sides.asks.to_dict().items())[:levels]],
        )
    return Measured(elapsed, len(recv), books, _package_version("cryptofeed"))


def _instrument(symbol: str, price_decimals: int) -> dict[str, Any]:
    """An instruments-info entry of a USDT (or USDC) linear perpetual, as Bybit's REST gives it."""
    quote = next((q for q in ("USDT", "USDC") if symbol.endswith(q)), None)
    if quote is None:
        raise ValueError(f"{symbol}: only USDT/USDC linear perpetuals are mapped for cryptofeed")
    tick = f"{10**-price_decimals:.{price_decimals}f}"
    return {
        "symbol": symbol,
        "contractType": "LinearPerpetual",
        "baseCoin": symbol[: -len(quote)],
        "quoteCoin": quote,
        "priceFilter": {"tickSize": tick},
    }


def _nautilus_books(books: dict[str, Any], levels: int) -> Books:
    def side(book_levels: list[Any]) -> list[Level]:
        return [
            (
                float(level.price.as_decimal()),
                float(sum(order.size.as_decimal() for order in level.orders())),
            )
            for level in book_levels[:levels]
        ]

    return {name: (side(book.bids()), side(book.asks())) for name, book in books.items()}


def _nautilus_adapter_path(frames: FrameSet, levels: int) -> Measured:
    from nautilus_trader.adapters.bybit.schemas.ws import decoder_ws_orderbook
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.enums import BookType
    from nautilus_trader.model.identifiers import InstrumentId

    decoder = decoder_ws_orderbook()
    targets = {}
    for name, (price_decimals, size_decimals) in frames.precisions.items():
        instrument_id = InstrumentId.from_str(f"{name}-LINEAR.BYBIT")
        book = OrderBook(instrument_id, BookType.L2_MBP)
        targets[name] = (instrument_id, price_decimals, size_decimals, book.apply_deltas, book)
    blob, offsets, recv = frames.blob, frames.offsets, frames.recv_ns
    started = time.perf_counter()
    for i in frames.book_index:
        msg = decoder.decode(blob[offsets[i] : offsets[i + 1]])
        data = msg.data
        instrument_id, price_decimals, size_decimals, apply, _ = targets[data.s]
        ts_event = msg.ts * 1_000_000
        apply(
            data.parse_to_deltas(
                instrument_id,
                price_decimals,
                size_decimals,
                ts_event,
                recv[i],
                snapshot=msg.type == "snapshot",
            )
        )
    elapsed = time.perf_counter() - started
    books = _nautilus_books({name: target[4] for name, target in targets.items()}, levels)
    return Measured(elapsed, len(frames.book_index), books, _package_version("nautilus_trader"))


def _nautilus_book_apply(frames: FrameSet, levels: int) -> Measured:
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.data import BookOrder, OrderBookDelta, OrderBookDeltas
    from nautilus_trader.model.enums import BookAction, BookType, OrderSide, RecordFlag
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Price, Quantity

    books: dict[str, Any] = {}
    ids: dict[str, Any] = {}
    for name in frames.precisions:
        ids[name] = InstrumentId.from_str(f"{name}-LINEAR.BYBIT")
        books[name] = OrderBook(ids[name], BookType.L2_MBP)

    def convert(update: BookUpdate) -> Any:
        """Our BookUpdate as nautilus deltas, as its Bybit adapter builds them (parse_to_deltas):
        a snapshot is CLEAR + ADDs, size 0 is DELETE, else UPDATE; F_LAST on the last one."""
        instrument_id = ids[update.symbol]
        price_decimals, size_decimals = frames.precisions[update.symbol]
        ts_event, ts_init, seq = update.ts_event_ns, update.recv_ns, update.seq
        deltas = []
        if update.is_snapshot:
            deltas.append(OrderBookDelta.clear(instrument_id, 0, ts_event, ts_init))
        upsert = BookAction.ADD if update.is_snapshot else BookAction.UPDATE
        levels_ = [(OrderSide.BUY, *level) for level in update.bids]
        levels_ += [(OrderSide.SELL, *level) for level in update.asks]
        last = len(levels_) - 1
        for n, (side, price, size) in enumerate(levels_):
            order = BookOrder(side, Price(price, price_decimals), Quantity(size, size_decimals), 0)
            action = BookAction.DELETE if size == 0.0 else upsert
            flags = RecordFlag.F_LAST if n == last else 0
            deltas.append(
                OrderBookDelta(instrument_id, action, order, flags, seq, ts_event, ts_init)
            )
        return OrderBookDeltas(instrument_id, deltas)

    work = [(books[u.symbol].apply_deltas, convert(u)) for u in _decoded_book_updates(frames)]
    started = time.perf_counter()
    for apply, deltas in work:
        apply(deltas)
    elapsed = time.perf_counter() - started
    return Measured(
        elapsed, len(work), _nautilus_books(books, levels), _package_version("nautilus_trader")
    )


@dataclass(frozen=True)
class Implementation:
    """One row: what it runs, on which frames, and the scalper row it is compared with."""

    name: str
    what: str
    package: str | None
    """The peer package it needs (None for scalper's own rows)."""
    modules: tuple[str, ...]
    """Imported first in the child, so that the RSS of imports is reported apart."""
    consumes: str
    """'all' frames or 'book' frames."""
    baseline: str | None
    run: Callable[[FrameSet, int], Measured]


IMPLEMENTATIONS: Final = (
    Implementation(
        "scalper engine",
        "decode + Engine.on_event: books, flow, candles, OFI, tickers",
        None,
        ("scalper.engine",),
        "all",
        None,
        _scalper_engine,
    ),
    Implementation(
        "cryptofeed",
        "Bybit.message_handler: Decimal JSON, L2 books, Trade/Ticker objects",
        "cryptofeed",
        ("cryptofeed.exchanges",),
        "all",
        "scalper engine",
        _cryptofeed,
    ),
    Implementation(
        "scalper book path",
        "wire.decode_frame + OrderBook.apply",
        None,
        ("scalper.book", "scalper.venues.bybit.wire"),
        "book",
        None,
        _scalper_book_path,
    ),
    Implementation(
        "nautilus adapter path",
        "Bybit adapter decoder + parse_to_deltas + OrderBook.apply_deltas",
        "nautilus_trader",
        ("nautilus_trader.adapters.bybit.schemas.ws", "nautilus_trader.model.book"),
        "book",
        "scalper book path",
        _nautilus_adapter_path,
    ),
    Implementation(
        "scalper book apply",
        "OrderBook.apply on pre-decoded BookUpdates",
        None,
        ("scalper.book", "scalper.venues.bybit.wire"),
        "book",
        None,
        _scalper_book_apply,
    ),
    Implementation(
        "nautilus book apply",
        "OrderBook.apply_deltas on our BookUpdates pre-converted",
        "nautilus_trader",
        ("nautilus_trader.model.book", "nautilus_trader.model.data"),
        "book",
        "scalper book apply",
        _nautilus_book_apply,
    ),
)


# -- running -----------------------------------------------------------------------------------


@dataclass
class PeerRow:
    """One line of the result. Figures are None when the row was skipped or failed (see note)."""

    implementation: str
    what: str
    version: str = "-"
    consumed: str = ""
    frames: int = 0
    frames_per_s: float | None = None
    us_per_frame: float | None = None
    baseline: str | None = None
    ratio_to_scalper: float | None = None
    """frames/s of this row / frames/s of its baseline scalper row (same run)."""
    peak_rss_mb: float | None = None
    """ru_maxrss of the child: the frames and interpreter shared with the others, plus its own."""
    rss_growth_mb: float | None = None
    """Peak RSS above the RSS at fork: its own imports, state and pre-built inputs."""
    imports_mb: float | None = None
    """The part of the growth that importing its modules took."""
    books_equal: bool | None = None
    note: str = ""


def _measure_peer(impl: Implementation, frames: FrameSet, levels: int) -> dict[str, Any]:
    rss_at_fork = rss_bytes()
    for module in impl.modules:
        importlib.import_module(module)
    imports = rss_bytes() - rss_at_fork
    measured = impl.run(frames, levels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    growth = max(0, peak - rss_at_fork)
    return {"measured": measured, "peak": peak, "growth": growth, "imports": imports}


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def differing_symbols(books: Books, reference: Books) -> int:
    """How many symbols' top levels differ (a symbol missing on either side counts)."""
    return sum(books.get(name) != reference.get(name) for name in books.keys() | reference.keys())


def run_peers(
    frames: FrameSet,
    levels: int = DEFAULT_LEVELS,
    progress: Callable[[str], None] | None = None,
) -> list[PeerRow]:
    """Run every implementation whose package is installed, each in a forked child, and compare
    its books with the scalper engine's (the engine's with the simulator's true books)."""
    wanted = {
        impl.baseline for impl in IMPLEMENTATIONS if impl.package and _installed(impl.package)
    }
    rows: list[PeerRow] = []
    measured: dict[str, Measured] = {}
    gc.collect()
    gc.freeze()  # children never touch the parent's objects, so their RSS growth is their own
    try:
        for impl in IMPLEMENTATIONS:
            row = PeerRow(impl.name, impl.what, baseline=impl.baseline)
            rows.append(row)
            if impl.package and not _installed(impl.package):
                row.note = f"skipped: {impl.package} not installed ({INSTALL_HINT})"
                continue
            if impl.package is None and impl.name != "scalper engine" and impl.name not in wanted:
                row.note = "skipped: no peer installed to compare with"
                continue
            if progress is not None:
                progress(f"running   {impl.name} ...")
            result = run_forked(_measure_peer, impl, frames, levels)
            if "error" in result:
                row.note = f"failed: {result['error']}"
                continue
            done: Measured = result["measured"]
            measured[impl.name] = done
            row.version = done.version
            row.consumed = f"{impl.consumes} frames"
            row.frames = done.frames
            row.frames_per_s = done.frames / done.elapsed_s
            row.us_per_frame = done.elapsed_s / done.frames * 1e6
            row.peak_rss_mb = result["peak"] / MB
            row.rss_growth_mb = result["growth"] / MB
            row.imports_mb = result["imports"] / MB
    finally:
        gc.unfreeze()
    _compare(rows, measured, frames)
    return rows


def _compare(rows: list[PeerRow], measured: dict[str, Measured], frames: FrameSet) -> None:
    """Fill ratios and the books-equal verdicts (against the scalper engine's books)."""
    engine = measured.get("scalper engine")
    fps = {row.implementation: row.frames_per_s for row in rows}
    for row in rows:
        done = measured.get(row.implementation)
        if done is None:
            continue
        base = fps.get(row.baseline) if row.baseline else None
        if base and row.frames_per_s:
            row.ratio_to_scalper = row.frames_per_s / base
        against, label = (engine.books if engine else None), "scalper engine"
        if row.implementation == "scalper engine":
            against, label = frames.truth, "simulator truth"
        if against is None:
            row.note = "the reference books"
            continue
        differ = differing_symbols(done.books, against)
        symbols = len(done.books.keys() | against.keys())
        compared = sum(len(bids) + len(asks) for bids, asks in against.values())
        row.books_equal = differ == 0 and compared > 0
        row.note = (
            f"= {label} ({symbols} symbol{'s' * (symbols != 1)}, {compared:,} levels)"
            if row.books_equal
            else f"{differ} of {symbols} symbols differ from {label}"
        )


# -- reporting ---------------------------------------------------------------------------------


def peers_table(rows: list[PeerRow], levels: int) -> Table:
    """The rows as a rich table."""
    table = Table(
        title=f"Peers on the same frames (books: top {levels} levels a side of every symbol)",
        caption="ratio: frames/s of the row / frames/s of the scalper row in 'vs', same run. "
        "growth: peak RSS above the RSS at fork (frames and interpreter are shared).",
    )
    headers = ("implementation", "version", "consumes", "frames", "frames/s", "µs/frame", "vs")
    headers += ("ratio", "peak RSS MB", "growth MB", "imports MB", "books equal", "note")
    for header in headers:
        left = header in ("implementation", "version", "consumes", "vs", "books equal", "note")
        table.add_column(header, justify="left" if left else "right")
    for row in rows:
        if row.frames_per_s is None:
            table.add_row(row.implementation, row.version, *[""] * 10, escape(row.note))
            continue
        table.add_row(
            row.implementation,
            row.version,
            row.consumed,
            f"{row.frames:,}",
            f"{row.frames_per_s:,.0f}",
            f"{row.us_per_frame:.2f}",
            row.baseline or "",
            f"{row.ratio_to_scalper:.2f}x" if row.ratio_to_scalper is not None else "",
            f"{row.peak_rss_mb:.0f}",
            f"{row.rss_growth_mb:.1f}",
            f"{row.imports_mb:.1f}",
            {True: "[green]yes[/green]", False: "[red]NO[/red]", None: "-"}[row.books_equal],
            escape(row.note),
        )
    return table


def print_peers(console: Console, rows: list[PeerRow], levels: int) -> None:
    """The table, what each row runs, then one line per skipped or failed row."""
    console.print(peers_table(rows, levels))
    for row in rows:
        console.print(f"  {row.implementation:22} {row.what}", style="dim", markup=False)
    for row in rows:
        if row.frames_per_s is None:
            console.print(f"{row.implementation}: {row.note}", markup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--file", type=Path, help="a recorded frame file instead of the market")
    source.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=15.0, help="market time (synthetic)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--levels", type=int, default=DEFAULT_LEVELS, help="levels compared")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 220)
    console.print(
        f"python    {platform.python_implementation()} {platform.python_version()}, "
        f"msgspec {msgspec.__version__}, {os.cpu_count()} logical cpus"
    )
    started = time.perf_counter()
    if args.file is not None:
        frames = file_frames(args.file)
    else:
        frames = synthetic_frames(args.symbols, args.seconds, args.seed, args.levels)
    shares = ", ".join(f"{kind} {count:,}" for kind, count in frames.mix.most_common())
    console.print(
        f"frames    {frames.source}: {len(frames):,} frames ({shares}), "
        f"{len(frames.blob) / MB:.0f} MB, book depth {frames.depth}, "
        f"loaded in {time.perf_counter() - started:.1f} s"
    )
    rows = run_peers(frames, args.levels, lambda text: console.print(text, style="dim"))
    print_peers(console, rows, args.levels)
    console.print(f"total peers time {time.perf_counter() - started:.0f} s", style="dim")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
