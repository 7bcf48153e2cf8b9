"""Command line: argument parsing and wiring only.

Each command imports what it needs when it runs (`scalper --help` loads none of the engine,
FastAPI, pyarrow or DuckDB). Flags that set a setting name its key (`--port` sets `api.port`);
every setting can also come from `--config FILE`, `SCALPER_*` variables or `--set KEY=VALUE`
(`scalper config show` prints the effective settings and where each came from).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from scalper.engine import Engine
    from scalper.settings import Settings
    from scalper.settings_sources import LoadedSettings

TABLE_WIDTH = 200
"""Fixed width when stdout is not a terminal, so the same replay prints the same bytes."""

_FLAGS: dict[str, str] = {}
"""Setting key -> the flag that sets it (for `config show`'s sources)."""


def _symbols(text: str) -> list[str]:
    return [part.strip().upper() for part in text.split(",") if part.strip()]


def _setting(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    key: str,
    **options: Any,
) -> None:
    """A flag that sets the setting `key` (absent from the namespace unless given)."""
    _FLAGS.setdefault(key, flag)
    parser.add_argument(flag, dest=key, default=argparse.SUPPRESS, **options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scalper",
        description="Real-time order-flow engine for crypto perpetual futures (Bybit v5).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _run_parser(commands)
    _demo_parser(commands)
    _simulate_parser(commands)
    _replay_parser(commands)
    _query_parser(commands)
    _signals_parser(commands)
    _backtest_parser(commands)
    _trading_parser(commands)
    _config_parser(commands)
    return parser


def _settings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML settings file (default: $SCALPER_CONFIG if set)",
    )
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any setting, e.g. --set engine.flow_windows=10s,1m (repeatable)",
    )


def _run_parser(commands: Any) -> None:
    run = commands.add_parser("run", help="run the engine on the live Bybit v5 public feed")
    _setting(run, "--symbols", "venue.symbols", type=_symbols, help="comma-separated symbols")
    _setting(run, "--top", "venue.top", type=int, help="symbols ranked by 24 h turnover (300)")
    _setting(run, "--category", "venue.category", choices=("linear", "spot"))
    net = run.add_mutually_exclusive_group()
    _setting(
        net,
        "--testnet",
        "venue.testnet",
        action="store_const",
        const=True,
        help="Bybit's testnet (the default)",
    )
    _FLAGS["venue.testnet"] = "--testnet/--mainnet"
    net.add_argument(
        "--mainnet",
        dest="venue.testnet",
        action="store_const",
        const=False,
        default=argparse.SUPPRESS,
        help="Bybit's mainnet public market data",
    )
    _setting(run, "--rest-url", "venue.rest_url", help="REST base URL (overrides the venue's)")
    _setting(run, "--ws-url", "venue.ws_url", help="public WebSocket URL (overrides the venue's)")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    _scaleout_arguments(run)
    _setting(
        run,
        "--stale-after",
        "connection.stale_after_s",
        type=float,
        help="seconds without a frame before a connection is replaced (10)",
    )
    _setting(
        run,
        "--paper",
        "trading.enabled",
        action="store_const",
        const=True,
        help="paper-trade the reference strategy on this market data (no order leaves the machine)",
    )
    _execution_arguments(run, live=True)
    _api_arguments(run)
    _log_arguments(run)
    _record_arguments(run, "data")
    _summary_arguments(run)
    _settings_arguments(run)


def _scaleout_arguments(parser: Any) -> None:
    _setting(
        parser,
        "--workers",
        "scaleout.workers",
        type=int,
        help="ingest worker processes publishing to NATS JetStream (0: one process, the default)",
    )
    _setting(
        parser,
        "--nats-url",
        "scaleout.nats_url",
        help="an existing NATS server for --workers (default: start nats-server on loopback)",
    )


def _demo_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="the local exchange simulator and the live feed against it, in one process"
    )
    _market_arguments(demo, symbols=50)
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    _scaleout_arguments(demo)
    _setting(
        demo,
        "--no-trading",
        "trading.enabled",
        action="store_const",
        const=False,
        help="no paper trading (the demo paper-trades the reference strategy by default)",
    )
    _execution_arguments(demo, live=False)
    _api_arguments(demo)
    _log_arguments(demo)
    _record_arguments(demo, "data/demo")
    demo.add_argument(
        "--offline",
        action="store_true",
        help="no sockets: run the synthetic market straight through the engine for --seconds "
        "of market time",
    )
    demo.add_argument("--seconds", type=float, default=60.0, help="market time for --offline")
    demo.add_argument("--json", type=Path, metavar="OUT", help="write the final state as JSON")
    _summary_arguments(demo)
    _settings_arguments(demo)


