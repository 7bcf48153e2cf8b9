"""Warm start: recorded candles back into a fresh engine (its last hour) and into the signals'
baselines (their longer trailing history), so that a restart resets neither."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from scalper.candles import Candle
from scalper.engine import Engine
from scalper.signals import SignalEngine
from scalper.storage.reader import read_recent_candles
from scalper.storage.rows import candle_from_row
from scalper.units import parse_duration_ns

log = logging.getLogger(__name__)


def warm_start(engine: Engine, data_dir: Path, now_ns: int) -> int:
    """Restore recorded closed candles newer than the engine's candle history; returns how many.

    Call before the first event. Timeframes the engine does not keep are ignored; a candle
    recorded twice (same symbol, timeframe and start) is restored once.
    """
    since = now_ns - engine.config.candle_history_ns
    table = read_recent_candles(data_dir, since)
    series_of: dict[tuple[str, str], dict[int, Candle]] = defaultdict(dict)
    timeframes = set(engine.config.timeframes)
    for row in table.to_pylist():
        if row["timeframe"] in timeframes:
            series_of[(row["symbol"], row["timeframe"])][row["start_ns"]] = candle_from_row(row)
    restored = 0
    for (symbol, timeframe), candles in sorted(series_of.items()):
        engine.symbol(symbol).candles[timeframe].restore(list(candles.values()))
        restored += len(candles)
    if restored:
        log.info(
            "warm start: %d candles of %d symbols from %s",
            restored,
            len({symbol for symbol, _ in series_of}),
            data_dir,
        )
    return restored


def warm_start_signals(signals: SignalEngine, data_dir: Path, now_ns: int) -> int:
    """Rebuild the regimes' baselines and candle-based factors from the recorded candles of
    the last `signals.regimes.baseline`; returns how many candles were fed.

    Call before the first event (after `warm_start`: the engine's own candles are separate).
    Candles are fed in the order the engine would have closed them, a candle recorded twice
    once.
    """
    settings = signals.settings.regimes
    wanted = {settings.timeframe, settings.trend_confirm_timeframe, "1m", "5m"}
    wanted &= set(signals.engine.config.timeframes)
    since = now_ns - parse_duration_ns(settings.baseline)
    table = read_recent_candles(data_dir, since)
    by_symbol: dict[str, dict[str, dict[int, Candle]]] = defaultdict(lambda: defaultdict(dict))
    for row in table.to_pylist():
        if row["timeframe"] in wanted:
            by_symbol[row["symbol"]][row["timeframe"]][row["start_ns"]] = candle_from_row(row)
    fed = 0
    for symbol, series in sorted(by_symbol.items()):
        signals.restore(symbol, {name: list(c.values()) for name, c in series.items()})
        fed += sum(len(c) for c in series.values())
    if fed:
        log.info("warm start: signal baselines from %d recorded candles in %s", fed, data_dir)
    return fed
