"""The disk budget of a data directory: usage, retention and the oldest-first deletion."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec

from scalper.storage.segments import HOUR_NS, SEGMENT_SUFFIX, segment_first_ns

log = logging.getLogger(__name__)

WARN_AT: float = 0.8
"""Usage above this share of the budget is reported as a warning."""


class DiskUsage(msgspec.Struct):
    bytes_used: int
    files: int
    segments: int
    max_bytes: int | None

    @property
    def share(self) -> float | None:
        return self.bytes_used / self.max_bytes if self.max_bytes else None

    @property
    def warning(self) -> bool:
        share = self.share
        return share is not None and share >= WARN_AT


def _files(data_dir: Path) -> list[tuple[Path, int]]:
    out: list[tuple[Path, int]] = []
    for folder, _, names in os.walk(data_dir):
        for name in names:
            path = Path(folder, name)
            try:
                out.append((path, path.stat().st_size))
            except FileNotFoundError:  # deleted or renamed while we looked
                continue
    return out


def disk_usage(data_dir: Path, max_bytes: int | None) -> DiskUsage:
    files = _files(data_dir)
    segments = sum(1 for path, _ in files if path.name.endswith(SEGMENT_SUFFIX))
    return DiskUsage(sum(size for _, size in files), len(files), segments, max_bytes)


def enforce_budget(
    data_dir: Path,
    max_bytes: int | None,
    retention_ns: int | None,
    now_ns: int,
    reserve_bytes: int = 0,
) -> list[Path]:
    """Delete complete segments, oldest first: those past retention, then while usage plus
    `reserve_bytes` (room for the segments being written) exceeds `max_bytes`.

    Segments being written (journal, partial) are never deleted. Returns the deleted paths.
    """
    files = _files(data_dir)
    used = sum(size for _, size in files)
    segments = sorted(
        ((path, size) for path, size in files if path.name.endswith(SEGMENT_SUFFIX)),
        key=lambda item: (segment_first_ns(item[0]), str(item[0])),
    )
    deleted: list[Path] = []
    for path, size in segments:
        expired = (
            retention_ns is not None and segment_first_ns(path) + HOUR_NS < now_ns - retention_ns
        )
        over = max_bytes is not None and used + reserve_bytes > max_bytes
        if not (expired or over):
            break
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        used -= size
        deleted.append(path)
        _remove_if_empty(path.parent)
    if deleted:
        log.info(
            "disk budget: deleted %d old segments (%s ... %s)",
            len(deleted),
            deleted[0].name,
            deleted[-1].name,
        )
    return deleted


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        return
