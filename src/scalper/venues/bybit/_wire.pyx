# cython: language_level=3, boundscheck=False, wraparound=False
"""Bybit frames decoded in C: `decode_one` (the live receiver's frame), `decode_rows` (a
replay's recorded frames that are stored whole, tens of thousands a row group, read in place from
their stored column), and `trade_batches` and `ticker_updates` (trade and ticker frames stored
as columns, `trade_codec.py`, `ticker_codec.py`: no JSON at all).

Exactly `wire.decode_frame`'s events: a book, trade or ticker frame that takes wire.py's fast
path is built here, in C, from the same msgspec decode (no Python frame per frame or per trade);
every other frame (control replies, anything the fast path would not take or that breaks a rule)
goes to `wire.decode_frame` itself, which names what is wrong.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeASCII

import msgspec

from scalper.events import (
    BUY,
    SELL,
    UNKNOWN_SIDE,
    BookUpdate,
    TickerFields,
    TickerUpdate,
    Trade,
    TradeBatch,
)
from scalper.venues.bybit.topics import BOOK, TICKER, TRADE, cached_route
from scalper.venues.bybit.trade_codec import SIDES, TICK_DIRECTIONS
from scalper.venues.bybit.wire import (
    MAX_MILLIS,
    _FAST_DECODERS,
    _SIDES,
    _TICK_DIRECTIONS,
    BookData,
    BookFrame,
    ControlMessage,
    _TickerData,
    _TickerFrame,
    _TradeData,
    _TradeFrame,
    decode_frame,
)

_TRADE_FIELDS = ("T", "s", "p", "v", "S", "L", "i", "BT")
if (
    BookFrame.__struct_fields__ != ("topic", "type", "ts", "data", "cts")
    or BookData.__struct_fields__ != ("s", "b", "a", "u", "seq")
    or _TradeData.__struct_fields__ != _TRADE_FIELDS
    or _TickerData.__struct_fields__[1:] != TickerFields.__struct_fields__
):  # `_fast`, `_trades` and `_ticker` take the fields by position
    raise ImportError("wire.py's frame structs changed their fields: update _wire.pyx")

cdef extern from "Python.h":
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow) except? -1.0

cdef object _Trade = Trade
cdef object _TradeBatch = TradeBatch
cdef object _TickerFields = TickerFields
cdef object _TickerUpdate = TickerUpdate
cdef object _BookUpdate = BookUpdate
cdef object _ControlMessage = ControlMessage
cdef object _BookFrameType = BookFrame
cdef object _TradeFrameType = _TradeFrame
cdef object _TickerFrameType = _TickerFrame
cdef object _TickerDataType = _TickerData
cdef object _DecodeError = msgspec.DecodeError
cdef object _astuple = msgspec.structs.astuple
cdef dict _decoders = _FAST_DECODERS
cdef dict _sides = _SIDES
cdef dict _ticks = _TICK_DIRECTIONS
cdef object _unknown_side = UNKNOWN_SIDE
cdef object _max_millis = MAX_MILLIS
cdef str _book_channel = BOOK
cdef str _trade_channel = TRADE
cdef str _ticker_channel = TICKER
cdef long long _MS_TO_NS = 1_000_000
cdef tuple _side_of_code = tuple(_SIDES[name] for name in SIDES)
cdef tuple _tick_of_code = tuple(_TICK_DIRECTIONS[name] for name in TICK_DIRECTIONS)
cdef Py_ssize_t _TICKER_FIELDS = len(TickerFields.__struct_fields__)
cdef Py_ssize_t _NEXT_FUNDING = TickerFields.__struct_fields__.index("next_funding_time_ms")
if _NEXT_FUNDING != _TICKER_FIELDS - 1:  # ticker_updates: the one integer field is the last
    raise ImportError("TickerFields changed its integer field: update _wire.pyx")
cdef double _POWERS_OF_TEN[18]
for _k in range(18):
    _POWERS_OF_TEN[_k] = 10.0 ** _k
cdef Py_ssize_t _SIDE_CODES = len(_side_of_code)
cdef Py_ssize_t _TICK_CODES = len(_tick_of_code)
if set(_side_of_code) != {BUY, SELL}:
    raise ImportError("trade_codec.SIDES no longer names the two sides: update _wire.pyx")


def decode_rows(
    const unsigned char[::1] data,
    const int[::1] offsets,
    const long long[::1] rows,
    const long long[::1] recv_ns,
    list out=None,
    const long long[::1] positions=None,
):
    """`[decode_frame(data[offsets[r]:offsets[r + 1]], recv_ns[r]) for r in rows]`, faster: a
    binary column's value and offset buffers read in place, each frame copied once, into its
    bytes object (no gathered copy of the column, no list of frames). With `out`, row
    `rows[i]`'s event goes to `out[positions[i]]` instead (and `out` is returned)."""
    cdef Py_ssize_t i, r, n = rows.shape[0]
    cdef Py_ssize_t count = offsets.shape[0] - 1
    cdef int start, stop
    cdef list events = _placed(out, positions, n)
    for i in range(n):
        r = rows[i]
        if not 0 <= r < count or r >= recv_ns.shape[0]:
            raise IndexError(f"row {r} out of range for {count} frames")
        start = offsets[r]
        stop = offsets[r + 1]
        if not 0 <= start <= stop <= data.shape[0]:
            raise ValueError(f"row {r}'s frame [{start}, {stop}) is outside the data buffer")
        raw = PyBytes_FromStringAndSize(<const char*>&data[0] + start, stop - start)
        events[i if out is None else positions[i]] = decode_one(raw, recv_ns[r])
    return events


