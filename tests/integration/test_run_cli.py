"""`scalper run` as an operator runs it: real CLI subprocesses against a real `scalper simulate`.

It proves three things the recorder promises across processes:
- warm start: a second `run` on the same data dir serves, from its first answer, every closed
  candle the first one recorded (values equal to what is on disk), and no invented candle for
  the time between the two runs;
- journal recovery: after `kill -9` of a recording `run`, its journals are on disk; the next
  `run` turns them into segments (health counts them), leaves no journal, and the frames read
  back start with exactly the rows the journals held, in receive order;
- the disk budget under live load: with a tiny `--max-disk`, segments are deleted while other
  processes run `scalper query` over the same dir; each query prints a count or fails with a
  clear `scalper: query failed: ...` and exit code 2, never a traceback, and health reports
  usage under the budget throughout.

Which outcome of a query is right: storage/query.py runs one DuckDB statement over a glob of
the complete segments and turns a DuckDB error into `InputError("query failed: ...")`; a segment
deleted between DuckDB's listing and its read cannot be skipped by one statement, so a clear
error (exit 2, no traceback) is the designed answer, and a count otherwise.

Three in-process tests pin what was found on the way, then fixed: a segment deleted while
`scalper query` builds its views (after its own listing, or after DuckDB's) was a traceback,
seen live in about one run of the budget test in eight; and usage went over the budget at the
moment a segment was being closed (its Parquet written while its journal still stood).

Timeframes are set to 1s/2s (`--set engine.timeframes=1s,2s`) so candles close within seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

import scalper.storage.query as query_module
import scalper.storage.segments as segments_module
from scalper.errors import ScalperError
from scalper.settings import RecorderSettings
from scalper.storage.reader import iter_recorded
from scalper.storage.recorder import Recorder
from scalper.venues.bybit.book_codec import BOOK_CODEC
from scalper.venues.bybit.frames import CODECS, record_frame
from scalper.venues.simulator.market import MarketConfig, SyntheticMarket

SYMBOLS = [f"SYM{i:03d}USDT" for i in range(5)]
FAST_CANDLES = (
    "--set",
    "engine.timeframes=1s,2s",
    "--set",
    "signals.regimes.timeframe=1s",
    "--set",
    "signals.regimes.trend_confirm_timeframe=2s",
)
SECOND_NS = 1_000_000_000
RAW = Path("raw") / "bybit-linear"


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cli:
    """One `scalper` subprocess; its stdout and stderr go to files (a pipe nobody reads could
    fill and block it)."""

    def __init__(self, logs: Path, name: str, *args: str) -> None:
        self.name = name
        self.out = logs / f"{name}.out"
        self.err = logs / f"{name}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scalper.cli", *args],
                stdout=out,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 60) -> int:
        if self.alive():
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    """Start `scalper` subprocesses; any still running at the end is killed."""
    logs = tmp_path / "logs"
    logs.mkdir()
    started: list[Cli] = []

    def start(name: str, *args: str) -> Cli:
        process = Cli(logs, name, *args)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.kill()


def wait_for(condition: Callable[[], object], timeout: float, what: str, *watched: Cli) -> None:
    """Poll `condition` every 100 ms; fail after `timeout` s, or at once if a watched process
    exited (with its stderr)."""
    deadline = time.monotonic() + timeout
    while not condition():
        for process in watched:
            if not process.alive():
                pytest.fail(f"{process.name} exited while waiting for {what}:\n{process.stderr}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def get(url: str) -> httpx.Response | None:
    """The response, or None while nothing answers."""
    try:
        return httpx.get(url, timeout=5.0)
    except httpx.HTTPError:
        return None


def simulate(cli: Callable[..., Cli], rate: float = 1.0) -> tuple[Cli, list[str]]:
    """A `scalper simulate` of the 5 symbols; returns it and `run`'s venue flags for it."""
    port = free_port()
    simulator = cli(
        "simulate", "simulate", "--port", str(port), "--symbols", "5", "--rate", str(rate)
    )
    wait_for(
        lambda: get(f"http://127.0.0.1:{port}/v5/market/tickers?category=linear"),
        30,
        "the simulator",
        simulator,
    )
    venue = [
        "--rest-url",
        f"http://127.0.0.1:{port}",
        "--ws-url",
        f"ws://127.0.0.1:{port}/v5/public/linear",
        "--top",
        "5",
    ]
    return simulator, venue


def run_args(venue: list[str], data_dir: Path, port: int | None, *extra: str) -> list[str]:
    api = ["--port", str(port)] if port is not None else ["--no-api"]
    return ["run", *venue, "--data-dir", str(data_dir), *api, *FAST_CANDLES, *extra]


