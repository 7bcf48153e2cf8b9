"""Where the recorder consumer stands in the stream, kept in a small file beside the recording.

The truth is the recording; the file only names the stream message the recording ends with.
It is replaced (written aside, renamed) twice per pulled batch of messages: `begin` before the
batch's frames are handed to the recorder (the batch's last stream sequence and a probe of its
last frame), `commit` once the recorder's writer has put them in its journal. A crash between
the two leaves open whether the batch reached the journal; `resume_after` settles it by looking
for the probe frame in the recording, which the recorder's own crash recovery has made whole
(a batch is one chunk of the recorder: in the journal entirely or not at all).

Survives a kill -9 exactly (the OS holds what was written); after a power cut the journal keeps
what its last fsync (`recorder.sync_every_s`) kept, and the file may claim more.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import msgspec

log = logging.getLogger(__name__)

POSITION_FILE = ".stream-position.json"
"""The file, in the folder of the source's raw segments."""


class Probe(msgspec.Struct, frozen=True):
    """A recorded frame, recognisable: its receive time and the CRC-32 of its bytes."""

    recv_ns: int
    crc32: int

    @classmethod
    def of(cls, recv_ns: int, raw: bytes) -> Probe:
        return cls(recv_ns, zlib.crc32(raw))


class PositionState(msgspec.Struct):
    stream: str
    created: str
    """The stream's creation time: a stream made anew under the same name counts from 1 again."""
    recorded_seq: int
    """Every message up to this sequence is recorded, none after it (unless `pending_seq`)."""
    pending_seq: int = 0
    """A batch up to this sequence was being recorded; `probe` is its last frame."""
    probe: Probe | None = None


class StreamPosition:
    """The position file of one recording (`path`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: PositionState | None = None

    def load(self, stream: str, created: str) -> PositionState | None:
        """The saved state, if it describes this stream (None: no file, another stream, or an
        unreadable file)."""
        try:
            state = msgspec.json.decode(self.path.read_bytes(), type=PositionState)
        except (OSError, msgspec.DecodeError):
            return None
        if (state.stream, state.created) != (stream, created):
            log.warning(
                "%s describes stream %s created %s, not %s created %s: recording it from its start",
                self.path,
                state.stream,
                state.created,
                stream,
                created,
            )
            return None
        return state

    def start(self, stream: str, created: str, recorded_seq: int) -> None:
        self.state = PositionState(stream, created, recorded_seq)
        self._save()

    def begin(self, pending_seq: int, probe: Probe) -> None:
        """Before a batch's frames go to the recorder."""
        assert self.state is not None
        self.state.pending_seq = pending_seq
        self.state.probe = probe
        self._save()

    def commit(self) -> None:
        """After the recorder's writer journaled them."""
        state = self.state
        assert state is not None
        state.recorded_seq, state.pending_seq, state.probe = state.pending_seq, 0, None
        self._save()

    @property
    def recorded_seq(self) -> int:
        return 0 if self.state is None else self.state.recorded_seq

    def _save(self) -> None:
        aside = self.path.with_name(self.path.name + ".new")
        aside.write_bytes(msgspec.json.encode(self.state))
        os.replace(aside, self.path)


def resume_after(state: PositionState, recorded: Callable[[Probe], bool]) -> int:
    """The sequence after which recording resumes: the committed one, or the pending batch's
    when the recording holds its last frame (`recorded`)."""
    if state.pending_seq and state.probe is not None and recorded(state.probe):
        return state.pending_seq
    return state.recorded_seq
