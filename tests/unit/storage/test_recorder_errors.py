"""Recorder write errors: counted, reported by health, never fatal, and recording resumes.

The failure is a real one from the filesystem, not a patched method: the tests run as root, and
chmod does not stop root, so the test puts a regular file where the recorder must create the
next segment's directory (`raw/<source>/date=YYYY-MM-DD`). Creating the segment then fails with
FileExistsError (an OSError) whoever the user is. Removing the file makes the disk writable
again.

It proves that the failed chunk is counted in `stats.write_errors` with the OS's message in
`last_error` and logged, that the writer thread keeps running and records the next chunks once
the path is free, that what was written before and after reads back exactly (the failed chunk
alone is missing), and that the health report's `data_dir.warning` names the write errors.
"""

from __future__ import annotations

import logging
from itertools import islice
from pathlib import Path

from scalper.api.health import HealthReporter
from scalper.engine import Engine
from scalper.settings import RecorderSettings
from scalper.storage.reader import iter_recorded
from scalper.storage.recorder import Recorder
from scalper.storage.segments import HOUR_NS, complete_segments, date_partition
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.frames import CODECS, record_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

DAY_NS = 24 * HOUR_NS
DAY_1 = 1_764_000_000 * 10**9 // DAY_NS * DAY_NS  # a UTC midnight
CHUNK = 200


def frames_at(start_ns: int, count: int, skip: int = 0) -> list[tuple[int, bytes]]:
    """Synthetic frames `skip`.. `skip + count`, receive times moved to start at `start_ns`."""
    market = SyntheticMarket(MarketConfig(symbols=3, seconds=3600, seed=5))
    frames = list(islice(market.frames(), skip, skip + count))
    base = frames[0][0]
    return [(start_ns + recv - base, raw) for recv, raw in frames]


def hand_over(recorder: Recorder, frames: list[tuple[int, bytes]]) -> None:
    """Record frames as the feed does, then wait until the writer has handled them."""
    for recv_ns, raw in frames:
        record_frame(recorder, raw, recv_ns)
    recorder.flush()
    recorder.drain()


def test_a_failed_segment_is_counted_reported_and_recording_resumes(tmp_path: Path, caplog) -> None:
    settings = RecorderSettings(
        chunk_rows=CHUNK, max_disk_bytes=None, retention_days=None, budget_every_s=3600.0
    )
    recorder = Recorder(tmp_path, settings, source="test", codec=BOOK_CODEC)
    recorder.start()
    reporter = HealthReporter(Engine(), None, DAY_1, 10.0, recorder)
    before = frames_at(DAY_1 + 10 * HOUR_NS, CHUNK)
    lost = frames_at(DAY_1 + DAY_NS, CHUNK, skip=CHUNK)  # the next day: a new date directory
    after = frames_at(DAY_1 + DAY_NS + HOUR_NS // 2, CHUNK, skip=2 * CHUNK)
    try:
        hand_over(recorder, before)
        assert recorder.stats.frames_recorded == CHUNK and recorder.stats.write_errors == 0
        assert reporter.report().data_dir.warning is None

        blocker = tmp_path / "raw" / "test" / date_partition(lost[0][0])
        blocker.write_text("a file where the segment's directory must go\n")
        with caplog.at_level(logging.ERROR, logger="scalper.storage.recorder"):
            hand_over(recorder, lost)
        stats = recorder.stats
        assert stats.write_errors == 1
        assert "File exists" in stats.last_error and str(blocker) in stats.last_error
        assert stats.frames_recorded == CHUNK  # the failed chunk is not counted as recorded
        assert stats.frames_dropped == CHUNK  # but as dropped: its frames are lost
        assert [r.getMessage() for r in caplog.records] == [
            f"recorder write failed: {stats.last_error}"
        ]
        data_dir = reporter.report().data_dir
        assert data_dir.recording and data_dir.recorder is not None
        assert data_dir.recorder.write_errors == 1
        assert data_dir.warning == (
            f"{CHUNK} frames dropped (the writer fell behind or could not write); "
            f"1 write errors, last: {stats.last_error}"
        )
        # The day before was closed by the roll, whole and readable, before the failure.
        assert len(complete_segments(tmp_path / "raw" / "test")) == 1

        blocker.unlink()
        hand_over(recorder, after)
        assert recorder.stats.frames_recorded == 2 * CHUNK
        assert recorder.stats.write_errors == 1  # nothing new failed
        assert recorder._thread is not None and recorder._thread.is_alive()
    finally:
        recorder.stop()

    assert recorder.stats.write_errors == 1
    read = [(recv, payload) for recv, _, _, payload in iter_recorded(tmp_path, codecs=CODECS)]
    assert read == before + after
    assert len(complete_segments(tmp_path / "raw" / "test")) == 2
    # The warning stays: the chunk that failed is lost, and the report says so until restart.
    assert "1 write errors" in (reporter.report().data_dir.warning or "")