def _simulate_parser(commands: Any) -> None:
    simulate = commands.add_parser("simulate", help="serve a local Bybit v5-compatible exchange")
    _setting(simulate, "--host", "simulator.host", help="address (127.0.0.1)")
    _setting(simulate, "--port", "simulator.port", type=int, help="port (9100)")
    _market_arguments(simulate, symbols=300)
    _log_arguments(simulate)
    simulate.add_argument("--replay", type=Path, metavar="FILE", help="serve a frame file instead")
    _setting(simulate, "--speed", "simulator.replay_speed", type=float, help="replay speed (1)")
    _settings_arguments(simulate)


def _replay_parser(commands: Any) -> None:
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
        help="data dir: from this receive time (ISO 8601, UTC unless an offset is given, or "
        "epoch s/ms/ns)",
    )
    replay.add_argument("--to", dest="end", metavar="T", help="data dir: up to this receive time")
    replay.add_argument(
        "--symbols", type=_symbols, help="data dir: only these symbols (comma-separated)"
    )
    replay.add_argument(
        "--speed",
        type=float,
        help="data dir: replay paced at this multiple of recorded time, serving the API and "
        "dashboard (--host/--port) meanwhile; default: as fast as possible",
    )
    replay.add_argument(
        "--decode",
        choices=("columns", "json"),
        default="columns",
        help="data dir: apply recorded book frames from their integer columns (columns, the "
        "default) or join and decode every frame's JSON (json); the same state either way",
    )
    _api_arguments(replay)
    _summary_arguments(replay)
    _settings_arguments(replay)


def _query_parser(commands: Any) -> None:
    query = commands.add_parser(
        "query",
        help="SQL (DuckDB) over a data dir's tables: candles, metrics, frames, trading_audit, "
        "trading_orders, trading_fills, trading_funding, trading_trades, trading_equity, "
        "trading_risk",
    )
    query.add_argument("sql", help='e.g. "select symbol, count(*) from candles group by 1"')
    _setting(
        query,
        "--data-dir",
        "recorder.data_dir",
        help="the data dir (default: ./data, or the one recording below it, e.g. data/demo)",
    )
    query.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    _settings_arguments(query)


def _backtest_parser(commands: Any) -> None:
    backtest = commands.add_parser(
        "backtest",
        help="a recording through the live engine, signals, strategy, risk engine and paper "
        "broker; a report of what it made after costs, and why",
    )
    backtest.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="a recorder's data dir")
    backtest.add_argument("--out", type=Path, help="write report.json/.html, Parquet and fills")
    backtest.add_argument("--from", dest="start", metavar="T", help="from this receive time")
    backtest.add_argument("--to", dest="end", metavar="T", help="up to this receive time")
    backtest.add_argument("--symbols", type=_symbols, help="only these symbols (comma-separated)")
    backtest.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    backtest.add_argument(
        "--decode",
        choices=("columns", "json"),
        default="columns",
        help="book frames from their integer columns (columns, the default) or from their JSON "
        "(json); the same run either way",
    )
    backtest.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=A,B,C",
        help="backtest every combination of these settings' values (repeatable), in parallel",
    )
    backtest.add_argument(
        "--rank", default="net_pnl", help="the metric a sweep ranks its runs by (net_pnl)"
    )
    backtest.add_argument(
        "--workers", type=int, help="a sweep's worker processes (default: one per core)"
    )
    backtest.add_argument(
        "--cluster",
        choices=("dask",),
        help="run a sweep's backtests on Dask (the distributed extra): a LocalCluster of "
        "--workers processes, or the cluster of --scheduler",
    )
    backtest.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="--cluster: an existing cluster's scheduler, e.g. tcp://host:8786 (its workers "
        "must see DATA_DIR at the same path)",
    )
    backtest.add_argument(
        "--train", metavar="DURATION", help="walk-forward: the sweep picks its best on this window"
    )
    backtest.add_argument(
        "--test", metavar="DURATION", help="walk-forward: ...and is judged on the next this long"
    )
    _settings_arguments(backtest)


