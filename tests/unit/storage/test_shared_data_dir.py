"""A data dir shared by two recorders (`--workers N` with the recorder consumer): the frames'
recorder and the engine's recorder of candles, metrics and trading rows each lock and recover
their own part; a new raw segment is named after the stream's newest one, so reading by name
keeps the order the rows were written in even when receive times step back; a frame recorded
before a crash is found again by its receive time and bytes."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from tests.unit.storage.test_storage import T0, bybit_recorder, market_frames, record

from scalper.errors import ConfigError
from scalper.settings import RecorderSettings
from scalper.storage.layout import raw_root
from scalper.storage.reader import holds_frame, iter_recorded
from scalper.storage.segments import JOURNAL_SUFFIX, complete_segments, segment_first_ns
from scalper.venues.bybit.book_codec import BOOK_CODEC

SETTINGS = RecorderSettings(max_disk_bytes=None, retention_days=None)


def test_frames_and_derived_recorders_share_a_data_dir_and_lock_their_own_parts(
    tmp_path: Path,
) -> None:
    frames = bybit_recorder(tmp_path, SETTINGS, streams="frames")
    derived = bybit_recorder(tmp_path, SETTINGS, streams="derived")
    frames.start()
    derived.start()
    try:
        with pytest.raises(ConfigError):
            bybit_recorder(tmp_path, SETTINGS, streams="frames").start()
        with pytest.raises(ConfigError):
            bybit_recorder(tmp_path, SETTINGS).start()  # "all" takes the data dir's lock
        record(frames, market_frames(50))
        frames.flush()
        frames.drain()
        journal = next(raw_root(tmp_path, "test").rglob(f"*{JOURNAL_SUFFIX}"))
        # the engine's recorder restarting must not take the live journal for a crash's
        derived.stop()
        derived = bybit_recorder(tmp_path, SETTINGS, streams="derived")
        derived.start()
        assert journal.exists()
    finally:
        derived.stop()
        frames.stop()
    assert len(list(iter_recorded(tmp_path, codecs=[BOOK_CODEC]))) == 50


def test_a_new_segment_is_named_after_the_newest_when_receive_times_step_back(
    tmp_path: Path,
) -> None:
    rows = market_frames(60)
    first, second = rows[:30], [(T0 - 5 + i, raw) for i, (_, raw) in enumerate(rows[30:])]
    for part in (first, second):  # a restart whose first frame is older than the last segment
        recorder = bybit_recorder(tmp_path, SETTINGS, streams="frames")
        recorder.start()
        record(recorder, part)
        recorder.stop()
    names = [segment_first_ns(p) for p in complete_segments(raw_root(tmp_path, "test"))]
    assert names == [T0, T0 + 1]
    assert [
        (recv, payload) for recv, _, _, payload in iter_recorded(tmp_path, codecs=[BOOK_CODEC])
    ] == first + second


def test_a_recorded_frame_is_found_by_its_receive_time_and_bytes(tmp_path: Path) -> None:
    rows = market_frames(40)
    recorder = bybit_recorder(tmp_path, SETTINGS, streams="frames")
    recorder.start()
    record(recorder, rows)
    recorder.stop()
    root = raw_root(tmp_path, "test")
    for recv_ns, raw in rows[-1], rows[0]:
        crc = zlib.crc32(raw)
        assert holds_frame(root, recv_ns, lambda b, crc=crc: zlib.crc32(b) == crc, [BOOK_CODEC])
    recv_ns, raw = rows[-1]
    assert not holds_frame(root, recv_ns, lambda b: b == raw + b" ", [BOOK_CODEC])
    assert not holds_frame(root, recv_ns + 1, lambda b: b == raw, [BOOK_CODEC])
