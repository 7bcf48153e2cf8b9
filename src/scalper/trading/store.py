"""What a restart must not forget: the orders we sent, the positions we hold, the account.

A SQLite file in the data dir (`trading.sqlite`), written through on every change the trading
core makes (orders and fills are rare next to market events, so a commit each costs nothing that
matters). An order is written *before* it is submitted (write-ahead): after a crash between the
submit and its acknowledgement, the order is found on start, unfinished, and is never sent
again. The paper venue ends with the process, so on start its unfinished orders are marked lost;
a real venue is asked about them by their client id (reconciliation, the execution issue).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

import msgspec

from scalper.trading.orders import OrderRequest

STORE_FILE: Final = "trading.sqlite"

_SCHEMA: Final = """
create table if not exists orders (
    client_id text primary key,
    symbol text not null,
    request blob not null,
    status text not null,
    updated_ns integer not null
);
create table if not exists positions (
    symbol text primary key,
    qty real not null,
    avg_price real not null,
    stop_price real,
    take_profit real,
    entry_ns integer not null
);
create table if not exists account (
    id integer primary key check (id = 1),
    starting_equity real not null,
    realised real not null,
    fees real not null,
    funding real not null,
    updated_ns integer not null
);
"""


class StoredPosition(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    qty: float
    """Signed (positive long)."""
    avg_price: float
    stop_price: float | None
    take_profit: float | None
    entry_ns: int


class StoredAccount(msgspec.Struct, frozen=True, kw_only=True):
    starting_equity: float
    realised: float
    fees: float
    funding: float
    updated_ns: int


class TradingStore:
    """The restart state of one trading account (one file, one writer: the trading core)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("pragma journal_mode = wal")
        self._db.execute("pragma synchronous = full")  # a sent order must survive a crash
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- orders -------------------------------------------------------------------------------

    def order_sent(self, request: OrderRequest, ts_ns: int) -> None:
        """Before `submit`: the order exists from now on, whatever happens next."""
        self._db.execute(
            "insert or replace into orders values (?, ?, ?, 'sent', ?)",
            (request.client_id, request.symbol, msgspec.json.encode(request), ts_ns),
        )

    def order_finished(self, client_id: str, status: str, ts_ns: int) -> None:
        self._db.execute(
            "update orders set status = ?, updated_ns = ? where client_id = ?",
            (status, ts_ns, client_id),
        )

    def unfinished_orders(self) -> list[OrderRequest]:
        rows = self._db.execute(
            "select request from orders where status = 'sent' order by updated_ns"
        ).fetchall()
        return [msgspec.json.decode(row[0], type=OrderRequest) for row in rows]

    def forget_finished_orders(self) -> None:
        self._db.execute("delete from orders where status != 'sent'")

    # -- positions and the account ------------------------------------------------------------

    def save_position(self, position: StoredPosition) -> None:
        if position.qty == 0:
            self._db.execute("delete from positions where symbol = ?", (position.symbol,))
            return
        self._db.execute(
            "insert or replace into positions values (?, ?, ?, ?, ?, ?)",
            (
                position.symbol,
                position.qty,
                position.avg_price,
                position.stop_price,
                position.take_profit,
                position.entry_ns,
            ),
        )

    def positions(self) -> list[StoredPosition]:
        rows = self._db.execute(
            "select symbol, qty, avg_price, stop_price, take_profit, entry_ns from positions"
            " order by symbol"
        ).fetchall()
        return [
            StoredPosition(
                symbol=row[0],
                qty=row[1],
                avg_price=row[2],
                stop_price=row[3],
                take_profit=row[4],
                entry_ns=row[5],
            )
            for row in rows
        ]

    def save_account(self, account: StoredAccount) -> None:
        self._db.execute(
            "insert or replace into account values (1, ?, ?, ?, ?, ?)",
            (
                account.starting_equity,
                account.realised,
                account.fees,
                account.funding,
                account.updated_ns,
            ),
        )

    def account(self) -> StoredAccount | None:
        row = self._db.execute(
            "select starting_equity, realised, fees, funding, updated_ns from account"
        ).fetchone()
        if row is None:
            return None
        return StoredAccount(
            starting_equity=row[0], realised=row[1], fees=row[2], funding=row[3], updated_ns=row[4]
        )
