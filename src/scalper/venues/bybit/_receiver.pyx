# cython: language_level=3
"""picows' callbacks of one Bybit session, compiled: `FrameReceiver` is the `WSListener` whose
`on_ws_frame` picows calls in C for every frame it cuts from a read of the socket.

A frame goes to the session's decoding (`_wire.receive_frame`: a control reply to the session,
an event on) and then to the connection's sink: a compiled `FeedSink` is called in C, any other
sink through Python. The frames of one read share their receive time (taken at its first
frame) and are followed by one `on_batch_end` call, after the connection's figures took them.
"""

from picows.picows cimport WSFrame, WSListener, WSMsgType, WSTransport
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

from scalper.venues.bybit._feed_sink cimport FeedSink
from scalper.venues.bybit._wire cimport receive_frame


cdef inline long long _now_ns() noexcept:
    """time.time_ns(), without a Python call."""
    cdef timespec now
    clock_gettime(CLOCK_REALTIME, &now)
    return <long long>now.tv_sec * 1_000_000_000 + now.tv_nsec


cdef class FrameReceiver(WSListener):
    """Frames of one session to its connection's sink, in the order they came."""

    cdef object stats
    cdef object on_control
    cdef object on_frame
    cdef FeedSink sink
    cdef object on_batch_end
    cdef long long recv_ns
    cdef object recv_ns_object
    cdef Py_ssize_t frames
    cdef list pieces

    def __init__(self, owner: object) -> None:
        """`owner`: the BybitConnection (its stats, session, on_frame and on_batch_end)."""
        self.stats = owner.stats
        self.on_control = owner.session.on_control
        self.on_frame = owner.on_frame
        self.sink = owner.on_frame if isinstance(owner.on_frame, FeedSink) else None
        self.on_batch_end = owner.on_batch_end
        self.recv_ns = 0
        self.recv_ns_object = 0
        self.frames = 0
        self.pieces = []  # a fragmented message's frames so far (Bybit sends none)

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef WSMsgType kind
        if self.recv_ns == 0:
            self.recv_ns = _now_ns()
            self.recv_ns_object = self.recv_ns
        try:
            kind = frame.msg_type
            if (
                (kind == WSMsgType.TEXT or kind == WSMsgType.BINARY)
                and frame.fin
                and not self.pieces
            ):
                self._deliver(frame.get_payload_as_bytes())
            else:
                self._other(transport, frame, kind)
        finally:  # a read ends even if its last frame's sink raised (picows then disconnects)
            if frame.last_in_buffer:
                self._end_read()

    cdef int _deliver(self, bytes raw) except -1:
        recv_ns = self.recv_ns_object
        self.frames += 1
        event = receive_frame(raw, recv_ns, self.on_control)
        if self.sink is not None:
            self.sink.frame(raw, recv_ns, event)
        else:
            self.on_frame(raw, recv_ns, event)
        return 0

    cdef int _end_read(self) except -1:
        stats = self.stats
        if self.frames:
            stats.frames += self.frames
            stats.last_frame_ns = self.recv_ns_object
            self.frames = 0
        self.recv_ns = 0
        self.on_batch_end()
        return 0

    cdef int _other(self, WSTransport transport, WSFrame frame, WSMsgType kind) except -1:
        if kind == WSMsgType.TEXT or kind == WSMsgType.BINARY or kind == WSMsgType.CONTINUATION:
            self.pieces.append(frame.get_payload_as_bytes())
            if frame.fin:
                raw = b"".join(self.pieces)
                self.pieces.clear()
                self._deliver(raw)
        elif kind == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        return 0
