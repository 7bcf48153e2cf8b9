"""Reading the trading tables back: rows as Arrow tables or as the trading structs.

A table's rows are in its complete segments and in the journals of the segments still being
written (the current hour's, or a crash's not yet recovered): both are read, so rows are seen
as soon as the writer has journaled them. The journals are read before the segments are
listed, and a journal whose segment is complete by then is left out (its segment holds every
row of it), so a segment closing meanwhile is never counted twice nor missed.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scalper.errors import InputError
from scalper.storage.segments import (
    JOURNAL_SUFFIX,
    complete_segments,
    read_journal,
    segments_between,
)
from scalper.storage.trading_tables import TABLES, TradingTable, table_root
from scalper.trading.audit import AuditRecord

log = logging.getLogger(__name__)


class Snapshot:
    """A table's complete segments and the rows of its other journals, as of one look."""

    def __init__(self, segments: list[Path], journal_rows: pa.Table) -> None:
        self.segments = segments
        self.journal_rows = journal_rows
        """Rows of the journals without a complete segment, with a `date` column (date32)
        from their `date=` folder."""


def _spec(table: str) -> TradingTable[Any]:
    try:
        return TABLES[table]
    except KeyError:
        raise InputError(f"no trading table {table!r} (one of {', '.join(TABLES)})") from None


def snapshot(data_dir: Path, table: str) -> Snapshot:
    """What `table` of `data_dir` holds now (see the module docstring)."""
    spec = _spec(table)
    root = table_root(data_dir, table)
    read: list[tuple[Path, pa.Table]] = []
    for journal in sorted(root.glob(f"date=*/*{JOURNAL_SUFFIX}")):
        batches, _ = read_journal(journal)  # a torn tail is a chunk being written: not yet
        rows = [batch for batch in batches if batch.num_rows]
        if rows:
            read.append((journal, pa.Table.from_batches(rows)))
    segments = complete_segments(root)
    complete = {path.with_suffix("") for path in segments}
    tables = []
    for journal, rows in read:
        if journal.with_suffix("") in complete:
            continue
        day = datetime.date.fromisoformat(journal.parent.name.removeprefix("date="))
        tables.append(rows.append_column("date", pa.array([day] * len(rows), pa.date32())))
    schema = spec.schema.append(pa.field("date", pa.date32()))
    journal_rows = _concat(tables, schema)
    return Snapshot(segments, journal_rows)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables, promote_options="default")


def read_table(
    data_dir: Path,
    table: str,
    symbol: str | None = None,
    from_ns: int | None = None,
    to_ns: int | None = None,
) -> pa.Table:
    """The rows of `table` (without the `date` column) with a time key in [from_ns, to_ns)
    and, if given, of `symbol`, in time order (rows of one time in the order recorded)."""
    spec = _spec(table)
    if symbol is not None and "symbol" not in spec.schema.names:
        raise InputError(f"the trading table {table} has no symbol column")
    found = snapshot(data_dir, table)
    tables = [found.journal_rows.drop_columns(["date"])]
    for path in segments_between(found.segments, from_ns, to_ns):
        try:
            tables.append(pq.read_table(path))
        except FileNotFoundError:  # deleted by the disk budget meanwhile
            continue
        except (pa.ArrowInvalid, OSError) as exc:
            log.warning("skipping unreadable segment %s: %s", path, exc)
    # Segments first (older), then the journals: the stable sort keeps the recorded order.
    rows = _concat([*tables[1:], tables[0]], spec.schema)
    time = rows[spec.time_column]
    mask = pc.is_valid(time)
    if from_ns is not None:
        mask = pc.and_(mask, pc.greater_equal(time, from_ns))
    if to_ns is not None:
        mask = pc.and_(mask, pc.less(time, to_ns))
    if symbol is not None:
        mask = pc.and_(mask, pc.equal(rows["symbol"], symbol))
    rows = rows.filter(mask)
    return rows.take(pc.sort_indices(rows[spec.time_column]))


def read_records(
    data_dir: Path,
    table: str,
    symbol: str | None = None,
    from_ns: int | None = None,
    to_ns: int | None = None,
) -> list[Any]:
    """`read_table`'s rows as the table's structs (AuditRecord, OrderUpdate, Fill, ...)."""
    spec = _spec(table)
    rows = read_table(data_dir, table, symbol, from_ns, to_ns)
    return [spec.record(row) for row in rows.to_pylist()]


def read_audit(
    data_dir: Path,
    symbol: str | None = None,
    from_ns: int | None = None,
    to_ns: int | None = None,
) -> list[AuditRecord]:
    """The audit records of `symbol` (every symbol when None) with an event time in
    [from_ns, to_ns), in the order they were recorded: why each trade happened."""
    return read_records(data_dir, "audit", symbol, from_ns, to_ns)
