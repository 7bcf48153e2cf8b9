"""`python -m bench`: decode floors vs the engine vs the seed-style reference, on the same frames.

The synthetic market (scalper.venues.simulator.market) is generated once and held in memory as
one bytes blob plus offsets. Each implementation then runs in its own forked child process (so
its peak RSS is its own) over the same frames: a throughput pass with no per-frame timing, then
a fresh instance timing each frame with perf_counter_ns over the first `--timing-frames` frames.
Throughput passes are repeated in `--rounds` interleaved rounds and each implementation's best
counts (see run_rounds); what signals and trading add is judged round by round (the median of
each round's ratio to the row below, run just before it: `added_by_round`). Every
implementation pays the same harness cost (a slice of the blob and one call per frame); the
"harness" row shows that cost alone.

Then the recorder (bench/recording.py), the replay of a recording by the JSON frame path and by
the columnar path (bench/replay.py), the book-structure comparison (bench/book_structures.py)
and the memory check (bench/memory.py, in a fresh interpreter). Targets are printed as
PASS/FAIL; the exit status is 0 whatever they say.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import resource
import statistics
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Final

import msgspec
from rich.console import Console
from rich.table import Table

from bench import book_structures, memory, peers, recording
from bench import replay as replay_bench
from bench.isolation import rss_bytes, run_forked
from bench.machine import machine
from bench.seed_style import SeedStyleEngine
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

if TYPE_CHECKING:
    from scalper.engine import Engine
    from scalper.events import Instrument

OnFrame = Callable[[bytes, int], Any]

ENGINE_VS_DECODE_TARGET: Final = 0.30
ENGINE_VS_SEED_TARGET: Final = 4.0
SIGNALS_COST_TARGET: Final = 0.30
TRADING_COST_TARGET: Final = 0.20
"""Signals may add at most this share to the engine's per-frame cost (issue 17)."""
MB: Final = 2**20


# -- the frames --------------------------------------------------------------------------------


class Frames:
    """All frames in one bytes blob: frame i is blob[offsets[i]:offsets[i + 1]].

    One object instead of a million: reading frames in a forked child copies no pages, so the
    child's RSS growth is its own work.
    """

    def __init__(self, blob: bytes, offsets: array, recv_ns: array) -> None:
        self.blob = blob
        self.offsets = offsets
        self.recv_ns = recv_ns

    def __len__(self) -> int:
        return len(self.recv_ns)


def generate(config: MarketConfig) -> tuple[Frames, Counter[str], float]:
    """Generate the market's frames into a Frames (in this process)."""
    started = time.perf_counter()
    chunks: list[bytes] = []
    offsets = array("q", [0])
    recv = array("q")
    mix: Counter[str] = Counter()
    position = 0
    for recv_ns, raw in SyntheticMarket(config).frames():
        chunks.append(raw)
        position += len(raw)
        offsets.append(position)
        recv.append(recv_ns)
        mix[raw[10:14].decode()] += 1  # after '{"topic":"'
    blob = b"".join(chunks)
    elapsed = time.perf_counter() - started
    names = {"orde": "book", "publ": "trade", "tick": "ticker"}
    return Frames(blob, offsets, recv), Counter({names[k]: v for k, v in mix.items()}), elapsed


def _generate_child(config: MarketConfig, conn: Connection) -> None:
    frames, mix, elapsed = generate(config)
    conn.send((frames.offsets.tobytes(), frames.recv_ns.tobytes(), dict(mix), elapsed))
    conn.send_bytes(frames.blob)
    conn.close()


