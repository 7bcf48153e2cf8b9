"""Bounded logging: rotating files with a size cap, and repeats summarised instead of printed.

The replaced system let one log file grow to 7.3 GB. Here a log file rotates at `max_bytes` with
`backups` old files kept (so at most (backups + 1) * max_bytes on disk), and a message that
repeats (same logger, same format string) is let through `burst` times per `window_s`; the rest
are counted and summarised in one line when the window ends.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Final

from scalper.settings import LogSettings

FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s%(repeat_note)s"
MAX_TRACKED_MESSAGES: Final = 1_000
"""Distinct (logger, format) keys the repeat filter remembers; the oldest is forgotten first."""


class _Window:
    __slots__ = ("passed", "start", "suppressed")

    def __init__(self, start: float) -> None:
        self.start = start
        self.passed = 0
        self.suppressed = 0


class RepeatFilter(logging.Filter):
    """Lets a message through `burst` times per `window_s`, then counts and summarises repeats."""

    def __init__(
        self, burst: int = 5, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self._clock = clock
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        """Pass or count the record; a passed record carries `repeat_note` for the format.

        The summary rides on the first occurrence after a window with suppressed repeats; the
        record itself is not changed otherwise, so several handlers can each hold a filter.
        """
        key = (record.name, str(record.msg))
        now = self._clock()
        record.repeat_note = ""
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(now)
            if len(self._windows) > MAX_TRACKED_MESSAGES:
                self._windows.popitem(last=False)
        elif now - window.start >= self.window_s:
            if window.suppressed:
                record.repeat_note = (
                    f" [and {window.suppressed} more like it in the previous"
                    f" {now - window.start:.0f} s, not shown]"
                )
            window.start, window.passed, window.suppressed = now, 0, 0
        if window.passed < self.burst:
            window.passed += 1
            return True
        window.suppressed += 1
        return False


def configure_logging(settings: LogSettings | None = None) -> None:
    """Log scalper's records at the settings' level to stderr (and to a rotating file if one is
    set), bounded."""
    settings = settings or LogSettings()
    log_file = Path(settings.file) if settings.file else None
    max_bytes, backups = settings.max_bytes, settings.backups
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(RotatingFileHandler(log_file, maxBytes=max_bytes, backupCount=backups))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RepeatFilter())  # one each: every handler sees every record once
        root.addHandler(handler)
    logging.getLogger("scalper").setLevel(settings.level)
