"""Bounded logging: repeats summarised, files rotated under a size cap; and the two acting
through `configure_logging`, the handlers every command installs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

import scalper.logs
from scalper.logs import FORMAT, MAX_TRACKED_MESSAGES, RepeatFilter, configure_logging
from scalper.settings import LogSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, name: str = "scalper.test", *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)


def test_a_repeated_message_passes_burst_times_then_is_counted_and_summarised() -> None:
    clock = FakeClock()
    repeats = RepeatFilter(burst=3, window_s=60.0, clock=clock)
    passed = [
        repeats.filter(record("malformed frame (%s)", "scalper.test", i)) for i in range(1000)
    ]
    assert passed.count(True) == 3
    clock.now = 61.0
    later = record("malformed frame (%s)", "scalper.test", "x")
    assert repeats.filter(later)
    assert later.repeat_note == " [and 997 more like it in the previous 61 s, not shown]"
    assert repeats.filter(record("another message"))


def test_different_messages_and_loggers_are_counted_apart() -> None:
    repeats = RepeatFilter(burst=1, clock=FakeClock())
    assert repeats.filter(record("a"))
    assert not repeats.filter(record("a"))
    assert repeats.filter(record("b"))
    assert repeats.filter(record("a", "scalper.other"))


def test_the_filter_remembers_a_bounded_number_of_messages() -> None:
    repeats = RepeatFilter(burst=1, clock=FakeClock())
    for i in range(MAX_TRACKED_MESSAGES + 500):
        repeats.filter(record(f"message {i}"))
    assert len(repeats._windows) == MAX_TRACKED_MESSAGES


def test_a_flood_of_errors_stays_within_the_rotation_cap(tmp_path: Path) -> None:
    path = tmp_path / "scalper.log"
    handler = RotatingFileHandler(path, maxBytes=20_000, backupCount=2)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RepeatFilter(burst=5))
    log = logging.getLogger("scalper.flood_test")
    log.addHandler(handler)
    log.propagate = False
    try:
        for i in range(50_000):
            log.warning("gap on %s", f"SYM{i % 300:03d}USDT")
            if i % 7 == 0:
                log.warning("distinct message number %d", i)
        for i in range(3_000):
            log.warning(f"a new message every time {i}")  # a new format string: not a repeat
    finally:
        log.removeHandler(handler)
        handler.close()
    files = sorted(tmp_path.iterdir())
    assert len(files) <= 3
    assert sum(f.stat().st_size for f in files) <= 3 * 20_000 + 200


# -- configure_logging itself: the handlers it installs on the root logger -------------------


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers (pytest's own among them) and sets
    levels: put everything back and close the handlers it made."""
    root = logging.getLogger()
    ours = logging.getLogger("scalper")
    saved_handlers, saved_level, saved_ours = list(root.handlers), root.level, ours.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            if handler not in saved_handlers:
                handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        ours.setLevel(saved_ours)


def test_configured_log_file_rotates_under_its_cap_and_keeps_the_newest_records(
    tmp_path: Path, restored_logging: None
) -> None:
    """Through `configure_logging`: at most `backups` + 1 files, none larger than `max_bytes`
    plus one record, and the files kept hold the newest records, contiguous, oldest file first."""
    path = tmp_path / "logs" / "scalper.log"  # the folder does not exist yet
    configure_logging(LogSettings(file=str(path), max_bytes=2000, backups=2))
    log = logging.getLogger("scalper.rotation_test")
    written = 600
    for i in range(written):
        # A new format string each time: the repeat filter lets every one through.
        log.warning(f"record {i:05d} of the rotation test {'x' * (i % 40)}")
    for handler in logging.getLogger().handlers:
        handler.flush()

    files = sorted(path.parent.iterdir())
    assert {f.name for f in files} == {"scalper.log", "scalper.log.1", "scalper.log.2"}
    lines_by_file = {f.name: f.read_text().splitlines() for f in files}
    longest = max(len(line) + 1 for lines in lines_by_file.values() for line in lines)
    for f in files:
        assert f.stat().st_size <= 2000 + longest, (f.name, f.stat().st_size)
    # Oldest first: .2, .1, then the live file; the record numbers run on without a hole and
    # end with the last one written.
    kept = [
        line
        for name in ("scalper.log.2", "scalper.log.1", "scalper.log")
        for line in lines_by_file[name]
    ]
    numbers = [int(line.split("record ")[1].split()[0]) for line in kept]
    assert numbers == list(range(written - len(numbers), written))
    assert len(numbers) < written  # the oldest records were rotated away
    assert all(" WARNING scalper.rotation_test: record " in line for line in kept)


def test_configured_logging_lets_a_repeat_through_burst_times_then_summarises_it(
    tmp_path: Path, restored_logging: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The repeat filter acting through `configure_logging`: 50 repeats within the window reach
    the file 5 times (the default burst); the next one after the window carries the summary.
    The filter's clock is injected through its constructor (the class configure_logging
    instantiates); stderr's handler has its own filter and shows the same lines."""
    clock = FakeClock()
    monkeypatch.setattr(scalper.logs, "RepeatFilter", functools.partial(RepeatFilter, clock=clock))
    path = tmp_path / "scalper.log"
    configure_logging(LogSettings(file=str(path), max_bytes=1_000_000, backups=1))
    log = logging.getLogger("scalper.repeat_test")
    for i in range(50):
        clock.now = i * 0.5  # all within the 60 s window
        log.warning("gap on %s (u %d)", "SYM001USDT", i)
    clock.now = 61.0
    log.warning("gap on %s (u %d)", "SYM001USDT", 50)
    log.warning("another message")
    for handler in logging.getLogger().handlers:
        handler.flush()

    lines = path.read_text().splitlines()
    repeats = [line for line in lines if "gap on SYM001USDT" in line]
    numbers = [int(line.split("(u ")[1].split(")")[0]) for line in repeats]
    assert numbers == [0, 1, 2, 3, 4, 50]
    assert all(not line.endswith("not shown]") for line in repeats[:5])
    assert repeats[5].endswith("(u 50) [and 45 more like it in the previous 61 s, not shown]")
    assert lines[-1].endswith("scalper.repeat_test: another message")
    stderr_repeats = [line for line in capsys.readouterr().err.splitlines() if "gap on" in line]
    assert stderr_repeats == repeats


def test_configured_log_file_defaults_to_10_mb_and_3_old_files(
    tmp_path: Path, restored_logging: None
) -> None:
    """The cap the README states (a file rotated at 10 MB, 3 old files kept) is the one
    `configure_logging` installs when only a file is given; the repeat filter is on it."""
    path = tmp_path / "scalper.log"
    configure_logging(LogSettings(file=str(path)))

    files = [h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler)]
    assert len(files) == 1
    handler = files[0]
    assert Path(handler.baseFilename) == path
    assert (handler.maxBytes, handler.backupCount) == (10_000_000, 3)
    assert [type(f) for f in handler.filters] == [RepeatFilter]
    assert handler.filters[0].burst == 5 and handler.filters[0].window_s == 60.0
