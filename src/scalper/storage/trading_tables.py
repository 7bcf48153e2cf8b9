"""The trading layer's tables on disk: their columns, and rows to and from the trading structs.

```
DATA_DIR/trading/<table>/date=YYYY-MM-DD/<first event ns>.parquet
```

One table per kind of row, each the flattened fields of one msgspec struct of the trading layer
(nested structs become columns of their own, e.g. an order's request fields sit beside its
status; the names never collide). Column types: int -> int64, float -> float64, str -> string,
bool -> bool, an enum -> string (its value), `dict[str, str]` (the audit's `regimes`) ->
map<string, string>, `X | None` -> a nullable X. The table's time key (event time, ns) comes
first; it names and partitions the segments, so rows are expected in event-time order per table
(the trading core's clock).

| table   | struct                        | time key  |
|---------|-------------------------------|-----------|
| audit   | trading.audit.AuditRecord     | ts_ns     |
| orders  | trading.orders.OrderUpdate    | ts_ns     |
| fills   | trading.orders.Fill           | ts_ns     |
| funding | trading.orders.FundingPayment | ts_ns     |
| trades  | trading.portfolio.TradeRecord | exit_ns   |
| equity  | trading.portfolio.EquityPoint | ts_ns     |
| risk    | RiskEvent (below)             | ts_ns     |
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import msgspec
import msgspec.inspect as mi
import pyarrow as pa

from scalper.storage.segments import HOUR_NS, SegmentFormat
from scalper.trading.audit import AuditRecord
from scalper.trading.intents import CancelIntent, EnterIntent, Intent
from scalper.trading.orders import Fill, FundingPayment, OrderUpdate
from scalper.trading.portfolio import EquityPoint, TradeRecord
from scalper.trading.risk import Refused, StateChange, TradingState

TRADING_DIR: Final = "trading"
"""The trading tables live under `DATA_DIR/trading/<table>`."""


class RiskEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A row of the `risk` table: a trading-state change of the risk engine, or a refusal.

    kind "state": `previous` -> `state` (active, reducing, halted) because of `reason`.
    kind "refusal": an intent (`intent`: enter, exit or cancel) of `symbol` / `client_id` was
    refused for `reason` (a `RefusalReason` value) with `detail`; `state` is the trading state
    it was refused in."""

    ts_ns: int
    kind: str
    state: str
    reason: str
    previous: str = ""
    detail: str = ""
    symbol: str = ""
    client_id: str = ""
    intent: str = ""


def _state_name(state: TradingState) -> str:
    return state.name.lower()


def risk_event_of_change(change: StateChange) -> RiskEvent:
    """The row of one `RiskEngine.changes` record."""
    return RiskEvent(
        ts_ns=change.ts_ns,
        kind="state",
        previous=_state_name(change.previous),
        state=_state_name(change.state),
        reason=change.reason,
    )


def risk_event_of_refusal(
    ts_ns: int, intent: Intent, refused: Refused, state: TradingState
) -> RiskEvent:
    """The row of a `Refused` answer of `RiskEngine.check(intent, ...)` at event time `ts_ns`,
    in trading state `state` (the engine's `state` when it answered)."""
    kind = (
        "enter"
        if isinstance(intent, EnterIntent)
        else "cancel"
        if isinstance(intent, CancelIntent)
        else "exit"
    )
    return RiskEvent(
        ts_ns=ts_ns,
        kind="refusal",
        state=_state_name(state),
        reason=refused.reason.value,
        detail=refused.detail,
        symbol=intent.symbol,
        client_id=intent.client_id,
        intent=kind,
    )


T = TypeVar("T", bound=msgspec.Struct)

_ARROW: Final[dict[type, pa.DataType]] = {
    mi.IntType: pa.int64(),
    mi.FloatType: pa.float64(),
    mi.StrType: pa.string(),
    mi.BoolType: pa.bool_(),
    mi.EnumType: pa.string(),
}
_MAP: Final = pa.map_(pa.string(), pa.string())


class _Column(msgspec.Struct, frozen=True):
    name: str
    path: tuple[str, ...]
    """Attribute names from the row struct down to the value."""
    field: pa.Field
    kind: str
    """"plain", "enum" (stored as its value) or "map" (stored as key/value pairs)."""


