"""Warm start: the candles of the last hour, from the recording, back into a fresh engine."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from scalper.candles import Candle
from scalper.engine import Engine
from scalper.storage.reader import read_recent_candles
from scalper.storage.rows import candle_from_row

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