def _trading_parser(commands: Any) -> None:
    trading = commands.add_parser(
        "trading", help="the running trader: its state, and the kill switch (halt, resume, flatten)"
    )
    trading.add_argument("action", choices=("state", "halt", "resume", "flatten"))
    trading.add_argument("--reason", default="kill switch (CLI)", help="halt: why (logged)")
    trading.add_argument(
        "--url", help="the API of the running process (default: http://127.0.0.1:<api.port>)"
    )
    _setting(
        trading,
        "--data-dir",
        "recorder.data_dir",
        help="the running process's data dir, which holds the API token (default: ./data; "
        "make demo's: data/demo)",
    )
    _settings_arguments(trading)


def _signals_parser(commands: Any) -> None:
    signals = commands.add_parser("signals", help="signals: evaluate what each factor predicts")
    actions = signals.add_subparsers(dest="action", required=True, metavar="ACTION")
    evaluate = actions.add_parser(
        "evaluate",
        help="IC, rank IC, hit rate, decay and score buckets of every factor and the score "
        "against forward mid returns, over a recording or a frame file",
    )
    evaluate.add_argument(
        "source", type=Path, metavar="DATA_DIR|FILE", help="a recorder's data dir or a frame file"
    )
    evaluate.add_argument("--json", type=Path, metavar="OUT", help="write the evaluation as JSON")
    evaluate.add_argument("--png", type=Path, metavar="OUT", help="draw the evaluation as a PNG")
    evaluate.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    evaluate.add_argument("--from", dest="start", metavar="T", help="data dir: from this time")
    evaluate.add_argument("--to", dest="end", metavar="T", help="data dir: up to this time")
    evaluate.add_argument(
        "--symbols", type=_symbols, help="data dir: only these symbols (comma-separated)"
    )
    _settings_arguments(evaluate)


def _config_parser(commands: Any) -> None:
    config = commands.add_parser("config", help="settings: show the effective values")
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print every setting, its value and where it came from")
    show.add_argument(
        "--command",
        dest="for_command",
        choices=("run", "demo", "simulate", "replay", "query", "signals", "backtest"),
        help="include that command's own defaults (e.g. demo records into data/demo)",
    )
    _settings_arguments(show)


def _log_arguments(parser: argparse.ArgumentParser) -> None:
    _setting(
        parser,
        "--log-file",
        "logging.file",
        help="also log to this file, rotated at 10 MB with 3 old files kept",
    )


def _record_arguments(parser: argparse.ArgumentParser, data_dir: str) -> None:
    _setting(parser, "--data-dir", "recorder.data_dir", help=f"recording directory ({data_dir})")
    _setting(
        parser,
        "--no-record",
        "recorder.enabled",
        action="store_const",
        const=False,
        help="record nothing",
    )
    _setting(
        parser,
        "--max-disk",
        "recorder.max_disk_bytes",
        help="disk budget of the data dir, e.g. 20GB (the default); oldest segments go first",
    )
    _setting(
        parser,
        "--retention",
        "recorder.retention_days",
        type=float,
        metavar="DAYS",
        help="delete segments older than this (30)",
    )


def _summary_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wide",
        action="store_true",
        help="every column in the final summary table (default: what fits 100 columns)",
    )


def _api_arguments(parser: argparse.ArgumentParser) -> None:
    _setting(parser, "--host", "api.host", help="API address (127.0.0.1)")
    _setting(parser, "--port", "api.port", type=int, help="API port (8090)")
    _setting(
        parser,
        "--no-api",
        "api.enabled",
        action="store_const",
        const=False,
        help="do not serve the API",
    )


def _execution_arguments(parser: argparse.ArgumentParser, live: bool) -> None:
    _setting(
        parser,
        "--execution",
        "trading.execution",
        choices=("paper", "exchange"),
        help="where orders go: the in-process paper broker, or the exchange's private API "
        "(implies trading; the demo's exchange is the local one)",
    )
    if not live:
        return
    _setting(
        parser,
        "--live",
        "trading.bybit.live",
        action="store_const",
        const=True,
        help="trade real money on Bybit mainnet (implies --execution exchange and --mainnet; "
        "refused without the confirmation sentence)",
    )
    _setting(
        parser,
        "--confirm-live",
        "trading.bybit.live_confirmation",
        metavar="SENTENCE",
        help="the sentence --live needs (settings.LIVE_CONFIRMATION), if not in the settings",
    )


