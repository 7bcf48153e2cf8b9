"""What the allocators under Python hold: glibc malloc's arenas and Arrow's memory pool.

RSS alone cannot say who holds memory. Python objects are traced by tracemalloc, but Arrow's
buffers (the recorder's row groups) and the heap fragmentation they leave are not: glibc gives
each thread that allocates its own arena (the recorder's writer thread has one), and memory
freed inside an arena stays in the process until the top of the heap is free. These readings
let a memory report tell the layers apart. Linux with glibc; elsewhere `glibc_heap()` is None.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import sys
from typing import Final

import msgspec


class GlibcHeap(msgspec.Struct, frozen=True):
    """glibc malloc's view of the process (mallinfo2 and malloc_info), in bytes."""

    arenas: int
    """Heaps: the main arena plus one per thread that allocated while others did."""
    arena_bytes: int
    """Taken from the OS for small blocks, over all arenas (mallinfo2 `arena`)."""
    in_use_bytes: int
    """Handed out and not freed (mallinfo2 `uordblks`)."""
    free_bytes: int
    """Free but kept inside the arenas (mallinfo2 `fordblks`): fragmentation, or room."""
    mmapped_bytes: int
    """Large blocks mapped on their own, returned to the OS when freed (mallinfo2 `hblkhd`)."""
    arena_sizes: tuple[int, ...]
    """Current size of each heap (malloc_info), the main arena first."""


class _Mallinfo2(ctypes.Structure):
    _fields_: Final = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_HEAP_SIZE: Final = re.compile(rb'<heap nr="\d+">.*?<system type="current" size="(\d+)"/>', re.S)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
    except (OSError, AttributeError):  # not glibc, or glibc older than 2.33
        return None
    libc.open_memstream.restype = ctypes.c_void_p
    libc.open_memstream.argtypes = [
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


_LIBC: Final = _libc()


def _malloc_info(libc: ctypes.CDLL) -> bytes:
    """malloc_info's XML (per-heap sizes), written to a memory stream."""
    buffer = ctypes.c_char_p()
    size = ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    if not stream:
        return b""
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    try:
        return ctypes.string_at(buffer, size.value)
    finally:
        libc.free(buffer)


def glibc_heap() -> GlibcHeap | None:
    """glibc's figures now, or None where the C library is not glibc (2.33 or later)."""
    if _LIBC is None:
        return None
    info = _LIBC.mallinfo2()
    sizes = tuple(int(size) for size in _HEAP_SIZE.findall(_malloc_info(_LIBC)))
    return GlibcHeap(
        arenas=len(sizes),
        arena_bytes=info.arena,
        in_use_bytes=info.uordblks,
        free_bytes=info.fordblks,
        mmapped_bytes=info.hblkhd,
        arena_sizes=sizes,
    )


class ArrowPool(msgspec.Struct, frozen=True):
    """Arrow's default memory pool: what its buffers hold now, and the most they ever held."""

    backend: str
    allocated_bytes: int
    max_bytes: int


def arrow_pool() -> ArrowPool | None:
    """The pool's figures, or None if this process never imported pyarrow (reading them must not
    import it: a command that does not record never loads Arrow)."""
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return None
    pool = pa.default_memory_pool()
    return ArrowPool(pool.backend_name, pool.bytes_allocated(), pool.max_memory())


_M_MMAP_THRESHOLD: Final = -3
"""mallopt's parameter number of the mmap threshold (malloc.h)."""


def map_large_blocks(threshold_bytes: int) -> bool:
    """Have glibc map every block of at least `threshold_bytes` on its own (mallopt
    M_MMAP_THRESHOLD), so freeing it returns it to the OS at once. By default glibc raises the
    threshold each time such a block is freed (up to 32 MB), after which blocks of that size
    come from the arenas, where what is freed stays in the process. Returns False where the C
    library is not glibc."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, threshold_bytes))


def trim_heap() -> bool:
    """Give the free pages of every glibc arena back to the OS (malloc_trim). Returns whether
    any memory was released (False also where the C library is not glibc)."""
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))