def closed_candles(api: str, symbol: str, timeframe: str) -> list[dict]:
    """The symbol's closed candles served by the API; none while it does not know the symbol."""
    response = get(f"{api}/api/symbol/{symbol}/candles?tf={timeframe}&limit=1000")
    if response is None or response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    return response.json()["candles"]


# -- reading what is on disk, independently of the recorder's reader ---------------------------


def candles_on_disk(data_dir: Path) -> dict[tuple[str, str, int], tuple]:
    """(symbol, timeframe, start) -> (open, high, low, close, volume, trades), from every
    complete candles segment read with pyarrow."""
    candles = {}
    for path in sorted(data_dir.glob("candles/date=*/*.parquet")):
        for row in pq.read_table(path).to_pylist():
            key = (row["symbol"], row["timeframe"], row["start_ns"])
            candles[key] = (
                row["open"],
                row["high"],
                row["low"],
                row["close"],
                row["volume"],
                row["trades"],
            )
    return candles


def journal_rows(path: Path) -> list[dict]:
    """The rows of a journal's complete chunks (an Arrow IPC stream; a torn tail is where the
    kill fell)."""
    batches = []
    with path.open("rb") as file, contextlib.suppress(pa.ArrowInvalid, OSError, EOFError):
        for batch in ipc.open_stream(file):
            batches.append(batch)  # noqa: PERF402 (a torn tail raises mid-iteration)
    return pa.Table.from_batches(batches).to_pylist() if batches else []


def usage_on_disk(data_dir: Path) -> int:
    total = 0
    for folder, _, names in os.walk(data_dir):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += (Path(folder) / name).stat().st_size
    return total


# -- warm start --------------------------------------------------------------------------------


def test_a_second_run_serves_the_recorded_candles_at_once(
    tmp_path: Path, cli: Callable[..., Cli]
) -> None:
    _, venue = simulate(cli)
    data_dir = tmp_path / "data"
    first_api = free_port()
    first = cli("first", *run_args(venue, data_dir, first_api))
    api = f"http://127.0.0.1:{first_api}"
    wait_for(
        lambda: (
            all(len(closed_candles(api, s, "1s")) >= 3 for s in SYMBOLS)
            and all(closed_candles(api, s, "2s") for s in SYMBOLS)
        ),
        60,
        "closed 1s and 2s candles of every symbol",
        first,
    )
    assert first.stop() == 0, first.stderr
    stopped_ns = time.time_ns()

    recorded = candles_on_disk(data_dir)
    assert not list(data_dir.rglob("*.journal"))
    for symbol in SYMBOLS:
        assert sum(1 for s, tf, _ in recorded if (s, tf) == (symbol, "1s")) >= 3, symbol
    assert max(start for _, _, start in recorded) < stopped_ns

    launched_ns = time.time_ns()
    second_api = free_port()
    second = cli("second", *run_args(venue, data_dir, second_api))
    api = f"http://127.0.0.1:{second_api}"
    wait_for(lambda: get(f"{api}/api/monitor/health"), 60, "the second run's API", second)
    # The first answers, before the feed can have closed anything older than this process.
    served = {
        (symbol, tf): closed_candles(api, symbol, tf) for symbol in SYMBOLS for tf in ("1s", "2s")
    }
    for (symbol, tf), candles in served.items():
        by_start = {c["start_ns"]: c for c in candles}
        mine = {start: v for (s, t, start), v in recorded.items() if (s, t) == (symbol, tf)}
        assert mine, (symbol, tf)
        assert by_start and min(by_start) < launched_ns, (symbol, tf, "nothing recorded served")
        for start, (open_, high, low, close, volume, trades) in mine.items():
            candle = by_start.get(start)
            assert candle is not None, (symbol, tf, start, sorted(by_start))
            served_values = (
                candle["open"],
                candle["high"],
                candle["low"],
                candle["close"],
                candle["volume"],
                candle["trades"],
            )
            # The API may round sums to 10 significant digits (no float noise in its JSON).
            expected = (open_, high, low, close, volume, trades)
            assert served_values == pytest.approx(expected, rel=1e-9), (symbol, tf, start)
        # Nothing between the runs is invented: every other candle is the second run's own.
        floor = launched_ns - launched_ns % SECOND_NS
        invented = [start for start in by_start if start not in mine and start < floor]
        assert not invented, (symbol, tf, invented)

    restored = f"warm start: {len(recorded)} candles of {len(SYMBOLS)} symbols from {data_dir}"
    assert restored in second.stderr, second.stderr
    assert second.stop() == 0, second.stderr


# -- journal recovery after SIGKILL ------------------------------------------------------------