_IMPLIED: dict[str, dict[str, object]] = {
    "trading.execution": {"trading.enabled": True},
    "trading.bybit.live": {
        "trading.enabled": True,
        "trading.execution": "exchange",
        "venue.testnet": False,
    },
}
"""Flag-set settings that imply others (`--live` trades on mainnet through the exchange)."""


def _add_implied(flags: dict[str, tuple[object, str]]) -> None:
    """Add what the given flags imply; ConfigError where another flag contradicts it."""
    from scalper.errors import ConfigError

    for key, implied in _IMPLIED.items():
        if key not in flags or flags[key][1] == "--set":
            continue
        source = flags[key][1]
        for other, value in implied.items():
            if other in flags and str(flags[other][0]).lower() != str(value).lower():
                raise ConfigError(
                    f"{source} needs {other} = {value!r}, but {flags[other][1]} sets"
                    f" {flags[other][0]!r}"
                )
            flags.setdefault(other, (value, source))


def _market_arguments(parser: argparse.ArgumentParser, symbols: int) -> None:
    _setting(
        parser, "--symbols", "simulator.symbols", type=int, help=f"synthetic symbols ({symbols})"
    )
    _setting(parser, "--rate", "simulator.rate", type=float, help="event-rate multiplier (1)")
    _setting(parser, "--seed", "simulator.seed", type=int, help="market seed (1)")
    parser.add_argument(
        "--faults",
        default="",
        help="random faults, e.g. 'gap_per_frame=0.001,drop_per_s=0.005,reject_symbols=A+B'",
    )


_COMMAND_DEFAULTS: dict[str, dict[str, object]] = {
    "demo": {
        "recorder.data_dir": "data/demo",
        "simulator.symbols": 50,
        # Regimes on 15 s and 1 m candles with a short baseline, so that a demo shows them
        # within minutes (run, replay and evaluate use 1 m and 5 m).
        "signals.regimes.timeframe": "15s",
        "signals.regimes.trend_confirm_timeframe": "1m",
        "signals.regimes.min_history": 10,
        "signals.regimes.volatility_window": 5,
        "signals.regimes.min_dwell": "45s",
        # Paper trading on by default; regimes still warming up do not block entries, so that
        # orders, fills and P&L show within a minute (run, replay and backtest wait for them).
        "trading.enabled": True,
        "trading.strategy.allowed_volatility": ("warming_up", "low", "normal", "high"),
        "trading.strategy.allowed_volume": ("warming_up", "quiet", "normal", "active", "surge"),
    },
    # A standalone simulator generates its market in a child process (a core's worth at 300
    # symbols); the demo's shares the engine's process.
    "simulate": {"simulator.market_process": True},
}
"""Settings whose default differs for one command."""


