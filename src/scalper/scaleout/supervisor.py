"""Keeps the scale-out processes running (the ingest workers, the recorder consumer): one task
per process starts it, waits for it to exit and, unless scalper is stopping, starts it again
after `restart_backoff_s`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import msgspec

from scalper.scaleout.orphans import dying_with_parent

log = logging.getLogger(__name__)


class SupervisedProcess:
    """One process slot: `python -m MODULE SPEC_JSON`, its current process and how often it
    was restarted."""

    def __init__(self, name: str, module: str, spec: msgspec.Struct, backoff_s: float) -> None:
        self.name = name
        self.module = module
        self.spec = spec
        self.backoff_s = backoff_s
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.exits: list[int] = []
        """Exit codes of the processes that ended, oldest first (bounded by `restarts`)."""
        self._stopping = False
        self._started = asyncio.Event()

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    async def started(self) -> None:
        """Wait until the first process is running."""
        await self._started.wait()

    async def run(self) -> None:
        payload = msgspec.json.encode(self.spec).decode()
        while not self._stopping:
            self.process = await asyncio.create_subprocess_exec(
                *dying_with_parent([sys.executable, "-m", self.module, payload])
            )
            self.starts += 1
            self._started.set()
            code = await self.process.wait()
            if self._stopping:
                break
            self.exits = [*self.exits[-9:], code]
            log.warning(
                "%s (pid %d) exited with %d; restarting in %g s",
                self.name,
                self.process.pid,
                code,
                self.backoff_s,
            )
            await asyncio.sleep(self.backoff_s)

    async def stop(self) -> None:
        """Ask the process to finish (SIGTERM: it flushes what it holds), kill it after 10 s."""
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