def generate_isolated(config: MarketConfig) -> tuple[Frames, Counter[str], float]:
    """Generate in a forked child and receive the result, so that the memory generation used
    and freed is not resident in this process (and in the benchmark children forked from it),
    where the implementations would reuse it without any RSS growth."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_generate_child, args=(config, sender))
    process.start()
    sender.close()
    offsets_bytes, recv_bytes, mix, elapsed = receiver.recv()
    blob = receiver.recv_bytes()
    process.join()
    offsets, recv = array("q"), array("q")
    offsets.frombytes(offsets_bytes)
    recv.frombytes(recv_bytes)
    return Frames(blob, offsets, recv), Counter(mix), elapsed


# -- the implementations -----------------------------------------------------------------------


def _harness() -> OnFrame:
    def nothing(raw: bytes, recv_ns: int) -> None:
        return None

    return nothing


def _decode_generic() -> OnFrame:
    decode = msgspec.json.decode

    def on_frame(raw: bytes, recv_ns: int) -> Any:
        return decode(raw)

    return on_frame


def _decode_typed() -> OnFrame:
    from scalper.venues.bybit.wire import decode_frame

    return decode_frame


def _engine() -> OnFrame:
    from scalper.engine import Engine
    from scalper.settings import EngineSettings
    from scalper.venues.bybit.frames import FrameApplier

    return FrameApplier(Engine(EngineSettings()))


def _engine_with_signals() -> OnFrame:
    from scalper.engine import Engine
    from scalper.settings import EngineSettings, SignalSettings
    from scalper.signals import SignalEngine
    from scalper.venues.bybit.frames import FrameApplier

    engine = Engine(EngineSettings())
    SignalEngine(engine, SignalSettings())
    return FrameApplier(engine)


_MARKET: list[MarketConfig] = []
"""The bench's market (set before the children fork): the trading row needs its instruments."""


def _engine_with_trading() -> OnFrame:
    """Engine + signals + the paper trader with the reference strategy, entries allowed while
    the regimes warm up (as in `make demo`), so that it places orders within the bench's
    minute of market time."""
    from scalper.venues.bybit.frames import FrameApplier

    return FrameApplier(trading_engine())


def bench_instruments() -> dict[str, Instrument]:
    """The bench market's instruments (`_MARKET`)."""
    contracts = SyntheticMarket(_MARKET[0]).instruments.values()
    return {c.symbol: c.instrument for c in contracts}


def trading_engine() -> Engine:
    """The engine of the `+trading` row, its taps added, before a feed takes its entry."""
    from scalper.engine import Engine
    from scalper.settings import EngineSettings, SignalSettings, StrategySettings, TradingSettings
    from scalper.signals import SignalEngine
    from scalper.trading.paper import PaperBroker
    from scalper.trading.strategy import ReferenceStrategy
    from scalper.trading.trader import Trader

    instruments = bench_instruments()
    strategy = StrategySettings(
        allowed_volatility=("warming_up", "low", "normal", "high"),
        allowed_volume=("warming_up", "quiet", "normal", "active", "surge"),
    )
    settings = TradingSettings(enabled=True, strategy=strategy)
    engine = Engine(EngineSettings())
    signals = SignalEngine(engine, SignalSettings())
    Trader(
        engine,
        signals,
        ReferenceStrategy(strategy),
        PaperBroker(settings.paper, instruments),
        settings,
        instruments,
        settings.paper.starting_equity,
    )
    return engine


def _seed_style() -> OnFrame:
    return SeedStyleEngine().on_frame


IMPLEMENTATIONS: Final[dict[str, tuple[str, Callable[[], OnFrame]]]] = {
    "harness": ("slice + call, no work", _harness),
    "decode A": ("msgspec.json.decode (generic)", _decode_generic),
    "decode B": ("wire.decode_frame (typed)", _decode_typed),
    "engine": ("decode + Engine.on_event", _engine),
    "engine+signals": ("the same + SignalEngine (factors, score, regimes)", _engine_with_signals),
    "+trading": ("the same + paper Trader (strategy, risk, broker)", _engine_with_trading),
    "seed-style": ("bench/seed_style.py", _seed_style),
}


def _throughput(on_frame: OnFrame, frames: Frames) -> float:
    blob, offsets, recv = frames.blob, frames.offsets, frames.recv_ns
    started = time.perf_counter()
    for i in range(len(recv)):
        on_frame(blob[offsets[i] : offsets[i + 1]], recv[i])
    return time.perf_counter() - started


def _latencies(on_frame: OnFrame, frames: Frames, count: int) -> list[int]:
    blob, offsets, recv = frames.blob, frames.offsets, frames.recv_ns
    clock = time.perf_counter_ns
    out = array("q", bytes(8 * count))
    for i in range(count):
        raw = blob[offsets[i] : offsets[i + 1]]
        recv_ns = recv[i]
        started = clock()
        on_frame(raw, recv_ns)
        out[i] = clock() - started
    return sorted(out)