def load(args: argparse.Namespace, command: str | None = None) -> LoadedSettings:
    """The settings of this invocation: defaults, the command's, file, environment, flags."""
    import os

    from scalper.errors import ConfigError
    from scalper.settings_sources import load_settings, parse_assignment

    flags: dict[str, tuple[object, str]] = {}
    for key, value in vars(args).items():
        if "." in key:
            flags[key] = (value, _FLAGS.get(key, key))
    faults = getattr(args, "faults", "")
    if faults:
        from scalper.venues.simulator.faults import fault_spec_items

        for name, value in fault_spec_items(faults).items():
            flags[f"simulator.faults.{name}"] = (value, "--faults")
    for text in getattr(args, "assignments", []):
        key, value = parse_assignment(text)
        if key in flags and flags[key][1] != "--set":
            raise ConfigError(f"{key} is set twice: by {flags[key][1]} and by --set")
        flags[key] = (value, "--set")
    _add_implied(flags)
    command_defaults = dict(_COMMAND_DEFAULTS.get(command or args.command, {}))
    if (command or args.command) == "backtest" and getattr(args, "data_dir", None) is not None:
        from scalper.backtest.runner import recorded_run_settings

        command_defaults.update(recorded_run_settings(args.data_dir))
    return load_settings(
        config_file=getattr(args, "config", None),
        env=os.environ,
        flags=flags,
        command_defaults=command_defaults,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from scalper.errors import ScalperError

    try:
        return _dispatch(args)
    except ScalperError as exc:
        print(f"scalper: {exc}", file=sys.stderr)
        return 2
    except BaseExceptionGroup as group:  # a TaskGroup's: report our own error plainly
        ours, _ = group.split(ScalperError)
        if ours is None:
            raise
        print(f"scalper: {_first(ours)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _first(group: BaseExceptionGroup) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _dispatch(args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
        "run": _run,
        "demo": _demo,
        "simulate": _simulate,
        "replay": _replay,
        "query": _query,
        "signals": _signals_evaluate,
        "trading": _trading,
        "backtest": _backtest,
    }
    if args.command == "config":
        return _config_show(args)
    settings = load(args).settings
    from scalper.logs import configure_logging

    configure_logging(settings.logging)
    return commands[args.command](args, settings)


def _backtest(args: argparse.Namespace, settings: Settings) -> int:
    """Replay the recording through the paper trader; print the summary, write the report."""
    import msgspec

    from scalper.backtest import write_report
    from scalper.backtest.runner import build_trader, recorded_instruments, run_backtest
    from scalper.backtest.sweep import report_inputs
    from scalper.errors import InputError
    from scalper.storage.reader import recorded_rows
    from scalper.units import parse_time_ns

    data_dir: Path = args.data_dir
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: not a data dir")
    from_ns = parse_time_ns(args.start) if args.start else None
    to_ns = parse_time_ns(args.end) if args.end else None
    if args.train or args.test:
        return _walk_forward(args)
    if args.sweep:
        return _sweep(args, from_ns, to_ns)
    trader = build_trader(settings, recorded_instruments(data_dir))
    if args.no_progress or not sys.stderr.isatty():
        run, rows = run_backtest(trader, data_dir, from_ns, to_ns, args.symbols, decode=args.decode)
    else:
        with _ProgressBar(f"backtest {data_dir}", recorded_rows(data_dir)) as update:
            run, rows = run_backtest(
                trader, data_dir, from_ns, to_ns, args.symbols, update, args.decode
            )
    pnl = trader.portfolio.pnl()
    print(
        f"{run.rows:,} rows, {len(rows.trades)} trades "
        f"({sum(1 for t in rows.trades if t.net_pnl > 0)} won), net {pnl.net:.2f} = "
        f"realised {pnl.realised:.2f} + unrealised {pnl.unrealised:.2f} - fees {pnl.fees:.2f} "
        f"- funding {pnl.funding:.2f}; {len(rows.fills)} fills, trading {trader.risk.state.name}"
    )
    if args.out is not None:
        inputs = report_inputs(settings, rows, from_ns, to_ns)
        write_report(args.out, inputs, title=f"Backtest of {data_dir}")
        for name, records in (("fills", rows.fills), ("audit", rows.audit)):
            lines = b"".join(msgspec.json.encode(record) + b"\n" for record in records)
            (args.out / f"{name}.jsonl").write_bytes(lines)
        print(f"report in {args.out / 'report.html'}")
    return 0


def _settings_at(args: argparse.Namespace) -> Callable[[dict[str, str]], Settings]:
    """A sweep point's settings: this invocation's layers plus the point's values."""

    def settings_of(point: dict[str, str]) -> Settings:
        at = argparse.Namespace(**vars(args))
        at.assignments = [*args.assignments, *(f"{k}={v}" for k, v in point.items())]
        return load(at).settings

    return settings_of


def _walk_forward(args: argparse.Namespace) -> int:
    """`backtest --sweep ... --train D --test D`: choose on each window, judge on the next."""
    import msgspec
    from rich.table import Table

    from scalper.backtest.sweep import grid, parse_sweep
    from scalper.backtest.walk_forward import walk_forward, windows
    from scalper.errors import ConfigError, InputError
    from scalper.storage.reader import recorded_span
    from scalper.units import parse_duration_ns

    if not (args.sweep and args.train and args.test):
        raise ConfigError("walk-forward needs --sweep, --train and --test together")
    span = recorded_span(args.data_dir)
    if span is None:
        raise InputError(f"{args.data_dir} holds no recorded frames")
    folds = windows(*span, parse_duration_ns(args.train), parse_duration_ns(args.test))
    points = grid(parse_sweep(args.sweep))
    results = walk_forward(
        points,
        _settings_at(args),
        args.data_dir,
        folds,
        args.rank,
        args.symbols,
        args.workers,
        _cluster(args),
    )
    table = Table(title=f"walk-forward: {len(folds)} folds of {args.train} + {args.test}")
    for name in ("fold", "best on train", f"train {args.rank}", "test net_pnl", "test trades"):
        table.add_column(name, justify="left" if name.startswith(("fold", "best")) else "right")
    for number, fold in enumerate(results, 1):
        chosen = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in fold.best.items())
        train_value = getattr(fold.train, args.rank)
        table.add_row(
            str(number),
            chosen,
            "—" if train_value is None else f"{train_value:,.4g}",
            f"{fold.test.net_pnl:,.2f}",
            str(fold.test.trades),
        )
    _stdout().print(table)
    total = sum(fold.test.net_pnl for fold in results)
    print(f"out of sample: net {total:,.2f} over {len(results)} test windows")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        encoded = msgspec.json.encode({"rank": args.rank, "folds": results})
        (args.out / "walk_forward.json").write_bytes(msgspec.json.format(encoded))
    return 0