cpdef object decode_one(object raw, object recv_ns):
    """`wire.decode_frame(raw, recv_ns)`, with the fast path's book, trade and ticker events
    built in C."""
    if type(raw) is bytes:
        event = _fast(raw, recv_ns)
        if event is not None:
            return event
    return decode_frame(raw, recv_ns)


cdef list _placed(list out, const long long[::1] positions, Py_ssize_t n):
    """The list the events go to: `out` (every position checked), or a new one of `n`."""
    cdef Py_ssize_t i
    if out is None:
        return [None] * n
    if positions is None or positions.shape[0] != n:
        raise ValueError("`out` needs one position per row")
    for i in range(n):
        if not 0 <= positions[i] < len(out):
            raise IndexError(f"position {positions[i]} out of range for {len(out)} items")
    return out


def trade_batches(
    list out,
    const long long[::1] positions,
    const long long[::1] rows,
    const int[::1] topic_of_row,
    list topic_symbols,
    const long long[::1] starts,
    const long long[::1] ts_event_ns,
    const double[::1] prices,
    const double[::1] sizes,
    const signed char[::1] sides,
    const signed char[::1] ticks,
    const unsigned char[::1] block,
    const unsigned char[::1] id_data,
    const int[::1] id_offsets,
    const long long[::1] recv_ns,
):
    """Put the TradeBatch of stored row `rows[i]` at `out[positions[i]]`: the event decoding its
    frame gives, built from columns (`trade_columns.TradeColumns`, which checked the values:
    only frames the decoder would take, codes within SIDES and TICK_DIRECTIONS, ASCII ids).

    Row r's symbol is `topic_symbols[topic_of_row[r]]`; its trades are items
    `starts[r]:starts[r + 1]` of the flat arrays (times in ns, prices and sizes as floats,
    side and tick codes, block flags, ids as `id_data[id_offsets[j]:id_offsets[j + 1]]`)."""
    cdef Py_ssize_t i, r, j, first, end, n = rows.shape[0]
    cdef Py_ssize_t row_count = starts.shape[0] - 1
    cdef Py_ssize_t item_count = ts_event_ns.shape[0]
    cdef const char* ids = ""
    cdef list trades
    _placed(out, positions, n)
    if id_data.shape[0]:
        ids = <const char*>&id_data[0]
    if (
        prices.shape[0] != item_count or sizes.shape[0] != item_count
        or sides.shape[0] != item_count or ticks.shape[0] != item_count
        or block.shape[0] != item_count or id_offsets.shape[0] != item_count + 1
        or topic_of_row.shape[0] != row_count or recv_ns.shape[0] != row_count
    ):
        raise ValueError("the trade columns differ in length")
    for i in range(n):
        r = rows[i]
        if not 0 <= r < row_count:
            raise IndexError(f"row {r} out of range for {row_count} rows")
        first = starts[r]
        end = starts[r + 1]
        if not 0 <= first < end <= item_count:
            raise ValueError(f"row {r}'s trades [{first}, {end}) are not in the columns")
        symbol = topic_symbols[topic_of_row[r]]
        recv = recv_ns[r]
        trades = [None] * (end - first)
        for j in range(first, end):
            if not (
                0 <= sides[j] < _SIDE_CODES and 0 <= ticks[j] < _TICK_CODES
                and 0 <= id_offsets[j] <= id_offsets[j + 1] <= id_data.shape[0]
            ):
                raise ValueError(f"trade {j}: a side, tick or id outside the columns")
            trades[j - first] = _Trade(
                symbol,
                prices[j],
                sizes[j],
                _side_of_code[sides[j]],
                ts_event_ns[j],
                recv,
                PyUnicode_DecodeASCII(ids + id_offsets[j], id_offsets[j + 1] - id_offsets[j], NULL),
                _tick_of_code[ticks[j]],
                block[j] != 0,
            )
        out[positions[i]] = _TradeBatch(symbol, trades, ts_event_ns[end - 1], recv)



