"""Command line: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table

from scalper.app import (
    LiveOptions,
    PacedReplay,
    replay_paced,
    run_live,
    serve_simulator_until_stopped,
)
from scalper.config import EngineConfig, parse_size, parse_time_ns
from scalper.engine import Engine
from scalper.errors import ConfigError, ScalperError
from scalper.logs import configure_logging
from scalper.replay import replay_file, replay_recording
from scalper.storage.reader import recorded_rows
from scalper.storage.recorder import RecorderSettings
from scalper.summary import summary_table
from scalper.venues.simulator.faults import parse_fault_spec
from scalper.venues.simulator.server import ExchangeSimulator, SimulatorConfig, serve_simulator
from scalper.views import engine_view

_TABLE_WIDTH = 200
"""Fixed width when stdout is not a terminal, so the same replay prints the same bytes."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scalper", description="Real-time market-microstructure engine for Bybit v5."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    replay = commands.add_parser(
        "replay", help="replay a recording (data dir) or a file of raw frames through the engine"
    )
    replay.add_argument(
        "file",
        type=Path,
        metavar="DATA_DIR|FILE",
        help="a recorder's data dir, or a frame file (one raw frame per line; plain, .gz, .zst)",
    )
    replay.add_argument("--json", type=Path, metavar="OUT", help="write the final state as JSON")
    replay.add_argument("--levels", type=int, default=25, help="book levels a side in --json")
    replay.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    replay.add_argument(
        "--from",
        dest="start",
        metavar="T",
        help="data dir: from this receive "
        "time (ISO 8601, UTC unless an offset is given, or epoch s/ms/ns)",
    )
    replay.add_argument("--to", dest="end", metavar="T", help="data dir: up to this receive time")
    replay.add_argument("--symbols", help="data dir: only these symbols (comma-separated)")
    replay.add_argument(
        "--speed",
        type=float,
        help="data dir: replay paced at this multiple of recorded time, serving the API and "
        "dashboard (--host/--port) meanwhile; default: as fast as possible",
    )
    _api_arguments(replay)

    query = commands.add_parser(
        "query", help="SQL (DuckDB) over a data dir's tables: candles, metrics, frames"
    )
    query.add_argument("sql", help='e.g. "select symbol, count(*) from candles group by 1"')
    query.add_argument("--data-dir", type=Path, default=Path("data"), help="default: ./data")
    query.add_argument("--csv", action="store_true", help="print CSV instead of a table")

    run = commands.add_parser("run", help="run the engine on the live Bybit v5 public feed")
    run.add_argument("--symbols", help="comma-separated symbols (default: top --top by turnover)")
    run.add_argument("--top", type=int, default=300, help="symbols ranked by 24 h turnover")
    run.add_argument("--category", choices=("linear", "spot"), default="linear")
    run.add_argument("--testnet", action="store_true", help="use Bybit's testnet")
    run.add_argument("--rest-url", help="REST base URL (overrides mainnet/testnet)")
    run.add_argument("--ws-url", help="public WebSocket URL (overrides mainnet/testnet)")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    _api_arguments(run)
    _log_arguments(run)
    _record_arguments(run, Path("data"))
    run.add_argument(
        "--stale-after",
        type=float,
        default=10.0,
        help="seconds without a frame before a connection is replaced",
    )

    simulate = commands.add_parser("simulate", help="serve a local Bybit v5-compatible exchange")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=9100)
    _market_arguments(simulate, symbols=300)
    _log_arguments(simulate)
    simulate.add_argument("--replay", type=Path, metavar="FILE", help="serve a frame file instead")
    simulate.add_argument("--speed", type=float, default=1.0, help="replay speed multiplier")

    demo = commands.add_parser(
        "demo", help="the simulator and the live feed against it, in one process"
    )
    _market_arguments(demo, symbols=50)
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    _api_arguments(demo)
    _log_arguments(demo)
    _record_arguments(demo, Path("data/demo"))
    demo.add_argument(
        "--offline",
        action="store_true",
        help="no sockets: run the synthetic "
        "market straight through the engine for --seconds of market time",
    )
    demo.add_argument("--seconds", type=float, default=60.0, help="market time for --offline")
    demo.add_argument("--json", type=Path, metavar="OUT", help="write the final state as JSON")
    return parser


