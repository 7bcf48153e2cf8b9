"""Bounded logging: repeats summarised, files rotated under a size cap."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from scalper.logs import FORMAT, MAX_TRACKED_MESSAGES, RepeatFilter


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
