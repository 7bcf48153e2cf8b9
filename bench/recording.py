"""The recorder on the benchmark's stream: bytes on disk, files, CPU per frame, replay speed.

Each variant runs in a forked child over the same in-memory frames (see bench/__main__.py):
1. decode every frame (the cost the live feed pays anyway), timed alone;
2. decode + `Recorder.record_frame` for every frame (as the live feed does: with the frame's
   topic), then `stop()` (every segment closed);
   the difference with pass 1 is the event loop's cost per frame; the writer thread's CPU time
   is its own (`time.thread_time`), GIL contention included in pass 2;
3. read every frame back (`iter_recorded`) and check it is byte-identical, in order;
4. replay the data dir through a fresh engine (`replay_recording`).
Then `files_per_hour`: the first 60,000 frames with receive times stretched over three hours,
recorded with the default settings, to count the raw segments an hour gives (stretching makes
receive times less compressible, so byte figures come from the unstretched runs above).
"""

from __future__ import annotations

import gc
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from bench.isolation import run_forked
from scalper.engine import Engine
from scalper.replay import replay_recording
from scalper.settings import EngineSettings, RecorderSettings
from scalper.storage.layout import raw_root
from scalper.storage.reader import iter_recorded
from scalper.storage.recorder import Recorder
from scalper.storage.segments import complete_segments
from scalper.venues.bybit.frame_codec import FRAME_CODEC
from scalper.venues.bybit.frames import CODECS, FrameApplier
from scalper.venues.bybit.topics import topic_of_frame
from scalper.venues.bybit.wire import decode_frame

if TYPE_CHECKING:
    from bench.__main__ import Frames

RATIO_TARGET: Final = 0.10
"""Bytes on disk per byte of raw JSON (the recording issue's target)."""

VARIANTS: Final[dict[str, RecorderSettings]] = {
    "default": RecorderSettings(retention_days=None),
    "zstd 3": RecorderSettings(retention_days=None, zstd_level=3),
    "zstd 9": RecorderSettings(retention_days=None, zstd_level=9),
    "books whole": RecorderSettings(retention_days=None, split_book_frames=False),
    "plain": RecorderSettings(retention_days=None, split_book_frames=False, sort_by_topic=False),
}
"""default: zstd 6, rows grouped by topic, book and trade frames split into columns (see
scalper.venues.bybit.frame_codec); "plain": zstd 6 Parquet of the frames in arrival order."""


def _warped(frames: Frames, warp: float, limit: int) -> list[int]:
    recv = frames.recv_ns[:limit]
    first = recv[0]
    return [first + int((r - first) * warp) for r in recv]


def _measure_in_tmp(
    settings: RecorderSettings, frames: Frames, warp: float, limit: int
) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="scalper-bench-rec-"))
    try:
        return _measure(settings, frames, warp, limit, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _measure(
    settings: RecorderSettings, frames: Frames, warp: float, limit: int, directory: Path
) -> dict:
    blob, offsets = frames.blob, frames.offsets
    recv = _warped(frames, warp, limit)
    count = len(recv)
    gc.collect()

    started = time.perf_counter()
    for i in range(count):
        decode_frame(blob[offsets[i] : offsets[i + 1]], recv[i])
    decode_s = time.perf_counter() - started

    recorder = Recorder(directory, settings, source="bench", codec=FRAME_CODEC)
    recorder.start()
    cpu = time.process_time()
    started = time.perf_counter()
    record = recorder.record_frame
    for i in range(count):
        raw = blob[offsets[i] : offsets[i + 1]]
        _record(record, raw, recv[i])
    loop_s = time.perf_counter() - started
    recorder.stop()
    total_cpu_s = time.process_time() - cpu
    stats = recorder.stats
    segments = complete_segments(raw_root(directory, "bench"))
    disk = sum(path.stat().st_size for path in segments)

    started = time.perf_counter()
    identical = True
    read = 0
    for i, (recv_ns, _, _, payload) in enumerate(iter_recorded(directory, codecs=CODECS)):
        if recv_ns != recv[i] or payload != blob[offsets[i] : offsets[i + 1]]:
            identical = False
        read = i + 1
    read_s = time.perf_counter() - started

    engine = Engine(EngineSettings())
    started = time.perf_counter()
    replayed = replay_recording(FrameApplier(engine), directory)
    replay_s = time.perf_counter() - started
    raw_json = offsets[count] + count  # JSON lines: one newline per frame
    span_h = (recv[-1] - recv[0]) / 3.6e12
    return {
        "frames": count,
        "dropped": stats.frames_dropped,
        "bytes_per_frame": disk / count,
        "json_bytes_per_frame": raw_json / count,
        "ratio": disk / raw_json,
        "raw_files": len(segments),
        "span_h": span_h,
        "loop_us": max(0.0, loop_s - decode_s) / count * 1e6,
        "writer_us": stats.writer_cpu_s / count * 1e6,
        "cpu_us": max(0.0, total_cpu_s - decode_s) / count * 1e6,
        "identical": identical and read == count,
        "read_fps": read / read_s,
        "replay_fps": replayed / replay_s,
    }


def _record(record: Callable[[bytes, int, int, str, str], None], raw: bytes, recv_ns: int) -> None:
    """What the live feed does per frame: decode, then record with the frame's topic."""
    event = decode_frame(raw, recv_ns)
    record(raw, recv_ns, getattr(event, "ts_event_ns", 0), topic_of_frame(raw), event.symbol or "")


def files_per_hour(frames: Frames, count: int = 60_000, hours: float = 3.0) -> float:
    """Raw segments per hour of receive time, on `count` frames stretched over `hours`."""
    count = min(count, len(frames))
    span = frames.recv_ns[count - 1] - frames.recv_ns[0]
    warp = hours * 3.6e12 / max(1, span)
    directory = Path(tempfile.mkdtemp(prefix="scalper-bench-files-"))
    try:
        settings = RecorderSettings(retention_days=None)
        recorder = Recorder(directory, settings, source="bench", codec=FRAME_CODEC)
        recorder.start()
        recv = _warped(frames, warp, count)
        blob, offsets = frames.blob, frames.offsets
        for i in range(count):
            _record(recorder.record_frame, blob[offsets[i] : offsets[i + 1]], recv[i])
        recorder.stop()
        return len(complete_segments(raw_root(directory, "bench"))) / hours
    finally:
        shutil.rmtree(directory, ignore_errors=True)


RECORDED_FRAMES: Final = 500_000
"""Frames the recorder variants record (and bench/replay.py replays): the stream's first."""


def measure(
    frames: Frames, warp: float = 1.0, limit: int = RECORDED_FRAMES
) -> dict[str, dict[str, Any]]:
    """Every variant in its own forked child, on the first `limit` frames (stretched x `warp`);
    {variant: figures or {"error": ...}}."""
    return {
        name: run_forked(_measure_in_tmp, settings, frames, warp, limit)
        for name, settings in VARIANTS.items()
    }
