"""A stored row group's topics, dictionary-encoded and parsed once for every reader of its columns
(`book_columns`, `trade_columns`, `ticker_columns`): encoding 60,000 topics costs ~2.5 ms, which
each of them paid on its own before (make bench's recording, issue 20)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scalper.venues.bybit.topics import Route, parse_topic


class RowTopics(NamedTuple):
    """Row i's topic is `routes[of_row[i]]` (None: not a topic we decode); `symbol_matches[i]`:
    row i's `symbol` is its topic's."""

    of_row: np.ndarray
    routes: list[Route | None]
    symbol_matches: np.ndarray

    def symbols(self, channel: str) -> list[str]:
        """Each topic's symbol if it is of `channel`, else ""."""
        return [r.symbol if r is not None and r.channel == channel else "" for r in self.routes]

    def of_channel(self, channel: str) -> np.ndarray:
        """Per row: its topic is of `channel`."""
        wanted = [r is not None and r.channel == channel for r in self.routes]
        return np.array(wanted, bool)[self.of_row]


def row_topics(table: pa.Table) -> RowTopics:
    """The topics of a stored raw row group."""
    topics = pc.dictionary_encode(table["topic"].combine_chunks())
    routes = [parse_topic(topic) for topic in topics.dictionary.to_pylist()]
    of_row = topics.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    symbols = pa.array([r.symbol if r is not None else "" for r in routes], pa.string())
    matches = pc.fill_null(pc.equal(symbols.take(topics.indices), table["symbol"]), False)
    return RowTopics(of_row, routes, matches.to_numpy(zero_copy_only=False))