def test_the_next_run_recovers_the_journals_of_a_killed_run(
    tmp_path: Path, cli: Callable[..., Cli]
) -> None:
    _, venue = simulate(cli)
    data_dir = tmp_path / "data"
    first = cli("killed", *run_args(venue, data_dir, None))

    def journals_written() -> bool:
        raw = list((data_dir / RAW).glob("date=*/*.journal"))
        candles = list(data_dir.glob("candles/date=*/*.journal"))
        return bool(raw and candles) and len(journal_rows(raw[0])) >= 1000

    wait_for(journals_written, 60, "1000 journaled frames and a candles journal", first)
    first.process.send_signal(signal.SIGKILL)
    assert first.process.wait(30) == -signal.SIGKILL
    killed_ns = time.time_ns()

    journals = sorted(data_dir.rglob("*.journal"))
    assert any(RAW.as_posix() in p.as_posix() for p in journals), journals
    held = {p: journal_rows(p) for p in journals}
    before = list(iter_recorded(data_dir, codecs=CODECS))  # complete segments only
    raw_held = [
        (row["recv_ns"], row["ts_ns"], row["topic"], row["payload"])
        for path, rows in held.items()
        if RAW.as_posix() in path.as_posix()
        for row in rows
    ]
    candles_held = {
        (row["symbol"], row["timeframe"], row["start_ns"])
        for path, rows in held.items()
        if "candles" in path.parts
        for row in rows
    }
    assert raw_held and candles_held

    second_api = free_port()
    second = cli("next", *run_args(venue, data_dir, second_api))
    api = f"http://127.0.0.1:{second_api}"
    wait_for(lambda: get(f"{api}/api/monitor/health"), 60, "the next run's API", second)
    health = get(f"{api}/api/monitor/health").json()  # type: ignore[union-attr]
    recovered = health["data_dir"]["recorder"]["segments_recovered"]
    assert recovered == sum(1 for rows in held.values() if rows), health["data_dir"]

    def recording() -> bool:
        response = get(f"{api}/api/monitor/health")
        return (
            response is not None and response.json()["data_dir"]["recorder"]["frames_recorded"] > 0
        )

    wait_for(recording, 30, "the next run to record", second)
    assert second.stop() == 0, second.stderr
    assert "after a crash" in second.stderr

    assert not list(data_dir.rglob("*.journal")) and not list(data_dir.rglob("*.partial"))
    records = list(iter_recorded(data_dir, codecs=CODECS))
    kept = len(before) + len(raw_held)
    # Receive order: the killed run's rows, exactly as journaled, then the next run's.
    assert records[:kept] == before + raw_held
    assert len(records) > kept and records[kept][0] > killed_ns
    assert [r[0] for r in records if r[0] < killed_ns] == [r[0] for r in before + raw_held]
    assert candles_held <= {(s, tf, start) for s, tf, start in candles_on_disk(data_dir)}


# -- the disk budget under live load, with concurrent queries ----------------------------------


