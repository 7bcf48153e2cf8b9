"""`python -m bench.load`: the live feed and engine against the local simulator, over loopback.

Two processes (plus the simulator's market child) on one machine:

- the simulator, a subprocess: `serve_simulator` with `market_process=True`, started through
  `python -c` because `scalper simulate` does not expose that setting. It prints one status line
  a second on stdout (frames published, pump lag, connections, slow clients dropped), so the
  simulator's own achieved publish rate is read from the simulator itself;
- the client, this process: `LiveFeed` + `Engine` on every symbol, and the sampler.

Receive-to-state latency: the time from a frame's receive time to the end of decode +
`engine.on_event`, counted for every frame in a fixed histogram. A connection that reports the
end of each read of its socket (`on_batch_end`, after its stats took the read's frames and
receive time) is timed once per read, at its end, each of the read's frames counted with that
latency (an upper bound for all but its last frame), so the measurement adds no work per frame;
any other connection (the `before` variants: main's code) is timed per frame by a wrapper
around its `on_frame` sink, which adds a Python call and a histogram update to every frame.
Exchange-to-receive lag is the feed's own `symbol_stats`; the simulator stamps frames with the
wall-clock time they are due, so that lag grows when either side falls behind, and the
simulator's achieved rate against the market model's nominal rate tells which one it was.
Everything is sampled once a second after the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import httpx
import msgspec
import psutil
from rich.console import Console
from rich.table import Table

from bench.machine import machine
from scalper.engine import Engine
from scalper.events import Event
from scalper.feed_status import ConnectionStats
from scalper.settings import EngineSettings, SimulatorSettings
from scalper.venues.bybit.connection import FrameSink
from scalper.venues.bybit.feed import LiveFeed
from scalper.venues.bybit.public_rest import fetch_instruments
from scalper.venues.simulator.exchange import serve_simulator
from scalper.venues.simulator.market import SyntheticMarket
from scalper.venues.simulator.source import synthetic_market

TARGET_RATE: Final = 10.0
LATENCY_P99_TARGET_MS: Final = 20.0
KEEP_UP_RATIO: Final = 0.97
"""The client keeps up when it applies at least this share of the frames published (control
frames and 1 s sampling make the two counts differ by a little)."""
NOMINAL_REACHED: Final = 0.95
"""The simulator delivered the load asked for when it published this share of the nominal rate."""
LAG_GROWTH_MS: Final = 10.0
LAG_GROWTH_SHARE: Final = 0.5
"""Lag grows when the last third's median exceeds the first third's by more than
max(LAG_GROWTH_MS, LAG_GROWTH_SHARE x the first third's median)."""
MACHINE_BUSY_CPU: Final = 95.0
"""Mean machine CPU % from which the run is said to be limited by the machine itself."""
READY_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 15.0
MB: Final = 2**20
_REPO_ROOT: Final = Path(__file__).resolve().parents[1]
_SIMULATOR_CODE: Final = (
    "import sys; from bench.load import serve_with_status; "
    "raise SystemExit(serve_with_status(sys.argv[1:]))"
)
_PUBLISHER_CODE: Final = (
    "import sys; from bench.load_publisher import serve_publisher; "
    "raise SystemExit(serve_publisher(sys.argv[1:]))"
)


# -- pure helpers ------------------------------------------------------------------------------


class LatencyHistogram:
    """Every sample counted in fixed-width buckets (default 10 µs up to 1 s, and one bucket for
    anything slower): 100,001 counters, 800 kB whatever the run's length. Quantiles are the
    upper edge of their bucket, so never optimistic by more than one bucket."""

    __slots__ = ("_counts", "_last", "bucket_ns", "count", "max_ns", "total_ns")

    def __init__(self, bucket_ns: int = 10_000, buckets: int = 100_000) -> None:
        self.bucket_ns = bucket_ns
        self._last = buckets
        self._counts = array("q", bytes(8 * (buckets + 1)))
        self.count = 0
        self.max_ns = 0
        self.total_ns = 0

    def record(self, ns: int, count: int = 1) -> None:
        """`count` samples of `ns`."""
        index = ns // self.bucket_ns
        if index >= self._last:
            index = self._last
        elif index < 0:  # the wall clock stepped back: count it as instant
            index = 0
        self._counts[index] += count
        self.count += count
        self.total_ns += ns * count
        if ns > self.max_ns:
            self.max_ns = ns

    def clear(self) -> None:
        self._counts = array("q", bytes(8 * (self._last + 1)))
        self.count = 0
        self.max_ns = 0
        self.total_ns = 0

    @property
    def mean_ns(self) -> float:
        return self.total_ns / self.count if self.count else 0.0

    def quantile(self, q: float) -> int:
        """The q-quantile in ns (0 when empty); the maximum seen when it is in the last bucket."""
        if not self.count:
            return 0
        rank = max(1, round(q * self.count))
        seen = 0
        for index, count in enumerate(self._counts):
            seen += count
            if seen >= rank:
                return self.max_ns if index == self._last else (index + 1) * self.bucket_ns
        return self.max_ns


def thirds_medians(values: Sequence[float]) -> tuple[float, float]:
    """Medians of the first and the last third of `values` (of all of them when fewer than 3)."""
    if not values:
        return (float("nan"), float("nan"))
    third = max(1, len(values) // 3)
    return statistics.median(values[:third]), statistics.median(values[-third:])


def lag_grows(first_ms: float, last_ms: float) -> bool:
    return last_ms - first_ms > max(LAG_GROWTH_MS, LAG_GROWTH_SHARE * first_ms)


def timed_sink(
    sink: FrameSink, record: Callable[[int], None], clock: Callable[[], int] = time.time_ns
) -> FrameSink:
    """`sink`, recording for each frame the ns from its receive time to the end of `sink`
    (`clock`: the wall clock in ns, the receive times' clock)."""

    def on_frame(raw: bytes, recv_ns: int, event: Event | None) -> None:
        sink(raw, recv_ns, event)
        record(clock() - recv_ns)

    return on_frame


def timed_batch_end(
    batch_end: Callable[[], None],
    stats: ConnectionStats,
    record: Callable[[int, int], None],
    clock: Callable[[], int] = time.time_ns,
) -> Callable[[], None]:
    """`batch_end`, recording after it, once per read of the socket, the ns from the read's
    receive time (`stats.last_frame_ns`) for each of its frames (`stats.frames` grew by them)."""
    seen = stats.frames

    def on_batch_end() -> None:
        nonlocal seen
        batch_end()
        frames = stats.frames - seen
        if frames:
            seen = stats.frames
            record(clock() - stats.last_frame_ns, frames)

    return on_batch_end


def nominal_frames_per_s(symbols: int, rate: float, seed: int, sample_symbols: int = 10) -> float:
    """Frames/s the simulator's market model asks for: counted offline on `sample_symbols`
    symbols over 2 s of market time (after a 1 s start, which holds the snapshots), scaled."""
    sample = min(symbols, sample_symbols)
    market = synthetic_market(sample, seed, rate, SimulatorSettings().depth, start_ms=0)
    config = msgspec.structs.replace(market.config, seconds=3.0)
    counted = sum(1 for recv_ns, _ in SyntheticMarket(config).frames() if recv_ns >= 1e9)
    return counted / 2.0 * symbols / sample


# -- the simulator process ---------------------------------------------------------------------


class SimulatorStatus(msgspec.Struct, frozen=True):
    """One line of the simulator's stdout."""

    wall_ns: int
    frames_published: int
    connections: int
    slow_clients_dropped: int


def serve_with_status(argv: list[str]) -> int:
    """The simulator process's body: serve until SIGTERM/SIGINT or until its parent is gone,
    printing a SimulatorStatus line a second."""
    parser = argparse.ArgumentParser(prog="bench.load simulator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--symbols", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    config = SimulatorSettings(
        symbols=args.symbols, seed=args.seed, rate=args.rate, market_process=True
    )
    asyncio.run(_serve_with_status(config, args.port))
    return 0


async def _serve_with_status(config: SimulatorSettings, port: int) -> None:
    simulator = await serve_simulator(config, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    out = sys.stdout.buffer
    try:
        while not stop.is_set() and os.getppid() == parent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            status = SimulatorStatus(
                time.time_ns(),
                simulator.frames_published,
                simulator.connections,
                simulator.slow_clients_dropped,
            )
            out.write(msgspec.json.encode(status) + b"\n")
            out.flush()
    except BrokenPipeError:  # the parent is gone
        pass
    finally:
        await simulator.stop()


class SimulatorProcess:
    """The simulator subprocess: started, read, and always stopped (SIGTERM, wait, then SIGKILL
    for itself and any child of its still alive)."""

    _code: str = _SIMULATOR_CODE
    label = "simulator"

    def __init__(self, symbols: int, rate: float, seed: int) -> None:
        self.port = _free_port()
        self._argv = [
            *("--port", str(self.port), "--symbols", str(symbols)),
            *("--rate", str(rate), "--seed", str(seed)),
        ]
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.latest: SimulatorStatus | None = None
        self.server: psutil.Process | None = None
        self.market: psutil.Process | None = None
        self._descendants: list[psutil.Process] = []

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v5/public/linear"

    async def __aenter__(self) -> SimulatorProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            self._code,
            *self._argv,
            cwd=_REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches this process only; it stops the simulator
        )
        self.server = psutil.Process(self._process.pid)
        self._reader = asyncio.create_task(self._read_status(self._process))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.shield(self.stop())

    async def wait_until_ready(self) -> None:
        """Until the REST API answers; then find the market child."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.rest_url, timeout=2.0) as client:
            while True:
                if self._process is None or self._process.returncode is not None:
                    raise RuntimeError("the simulator exited before it served (see stderr)")
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(
                        "/v5/market/instruments-info", params={"category": "linear"}
                    )
                    if response.status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the simulator did not answer in {READY_TIMEOUT_S:g} s")
                await asyncio.sleep(0.2)
        assert self.server is not None
        self._descendants = self.server.children(recursive=True)
        for child in self._descendants:
            with contextlib.suppress(psutil.Error):
                if "spawn_main" in " ".join(child.cmdline()):
                    self.market = child

    async def _read_status(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        decode = msgspec.json.Decoder(SimulatorStatus).decode
        async for line in process.stdout:
            with contextlib.suppress(msgspec.DecodeError):
                self.latest = decode(line)

    async def stop(self) -> None:
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        _, alive = psutil.wait_procs(self._descendants, timeout=5)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        self._process = None


class PublisherProcess(SimulatorProcess):
    """The publisher subprocess (bench/load_publisher.py): pre-encoded frames, no REST API.
    Ready once it prints its first status line (after encoding its window)."""

    _code = _PUBLISHER_CODE
    label = "publisher"
    ready_timeout_s = 300.0

    def __init__(
        self, symbols: int, rate: float, seed: int, status_path: Path | None = None
    ) -> None:
        super().__init__(symbols, rate, seed)
        if status_path is not None:
            self._argv += ["--status", str(status_path)]

    async def wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while self.latest is None:
            if self._process is None or self._process.returncode is not None:
                raise RuntimeError("the publisher exited before it served (see stderr)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the publisher was not ready in {self.ready_timeout_s:g} s")
            await asyncio.sleep(0.2)
        assert self.server is not None
        self._descendants = self.server.children(recursive=True)


class StatusFile:
    """A publisher's latest status line, read from the file it rewrites every second (for a
    client run in a process of its own, `--url`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._decode = msgspec.json.Decoder(SimulatorStatus).decode

    @property
    def latest(self) -> SimulatorStatus | None:
        try:
            return self._decode(self.path.read_bytes())
        except (OSError, msgspec.DecodeError):
            return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- sampling ----------------------------------------------------------------------------------


class Sample(msgspec.Struct):
    """The state of the run at one second."""

    mono_s: float
    engine_frames: int
    cpu_s: float
    """This process's CPU time (user + system, every thread)."""
    reconnects: int
    simulator: SimulatorStatus | None
    lag_ms: float | None
    """Median over symbols of the exchange-to-receive lag of their last frame this second."""
    usage: dict[str, tuple[float, float]]
    """Process label -> (CPU %, RSS MB)."""
    machine_cpu: float


class LoadRun:
    """The feed, the engine and the instruments around them for one run."""

    def __init__(self, simulator: SimulatorProcess | StatusFile, feed: LiveFeed) -> None:
        self.simulator = simulator
        self.feed = feed
        self.histogram = LatencyHistogram()
        for connection in feed.connections:
            if hasattr(connection, "on_batch_end"):
                connection.on_batch_end = timed_batch_end(
                    connection.on_batch_end, connection.stats, self.histogram.record
                )
            else:
                connection.on_frame = timed_sink(connection.on_frame, self.histogram.record)
        self.processes: dict[str, psutil.Process] = {"client": psutil.Process()}
        if isinstance(simulator, SimulatorProcess):
            if simulator.server is not None:
                self.processes[simulator.label] = simulator.server
            if simulator.market is not None:
                self.processes["sim market child"] = simulator.market
        for process in self.processes.values():
            process.cpu_percent(None)  # the first call only starts the interval
        psutil.cpu_percent(None)
        self._last_wall_ns = time.time_ns()

    def sample(self) -> Sample:
        since, self._last_wall_ns = self._last_wall_ns, time.time_ns()
        lags = [
            stats.last_lag_ns
            for stats in self.feed.symbol_stats.values()
            if stats.last_recv_ns >= since
        ]
        usage = {}
        for label, process in self.processes.items():
            with contextlib.suppress(psutil.Error):
                usage[label] = (process.cpu_percent(None), process.memory_info().rss / MB)
        return Sample(
            time.monotonic(),
            self.feed.engine.frames,
            time.process_time(),
            sum(connection.stats.reconnects for connection in self.feed.connections),
            self.simulator.latest,
            statistics.median(lags) / 1e6 if lags else None,
            usage,
            psutil.cpu_percent(None),
        )

    def start_measuring(self) -> None:
        """The end of the warm-up: forget latencies and maximum lags seen so far."""
        self.histogram.clear()
        for stats in self.feed.symbol_stats.values():
            stats.max_lag_ns = 0

    async def run(self, warmup_s: int, seconds: int, console: Console) -> list[Sample]:
        """Samples at the end of the warm-up and at each measured second (seconds + 1)."""
        started = time.monotonic()
        samples: list[Sample] = []
        for tick in range(1, warmup_s + seconds + 1):
            await asyncio.sleep(max(0.0, started + tick - time.monotonic()))
            if tick == warmup_s:
                self.start_measuring()
            if tick >= warmup_s:
                samples.append(self.sample())
            if tick % 10 == 0:
                phase = "warm-up" if tick <= warmup_s else "measuring"
                console.print(
                    f"{phase:9} {tick} s, {self.feed.engine.frames:,} frames", style="dim"
                )
        return samples


async def measure(args: argparse.Namespace, console: Console) -> LoadResult:
    """Start the simulator (or the publisher), run the feed against it, stop both; the figures
    of the run. With `--url`, only the client: the server runs elsewhere (`bench.load_matrix`)."""
    if args.url:
        symbols = publisher_symbols(args.symbols, args.rate, args.seed)
        status = StatusFile(Path(args.status)) if args.status else StatusFile(Path(os.devnull))
        return await _measure_client(args, console, status, symbols, args.url, "?")
    if args.publisher:
        async with PublisherProcess(args.symbols, args.rate, args.seed) as publisher:
            await publisher.wait_until_ready()
            symbols = publisher_symbols(args.symbols, args.rate, args.seed)
            return await _measure_client(
                args, console, publisher, symbols, publisher.ws_url, _pid(publisher)
            )
    async with SimulatorProcess(args.symbols, args.rate, args.seed) as simulator:
        await simulator.wait_until_ready()
        async with httpx.AsyncClient(base_url=simulator.rest_url, timeout=10.0) as client:
            instruments = await fetch_instruments(client)
        symbols = [instrument.symbol for instrument in instruments]
        return await _measure_client(
            args, console, simulator, symbols, simulator.ws_url, _pid(simulator)
        )


def _pid(server: SimulatorProcess) -> str:
    return str(server.server.pid) if server.server else "?"


def publisher_symbols(symbols: int, rate: float, seed: int) -> list[str]:
    """The symbols the publisher serves (its synthetic market's, in the same order)."""
    market = synthetic_market(symbols, seed, rate, SimulatorSettings().depth, start_ms=0)
    return sorted(market.instruments)


async def _measure_client(
    args: argparse.Namespace,
    console: Console,
    server: SimulatorProcess | StatusFile,
    symbols: list[str],
    ws_url: str,
    server_pid: str,
) -> LoadResult:
    engine = Engine(EngineSettings())
    feed = new_feed(args.client, engine, symbols, ws_url)
    run = LoadRun(server, feed)
    console.print(
        f"running   {len(symbols)} symbols on {len(feed.connections)} connections "
        f"({args.client}, {type(asyncio.get_running_loop()).__module__} loop); server pid "
        f"{server_pid} at {ws_url}, client pid {os.getpid()}",
        style="dim",
    )
    load_before = os.getloadavg()[0]
    await feed.start()
    try:
        samples = await run.run(args.warmup, args.seconds, console)
    finally:
        await feed.stop()
    return summarize(run, samples, (load_before, os.getloadavg()[0]))


def new_feed(client: str, engine: Engine, symbols: list[str], ws_url: str) -> LiveFeed:
    """The live feed on the WebSocket client asked for: "default" is the feed's own; the others
    name a connection class (`bench.load_clients`)."""
    if client == "default":
        return LiveFeed(engine, symbols, ws_url)
    from bench import load_clients
    from scalper.venues.bybit import feed as feed_module

    # The feed makes its connections itself: hand it the class to make them with, for this run.
    original = feed_module.BybitConnection
    feed_module.BybitConnection = load_clients.CLIENTS[client]  # type: ignore[misc]
    try:
        return LiveFeed(engine, symbols, ws_url)
    finally:
        feed_module.BybitConnection = original  # type: ignore[misc]


class Usage(msgspec.Struct, frozen=True):
    cpu_mean: float
    cpu_max: float
    rss_mean_mb: float
    rss_max_mb: float


class LoadResult(msgspec.Struct, frozen=True):
    """The figures of one run, over the measured window."""

    seconds: float
    client_fps: float
    client_cpu_us: float
    """The client process's CPU time (every thread) over the window, per frame applied."""
    client_fps_low: float
    client_fps_high: float
    sim_fps: float | None
    """None when the simulator printed no status."""
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    latency_mean_us: float
    latency_frames: int
    lag_first_ms: float
    lag_last_ms: float
    lag_max_ms: float
    usage: dict[str, Usage]
    machine_cpu: Usage
    reconnects: int
    slow_clients_dropped: int
    books_in_sync: int
    symbols: int
    malformed: int
    load_start: float
    load_end: float
    """The machine's 1-minute load average when the client started and when it stopped."""


def _usage(cpu: Sequence[float], rss_mb: Sequence[float]) -> Usage:
    if not cpu:
        return Usage(float("nan"), float("nan"), float("nan"), float("nan"))
    rss_mean = statistics.fmean(rss_mb) if rss_mb else float("nan")
    return Usage(statistics.fmean(cpu), max(cpu), rss_mean, max(rss_mb, default=float("nan")))


def summarize(
    run: LoadRun, samples: list[Sample], load: tuple[float, float] = (0.0, 0.0)
) -> LoadResult:
    """`samples[0]` is taken at the end of the warm-up, the others at each measured second;
    `load`: the machine's 1-minute load average at the start and at the end."""
    first, last = samples[0], samples[-1]
    frames = last.engine_frames - first.engine_frames
    measured = samples[1:]
    elapsed = last.mono_s - first.mono_s
    per_second = [
        (b.engine_frames - a.engine_frames) / (b.mono_s - a.mono_s)
        for a, b in zip(samples, measured, strict=False)
    ]
    sim_fps = None
    if first.simulator is not None and last.simulator is not None:
        sim_s = (last.simulator.wall_ns - first.simulator.wall_ns) / 1e9
        published = last.simulator.frames_published - first.simulator.frames_published
        sim_fps = published / sim_s if sim_s > 0 else None
    dropped = 0
    if first.simulator is not None and last.simulator is not None:
        dropped = last.simulator.slow_clients_dropped - first.simulator.slow_clients_dropped
    lag_first, lag_last = thirds_medians([s.lag_ms for s in measured if s.lag_ms is not None])
    usage = {
        label: _usage(
            [s.usage[label][0] for s in measured if label in s.usage],
            [s.usage[label][1] for s in measured if label in s.usage],
        )
        for label in run.processes
    }
    feed, histogram = run.feed, run.histogram
    books = [s.book for s in feed.engine.symbols.values() if s.book is not None]
    return LoadResult(
        seconds=elapsed,
        client_fps=frames / elapsed,
        client_cpu_us=(last.cpu_s - first.cpu_s) * 1e6 / frames if frames else 0.0,
        client_fps_low=min(per_second),
        client_fps_high=max(per_second),
        sim_fps=sim_fps,
        latency_p50_ms=histogram.quantile(0.5) / 1e6,
        latency_p99_ms=histogram.quantile(0.99) / 1e6,
        latency_max_ms=histogram.max_ns / 1e6,
        latency_mean_us=histogram.mean_ns / 1e3,
        latency_frames=histogram.count,
        lag_first_ms=lag_first,
        lag_last_ms=lag_last,
        lag_max_ms=max(s.max_lag_ns for s in feed.symbol_stats.values()) / 1e6,
        usage=usage,
        machine_cpu=_usage([s.machine_cpu for s in measured], []),
        reconnects=last.reconnects - first.reconnects,
        slow_clients_dropped=dropped,
        books_in_sync=sum(book.in_sync for book in books),
        symbols=len(feed.symbols),
        malformed=sum(feed.engine.malformed.values()),
        load_start=load[0],
        load_end=load[1],
    )


# -- reporting ---------------------------------------------------------------------------------


def verdict(rate: float, result: LoadResult, nominal: float) -> tuple[str, str]:
    """(verdict against the target, what limited the run)."""
    sim_fps = result.sim_fps
    keeps_up = (
        (sim_fps is None or result.client_fps >= KEEP_UP_RATIO * sim_fps)
        and not result.reconnects
        and not result.slow_clients_dropped
    )
    growing = lag_grows(result.lag_first_ms, result.lag_last_ms)
    delivered = sim_fps is not None and sim_fps >= NOMINAL_REACHED * nominal
    limits = []
    if sim_fps is not None and not delivered:
        limits.append(f"the simulator published {sim_fps / nominal:.0%} of the nominal rate")
    if not keeps_up:
        limits.append(
            "the client fell behind what was published"
            + (f" ({result.client_fps / sim_fps:.0%} applied)" if sim_fps else "")
        )
    elif growing and delivered:
        limits.append("the client: its lag grows")
    if result.machine_cpu.cpu_mean >= MACHINE_BUSY_CPU:
        limits.append(f"every cpu was busy ({result.machine_cpu.cpu_mean:.0f}% mean)")
    limited = "; ".join(limits) or "nothing: the nominal rate was published and applied"
    at = "" if rate == TARGET_RATE else f" (the target is stated at {TARGET_RATE:g}x)"
    if not keeps_up or result.latency_p99_ms > LATENCY_P99_TARGET_MS:
        return "[red]FAIL[/red]" + at, limited
    if not delivered:
        return (
            "[yellow]INCONCLUSIVE[/yellow]: the client kept up with all that was published, "
            "but the load was below nominal" + at,
            limited,
        )
    return ("[red]FAIL[/red]" if growing else "[green]PASS[/green]") + at, limited


def results_table(args: argparse.Namespace, r: LoadResult, nominal: float) -> Table:
    table = Table(
        title="Load: simulator (subprocess + market child) -> LiveFeed + Engine (this process)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("note")
    table.add_row("rate", f"{args.rate:g}x", "event-rate multiplier of the synthetic market")
    table.add_row("symbols", f"{r.symbols}", "all subscribed: orderbook.50, trades, tickers")
    table.add_row("seconds measured", f"{r.seconds:.1f}", f"after {args.warmup} s warm-up")
    table.add_row("frames/s nominal", f"{nominal:,.0f}", "the market model at this rate")
    table.add_row(
        "frames/s simulator published",
        "n/a" if r.sim_fps is None else f"{r.sim_fps:,.0f}",
        "no status from the simulator"
        if r.sim_fps is None
        else f"{r.sim_fps / nominal:.0%} of nominal (read from the simulator process)",
    )
    table.add_row(
        "frames/s client applied",
        f"{r.client_fps:,.0f}",
        (f"{r.client_fps / r.sim_fps:.1%} of published; " if r.sim_fps else "")
        + f"per second {r.client_fps_low:,.0f} - {r.client_fps_high:,.0f}",
    )
    table.add_row(
        "receive-to-state latency p50 / p99 (ms)",
        f"{r.latency_p50_ms:.2f} / {r.latency_p99_ms:.2f}",
        f"max {r.latency_max_ms:.1f} ms, {r.latency_frames:,} frames; "
        f"target p99 <= {LATENCY_P99_TARGET_MS:g} ms",
    )
    table.add_row(
        "client CPU per frame (µs)",
        f"{r.client_cpu_us:.1f}",
        f"process CPU time / frames applied; of which receive-to-state (decode + engine + "
        f"timing) {r.latency_mean_us:.1f} µs mean; the rest is the WebSocket client and the loop",
    )
    growing = lag_grows(r.lag_first_ms, r.lag_last_ms)
    table.add_row(
        "exchange-to-receive lag first / last third (ms)",
        f"{r.lag_first_ms:,.1f} / {r.lag_last_ms:,.1f}",
        f"medians; max {r.lag_max_ms:,.0f} ms; "
        + ("[red]growing[/red]" if growing else "not growing"),
    )
    for label, usage in r.usage.items():
        table.add_row(
            f"CPU % {label} mean / max",
            f"{usage.cpu_mean:.0f} / {usage.cpu_max:.0f}",
            "% of one cpu",
        )
        table.add_row(
            f"RSS MB {label} mean / max", f"{usage.rss_mean_mb:.0f} / {usage.rss_max_mb:.0f}", ""
        )
    table.add_row(
        "CPU % machine mean / max",
        f"{r.machine_cpu.cpu_mean:.0f} / {r.machine_cpu.cpu_max:.0f}",
        f"% of all {os.cpu_count()} cpus",
    )
    table.add_row(
        "reconnects / slow-client drops / malformed",
        f"{r.reconnects} / {r.slow_clients_dropped} / {r.malformed}",
        f"books in sync at the end: {r.books_in_sync}/{r.symbols}",
    )
    table.add_row("load average start / end", f"{r.load_start:.1f} / {r.load_end:.1f}", "1 min")
    outcome, limited = verdict(args.rate, r, nominal)
    table.add_row("limited by", "", limited)
    table.add_row(
        "target",
        outcome,
        f"keeps up (>= {KEEP_UP_RATIO:.0%} of published, no drop), lag not growing, "
        f"p99 <= {LATENCY_P99_TARGET_MS:g} ms, at {TARGET_RATE:g}x",
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="event-rate multiplier (>= 1)")
    parser.add_argument("--seconds", type=int, default=60, help="measured seconds")
    parser.add_argument("--warmup", type=int, default=10, help="seconds before measuring")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--publisher",
        action="store_true",
        help="serve pre-encoded frames (bench/load_publisher.py) instead of the simulator",
    )
    parser.add_argument(
        "--client",
        default="default",
        help="the WebSocket client: default (the feed's own) or one of bench.load_clients",
    )
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--url", help="only the client, against this publisher URL")
    parser.add_argument("--status", help="with --url: the publisher's status file")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)
    if args.seconds < 3 or args.warmup < 1 or args.rate < 1.0 or args.symbols < 1:
        parser.error("need --seconds >= 3, --warmup >= 1, --rate >= 1 and --symbols >= 1")
    console = Console(width=None if sys.stdout.isatty() else 140, stderr=args.json)
    for key, value in machine().items():
        console.print(f"{key:9} {value}")
    nominal = nominal_frames_per_s(args.symbols, args.rate, args.seed)
    console.print(f"nominal   {nominal:,.0f} frames/s ({args.symbols} symbols x {args.rate:g}x)")
    try:
        with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
            result = runner.run(_main(args, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("interrupted: feed and simulator stopped", style="yellow")
        return 130
    if args.json:
        sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")
        sys.stdout.flush()
    else:
        console.print(results_table(args, result, nominal))
    return 0


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """None for asyncio's own loop, else uvloop's."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


async def _main(args: argparse.Namespace, console: Console) -> LoadResult:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)  # clean up on SIGTERM as on Ctrl-C
    try:
        return await measure(args, console)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


if __name__ == "__main__":
    raise SystemExit(main())
