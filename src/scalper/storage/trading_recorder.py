"""The trading layer's rows on disk, next to the market data: why each trade happened.

`TradingRecorder` turns the trading structs into rows of their tables (`trading_tables.py`) on
the caller's thread (a copy: nothing the trading core changes later reaches the disk) and keeps
them per table until `recorder.trading_chunk_rows` are pending or the oldest has waited
`recorder.trading_flush_s` of wall time; then it hands them to a `Recorder`, whose writer thread
journals them at once (readers see them from then on) and writes them to hourly Parquet
segments, under the data dir's lock, crash recovery, disk budget and retention like every other
stream.

Bounded: at most `trading_chunk_rows` rows per table wait here; the recorder's queue holds at
most `queue_chunks` chunks of every stream. When that queue is full a chunk is dropped and its
rows counted (`dropped`), so the event loop never waits on disk; `stop()` alone waits for room,
so rows handed to it before `stop()` are never lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Reversible
from itertools import takewhile
from pathlib import Path
from typing import Any

from scalper.settings import RecorderSettings
from scalper.storage.recorder import Recorder
from scalper.storage.trading_tables import (
    TABLES,
    RiskEvent,
    risk_event_of_change,
    risk_event_of_refusal,
    stream_name,
)
from scalper.trading.audit import AuditRecord
from scalper.trading.intents import Intent
from scalper.trading.orders import Fill, FundingPayment, OrderUpdate
from scalper.trading.portfolio import EquityPoint, TradeRecord
from scalper.trading.risk import Refused, StateChange, TradingState


class TradingRecorder:
    """Buffers trading rows per table and hands them to `recorder` (see the module docstring).

    Share the run's `Recorder` (started; stop this first, then it). For a process that records
    nothing else (a backtest), `TradingRecorder.standalone(data_dir)` starts and owns one."""

    def __init__(
        self,
        recorder: Recorder,
        settings: RecorderSettings | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
        owns_recorder: bool = False,
    ) -> None:
        self.recorder = recorder
        self.settings = settings or recorder.settings
        self._clock = clock
        self._owns_recorder = owns_recorder
        self._flush_ns = round(self.settings.trading_flush_s * 1e9)
        self._pending: dict[str, list[tuple[object, ...]]] = {name: [] for name in TABLES}
        self._since: dict[str, int] = {}
        """Table -> wall time (the clock's ns) its oldest pending row arrived."""
        self._equity_after: int | None = None
        self.dropped: dict[str, int] = dict.fromkeys(TABLES, 0)
        """Rows per table dropped because the recorder's queue was full."""
        self.appended: dict[str, int] = dict.fromkeys(TABLES, 0)
        """Rows per table appended so far."""

    @classmethod
    def standalone(
        cls, data_dir: Path, settings: RecorderSettings | None = None
    ) -> TradingRecorder:
        """A started recorder of `data_dir` of its own (takes the dir's lock, recovers what a
        crash left, applies the disk budget); `stop()` stops it."""
        recorder = Recorder(data_dir, settings, source="none")
        recorder.start()
        return cls(recorder, owns_recorder=True)

    # -- appending (the trading core's thread) -----------------------------------------------

    def append(self, table: str, records: Iterable[Any]) -> None:
        """Rows of `table` (one of `trading_tables.TABLES`), made of its struct's records."""
        spec = TABLES[table]
        rows = [spec.row(record) for record in records]
        if not rows:
            return
        pending = self._pending[table]
        if not pending:
            self._since[table] = self._clock()
        pending.extend(rows)
        self.appended[table] += len(rows)
        if len(pending) >= self.settings.trading_chunk_rows:
            self._hand_over(table)
        else:
            self.flush_due()

    def append_audit(self, records: Iterable[AuditRecord]) -> None:
        self.append("audit", records)

    def append_orders(self, updates: Iterable[OrderUpdate]) -> None:
        self.append("orders", updates)

    def append_fills(self, fills: Iterable[Fill]) -> None:
        self.append("fills", fills)

    def append_funding(self, payments: Iterable[FundingPayment]) -> None:
        self.append("funding", payments)

    def append_trades(self, trades: Iterable[TradeRecord]) -> None:
        self.append("trades", trades)

    def append_equity(self, points: Iterable[EquityPoint]) -> None:
        self.append("equity", points)

    def append_equity_curve(self, curve: Reversible[EquityPoint]) -> None:
        """The points of an equity curve (`Portfolio.equity_curve`, oldest first) not recorded
        yet: those after the last one this recorder took from a curve (read from the newest
        back, so a call costs the new points only)."""
        after = self._equity_after
        points = list(
            takewhile(lambda point: after is None or point.ts_ns > after, reversed(curve))
        )
        points.reverse()
        if points:
            self._equity_after = points[-1].ts_ns
            self.append("equity", points)

    def append_risk(self, events: Iterable[RiskEvent]) -> None:
        self.append("risk", events)

    def append_risk_changes(self, changes: Iterable[StateChange]) -> None:
        """Trading-state changes (`RiskEngine.changes.drain()`)."""
        self.append("risk", map(risk_event_of_change, changes))

    def append_refusal(
        self, ts_ns: int, intent: Intent, refused: Refused, state: TradingState
    ) -> None:
        """A refusal `RiskEngine.check(intent, ...)` answered at `ts_ns` in trading state
        `state`."""
        self.append("risk", [risk_event_of_refusal(ts_ns, intent, refused, state)])

    # -- handing over ------------------------------------------------------------------------

    def flush_due(self) -> None:
        """Hand over the tables whose oldest pending row has waited `trading_flush_s`: call it
        on a timer (the run's recorder flush, a few times a second) so that quiet tables are
        written too."""
        if not self._since:
            return
        now = self._clock()
        for table, since in list(self._since.items()):
            if now - since >= self._flush_ns:
                self._hand_over(table)

    def flush(self, block: bool = False) -> None:
        """Hand every pending row over now (`block`: wait for room in the recorder's queue
        instead of dropping; never on the event loop)."""
        for table in list(self._since):
            self._hand_over(table, block)

    def drain(self) -> None:
        """Hand everything over and wait until the writer has journaled it (readers see it)."""
        self.flush(block=True)
        self.recorder.drain()

    def stop(self) -> None:
        """Hand every pending row over, waiting for room: nothing appended before is lost. Stops
        the recorder if this owns it (otherwise stop the recorder after this)."""
        self.flush(block=True)
        if self._owns_recorder:
            self.recorder.stop()

    def _hand_over(self, table: str, block: bool = False) -> None:
        rows = self._pending[table]
        if not rows:
            return
        self._pending[table] = []
        del self._since[table]
        if not self.recorder.record_rows(stream_name(table), rows, block):
            self.dropped[table] += len(rows)