def _measure_implementation(name: str, frames: Frames, timing_frames: int) -> dict[str, Any]:
    """Run one implementation: throughput pass, then a timed pass on a fresh instance."""
    rss_at_fork = rss_bytes()
    factory = IMPLEMENTATIONS[name][1]
    on_frame = factory()
    elapsed = _throughput(on_frame, frames)
    del on_frame
    gc.collect()
    latencies = _latencies(factory(), frames, min(timing_frames, len(frames)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {
        "fps": len(frames) / elapsed,
        "us": elapsed / len(frames) * 1e6,
        "p50": latencies[len(latencies) // 2] / 1000,
        "p99": latencies[int(len(latencies) * 0.99)] / 1000,
        "peak_mb": peak / MB,
        "growth_mb": max(0, peak - rss_at_fork) / MB,
    }


def _measure_throughput(name: str, frames: Frames) -> dict[str, Any]:
    """One more throughput pass of an implementation (a later round)."""
    elapsed = _throughput(IMPLEMENTATIONS[name][1](), frames)
    return {"fps": len(frames) / elapsed, "us": elapsed / len(frames) * 1e6}


def run_isolated(name: str, frames: Frames, timing_frames: int) -> dict[str, Any]:
    """One implementation in its own forked child (a failure, e.g. a missing engine, is a row)."""
    return run_forked(_measure_implementation, name, frames, timing_frames)


def run_rounds(
    frames: Frames, timing_frames: int, rounds: int, console: Console
) -> dict[str, dict[str, Any]]:
    """Every implementation, `rounds` times interleaved; frames/s is the best round's.

    On a shared machine a slow spell hits whichever implementation runs then, and the engine
    (a larger working set) suffers more than decode: interleaving and keeping each one's best
    round compares them at their best, as timeit's min does. The first round also times each
    frame (p50/p99) and records peak RSS. seed-style (over a minute a pass) runs once.
    """
    results: dict[str, dict[str, Any]] = {}
    for round_number in range(1, rounds + 1):
        for name in IMPLEMENTATIONS:
            if round_number > 1 and (name == "seed-style" or "error" in results[name]):
                continue
            console.print(f"running   {name} (round {round_number}/{rounds}) ...", style="dim")
            if round_number == 1:
                results[name] = run_isolated(name, frames, timing_frames)
                if "us" in results[name]:
                    results[name]["rounds_us"] = [results[name]["us"]]
                continue
            again = run_forked(_measure_throughput, name, frames)
            if "us" not in again:
                continue
            results[name]["rounds_us"].append(again["us"])
            if again["fps"] > results[name]["fps"]:
                results[name].update(again)
    return results


# -- reporting ---------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def _results_table(results: dict[str, dict[str, Any]], timing_frames: int, rounds: int) -> Table:
    table = Table(
        title=f"Throughput (best of {rounds} interleaved rounds; seed-style 1) and latency"
        f" (first round, over the first {timing_frames:,} frames)"
    )
    for column in ("implementation", "what", "frames/s", "µs/frame", "p50 µs", "p99 µs"):
        table.add_column(
            column, justify="left" if column in ("implementation", "what") else "right"
        )
    table.add_column("peak RSS MB", justify="right")
    table.add_column("growth MB", justify="right")
    table.add_column("µs/frame by round", justify="right")
    for name, result in results.items():
        what = IMPLEMENTATIONS[name][0]
        if "error" in result:
            table.add_row(name, what, f"[red]failed: {result['error']}[/red]", *[""] * 6)
            continue
        table.add_row(
            name,
            what,
            f"{result['fps']:,.0f}",
            f"{result['us']:.2f}",
            f"{result['p50']:.2f}",
            f"{result['p99']:.2f}",
            f"{result['peak_mb']:.0f}",
            f"{result['growth_mb']:.1f}",
            " ".join(f"{us:.2f}" for us in result.get("rounds_us", [])),
        )
    return table


def added_by_round(row: dict[str, Any], base: dict[str, Any]) -> list[float]:
    """What `row` adds to `base`'s µs/frame in each round both ran (`rounds_us`): the two run
    one after the other in a round, so a slow spell of the machine hits both alike, where
    comparing each one's best round would pair rounds minutes apart."""
    pairs = zip(row.get("rounds_us", []), base.get("rounds_us", []), strict=False)
    return [mine / theirs - 1.0 for mine, theirs in pairs]


def _ratios_table(results: dict[str, dict[str, Any]]) -> Table | None:
    engine = results.get("engine", {})
    if "fps" not in engine:
        return None
    table = Table(title="Ratios of frames/s and targets")
    for column in ("ratio", "value", "target", "verdict"):
        table.add_column(column, justify="left" if column == "ratio" else "right")
    for name, label in (("decode A", "generic decode"), ("decode B", "typed decode")):
        if "fps" in results.get(name, {}):
            ratio = engine["fps"] / results[name]["fps"]
            table.add_row(
                f"engine / {label} ({name})",
                f"{ratio:.0%}",
                f">= {ENGINE_VS_DECODE_TARGET:.0%}",
                _verdict(ratio >= ENGINE_VS_DECODE_TARGET),
            )
    for name, base, label, target in (
        ("engine+signals", "engine", "signals: added to the engine's", SIGNALS_COST_TARGET),
        ("+trading", "engine+signals", "trading: added to engine+signals'", TRADING_COST_TARGET),
    ):
        added = added_by_round(results.get(name, {}), results.get(base, {}))
        if added:
            median = statistics.median(added)
            rounds = " ".join(f"{a:+.0%}" for a in added)
            table.add_row(
                f"{label} µs/frame (median of rounds: {rounds})",
                f"{median:.0%}",
                f"<= {target:.0%}",
                _verdict(median <= target),
            )
    if "fps" in results.get("seed-style", {}):
        ratio = engine["fps"] / results["seed-style"]["fps"]
        table.add_row(
            "engine / seed-style",
            f"{ratio:.2f}x",
            f">= {ENGINE_VS_SEED_TARGET:.0f}x",
            _verdict(ratio >= ENGINE_VS_SEED_TARGET),
        )
    return table


def _structures_table(results: dict[int, dict[str, float]]) -> Table:
    table = Table(title="Book side structures: µs per update (apply + best bid/ask), best of 3")
    table.add_column("structure")
    for depth in results:
        table.add_column(f"depth {depth}", justify="right")
    for name in book_structures.STRUCTURES:
        table.add_row(name, *[f"{results[depth][name]:.2f}" for depth in results])
    return table


def _recording_table(results: dict[str, dict[str, Any]]) -> Table:
    first = next((r for r in results.values() if "frames" in r), {})
    title = "Recorder: frames to segments, read back, replayed"
    if first:
        title += (
            f"\n{first['frames']:,} frames of {first['json_bytes_per_frame']:.0f} B of JSON"
            f" ({first['span_h'] * 60:.1f} min of market); default: zstd 6, grouped by topic,"
            " book frames split"
        )
    table = Table(title=title)
    table.add_column("variant")
    for column in (
        "B/frame",
        "vs JSON",
        "segments",
        "loop µs",
        "writer µs",
        "CPU µs",
        "dropped",
        "read back",
        "read fps",
        "replay fps",
    ):
        table.add_column(column, justify="right")
    for name, r in results.items():
        if "error" in r:
            table.add_row(name, f"[red]failed: {r['error']}[/red]", *[""] * 9)
            continue
        table.add_row(
            name,
            f"{r['bytes_per_frame']:.1f}",
            f"{r['ratio']:.1%} {_verdict(r['ratio'] <= recording.RATIO_TARGET)}",
            str(r["raw_files"]),
            f"{r['loop_us']:.2f}",
            f"{r['writer_us']:.2f}",
            f"{r['cpu_us']:.2f}",
            f"{r['dropped']:,}",
            "identical" if r["identical"] else "[red]DIFFERENT[/red]",
            f"{r['read_fps']:,.0f}",
            f"{r['replay_fps']:,.0f}",
        )
    return table


def _memory_table(result: dict[str, Any]) -> Table:
    table = Table(title="Memory: engine with every 1 h candle history full (fresh interpreter)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    if "error" in result:
        table.add_row("[red]failed[/red]", " ".join(result["error"]))
        return table
    table.add_row("stream", f"{result['frames']:,} frames, {result['symbols']} symbols, 3,700 s")
    table.add_row(
        "candle series with a full history",
        f"{result['full_candle_series']} / {result['candle_series']}",
    )
    table.add_row("RSS after the imports (baseline)", f"{result['baseline_mb']:.1f} MB")
    engine_mb = result["engine_mb"]
    table.add_row(
        "RSS above baseline",
        f"{engine_mb:.1f} MB  (target <= {result['target_mb']:.0f} MB: "
        f"{_verdict(engine_mb <= result['target_mb'])})",
    )
    table.add_row("feed time", f"{result['seconds']:.1f} s")
    return table


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--timing-frames", type=int, default=200_000, help="frames timed one by one (p50/p99)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds; frames/s is each implementation's best (seed-style: 1 round)",
    )
    parser.add_argument("--no-structures", action="store_true", help="skip the book structures")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check")
    parser.add_argument("--no-recording", action="store_true", help="skip the recorder")
    parser.add_argument(
        "--no-replay", action="store_true", help="skip the data dir replay (JSON vs columns)"
    )
    parser.add_argument(
        "--no-peers", action="store_true", help="skip cryptofeed / nautilus_trader (bench/peers.py)"
    )
    parser.add_argument(
        "--peer-seconds", type=float, default=20.0, help="market seconds for the peers section"
    )
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 220)
    started = time.perf_counter()

    for key, value in machine().items():
        console.print(f"{key:9} {value}")

    config = MarketConfig(symbols=args.symbols, seconds=args.seconds, seed=args.seed)
    _MARKET.append(config)
    frames, mix, generated = generate_isolated(config)
    total = len(frames)
    shares = ", ".join(f"{kind} {count / total:.0%}" for kind, count in mix.most_common())
    console.print(
        f"market    {args.symbols} symbols x {args.seconds:g} s, seed {args.seed}: "
        f"{total:,} frames ({shares}), {len(frames.blob) / MB:.0f} MB, "
        f"generated in {generated:.1f} s ({total / generated:,.0f} frames/s)"
    )
    gc.collect()
    gc.freeze()  # children never touch the parent's objects, so their RSS growth is their own

    results = run_rounds(frames, args.timing_frames, args.rounds, console)
    console.print(_results_table(results, min(args.timing_frames, total), args.rounds))
    ratios = _ratios_table(results)
    if ratios is not None:
        console.print(ratios)
    if not args.no_recording:
        console.print("running   recorder variants ...", style="dim")
        console.print(_recording_table(recording.measure(frames)))
        console.print(
            f"raw segments per hour of receive time: {recording.files_per_hour(frames):.1f}"
            " (60,000 frames stretched over 3 h); candles and metrics add 4 each (15 min)"
        )
    if not args.no_replay:
        console.print("running   replay of a recording (bench/replay.py) ...", style="dim")
        limit = min(len(frames), recording.RECORDED_FRAMES)
        recorded = (
            (frames.recv_ns[i], frames.blob[frames.offsets[i] : frames.offsets[i + 1]])
            for i in range(limit)
        )
        results = replay_bench.measure(recorded, args.rounds, console, config)
        replay_bench.print_results(console, results)
    del frames

    if not args.no_peers:
        console.print("running   peers (bench/peers.py) ...", style="dim")
        peer_frames = peers.synthetic_frames(
            args.symbols, min(args.seconds, args.peer_seconds), args.seed
        )
        peers.print_peers(console, peers.run_peers(peer_frames), peers.DEFAULT_LEVELS)
        del peer_frames
    if not args.no_structures:
        console.print("running   book structures ...", style="dim")
        console.print(_structures_table(book_structures.measure()))
    if not args.no_memory:
        console.print("running   memory check ...", style="dim")
        console.print(_memory_table(memory.run()))
    console.print(f"total bench time {time.perf_counter() - started:.0f} s", style="dim")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