cdef object _fast(bytes raw, object recv):
    """The book, trade or ticker event of a frame on wire.py's fast path, or None (the caller
    then decodes it with `decode_frame`)."""
    decoder = _decoders.get((<bytes>raw)[:14])
    if decoder is None:
        return None
    try:
        frame = decoder.decode(raw)
    except (_DecodeError, RecursionError):
        return None
    kind = type(frame)
    if kind is not _BookFrameType and kind is not _TradeFrameType and kind is not _TickerFrameType:
        return None
    route = cached_route(frame.topic)
    if route is None:
        return None
    channel, depth, symbol = route
    if kind is _BookFrameType and channel == _book_channel:
        return _book(_astuple(frame), depth, symbol, recv)
    if kind is _TradeFrameType and channel == _trade_channel:
        return _trades(frame.data, symbol, recv)
    if kind is _TickerFrameType and channel == _ticker_channel:
        return _ticker(frame.type, frame.ts, frame.data, symbol, recv)
    return None


cdef object _book(tuple frame, object depth, object symbol, object recv):
    """wire._book of a fast-path BookFrame (topic, type, ts, data, cts), or None."""
    kind = frame[1]
    if kind != "delta" and kind != "snapshot":
        return None
    ts_ms = frame[4] if frame[4] is not None else frame[2]
    if not 0 <= ts_ms <= _max_millis:
        return None
    data = _astuple(frame[3])  # s, b, a, u, seq
    if data[0] != symbol:
        return None
    return _BookUpdate(
        symbol,
        depth,
        kind == "snapshot",
        data[1],
        data[2],
        data[3],
        data[4],
        (<long long>ts_ms) * _MS_TO_NS,
        recv,
    )


cdef object _trades(list rows, object symbol, object recv):
    if not rows:
        return None
    cdef list trades = []
    cdef tuple row
    for data in rows:
        row = _astuple(data)  # one call for all eight fields: T, s, p, v, S, L, i, BT
        if row[1] != symbol:
            return None
        ts_ms = row[0]
        if not 0 <= ts_ms <= _max_millis:
            return None
        tick = row[5]
        trades.append(
            _Trade(
                symbol,
                row[2],
                row[3],
                _sides.get(row[4], _unknown_side),
                (<long long>ts_ms) * _MS_TO_NS,
                recv,
                row[6],
                _ticks.get(tick, tick),
                row[7],
            )
        )
    return _TradeBatch(symbol, trades, trades[len(trades) - 1].ts_event_ns, recv)


cdef object _ticker(object kind, object ts_ms, object data, object symbol, object recv):
    if kind != "delta" and kind != "snapshot":
        return None
    if not 0 <= ts_ms <= _max_millis:
        return None
    if type(data) is not _TickerDataType or data.symbol != symbol:
        return None
    fields = _TickerFields(*_astuple(data)[1:])
    return _TickerUpdate(
        symbol, kind == "snapshot", fields, (<long long>ts_ms) * _MS_TO_NS, recv
    )


cpdef object receive_frame(object raw, object recv_ns, object on_control):
    """`decode_one(raw, recv_ns)` for a connection's session: the event for the engine, or
    None for a control reply, which goes to `on_control` (the session's)."""
    event = decode_one(raw, recv_ns)
    if type(event) is _ControlMessage:
        on_control(event)
        return None
    return event


def ticker_updates(
    list out,
    const long long[::1] positions,
    const long long[::1] rows,
    const int[::1] topic_of_row,
    list topic_symbols,
    const long long[::1] starts,
    const signed char[::1] fields,
    const double[::1] numbers,
    const long long[::1] integers,
    const unsigned char[::1] is_snapshot,
    const long long[::1] ts_event_ns,
    const long long[::1] recv_ns,
):
    """Put the TickerUpdate of stored row `rows[i]` at `out[positions[i]]`: the event decoding
    its frame gives, built from columns (`ticker_columns.TickerColumns`, which checked the
    values: only frames the decoder would take, each field at most once).

    Row r's items are `starts[r]:starts[r + 1]` of the flat arrays: item j sets TickerFields'
    field `fields[j]` (none if negative) to `numbers[j]`, or `integers[j]` for the last field
    (next_funding_time_ms); row r's symbol is `topic_symbols[topic_of_row[r]]`."""
    cdef Py_ssize_t i, r, j, f, first, end, n = rows.shape[0]
    cdef Py_ssize_t row_count = starts.shape[0] - 1
    cdef Py_ssize_t item_count = fields.shape[0]
    cdef list values
    _placed(out, positions, n)
    if (
        numbers.shape[0] != item_count or integers.shape[0] != item_count
        or topic_of_row.shape[0] != row_count or is_snapshot.shape[0] != row_count
        or ts_event_ns.shape[0] != row_count or recv_ns.shape[0] != row_count
    ):
        raise ValueError("the ticker columns differ in length")
    for i in range(n):
        r = rows[i]
        if not 0 <= r < row_count:
            raise IndexError(f"row {r} out of range for {row_count} rows")
        first = starts[r]
        end = starts[r + 1]
        if not 0 <= first <= end <= item_count:
            raise ValueError(f"row {r}'s fields [{first}, {end}) are not in the columns")
        values = [None] * _TICKER_FIELDS
        for j in range(first, end):
            f = fields[j]
            if f < 0:
                continue
            if f >= _TICKER_FIELDS:
                raise ValueError(f"item {j}: field {f} out of range")
            values[f] = integers[j] if f == _NEXT_FUNDING else numbers[j]
        symbol = topic_symbols[topic_of_row[r]]
        out[positions[i]] = _TickerUpdate(
            symbol, is_snapshot[r] != 0, _TickerFields(*values), ts_event_ns[r], recv_ns[r]
        )