def _sweep(args: argparse.Namespace, from_ns: int | None, to_ns: int | None) -> int:
    """`backtest --sweep`: every point of the grid in parallel, ranked, the table printed."""
    import msgspec
    from rich.table import Table

    from scalper.backtest.sweep import grid, parse_sweep, ranked, run_sweep

    points = grid(parse_sweep(args.sweep))
    settings_of = _settings_at(args)
    runs = run_sweep(
        points,
        settings_of,
        args.data_dir,
        from_ns,
        to_ns,
        args.symbols,
        args.workers,
        _cluster(args),
    )
    ranked_runs = ranked(runs, args.rank)
    table = Table(title=f"{len(points)} backtests of {args.data_dir}, best {args.rank} first")
    columns = ("net_pnl", "fees", "trades", "win_rate", "profit_factor", "max_drawdown_frac")
    for name in (*points[0], *columns):
        table.add_column(name, justify="left" if name in points[0] else "right")
    for run in ranked_runs:
        figures = [getattr(run.metrics, name, None) for name in columns]
        table.add_row(
            *run.point.values(),
            *(
                "—" if v is None else f"{v:,.4g}" if isinstance(v, float) else str(v)
                for v in figures
            ),
        )
    _stdout().print(table)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "sweep.json").write_bytes(
            msgspec.json.format(msgspec.json.encode({"rank": args.rank, "runs": ranked_runs}))
        )
        print(f"every run's metrics in {args.out / 'sweep.json'}")
    return 0


def _cluster(args: argparse.Namespace) -> Any:
    """`--cluster`/`--scheduler` as a `backtest.cluster.Cluster` (None: the local pool)."""
    from scalper.backtest.cluster import Cluster
    from scalper.errors import ConfigError

    if args.cluster is None:
        if args.scheduler is not None:
            raise ConfigError("--scheduler needs --cluster dask")
        return None
    return Cluster(engine=args.cluster, scheduler=args.scheduler)


def _trading(args: argparse.Namespace, settings: Settings) -> int:
    """GET the trading state, or POST a command with the data dir's token."""
    import httpx

    from scalper.api.access import TOKEN_FILE
    from scalper.errors import InputError

    url = args.url or f"http://127.0.0.1:{settings.api.port}"
    try:
        if args.action == "state":
            answer = httpx.get(f"{url}/api/trading/state", timeout=10)
        else:
            token_file = Path(settings.recorder.data_dir) / TOKEN_FILE
            if not token_file.exists():
                raise InputError(
                    f"no API token at {token_file}: pass the running process's --data-dir"
                    " (make demo's is data/demo)"
                )
            answer = httpx.post(
                f"{url}/api/trading/{args.action}",
                headers={"Authorization": f"Bearer {token_file.read_text().strip()}"},
                json={"reason": args.reason} if args.action == "halt" else None,
                timeout=10,
            )
    except httpx.HTTPError as error:
        raise InputError(f"no trader answers at {url}: {error}") from None
    print(answer.text)
    return 0 if answer.status_code == 200 else 1


