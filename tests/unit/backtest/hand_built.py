"""A hand-built run whose every figure is worked out by hand in the tests.

Five trades (two wins, two losses, one at zero), an equity curve with a trough and a new peak,
three fills, ten latencies and four entry contexts (the fifth trade has none). Numbers are
chosen so the sums are exact in binary floating point.
"""

from __future__ import annotations

from scalper.backtest import EntryContext, PriceSeries, ReportInputs
from scalper.trading.orders import BUY, SELL, Fill, Liquidity
from scalper.trading.portfolio import EquityPoint, TradeRecord

MINUTE = 60 * 1_000_000_000
HOUR = 60 * MINUTE
START = 1_767_225_600 * 1_000_000_000
"""2026-01-01 00:00 UTC: an hour boundary."""
END = START + 230 * MINUTE
"""03:50, not an hour boundary: the hourly grid runs to 04:00."""
STARTING_EQUITY = 1000.0


def trade(
    symbol: str,
    side: int,
    entry_min: int,
    exit_min: int,
    gross: float,
    fees: float,
    funding: float,
    net: float,
    slippage: float | None,
) -> TradeRecord:
    return TradeRecord(
        symbol=symbol,
        side=side,
        qty=1.0,
        entry_ns=START + entry_min * MINUTE,
        exit_ns=START + exit_min * MINUTE,
        holding_ns=(exit_min - entry_min) * MINUTE,
        entry_price=100.0,
        exit_price=100.0 + gross * side,
        gross_pnl=gross,
        fees=fees,
        funding=funding,
        net_pnl=net,
        mae_price=1.0,
        mfe_price=2.0,
        mae_quote=1.0,
        mfe_quote=2.0,
        entry_slippage=slippage,
        exit_slippage=None,
        slippage_quote=slippage,
        entry_liquidity="maker",
        exit_liquidity="taker",
        fills=2,
    )


TRADES = [
    #     symbol     side  in   out  gross  fees  funding net  slippage
    trade("BTCUSDT", BUY, 10, 40, 12.0, 1.0, 0.0, 11.0, 0.5),
    trade("ETHUSDT", SELL, 70, 80, -4.0, 0.5, 0.5, -5.0, 0.25),
    trade("BTCUSDT", BUY, 130, 190, -2.0, 1.0, 0.0, -3.0, None),
    trade("ETHUSDT", BUY, 200, 215, 9.0, 0.75, 0.25, 8.0, 0.25),
    trade("BTCUSDT", SELL, 225, 228, 1.0, 1.0, 0.0, 0.0, None),
]

EQUITY_BY_MINUTE = [
    (0, 1000.0),
    (30, 1012.0),
    (60, 1010.0),
    (90, 990.0),  # the trough: 22 below the peak of 1012
    (120, 1005.0),
    (150, 1030.0),  # a new peak
    (180, 1020.0),
    (225, 1011.0),  # the final account
]
EQUITY = [
    EquityPoint(
        ts_ns=START + minute * MINUTE,
        equity=value,
        realised=value - STARTING_EQUITY,
        unrealised=0.0,
        fees=0.0,
        funding=0.0,
    )
    for minute, value in EQUITY_BY_MINUTE
]

FILLS = [
    Fill(
        client_id="a",
        symbol="BTCUSDT",
        side=BUY,
        price=100.0,
        qty=2.0,
        fee=0.04,
        liquidity=Liquidity.MAKER,
        ts_ns=START,
    ),
    Fill(
        client_id="b",
        symbol="ETHUSDT",
        side=SELL,
        price=50.0,
        qty=1.0,
        fee=0.0275,
        liquidity=Liquidity.TAKER,
        ts_ns=START + MINUTE,
    ),
    Fill(
        client_id="c",
        symbol="BTCUSDT",
        side=SELL,
        price=100.0,
        qty=0.5,
        fee=0.01,
        liquidity=Liquidity.MAKER,
        ts_ns=START + 2 * MINUTE,
    ),
]

ENTRIES = [
    EntryContext(
        symbol="BTCUSDT",
        entry_ns=START + 10 * MINUTE,
        score=0.9,
        regimes={"volatility": "high", "trend": "up"},
    ),
    EntryContext(
        symbol="ETHUSDT",
        entry_ns=START + 70 * MINUTE,
        score=0.2,
        regimes={"volatility": "low", "trend": "up"},
    ),
    EntryContext(
        symbol="BTCUSDT",
        entry_ns=START + 130 * MINUTE,
        score=0.5,
        regimes={"volatility": "high", "trend": "down"},
    ),
    EntryContext(
        symbol="ETHUSDT", entry_ns=START + 200 * MINUTE, score=0.7, regimes={"volatility": "high"}
    ),
]

LATENCIES_NS = [ms * 1_000_000 for ms in (7, 3, 10, 1, 5, 2, 9, 4, 8, 6)]


def inputs(**changes: object) -> ReportInputs:
    fields: dict[str, object] = {
        "starting_equity": STARTING_EQUITY,
        "trades": TRADES,
        "equity": EQUITY,
        "fills": FILLS,
        "entries": ENTRIES,
        "passive_orders_placed": 8,
        "passive_orders_filled": 6,
        "latencies_ns": LATENCIES_NS,
        "start_ns": START,
        "end_ns": END,
    }
    fields.update(changes)
    return ReportInputs(**fields)  # type: ignore[arg-type]


PRICES = PriceSeries(
    symbol="BTCUSDT",
    points=[(START + minute * MINUTE, 100.0 + (minute % 17) * 0.25) for minute in range(0, 231)],
)
"""1 m closes of BTCUSDT over the period (a saw tooth)."""