def _columns(info: mi.StructType, path: tuple[str, ...] = ()) -> list[_Column]:
    columns: list[_Column] = []
    for field in info.fields:
        kind, nullable = field.type, False
        if isinstance(kind, mi.UnionType):
            others = [t for t in kind.types if not isinstance(t, mi.NoneType)]
            if len(others) != 1 or len(others) == len(kind.types):
                raise TypeError(f"{info.cls.__name__}.{field.name}: only `X | None` is stored")
            kind, nullable = others[0], True
        where = (*path, field.name)
        if isinstance(kind, mi.StructType) and not nullable:
            columns.extend(_columns(kind, where))
        elif isinstance(kind, mi.DictType) and isinstance(kind.key_type, mi.StrType):
            columns.append(_Column(field.name, where, pa.field(field.name, _MAP, nullable), "map"))
        elif type(kind) in _ARROW:
            arrow = _ARROW[type(kind)]
            label = "enum" if isinstance(kind, mi.EnumType) else "plain"
            columns.append(_Column(field.name, where, pa.field(field.name, arrow, nullable), label))
        else:
            raise TypeError(f"{info.cls.__name__}.{field.name}: no column type for {kind}")
    return columns


class TradingTable(Generic[T]):
    """One table: its struct, its columns, and rows to and from the struct."""

    def __init__(self, name: str, struct: type[T], time_column: str = "ts_ns") -> None:
        info = mi.type_info(struct)
        assert isinstance(info, mi.StructType)
        columns = _columns(info)
        columns.sort(key=lambda column: column.name != time_column)  # stable: time key first
        names = [column.name for column in columns]
        if len(set(names)) != len(names) or names[0] != time_column:
            raise TypeError(f"{struct.__name__}: flattened column names collide: {names}")
        self.name = name
        self.struct = struct
        self.time_column = time_column
        self.columns = columns
        self.schema = pa.schema([column.field for column in columns])
        self._get: Callable[[Any], tuple[Any, ...]] = attrgetter(
            *(".".join(column.path) for column in columns)
        )
        self._enums = [i for i, column in enumerate(columns) if column.kind == "enum"]
        self._maps = [i for i, column in enumerate(columns) if column.kind == "map"]

    def row(self, record: T) -> tuple[object, ...]:
        """The record as a row (a copy: later changes of a mutable record do not reach it)."""
        values = list(self._get(record))
        for i in self._enums:
            value = values[i]
            values[i] = value.value if isinstance(value, enum.Enum) else value
        for i in self._maps:
            value = values[i]
            values[i] = None if value is None else list(value.items())
        return tuple(values)

    def record(self, row: dict[str, object]) -> T:
        """The struct of a row read back (a dict of this table's columns; others are ignored)."""
        nested: dict[str, Any] = {}
        for column in self.columns:
            value = row[column.name]
            if column.kind == "map" and value is not None:
                value = dict(value)  # type: ignore[call-overload]
            target = nested
            for name in column.path[:-1]:
                target = target.setdefault(name, {})
            target[column.path[-1]] = value
        return msgspec.convert(nested, self.struct)

    def format(self) -> SegmentFormat:
        """Hourly segments (rows go to the journal at once, so readers see them before the
        segment closes); string columns dictionary-encoded."""
        strings = [f.name for f in self.schema if f.type == pa.string()]
        return SegmentFormat(
            self.schema,
            time_column=self.time_column,
            dictionary_columns=strings,
            row_group_rows=16_384,
            roll_ns=HOUR_NS,
        )


TABLES: Final[dict[str, TradingTable[Any]]] = {
    table.name: table
    for table in (
        TradingTable("audit", AuditRecord),
        TradingTable("orders", OrderUpdate),
        TradingTable("fills", Fill),
        TradingTable("funding", FundingPayment),
        TradingTable("trades", TradeRecord, time_column="exit_ns"),
        TradingTable("equity", EquityPoint),
        TradingTable("risk", RiskEvent),
    )
}
"""Every trading table by name."""


def stream_name(table: str) -> str:
    """The recorder's stream of a table: its folder below the data dir (`trading/<table>`)."""
    return f"{TRADING_DIR}/{table}"


def table_root(data_dir: Path, table: str) -> Path:
    return data_dir / TRADING_DIR / table