def _stdout() -> Console:
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=TABLE_WIDTH)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from scalper.runtime import run_live, venue_target
    from scalper.venues.bybit.private.preflight import check_trading_venue

    check_trading_venue(settings)  # before any connection: a refusal costs nothing
    engine = asyncio.run(run_live(settings, venue_target(settings.venue), args.duration))
    _finish(args, engine, None, 25)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    if args.offline:
        return _demo_offline(args, settings)
    import asyncio

    from scalper.runtime import run_demo

    _finish(args, asyncio.run(run_demo(settings, args.duration)), args.json, 25)
    return 0


def _demo_offline(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from scalper.engine import Engine
    from scalper.venues.bybit.frames import FrameApplier
    from scalper.venues.simulator.alpha import planted_alpha
    from scalper.venues.simulator.market import MarketConfig, generate_frames

    simulator = settings.simulator
    market = MarketConfig(
        symbols=simulator.symbols,
        seconds=args.seconds,
        seed=simulator.seed,
        alpha=planted_alpha(simulator.alpha),
    )
    engine = Engine(settings.engine)
    applier = FrameApplier(engine)
    started = time.perf_counter()
    for recv_ns, frame in generate_frames(market):
        applier(frame, recv_ns)
    elapsed = time.perf_counter() - started
    _finish(args, engine, args.json, 25)
    rate = engine.frames / elapsed if elapsed > 0 else 0.0
    print(
        f"{engine.frames} frames in {elapsed:.2f} s ({rate:,.0f} frames/s, generation included)",
        file=sys.stderr,
    )
    return 0


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from scalper.replay import iter_frames
    from scalper.runtime import serve_simulator_until_stopped
    from scalper.venues.simulator.exchange import ExchangeSimulator

    replay = iter_frames(args.replay) if args.replay else None

    def ready(simulator: ExchangeSimulator) -> None:
        print(
            f"simulator: REST {simulator.rest_url}  WS {simulator.ws_url('linear')}",
            file=sys.stderr,
            flush=True,
        )

    asyncio.run(serve_simulator_until_stopped(settings.simulator, replay, ready))
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from scalper.engine import Engine
    from scalper.errors import ConfigError
    from scalper.replay import replay_file, replay_recording
    from scalper.venues.bybit.frames import FrameApplier

    path: Path = args.file
    engine = Engine(settings.engine)
    applier = FrameApplier(engine)
    started = time.perf_counter()
    if path.is_dir():
        frames = _replay_recording(args, settings, applier, replay_recording)
        what = "recorded rows"
    else:
        if args.start or args.end or args.symbols or args.speed:
            raise ConfigError("--from, --to, --symbols and --speed need a data dir, not a file")
        if args.no_progress or not sys.stderr.isatty():
            frames = replay_file(applier, path)
        else:
            with _ProgressBar(f"replay {path.name}", path.stat().st_size, in_bytes=True) as update:
                frames = replay_file(applier, path, update)
        what = "frames"
    elapsed = time.perf_counter() - started
    _finish(args, engine, args.json, args.levels if args.json else 25, applier.control_messages)
    print(f"replayed {frames} {what} in {elapsed:.2f} s", file=sys.stderr)
    return 0


def _replay_recording(
    args: argparse.Namespace, settings: Settings, applier: Any, replay_recording: Any
) -> int:
    import asyncio

    from scalper.errors import ConfigError
    from scalper.units import parse_time_ns

    data_dir: Path = args.file
    from_ns = parse_time_ns(args.start) if args.start else None
    to_ns = parse_time_ns(args.end) if args.end else None
    if args.speed is not None:
        from scalper.runtime import PacedReplay, replay_paced

        if args.speed <= 0:
            raise ConfigError("--speed must be positive")
        from scalper.runtime import signals_for

        options = PacedReplay(data_dir, args.speed, from_ns, to_ns, args.symbols, settings.api)
        signals = signals_for(applier.engine, settings.signals)
        return asyncio.run(replay_paced(applier, options, signals))
    if args.no_progress or not sys.stderr.isatty():
        return replay_recording(  # type: ignore[no-any-return]
            applier, data_dir, from_ns, to_ns, args.symbols, decode=args.decode
        )
    from scalper.storage.reader import recorded_rows

    with _ProgressBar(f"replay {data_dir}", recorded_rows(data_dir)) as update:
        return replay_recording(  # type: ignore[no-any-return]
            applier, data_dir, from_ns, to_ns, args.symbols, update, args.decode
        )


class _ProgressBar:
    """A transient rich progress bar on stderr; yields the callback that advances it."""

    def __init__(self, description: str, total: int, in_bytes: bool = False) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        # What was done and how fast, not only an ETA (which reads -:--:-- until it has a rate).
        done = (
            (DownloadColumn(), TransferSpeedColumn())
            if in_bytes
            else (
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} rows/s"),
            )
        )
        columns = (TextColumn("{task.description}"), BarColumn(), *done, TimeRemainingColumn())
        self._bar = Progress(*columns, console=Console(stderr=True), transient=True)
        self._task = self._bar.add_task(description, total=total, rate="-")

    def __enter__(self) -> Callable[[int], None]:
        self._bar.__enter__()
        return self._advance

    def _advance(self, done: int) -> None:
        task = self._bar.tasks[0]
        speed = task.speed
        rate = f"{speed:,.0f}" if speed else "-"
        self._bar.update(self._task, completed=done, rate=rate)

    def __exit__(self, *exc_info: object) -> None:
        self._bar.__exit__(*exc_info)


