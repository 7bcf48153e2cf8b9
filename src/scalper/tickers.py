"""The last known ticker of one symbol: snapshots replace it, deltas merge into it.

Bybit derivatives tickers send a snapshot, then deltas that carry only the fields that changed
(/docs/v5/websocket/public/ticker); spot sends snapshots only.
"""

from __future__ import annotations

from typing import Final

import msgspec

from scalper.events import TickerFields, TickerUpdate

_FIELDS: Final = TickerFields.__struct_fields__


class TickerState:
    """Merged ticker values of one symbol."""

    __slots__ = ("fields", "ts_event_ns", "updates")

    def __init__(self) -> None:
        self.fields = TickerFields()
        self.ts_event_ns = 0
        self.updates = 0

    def apply(self, update: TickerUpdate) -> None:
        """Replace on a snapshot; on a delta, overwrite only the fields the delta carries."""
        if update.is_snapshot:
            self.fields = msgspec.structs.replace(update.fields)  # a copy: events stay as sent
        else:
            fields = self.fields
            delta = update.fields
            for name in _FIELDS:
                value = getattr(delta, name)
                if value is not None:
                    setattr(fields, name, value)
        self.ts_event_ns = update.ts_event_ns
        self.updates += 1