def _log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-file",
        type=Path,
        help="also log to this file, rotated at 10 MB with 3 old files kept",
    )


def _record_arguments(parser: argparse.ArgumentParser, data_dir: Path) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=data_dir, help=f"recording directory (default: {data_dir})"
    )
    parser.add_argument("--no-record", action="store_true", help="record nothing")
    parser.add_argument(
        "--max-disk", default="20GB", help="disk budget of the data dir; oldest segments go first"
    )
    parser.add_argument(
        "--retention",
        type=float,
        default=30.0,
        metavar="DAYS",
        help="delete segments older than this",
    )


def _recording(args: argparse.Namespace) -> dict[str, object]:
    """The LiveOptions fields of the recording flags."""
    if args.no_record:
        return {"data_dir": None}
    settings = RecorderSettings(
        max_disk_bytes=parse_size(args.max_disk), retention_days=args.retention
    )
    return {"data_dir": args.data_dir, "recorder": settings}


def _api_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="API address")
    parser.add_argument("--port", type=int, default=8090, help="API port")
    parser.add_argument("--no-api", action="store_true", help="do not serve the API")


def _market_arguments(parser: argparse.ArgumentParser, symbols: int) -> None:
    parser.add_argument("--symbols", type=int, default=symbols, help="synthetic symbols")
    parser.add_argument("--rate", type=float, default=1.0, help="event-rate multiplier")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--faults",
        default="",
        help="random faults, e.g. 'gap_per_frame=0.001,drop_per_s=0.005,reject_symbols=A+B'",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO, getattr(args, "log_file", None))
    try:
        if args.command == "replay":
            return _replay(args)
        if args.command == "run":
            return _run(args)
        if args.command == "query":
            return _query(args)
        if args.command == "simulate":
            return _simulate(args)
        return _demo(args)
    except ScalperError as exc:
        print(f"scalper: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _stdout() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=_TABLE_WIDTH)


def _replay(args: argparse.Namespace) -> int:
    path: Path = args.file
    if path.is_dir():
        return _replay_recording(args)
    if args.start or args.end or args.symbols or args.speed:
        raise ConfigError("--from, --to, --symbols and --speed need a data dir, not a file")
    engine = Engine(EngineConfig())
    started = time.perf_counter()
    if args.no_progress or not sys.stderr.isatty():
        frames = replay_file(engine, path)
    else:
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(f"replay {path.name}", total=path.stat().st_size)
            frames = replay_file(engine, path, lambda done: progress.update(task, completed=done))
    elapsed = time.perf_counter() - started
    _finish(engine, args.json, args.levels if args.json else 25)
    print(f"replayed {frames} frames in {elapsed:.2f} s", file=sys.stderr)
    return 0


def _replay_recording(args: argparse.Namespace) -> int:
    data_dir: Path = args.file
    from_ns = parse_time_ns(args.start) if args.start else None
    to_ns = parse_time_ns(args.end) if args.end else None
    symbols = (
        [s.strip().upper() for s in args.symbols.split(",") if s.strip()] if args.symbols else None
    )
    engine = Engine(EngineConfig())
    started = time.perf_counter()
    if args.speed is not None:
        if args.speed <= 0:
            raise ConfigError("--speed must be positive")
        options = PacedReplay(
            data_dir, args.speed, from_ns, to_ns, symbols, args.host, args.port, api=not args.no_api
        )
        frames = asyncio.run(replay_paced(engine, options))
    elif args.no_progress or not sys.stderr.isatty():
        frames = replay_recording(engine, data_dir, from_ns, to_ns, symbols)
    else:
        columns = (*Progress.get_default_columns()[:2], TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(f"replay {data_dir}", total=recorded_rows(data_dir))
            frames = replay_recording(
                engine,
                data_dir,
                from_ns,
                to_ns,
                symbols,
                lambda done: progress.update(task, completed=done),
            )
    elapsed = time.perf_counter() - started
    _finish(engine, args.json, args.levels if args.json else 25)
    print(f"replayed {frames} recorded rows in {elapsed:.2f} s", file=sys.stderr)
    return 0


def _query(args: argparse.Namespace) -> int:
    from scalper.storage.query import run_query  # DuckDB: ~40 MB, only loaded to query

    columns, rows = run_query(args.data_dir, args.sql)
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return 0
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    _stdout().print(table)
    return 0


def _run(args: argparse.Namespace) -> int:
    from scalper.venues.bybit.rest import MAINNET_REST, MAINNET_WS, TESTNET_REST, TESTNET_WS

    rest_url = args.rest_url or (TESTNET_REST if args.testnet else MAINNET_REST)
    ws_url = args.ws_url or (TESTNET_WS if args.testnet else MAINNET_WS).format(
        category=args.category
    )
    symbols = tuple(s.strip().upper() for s in (args.symbols or "").split(",") if s.strip())
    options = LiveOptions(
        rest_url=rest_url,
        ws_url=ws_url,
        category=args.category,
        top=args.top,
        symbols=symbols,
        duration_s=args.duration,
        stale_after_s=args.stale_after,
        api_host=args.host,
        api_port=args.port,
        api=not args.no_api,
        **_recording(args),  # type: ignore[arg-type]
    )
    engine = asyncio.run(run_live(options))
    _finish(engine, None, 25)
    return 0


def _simulator_config(args: argparse.Namespace, market_process: bool) -> SimulatorConfig:
    """`market_process` generates the market in a child process (a core's worth at 300 symbols)."""
    return SimulatorConfig(
        symbols=args.symbols,
        seed=args.seed,
        rate=args.rate,
        replay_speed=getattr(args, "speed", 1.0),
        market_process=market_process,
        faults=parse_fault_spec(args.faults),
    )


def _simulate(args: argparse.Namespace) -> int:
    from scalper.replay import iter_frames

    replay = iter_frames(args.replay) if args.replay else None

    def ready(simulator: ExchangeSimulator) -> None:
        print(
            f"simulator: REST {simulator.rest_url}  WS {simulator.ws_url('linear')}",
            file=sys.stderr,
            flush=True,
        )

    config = _simulator_config(args, market_process=args.replay is None)
    asyncio.run(serve_simulator_until_stopped(config, args.host, args.port, replay, ready))
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.offline:
        return _demo_offline(args)

    async def demo() -> Engine:
        simulator = await serve_simulator(_simulator_config(args, market_process=False))
        try:
            options = LiveOptions(
                rest_url=simulator.rest_url,
                ws_url=simulator.ws_url("linear"),
                top=args.symbols,
                duration_s=args.duration,
                api_host=args.host,
                api_port=args.port,
                api=not args.no_api,
                source="simulator-linear",
                **_recording(args),  # type: ignore[arg-type]
            )
            return await run_live(options)
        finally:
            await simulator.stop()

    _finish(asyncio.run(demo()), args.json, 25)
    return 0


def _demo_offline(args: argparse.Namespace) -> int:
    from scalper.venues.simulator.market import MarketConfig, generate_frames

    market = MarketConfig(symbols=args.symbols, seconds=args.seconds, seed=args.seed)
    engine = Engine(EngineConfig())
    started = time.perf_counter()
    for recv_ns, frame in generate_frames(market):
        engine.on_frame(frame, recv_ns)
    elapsed = time.perf_counter() - started
    _finish(engine, args.json, 25)
    rate = engine.frames / elapsed if elapsed > 0 else 0.0
    print(
        f"{engine.frames} frames in {elapsed:.2f} s ({rate:,.0f} frames/s, generation included)",
        file=sys.stderr,
    )
    return 0


def _finish(engine: Engine, json_path: Path | None, levels: int) -> None:
    _stdout().print(summary_table(engine))
    if json_path is not None:
        json_path.write_bytes(msgspec.json.encode(engine_view(engine, levels)) + b"\n")


if __name__ == "__main__":
    raise SystemExit(main())
