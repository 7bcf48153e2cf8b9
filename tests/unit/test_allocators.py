"""The allocators' readings: glibc's arenas and Arrow's pool, as a memory report shows them."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from scalper.allocators import arrow_pool, glibc_heap, trim_heap

glibc = pytest.mark.skipif(glibc_heap() is None, reason="the C library is not glibc >= 2.33")


@glibc
def test_glibc_heap_counts_the_arena_of_a_thread_that_allocates() -> None:
    before = glibc_heap()
    assert before is not None
    held: list[bytes] = []
    ready, done = threading.Event(), threading.Event()

    def allocate() -> None:
        # Blocks of 1 KiB: above pymalloc's 512 bytes (smaller objects come from pymalloc's own
        # mapped arenas, not glibc's: with 200-byte blocks glibc's in-use count barely moved and
        # the test failed whenever another thread freed a little meanwhile), below glibc's mmap
        # threshold: from the thread's own arena, 20 MB of it.
        held.extend(bytes(1024) for _ in range(20_000))
        ready.set()
        done.wait()

    thread = threading.Thread(target=allocate)
    thread.start()
    ready.wait()
    during = glibc_heap()
    done.set()
    thread.join()
    assert during is not None
    assert during.arenas >= 1 and len(during.arena_sizes) == during.arenas
    assert during.arena_bytes == pytest.approx(sum(during.arena_sizes), rel=0.01)
    assert during.in_use_bytes >= before.in_use_bytes
    assert min(during.free_bytes, during.mmapped_bytes) >= 0


@glibc
def test_trim_and_map_large_blocks_answer() -> None:
    assert isinstance(trim_heap(), bool)
    # mallopt changes the whole process: in a child of its own.
    code = "from scalper.allocators import map_large_blocks; print(map_large_blocks(131072))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_arrow_pool_is_read_without_importing_pyarrow() -> None:
    code = (
        "import sys; from scalper.allocators import arrow_pool; "
        "print(arrow_pool(), 'pyarrow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "False"]
    import pyarrow as pa

    pa.array(range(10_000))
    pool = arrow_pool()
    assert pool is not None and pool.backend == pa.default_memory_pool().backend_name
    assert pool.max_bytes >= pool.allocated_bytes >= 0