def _signals_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    import time

    import msgspec

    from scalper.errors import ConfigError, InputError
    from scalper.evaluation.render import summary, write_chart
    from scalper.evaluation.run import evaluate_source
    from scalper.units import parse_time_ns

    path: Path = args.source
    if not path.exists():
        raise InputError(f"{path}: no such data dir or frame file")
    if not path.is_dir() and (args.start or args.end or args.symbols):
        raise ConfigError("--from, --to and --symbols need a data dir, not a file")
    window = {
        "from_ns": parse_time_ns(args.start) if args.start else None,
        "to_ns": parse_time_ns(args.end) if args.end else None,
        "symbols": args.symbols,
    }
    started = time.perf_counter()
    if args.no_progress or not sys.stderr.isatty():
        evaluation = evaluate_source(path, settings, **window)
    else:
        if path.is_dir():
            from scalper.storage.reader import recorded_rows

            bar = _ProgressBar(f"evaluate {path}", recorded_rows(path))
        else:
            bar = _ProgressBar(f"evaluate {path.name}", path.stat().st_size, in_bytes=True)
        with bar as update:
            evaluation = evaluate_source(path, settings, update, **window)
    _stdout().print(summary(evaluation))
    if args.json is not None:
        args.json.write_bytes(msgspec.json.format(msgspec.json.encode(evaluation)) + b"\n")
    if args.png is not None:
        write_chart(evaluation, args.png)
    print(f"evaluated in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


def _query(args: argparse.Namespace, settings: Settings) -> int:
    import csv

    from scalper.storage.query import default_data_dir, run_query
    from scalper.venues.bybit.frames import CODECS

    data_dir = Path(settings.recorder.data_dir)
    if load(args).sources["recorder.data_dir"] == "default":
        found = default_data_dir(data_dir)
        if found != data_dir:
            print(f"scalper: {data_dir} holds no recording; querying {found}", file=sys.stderr)
        data_dir = found
    columns, rows = run_query(data_dir, args.sql, CODECS)
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return 0
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    _stdout().print(table)
    return 0


def _config_show(args: argparse.Namespace) -> int:
    import msgspec

    from scalper.settings_sources import flatten

    loaded = load(args, args.for_command or "config")
    lines = []
    for key, value in flatten(loaded.settings):
        text = "none" if value is None else msgspec.json.encode(value).decode()
        lines.append((f"{key} = {text}", loaded.sources[key]))
    width = max(len(line) for line, _ in lines)
    for line, source in lines:
        print(f"{line:<{width}}  # {source}")
    return 0


def _finish(
    args: argparse.Namespace,
    engine: Engine,
    json_path: Path | None,
    levels: int,
    control_messages: int | None = None,
) -> None:
    from scalper.summary import summary_table

    _stdout().print(summary_table(engine, wide=getattr(args, "wide", False)))
    if json_path is not None:
        import msgspec

        from scalper.views import engine_view

        view = engine_view(engine, levels)
        if control_messages is not None:
            view["control_messages"] = control_messages
        json_path.write_bytes(msgspec.json.encode(view) + b"\n")


if __name__ == "__main__":
    raise SystemExit(main())
