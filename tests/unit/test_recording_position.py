"""The recorder consumer's position across a crash in its one open window: a batch begun in the
position file whose frames did, or did not, reach the recorder's journal before the process
died (a child process that exits without any cleanup, as kill -9 leaves it)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from tests.unit.storage.test_storage import market_frames

from scalper.scaleout.position import POSITION_FILE, Probe, StreamPosition
from scalper.scaleout.recording import StreamRecorder, recorded_after
from scalper.scaleout.stream import encode_batch, encode_clock
from scalper.settings import RecorderSettings
from scalper.storage.layout import raw_root
from scalper.storage.reader import iter_recorded
from scalper.storage.recorder import Recorder
from scalper.venues.bybit.book_codec import BOOK_CODEC

SOURCE = "bybit-linear"
SUBJECT = "md.bybit.linear.BTCUSDT"
FRAMES = market_frames(12, symbols=1)


def messages(first_seq: int, frames: list[tuple[int, bytes]]) -> list[tuple[int, str, bytes]]:
    """Two frames a message, a candle close by the clock after them."""
    out = [
        (first_seq + index, SUBJECT, encode_batch(frames[start : start + 2]))
        for index, start in enumerate(range(0, len(frames), 2))
    ]
    now_ns = frames[-1][0] + 1
    out.append((first_seq + len(out), "md.bybit.linear._clock", encode_clock(now_ns - 5, now_ns)))
    return out


def recorder_of(data_dir: Path) -> Recorder:
    settings = RecorderSettings(max_disk_bytes=None, retention_days=None, chunk_rows=1 << 40)
    return Recorder(data_dir, settings, SOURCE, codec=BOOK_CODEC, streams="frames")


def crash_in_the_window(data_dir: Path, journaled: bool) -> None:
    """Record batch A (seqs 1-4) fully; begin batch B (seqs 5-8) and die, its chunk journaled
    or not yet handed to the writer."""
    recorder = recorder_of(data_dir)
    recorder.start()
    position = StreamPosition(raw_root(data_dir, SOURCE) / POSITION_FILE)
    position.start("MD", "created", 0)
    stream = StreamRecorder(recorder, position)
    assert stream.record(messages(1, FRAMES[:6]))
    stream.durable()
    batch = messages(5, FRAMES[6:])
    if journaled:
        assert stream.record(batch)
        recorder.drain()
    else:
        position.begin(8, Probe.of(FRAMES[-1][0] + 1, b""))  # its last row, a clock close
    os._exit(0)


@pytest.mark.parametrize(("journaled", "after", "rows"), [(True, 8, 14), (False, 4, 7)])
def test_a_batch_left_pending_by_a_crash_is_settled_by_the_recording(
    tmp_path: Path, journaled: bool, after: int, rows: int
) -> None:
    child = multiprocessing.get_context("spawn").Process(
        target=crash_in_the_window, args=(tmp_path, journaled)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    recorder = recorder_of(tmp_path)
    recorder.start()  # recovers the journal the crash left
    recorder.stop()
    state = StreamPosition(raw_root(tmp_path, SOURCE) / POSITION_FILE).load("MD", "created")
    assert state is not None and state.pending_seq == 8
    assert recorded_after(state, raw_root(tmp_path, SOURCE)) == after
    assert len(list(iter_recorded(tmp_path, codecs=[BOOK_CODEC]))) == rows