class HealthSampler:
    """Polls the run's health in a thread: (bytes_used, max_bytes, segments_deleted)."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.samples: list[tuple[int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> HealthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            response = get(f"{self.api}/api/monitor/health")
            if response is not None:
                data_dir = response.json()["data_dir"]
                recorder = data_dir["recorder"]
                self.samples.append(
                    (data_dir["bytes_used"], data_dir["max_bytes"], recorder["segments_deleted"])
                )


"""How `scalper query` fails today when the budget deletes a segment while it builds its views
(pinned below: test_a_segment_deleted_right_after_the_query_lists_it_gives_a_clear_error and
test_a_segment_duckdb_cannot_open_while_building_the_views_gives_a_clear_error)."""


def query_frames(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`scalper query "select count(*) from frames" --csv` in its own process."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "scalper.cli",
            "query",
            "select count(*) from frames",
            "--data-dir",
            str(data_dir),
            "--csv",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_queries_during_budget_deletions_never_fail_with_a_traceback(
    tmp_path: Path, cli: Callable[..., Cli]
) -> None:
    _, venue = simulate(cli, rate=8.0)
    data_dir = tmp_path / "data"
    budget = 500_000  # "500KB": segments close at 64 KiB, the smallest cap
    api_port = free_port()
    run = cli("run", *run_args(venue, data_dir, api_port, "--max-disk", "500KB"))
    api = f"http://127.0.0.1:{api_port}"

    def deleted() -> int:
        response = get(f"{api}/api/monitor/health")
        if response is None:
            return 0
        return response.json()["data_dir"]["recorder"]["segments_deleted"]

    wait_for(lambda: deleted() > 0, 90, "the budget to delete a segment", run)
    outcomes: list[tuple[int, str, str]] = []
    with HealthSampler(api) as sampler:
        started = time.monotonic()
        while not (
            len(outcomes) >= 3
            and any(code == 0 for code, _, _ in outcomes)
            and len({deleted for _, _, deleted in sampler.samples}) > 2
        ):
            assert time.monotonic() - started < 120, f"queries: {outcomes}"
            assert run.alive(), run.stderr
            done = query_frames(data_dir)
            outcomes.append((done.returncode, done.stdout, done.stderr))
    for code, stdout, stderr in outcomes:
        assert "Traceback" not in stderr, stderr
        if code == 0:
            header, count = stdout.splitlines()
            assert header == "count_star()" and int(count) > 0, stdout
        else:
            # Warnings may come first (e.g. no candles segment yet); the error is the last line.
            last = stderr.strip().splitlines()[-1]
            assert code == 2 and last.startswith("scalper: query failed: "), (code, stderr)
    assert sampler.samples
    for used, max_bytes, _ in sampler.samples:
        assert max_bytes == budget and used <= budget, (used, max_bytes)
    assert max(used for used, _, _ in sampler.samples) > budget // 2  # the budget binds

    assert run.stop() == 0, run.stderr
    assert usage_on_disk(data_dir) <= budget
    # The count of the data dir at rest equals the rows in its raw segments' footers.
    final = query_frames(data_dir)
    assert final.returncode == 0, final.stderr
    footers = sum(
        pq.ParquetFile(path).metadata.num_rows for path in data_dir.glob(f"{RAW}/date=*/*.parquet")
    )
    assert int(final.stdout.splitlines()[1]) == footers > 0


# -- the gaps, in process and deterministic ----------------------------------------------------


def recorded_segments_dir(data_dir: Path, budget: int | None, frames: int) -> Recorder:
    """Record `frames` synthetic frames in 1,000-row chunks, each handled by the writer before
    the next (so every run writes the same files); returns the stopped recorder."""
    settings = RecorderSettings(
        max_disk_bytes=budget, retention_days=None, chunk_rows=1000, budget_every_s=3600.0
    )
    recorder = Recorder(data_dir, settings, source="bybit-linear", codec=BOOK_CODEC)
    recorder.start()
    try:
        market = SyntheticMarket(MarketConfig(symbols=5, seconds=3600, seed=3))
        for count, (recv_ns, raw) in enumerate(islice(market.frames(), frames), 1):
            record_frame(recorder, raw, recv_ns)
            if count % 1000 == 0:
                recorder.drain()
    finally:
        recorder.stop()
    return recorder


def test_a_segment_deleted_right_after_the_query_lists_it_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = recorded_segments_dir(tmp_path, budget=None, frames=3000)
    assert recorder.stats.frames_recorded == 3000
    listed = query_module._segments

    def listed_then_deleted(data_dir: Path, table: str) -> tuple[str, list[Path]]:
        glob, segments = listed(data_dir, table)
        if table == "frames" and segments:
            segments[0].unlink()  # what the budget does to the oldest, at the wrong moment
        return glob, segments

    monkeypatch.setattr(query_module, "_segments", listed_then_deleted)
    try:
        _, rows = query_module.run_query(tmp_path, "select count(*) from frames", CODECS)
    except ScalperError as error:  # the CLI prints it, exit code 2
        assert "query failed" in str(error)
    else:
        assert rows[0][0] >= 0


def test_a_segment_duckdb_cannot_open_while_building_the_views_gives_a_clear_error(
    tmp_path: Path,
) -> None:
    """DuckDB's own listing cannot be raced from a test, so the segment is one it lists and
    cannot read: a torn candles file (the same path through connect() as the live race)."""
    recorded_segments_dir(tmp_path, budget=None, frames=1000)
    torn = tmp_path / "candles" / "date=2024-12-01" / "1733011200000000000.parquet"
    torn.parent.mkdir(parents=True)
    torn.write_bytes(b"PAR1 torn")
    try:
        query_module.run_query(tmp_path, "select count(*) from frames", CODECS)
    except ScalperError as error:  # the CLI prints it, exit code 2
        assert "query failed" in str(error) or str(torn) in str(error)


def test_usage_stays_under_the_budget_while_a_segment_is_being_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Usage measured at the worst moment: when a closed segment is about to be published (its
    Parquet file written, its journal not yet deleted). Deterministic: the same frames, the same
    chunks, each handled before the next."""
    budget = 300_000  # segments close at 64 KiB, the smallest cap
    at_close: list[int] = []
    publish = segments_module._publish

    def measured(partial: Path, final: Path) -> None:
        at_close.append(usage_on_disk(tmp_path))
        publish(partial, final)

    monkeypatch.setattr(segments_module, "_publish", measured)
    recorder = recorded_segments_dir(tmp_path, budget=budget, frames=60_000)
    assert recorder.stats.segments_deleted > 0 and len(at_close) > 10
    assert usage_on_disk(tmp_path) <= budget  # at rest, after the last check: under
    assert max(at_close) <= budget, f"{max(at_close)} bytes at a close, budget {budget}"
