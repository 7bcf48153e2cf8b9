"""A Trade's fields read in C (`load_trade`, `trade_field`), for the engine's per-trade loops.

msgspec keeps a Struct's fields in slots at fixed offsets in the object, as `__slots__` do, and
names each offset in the type's member descriptor. An object that is exactly `Trade` has its
fields read from there (no attribute lookup, a few ns each); any other object (a subclass, a
duck-typed test double) by attribute, as before. A field left unset (only possible by bypassing
`__init__`) reads by attribute too, which raises AttributeError. A module that cimports this
keeps its offsets in a module global: `cdef TradeOffsets _AT = trade_offsets(Trade)`.
"""

from cpython.object cimport PyObject, PyTypeObject, Py_TYPE


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef struct TradeOffsets:
    PyObject* cls
    Py_ssize_t price
    Py_ssize_t size
    Py_ssize_t side
    Py_ssize_t ts_event_ns
    Py_ssize_t recv_ns
    Py_ssize_t trade_id
    Py_ssize_t tick_direction
    Py_ssize_t is_block_trade


cdef struct TradeFields:
    double price
    double size
    long side
    long long ts_event_ns
    long long recv_ns
    bint is_block_trade


cdef inline Py_ssize_t _member_offset(object cls, str name) except -1:
    descriptor = cls.__dict__[name]
    if type(descriptor).__name__ != "member_descriptor":
        raise TypeError(f"{cls.__name__}.{name} is not a slot")
    return (<PyMemberDescrObject*><PyObject*>descriptor).d_member.offset


cdef inline TradeOffsets trade_offsets(object cls) except *:
    """The slot offsets of `cls` (the Trade struct), kept for the life of the process."""
    cdef TradeOffsets at
    at.cls = <PyObject*>cls
    at.price = _member_offset(cls, "price")
    at.size = _member_offset(cls, "size")
    at.side = _member_offset(cls, "side")
    at.ts_event_ns = _member_offset(cls, "ts_event_ns")
    at.recv_ns = _member_offset(cls, "recv_ns")
    at.trade_id = _member_offset(cls, "trade_id")
    at.tick_direction = _member_offset(cls, "tick_direction")
    at.is_block_trade = _member_offset(cls, "is_block_trade")
    return at


cdef inline object trade_field(object trade, TradeOffsets* at, Py_ssize_t offset, str name):
    """One field of `trade`: from its slot `offset` if it is exactly the Trade type, else (or
    when unset) by attribute `name`."""
    cdef PyObject* value
    if <PyObject*>Py_TYPE(trade) == at.cls:
        value = (<PyObject**>((<char*><PyObject*>trade) + offset))[0]
        if value is not NULL:
            return <object>value
    return getattr(trade, name)


cdef inline int load_trade(object trade, TradeOffsets* at, TradeFields* out) except -1:
    """`out` = the trade's numbers; raises as attribute reads and conversions to C numbers
    do (after which `out` may be partly written)."""
    out.price = trade_field(trade, at, at.price, "price")
    out.size = trade_field(trade, at, at.size, "size")
    out.side = trade_field(trade, at, at.side, "side")
    out.ts_event_ns = trade_field(trade, at, at.ts_event_ns, "ts_event_ns")
    out.recv_ns = trade_field(trade, at, at.recv_ns, "recv_ns")
    out.is_block_trade = trade_field(trade, at, at.is_block_trade, "is_block_trade")
    return 0
