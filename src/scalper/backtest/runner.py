"""A backtest: a recording replayed through exactly the live code (engine, signals, strategy,
risk engine, paper broker), in recorded receive order, on event time only.

The live run writes what a backtest needs next to its frames (`runtime.write_run_context`):
the instruments (tick size, quantity step) and the settings of the engine, the signals and the
trading layer; the backtest starts from those settings (`--set` overrides them), so a backtest
of a paper run decides exactly what the paper run decided (tests/integration/test_paper_demo.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Reversible
from pathlib import Path
from typing import Final

import msgspec

from scalper.engine import Engine
from scalper.errors import InputError
from scalper.events import Instrument
from scalper.replay import (
    Decode,
    Step,
    apply_record,
    column_steps,
    preroll_books,
    recorded_records,
)
from scalper.settings import Settings
from scalper.signals import SignalEngine
from scalper.storage.layout import raw_sources
from scalper.trading.audit import AuditRecord
from scalper.trading.intents import Intent
from scalper.trading.orders import Fill, FundingPayment, OrderUpdate
from scalper.trading.paper import PaperBroker
from scalper.trading.portfolio import EquityPoint, TradeRecord
from scalper.trading.risk import Refused, StateChange, TradingState
from scalper.trading.strategy import ReferenceStrategy
from scalper.trading.trader import Trader
from scalper.venues.bybit.frames import FrameApplier

log = logging.getLogger(__name__)

INSTRUMENTS_FILE: Final = "instruments.json"
SETTINGS_FILE: Final = "run-settings.json"
RUN_SECTIONS: Final = ("engine", "signals", "trading")
"""The settings a backtest takes from the recorded run."""
_DRAIN_ROWS: Final = 4096
"""The trader's journals are drained into the collected rows every this many rows."""
_SETTLE_NS: Final = 5_000_000_000
"""After the last row, event time runs on this long so that what was in flight arrives."""


class Collected:
    """Every trading row of a backtest, unbounded (the report needs all of them)."""

    def __init__(self) -> None:
        self.audit: list[AuditRecord] = []
        self.orders: list[OrderUpdate] = []
        self.fills: list[Fill] = []
        self.funding: list[FundingPayment] = []
        self.trades: list[TradeRecord] = []
        self.equity: list[EquityPoint] = []
        self.risk_changes: list[StateChange] = []
        self.refusals: list[tuple[int, str, str]] = []
        """(event time, symbol, reason)."""
        self._equity_after = -1

    def append_audit(self, records: Iterable[AuditRecord]) -> None:
        self.audit.extend(records)

    def append_orders(self, updates: Iterable[OrderUpdate]) -> None:
        self.orders.extend(updates)

    def append_fills(self, fills: Iterable[Fill]) -> None:
        self.fills.extend(fills)

    def append_funding(self, payments: Iterable[FundingPayment]) -> None:
        self.funding.extend(payments)

    def append_trades(self, trades: Iterable[TradeRecord]) -> None:
        self.trades.extend(trades)

    def append_equity_curve(self, curve: Reversible[EquityPoint]) -> None:
        new = []
        for point in reversed(curve):
            if point.ts_ns <= self._equity_after:
                break
            new.append(point)
        if new:
            self._equity_after = new[0].ts_ns
            self.equity.extend(reversed(new))

    def append_risk_changes(self, changes: Iterable[StateChange]) -> None:
        self.risk_changes.extend(changes)

    def append_refusal(
        self, ts_ns: int, intent: Intent, refused: Refused, state: TradingState
    ) -> None:
        self.refusals.append((ts_ns, intent.symbol, refused.reason.value))


class BacktestRun(msgspec.Struct, frozen=True, kw_only=True):
    rows: int
    first_ns: int
    last_ns: int


def recorded_run_settings(data_dir: Path) -> dict[str, object]:
    """The recorded run's engine, signals and trading settings as flat keys (empty if the
    recording has none), to start a backtest from."""
    path = data_dir / SETTINGS_FILE
    if not path.exists():
        return {}
    return msgspec.json.decode(path.read_bytes(), type=dict[str, object])


