# cython: language_level=3
"""What sees every event after the engine applied it, compiled: the base of a compiled tap.

`Engine.add_tap` takes any callable; one that is an `EventTap` is called in C, by the engine's
entry and by `EventRouter.apply_book_columns`. There a book row has no event object: the
router first offers the tap the row's symbol, depth and event time (`on_book_row`), and only
when the tap asks for it makes the row's `BookUpdate` and calls `on` with it. So a tap that
settles most book updates from those three fields costs no event per update.
"""


cdef class EventTap:
    """A tap the engine calls in C. Subclasses (Cython) override both methods."""

    cdef int on(self, object event) except -1:
        """One event, already applied by the engine."""
        return 0

    cdef int on_book_row(self, str symbol, long long depth, long long ts) except -1:
        """A book update of `symbol`'s book of `depth` at venue time `ts`, already applied:
        0 when settled here, 1 when `on` must be called with its `BookUpdate` (then nothing
        was changed here)."""
        return 1

    def __call__(self, event: object) -> None:
        self.on(event)
