"""Recorded frames through a fresh engine and signal engine, sampled every whole second.

The same engine and signals as live (`SignalEngine` observing an `Engine`), fed by the same
frame applier as `scalper replay`: the evaluation judges the values a live run would have had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from scalper.engine import Engine
from scalper.evaluation.report import Evaluation, evaluate
from scalper.evaluation.samples import SampleCollector
from scalper.replay import replay_file, replay_recording
from scalper.settings import Settings
from scalper.signals import SignalEngine
from scalper.venues.bybit.frames import FrameApplier

Progress = Callable[[int], None]


class Sampling:
    """An engine, its signals and the collector of their whole-second samples."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = Engine(settings.engine)
        self.signals = SignalEngine(self.engine, settings.signals)
        self.collector = SampleCollector()
        self.signals.sample_every_second(self.collector.add)
        self.applier = FrameApplier(self.engine)

    def evaluation(self, source: str) -> Evaluation:
        return evaluate(
            self.collector.samples(), self.settings.signals, source, self.signals.version
        )


def evaluate_frames(
    frames: Iterable[tuple[int, bytes]], settings: Settings, source: str = "frames"
) -> Evaluation:
    """Evaluate (recv_ns, raw frame) pairs (tests, the synthetic market)."""
    sampling = Sampling(settings)
    for recv_ns, raw in frames:
        sampling.applier(raw, recv_ns)
    return sampling.evaluation(source)


def evaluate_source(
    path: Path,
    settings: Settings,
    progress: Progress | None = None,
    from_ns: int | None = None,
    to_ns: int | None = None,
    symbols: list[str] | None = None,
) -> Evaluation:
    """Evaluate a recorder's data dir (rows in receive order) or a frame file. `progress` is
    called with rows applied (data dir) or file bytes read (frame file)."""
    sampling = Sampling(settings)
    if path.is_dir():
        replay_recording(sampling.applier, path, from_ns, to_ns, symbols, progress)
    else:
        replay_file(sampling.applier, path, progress)
    return sampling.evaluation(str(path))
