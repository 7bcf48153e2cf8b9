"""One recording process per data dir: an advisory lock on `DATA_DIR/.lock`.

The lock is `flock`ed, so the kernel releases it when the holder dies (even on SIGKILL): a
crash never leaves a stale lock behind, and the next recorder recovers the journals as usual.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

from scalper.errors import ConfigError

LOCK_NAME: Final = ".lock"


class DataDirLock:
    """Held from construction until `release()`; ConfigError if another process holds it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            self._fd = None
            raise ConfigError(
                f"{data_dir} is being recorded by another process (pid {holder}); stop it or "
                "choose another data dir (--data-dir)"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