def ticker_values(
    const unsigned char[::1] data,
    const int[::1] offsets,
    const long long[::1] starts,
    const signed char[::1] fields,
    Py_ssize_t integer_field,
    double[::1] numbers,
    long long[::1] integers,
    unsigned char[::1] refused,
):
    """Parse item j's text `data[offsets[j]:offsets[j + 1]]` as the strict decoder parses a
    TickerFields value: into `integers[j]` for `integer_field` (1 to 18 digits, no leading
    zero), else into `numbers[j]` (a plain decimal: an optional "-", 1 to 17 digits without a
    leading zero, optionally a point and 1 to 17 more; parsed correctly rounded, as msgspec
    does). Row r (items `starts[r]:starts[r + 1]`) is `refused` where a text is not that or a
    field comes twice (the row then goes the JSON way). Items of a negative field are
    skipped."""
    cdef Py_ssize_t r, j, k, start, stop, whole, fraction, n = fields.shape[0]
    cdef Py_ssize_t rows = starts.shape[0] - 1
    cdef bint point
    cdef long long value
    cdef unsigned long long seen
    cdef signed char f
    cdef unsigned char c
    cdef char text[40]
    if (
        offsets.shape[0] != n + 1 or numbers.shape[0] != n or integers.shape[0] != n
        or refused.shape[0] != rows or not 0 <= integer_field < 64
    ):
        raise ValueError("the ticker values differ in length")
    for r in range(rows):
        refused[r] = 0
        seen = 0
        if not 0 <= starts[r] <= starts[r + 1] <= n:
            raise ValueError(f"row {r}'s items are not in the columns")
        for j in range(starts[r], starts[r + 1]):
            f = fields[j]
            if f < 0:
                continue
            if f >= 64 or seen & (1ULL << f):
                refused[r] = 1
                break
            seen |= 1ULL << f
            start = offsets[j]
            stop = offsets[j + 1]
            if not 0 <= start <= stop <= data.shape[0]:
                raise ValueError(f"item {j}'s text [{start}, {stop}) is outside the data buffer")
            if f == integer_field:
                if not 1 <= stop - start <= 18 or (stop - start > 1 and data[start] == 48):
                    refused[r] = 1
                    break
                value = 0
                for k in range(start, stop):
                    c = data[k]
                    if not 48 <= c <= 57:
                        refused[r] = 1
                        break
                    value = value * 10 + (c - 48)
                if refused[r]:
                    break
                integers[j] = value
                continue
            k = start + (1 if stop > start and data[start] == 45 else 0)  # "-"
            if k < stop - 1 and data[k] == 48 and data[k + 1] != 46:  # a leading zero
                refused[r] = 1
                break
            whole = fraction = 0
            point = False
            value = 0
            while k < stop:
                c = data[k]
                if c == 46 and not point:  # "."
                    point = True
                elif 48 <= c <= 57:
                    if point:
                        fraction += 1
                    else:
                        whole += 1
                    if whole + fraction <= 15:
                        value = value * 10 + (c - 48)
                else:
                    break
                k += 1
            if k != stop or not 1 <= whole <= 17 or (point and not 1 <= fraction <= 17):
                refused[r] = 1
                break
            if whole + fraction <= 15:
                # Both exact doubles: the division rounds the decimal's value once, as the
                # parse does (book_columns.py); 3x faster than parsing the text again.
                numbers[j] = value / _POWERS_OF_TEN[fraction]
                if data[start] == 45:
                    numbers[j] = -numbers[j]
                continue
            for k in range(start, stop):
                text[k - start] = <char>data[k]
            text[stop - start] = 0
            numbers[j] = PyOS_string_to_double(text, NULL, NULL)
