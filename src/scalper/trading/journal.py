"""A bounded record buffer that serves both readers (the latest records) and a recorder
(every record once, by draining).

Bounded by construction: at most `capacity` records are held. Policy when full: the oldest
record is dropped; if the recorder had not drained it yet, it is counted in `dropped` (so a
recorder that falls behind loses the oldest records, visibly, instead of growing memory).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Journal(Generic[T]):
    """The last `capacity` records, and which of them the recorder has not taken yet."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a journal holds at least one record, not {capacity}")
        self.capacity = capacity
        self._records: deque[T] = deque(maxlen=capacity)
        self._undrained = 0
        self.dropped = 0
        """Records evicted before the recorder drained them."""
        self.total = 0
        """Records ever appended."""

    def append(self, record: T) -> None:
        if len(self._records) == self.capacity and self._undrained == self.capacity:
            self.dropped += 1
            self._undrained -= 1
        self._records.append(record)
        self._undrained += 1
        self.total += 1

    def drain(self) -> list[T]:
        """The records appended since the last drain, oldest first (they stay readable)."""
        if self._undrained == 0:
            return []
        taken = list(self._records)[-self._undrained :]
        self._undrained = 0
        return taken

    @property
    def pending(self) -> int:
        """Records not drained yet."""
        return self._undrained

    def latest(self, n: int | None = None) -> list[T]:
        """The last `n` records (all held when None), oldest first."""
        records = list(self._records)
        return records if n is None else records[-n:] if n > 0 else []

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[T]:
        return iter(self._records)
