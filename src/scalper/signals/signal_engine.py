"""The signals of every symbol of an engine: one compiled tracker and one set of regimes each.

    engine = Engine(settings.engine)
    signals = SignalEngine(engine, settings.signals)   # observes the engine from now on
    ... events into engine.on_event ...
    signals.view("BTCUSDT")                            # factors, score, regimes, contributions

The trackers see every event in C (`Engine.observe`); closed candles arrive as notifications
(`Engine.subscribe`) and drive the regimes and candle-based factors. Everything runs on event
time, inline on the engine's path, so live, replay and backtest give the same values.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from scalper.candles import Candle
from scalper.engine import CandleClosed, Engine, Notification, SymbolState
from scalper.errors import ConfigError
from scalper.settings import SignalSettings
from scalper.signals._tracker import SymbolSignals
from scalper.signals.catalog import DETAILS, FACTORS, STATUSES
from scalper.signals.regimes import REGIMES, RegimeChanged, SymbolRegimes
from scalper.signals.scoring import gate_names, scorer_version, tracker_config
from scalper.signals.views import (
    FactorView,
    RegimeView,
    ScoreView,
    SignalSummary,
    SignalsView,
)
from scalper.units import parse_duration_ns

log = logging.getLogger(__name__)

Sampler = Callable[[str, int, tuple[float, ...], float, float], None]
"""(symbol, whole-second ts_ns, factor values with NaN where not ok, score or NaN, mid or NaN)."""
RegimeSubscriber = Callable[[RegimeChanged], None]
DIRECTIONS = {1: "long", -1: "short", 0: "flat"}


class SignalEngine:
    """Factors, regimes and scores of every symbol of `engine`, kept up to date by it."""

    def __init__(self, engine: Engine, settings: SignalSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings = settings or SignalSettings()
        regimes = settings.regimes
        for timeframe in (regimes.timeframe, regimes.trend_confirm_timeframe):
            if timeframe not in engine.config.timeframes:
                raise ConfigError(
                    f"signals.regimes uses {timeframe} candles, which the engine does not keep"
                    f" (engine.timeframes = {', '.join(engine.config.timeframes)}): add it there,"
                    " set signals.regimes.timeframe and trend_confirm_timeframe to kept ones,"
                    " or signals.enabled = false"
                )
        self.version = scorer_version(settings)
        self.cadence_ns = parse_duration_ns(settings.cadence)
        self._config = tracker_config(settings)
        self._intervals = engine.config.timeframes_ns
        self.trackers: dict[str, SymbolSignals] = {}
        self.regimes: dict[str, SymbolRegimes] = {}
        self.changes: deque[RegimeChanged] = deque(maxlen=settings.recent_regime_changes)
        """The latest regime changes across symbols, oldest first (bounded)."""
        self._last_change: dict[tuple[str, str], RegimeChanged] = {}
        self._subscribers: list[RegimeSubscriber] = []
        self._sampler: Sampler | None = None
        engine.observe(self._track)
        engine.subscribe(self._on_notification)

    def _track(self, state: SymbolState) -> SymbolSignals:
        tracker = SymbolSignals(state.symbol, self._config)
        tracker.sampler = self._sampler
        self.trackers[state.symbol] = tracker
        self.regimes[state.symbol] = SymbolRegimes(state.symbol, self.settings.regimes)
        return tracker

    def subscribe(self, subscriber: RegimeSubscriber) -> None:
        """Call `subscriber` with every regime change (inline: quick, never raising)."""
        self._subscribers.append(subscriber)

    def sample_every_second(self, sampler: Sampler) -> None:
        """Hand every symbol's values at each whole second to `sampler` (the evaluator)."""
        self._sampler = sampler
        for tracker in self.trackers.values():
            tracker.sampler = sampler

    # -- candles: regimes and candle-based factors ----------------------------------------------

    def _on_notification(self, notification: Notification) -> None:
        if type(notification) is CandleClosed:
            closed: CandleClosed = notification  # type: ignore[assignment]
            self._on_candle(closed.symbol, closed.timeframe, closed.candle, notify=True)

    def _on_candle(self, symbol: str, timeframe: str, candle: Candle, notify: bool) -> None:
        regimes = self.regimes.get(symbol)
        if regimes is None:
            return
        changes = regimes.on_candle(timeframe, candle, candle.start_ns + self._intervals[timeframe])
        if notify:
            self._push_regimes(symbol)
        for change in changes:
            self._last_change[(symbol, change.regime)] = change
            self.changes.append(change)
            if notify:
                log.debug(
                    "regime %s %s: %s -> %s", symbol, change.regime, change.previous, change.state
                )
                for subscriber in self._subscribers:
                    subscriber(change)

    def _push_regimes(self, symbol: str) -> None:
        """The regimes' gates and the candle-based factors into the symbol's tracker."""
        regimes, tracker = self.regimes[symbol], self.trackers[symbol]
        for name, value in regimes.context().items():
            tracker.set_context(name, value)
        tracker.set_regime_gates(*regimes.gates(self.settings.gates))

    def restore(self, symbol: str, candles: Mapping[str, Iterable[Candle]]) -> None:
        """Rebuild a symbol's baselines from recorded candles by timeframe (warm start), before
        its events: the same path as live candles, in the order the engine would have closed
        them (by end time, then timeframe), without notifications."""
        self.engine.symbol(symbol)  # creates its tracker and regimes
        order = {name: k for k, name in enumerate(self.engine.config.timeframes)}
        merged = [
            (candle.start_ns + self._intervals[timeframe], order[timeframe], timeframe, candle)
            for timeframe, series in candles.items()
            if timeframe in self._intervals
            for candle in series
        ]
        merged.sort(key=lambda item: item[:2])
        for _, _, timeframe, candle in merged:
            self._on_candle(symbol, timeframe, candle, notify=False)
        self._push_regimes(symbol)

    # -- views ----------------------------------------------------------------------------------

    def view(self, symbol: str) -> SignalsView | None:
        """Every factor, the score with its contributions, the regimes; None if unknown."""
        tracker = self.trackers.get(symbol)
        if tracker is None:
            return None
        (
            values,
            statuses,
            zs,
            parts,
            details,
            score,
            score_status,
            direction,
            confluence,
            gates,
            multiplier,
            in_sync,
        ) = tracker.read()
        weights = self._config.weights
        factors = {
            spec.name: FactorView(
                value=values[i],
                status=STATUSES[statuses[i]],
                kind=spec.kind,
                weight=weights[i],
                z=zs[i],
                contribution=parts[i],
            )
            for i, spec in enumerate(FACTORS)
        }
        return SignalsView(
            symbol=symbol,
            as_of_ns=tracker.as_of_ns,
            cadence_ms=self.cadence_ns / 1e6,
            book_in_sync=in_sync,
            score=ScoreView(
                value=score,
                status=STATUSES[score_status],
                direction=DIRECTIONS[direction],
                confluence=confluence,
                gates=gate_names(gates),
                multiplier=multiplier,
                version=self.version,
            ),
            factors=factors,
            details=dict(zip(DETAILS, details, strict=True)),
            regimes=self._regime_views(symbol),
        )

    def _regime_views(self, symbol: str) -> dict[str, RegimeView]:
        states = self.regimes[symbol].states()
        return {
            name: RegimeView(
                state.state, state.since_ns, state.inputs, self._last_change.get((symbol, name))
            )
            for name, state in states.items()
        }

    def summary(self, symbol: str) -> SignalSummary | None:
        """Score, direction, confluence and regime states: the scanner's columns."""
        tracker = self.trackers.get(symbol)
        if tracker is None:
            return None
        machines = self.regimes[symbol].machines
        return SignalSummary(
            score=tracker.score,
            direction=DIRECTIONS[tracker.direction],
            confluence=tracker.confluence,
            regimes={name: machines[name].state for name in REGIMES},
            as_of_ns=tracker.as_of_ns,
        )
