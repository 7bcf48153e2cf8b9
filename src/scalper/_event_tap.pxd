# C-level interface of scalper._event_tap.

cdef class EventTap:
    cdef int on(self, object event) except -1
    cdef int on_book_row(self, str symbol, long long depth, long long ts) except -1
