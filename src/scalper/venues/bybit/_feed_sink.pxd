cdef class FeedSink:
    cdef object apply
    cdef dict stats_by_symbol
    cdef object recorder
    cdef list raws
    cdef list stamps
    cdef list topics
    cdef list symbols
    cdef object batch_ns

    cdef int frame(self, bytes raw, object recv_ns, object event) except -1
    cpdef batch_end(self)
