"""The final summary table: fits 100 columns, no scientific notation, K/M/B/T flows."""

from __future__ import annotations

import io
import re
from itertools import islice

from rich.console import Console

from scalper.engine import Engine
from scalper.events import BUY, BookUpdate, Trade, TradeBatch
from scalper.numbers import compact, decimals, on_step, plain
from scalper.summary import summary_table
from scalper.venues.bybit.frames import FrameApplier
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

SEC = 1_000_000_000


def rendered(engine: Engine, wide: bool = False, width: int = 100) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(summary_table(engine, wide=wide))
    return console.export_text().splitlines()


def test_the_default_table_fits_100_columns_and_reads_plainly() -> None:
    engine = Engine()
    applier = FrameApplier(engine)
    market = SyntheticMarket(MarketConfig(symbols=30, seconds=20.0, seed=2))  # 1e-4 to 1e5
    for recv, raw in islice(market.frames(), 30_000):
        applier(raw, recv)
    lines = rendered(engine)
    assert max(len(line) for line in lines) <= 100
    text = "\n".join(lines)
    assert not re.search(r"\d[eE][+-]?\d", text), "scientific notation"
    assert "SYM000USDT" in text and "SYM029USDT" in text
    assert max(len(line) for line in rendered(engine, wide=True, width=200)) > 100


def test_cvd_in_quote_currency_with_a_suffix() -> None:
    engine = Engine()
    engine.on_event(BookUpdate("X", 50, True, [(0.0001, 1e6)], [(0.00011, 1e6)], 1, 0, SEC, SEC))
    buys = [Trade("X", 0.0001, 2.5e9, BUY, SEC, SEC, "a")]  # 2.5 billion coins, $250K
    engine.on_event(TradeBatch("X", buys, SEC, SEC))
    (row,) = [line for line in rendered(engine) if line.strip().startswith("X ")]
    assert "0.0001 " in row and "0.00011" in row and "250K" in row and "2.5B" not in row
    assert "2.5B" in "\n".join(rendered(engine, wide=True, width=200))  # coin units when wide


def test_number_formats() -> None:
    assert plain(9.954e-05) == "0.00009954" and plain(86105.0) == "86105" and plain(None) == "-"
    assert [compact(v) for v in (1.0696e9, 259_000, -221.8, 999.6, 0.0)] == [
        "1.07B",
        "259K",
        "-222",
        "1K",
        "0",
    ]
    assert (decimals("0.0010"), decimals("1"), decimals("0.5")) == (3, 0, 1)
    assert on_step(0.030000000000086402, 2) == 0.03
