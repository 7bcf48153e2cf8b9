"""The evaluation for people: rich tables for the terminal, a PNG chart (matplotlib).

JSON for machines is `msgspec.json.encode(evaluation)`: every figure here comes from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from rich.console import Group
from rich.table import Table
from rich.text import Text

from scalper.evaluation.report import Evaluation
from scalper.evaluation.samples import SCORE

PER_SYMBOL_ROWS: Final = 20
"""Symbols listed in the per-symbol table (most samples first; every symbol is in the JSON)."""


def _signed(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _ic_cell(low: float | None, high: float | None, ic: float | None) -> Text:
    """The IC, bold when its confidence interval excludes 0."""
    text = _signed(ic)
    significant = low is not None and high is not None and (low > 0.0 or high < 0.0)
    return Text(text + ("*" if significant else " "), style="bold" if significant else "")


def ic_table(evaluation: Evaluation) -> Table:
    level = evaluation.signal_settings.evaluation.confidence
    table = Table(
        title=f"Information coefficient vs forward mid log-return, pooled over "
        f"{len(evaluation.symbols)} symbols, non-overlapping samples "
        f"(* = {level:.0%} interval excludes 0)",
        title_justify="left",
    )
    table.add_column("factor")
    table.add_column("kind")
    for horizon in evaluation.horizons:
        table.add_column(f"IC {horizon}", justify="right")
        table.add_column(f"rank {horizon}", justify="right")
        table.add_column(f"n {horizon}", justify="right")
    table.add_column("half-life s", justify="right")
    for name, column in evaluation.columns.items():
        cells: list[str | Text] = [Text(name, style="bold" if name == SCORE else ""), column.kind]
        for horizon in evaluation.horizons:
            c = column.pooled[horizon].correlation
            cells += [_ic_cell(c.ic_low, c.ic_high, c.ic), _signed(c.rank_ic), f"{c.n:,}"]
        cells.append("—" if column.half_life_s is None else f"{column.half_life_s:.1f}")
        table.add_row(*cells)
    return table


def hit_table(evaluation: Evaluation) -> Table:
    quantile = evaluation.signal_settings.evaluation.hit_quantile
    table = Table(
        title=f"Hit rate: share of right signs where r != 0 and |signal| > its threshold "
        f"(a factor's {quantile:.0%} quantile of |value|; the score's direction threshold); "
        "zero: share of those samples with r = 0",
        title_justify="left",
    )
    table.add_column("factor")
    for horizon in evaluation.horizons:
        table.add_column(f"hit {horizon}", justify="right")
        table.add_column(f"zero {horizon}", justify="right")
        table.add_column(f"n {horizon}", justify="right")
    for name, column in evaluation.columns.items():
        cells = [name]
        for horizon in evaluation.horizons:
            hits = column.pooled[horizon].hits
            cells += [_share(hits.hit_rate), _share(hits.zero_return_share), f"{hits.selected:,}"]
        table.add_row(*cells)
    return table


def bucket_table(evaluation: Evaluation) -> Table:
    hurdles = evaluation.hurdles_bps
    table = Table(
        title="Mean forward return (bps) by score bucket, pooled; round-trip cost hurdles: "
        + ", ".join(f"{name.replace('_', '/')} {value:g}" for name, value in hurdles.items())
        + " bps (bold: beyond the taker/taker hurdle in the bucket's direction)",
        title_justify="left",
    )
    table.add_column("bucket", justify="right")
    for horizon in evaluation.horizons:
        table.add_column(f"score {horizon}", justify="right")
        table.add_column(f"bps {horizon}", justify="right")
        table.add_column(f"n {horizon}", justify="right")
    rows = max((len(b) for b in evaluation.score_buckets.values()), default=0)
    taker = hurdles["taker_taker"]
    for k in range(rows):
        cells: list[str | Text] = [str(k + 1)]
        for horizon in evaluation.horizons:
            parts = evaluation.score_buckets.get(horizon, [])
            if k >= len(parts):
                cells += ["", "", ""]
                continue
            bucket = parts[k]
            mean = bucket.mean_return_bps
            beyond = (bucket.low > 0 and mean > taker) or (bucket.high < 0 and mean < -taker)
            cells += [
                f"{bucket.low:+.2f}..{bucket.high:+.2f}",
                Text(f"{mean:+.2f}", style="bold" if beyond else ""),
                f"{bucket.n:,}",
            ]
        table.add_row(*cells)
    return table


def symbol_table(evaluation: Evaluation) -> Table:
    score = evaluation.columns[SCORE].per_symbol
    first = evaluation.horizons[0]
    ranked = sorted(score, key=lambda s: (-score[s][first].correlation.n, s))
    shown = ranked[:PER_SYMBOL_ROWS]
    table = Table(
        title=f"Score IC per symbol ({len(shown)} of {len(ranked)}, most samples first)",
        title_justify="left",
    )
    table.add_column("symbol")
    for horizon in evaluation.horizons:
        table.add_column(f"IC {horizon}", justify="right")
        table.add_column(f"n {horizon}", justify="right")
    for symbol in shown:
        cells: list[str | Text] = [symbol]
        for horizon in evaluation.horizons:
            c = score[symbol][horizon].correlation
            cells += [_ic_cell(c.ic_low, c.ic_high, c.ic), f"{c.n:,}"]
        table.add_row(*cells)
    return table


def summary(evaluation: Evaluation) -> Group:
    span = ""
    if evaluation.first_ns is not None and evaluation.last_ns is not None:
        span = f", {(evaluation.last_ns - evaluation.first_ns) / 1e9:,.0f} s of event time"
    head = Text(
        f"signals evaluation of {evaluation.source}: {len(evaluation.symbols)} symbols, "
        f"{evaluation.samples:,} whole-second samples{span}; scorer {evaluation.scorer_version}"
    )
    return Group(
        head,
        ic_table(evaluation),
        hit_table(evaluation),
        bucket_table(evaluation),
        symbol_table(evaluation),
    )


def write_chart(evaluation: Evaluation, path: Path) -> None:
    """IC by horizon per factor (the score in bold) and mean return by score bucket."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = [float(h.rstrip("s")) if h.endswith("s") else 0.0 for h in evaluation.horizons]
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 6))
    for name, column in evaluation.columns.items():
        if column.kind not in ("directional", "score"):
            continue
        ics = [column.pooled[h].correlation.ic for h in evaluation.horizons]
        points = [(s, ic) for s, ic in zip(seconds, ics, strict=True) if ic is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        is_score = name == SCORE
        left.plot(
            xs,
            ys,
            marker="o",
            linewidth=3 if is_score else 1,
            label=name,
            color="black" if is_score else None,
            alpha=1 if is_score else 0.7,
        )
    left.axhline(0.0, color="grey", linewidth=0.8)
    left.set_xscale("log")
    left.set_xticks(seconds, evaluation.horizons)
    left.set_xlabel("horizon")
    left.set_ylabel("IC (Pearson, pooled)")
    left.set_title("IC by horizon")
    left.legend(fontsize=6, ncol=2, loc="best")
    width = 0.8 / max(1, len(evaluation.horizons))
    for k, horizon in enumerate(evaluation.horizons):
        parts = evaluation.score_buckets.get(horizon, [])
        xs = [i + 1 + (k - len(evaluation.horizons) / 2 + 0.5) * width for i in range(len(parts))]
        right.bar(xs, [b.mean_return_bps for b in parts], width=width, label=horizon)
    for name, value in evaluation.hurdles_bps.items():
        style = {"taker_taker": "--", "maker_taker": "-.", "maker_maker": ":"}[name]
        for sign in (1, -1):
            right.axhline(
                sign * value,
                color="red",
                linestyle=style,
                linewidth=0.8,
                label=f"{name.replace('_', '/')} ±{value:g} bps" if sign > 0 else None,
            )
    right.set_xlabel("score bucket (1 = lowest)")
    right.set_ylabel("mean forward return, bps")
    right.set_title("Forward return by score bucket vs round-trip costs")
    right.legend(fontsize=7)
    figure.suptitle(
        f"{evaluation.source} · {len(evaluation.symbols)} symbols · scorer "
        f"{evaluation.scorer_version}",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)