def recorded_instruments(data_dir: Path) -> dict[str, Instrument]:
    path = data_dir / INSTRUMENTS_FILE
    if not path.exists():
        raise InputError(
            f"{data_dir} has no {INSTRUMENTS_FILE}: record it with a version that writes it"
            " (scalper run or demo with the recorder on)"
        )
    return msgspec.json.decode(path.read_bytes(), type=dict[str, Instrument])


def flat_settings(settings: Settings, sections: Iterable[str] = RUN_SECTIONS) -> dict[str, object]:
    """`section.key.sub = value` for every leaf of `sections`."""
    flat: dict[str, object] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}", item)
        else:
            flat[prefix] = value

    for section in sections:
        walk(section, msgspec.to_builtins(getattr(settings, section)))
    return flat


def build_trader(settings: Settings, instruments: dict[str, Instrument]) -> Trader:
    """Engine, signals and the paper trader of `settings`, with no wall clock anywhere."""
    engine = Engine(settings.engine)
    signals = SignalEngine(engine, settings.signals)
    trading = settings.trading
    return Trader(
        engine,
        signals,
        ReferenceStrategy(trading.strategy),
        PaperBroker(trading.paper, instruments),
        trading,
        instruments,
        trading.paper.starting_equity,
    )


def run_backtest(
    trader: Trader,
    data_dir: Path,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    decode: Decode = "columns",
) -> tuple[BacktestRun, Collected]:
    """Replay `data_dir` through `trader` (its engine, signals and broker): every trading row
    collected; the journals drained every 4,096 rows and at the end. `decode`: as
    `replay.replay_recording`'s (columns: book frames from their integer columns, each one
    handed to the trader as live; both give the same run, tested)."""
    collected = Collected()
    trader.rows = collected
    applier = FrameApplier(trader.engine)
    if from_ns is not None:
        preroll_books(applier, data_dir, from_ns, symbols, decode)
    if decode == "columns" and len(raw_sources(data_dir)) <= 1:
        steps = column_steps(applier, data_dir, from_ns, to_ns, symbols, _DRAIN_ROWS)
    else:
        steps = _record_steps(applier, data_dir, from_ns, to_ns, symbols)
    rows, first_ns, last_ns = 0, 0, 0
    for step in steps:
        if not step.rows:
            continue
        rows += step.rows
        if not first_ns:
            first_ns = step.first_recv_ns
        last_ns = step.last_recv_ns
        if rows % _DRAIN_ROWS == 0:
            trader.record()
            if progress is not None:
                progress(rows)
    trader.advance_to(trader.now_ns + _SETTLE_NS)
    trader.record()
    if progress is not None:
        progress(rows)
    return BacktestRun(rows=rows, first_ns=first_ns, last_ns=last_ns), collected


def _record_steps(
    applier: FrameApplier,
    data_dir: Path,
    from_ns: int | None,
    to_ns: int | None,
    symbols: list[str] | None,
) -> Iterator[Step]:
    """The JSON path: each row decoded from its frame; a step every `_DRAIN_ROWS` rows."""
    count, first_ns, last_ns = 0, 0, 0
    for record in recorded_records(data_dir, from_ns, to_ns, symbols):
        apply_record(applier, record)
        last_ns = record[0]
        if not count:
            first_ns = last_ns
        count += 1
        if count == _DRAIN_ROWS:
            yield Step(count, first_ns, last_ns)
            count = 0
    if count:
        yield Step(count, first_ns, last_ns)


def write_run_context(
    data_dir: Path, settings: Settings, instruments: dict[str, Instrument]
) -> None:
    """What a backtest of this recording needs besides its frames: the instruments and the
    engine, signals and trading settings (the latest run into a data dir wins)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (
        (INSTRUMENTS_FILE, instruments),
        (SETTINGS_FILE, flat_settings(settings)),
    ):
        partial = data_dir / f".{name}.partial"
        partial.write_bytes(msgspec.json.format(msgspec.json.encode(value)))
        partial.replace(data_dir / name)
