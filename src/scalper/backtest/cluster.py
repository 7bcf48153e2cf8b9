"""A sweep's runs on Dask (`distributed`): a LocalCluster of worker processes on this machine, or
an existing cluster's scheduler, instead of the local process pool.

Dask was picked over Ray on measurement (README, Backtests): a fraction of the install and a
smaller per-task overhead on the same small sweep; a sweep's tasks are few and long (one whole
backtest each), so what matters is that they are spread over the machines, not a scheduler of
ours. Each task is `sweep._run_point` on its job, exactly what a local worker process runs: a
run's figures are the ones it gives alone (tested against the local pool).

An existing cluster's workers must see the data dir at the same path (a shared file system)
and run the same version of scalper. Optional: `pip install -e '.[distributed]'`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import msgspec

from scalper.errors import ConfigError

Job = TypeVar("Job")
Result = TypeVar("Result")
ENGINES: Final = ("dask",)
"""The distributed engines a sweep can run on (`--cluster`)."""


class Cluster(msgspec.Struct, frozen=True, kw_only=True):
    """Where a sweep runs when not in the local process pool."""

    engine: str = "dask"
    scheduler: str | None = None
    """An existing cluster's scheduler (`tcp://host:port`); None: a LocalCluster of worker
    processes on this machine, as many as the sweep's `workers` (default: one per core)."""


def map_on_cluster(
    function: Callable[[Job], Result],
    jobs: Sequence[Job],
    cluster: Cluster,
    workers: int | None = None,
) -> list[Result]:
    """`function` over `jobs` on the cluster, one task a job; results in the order of `jobs`.
    A task that raised raises here."""
    if cluster.engine not in ENGINES:
        raise ConfigError(f"--cluster {cluster.engine!r}: one of {', '.join(ENGINES)}")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "--cluster dask needs Dask's distributed scheduler: pip install -e '.[distributed]'"
        ) from None
    logging.getLogger("distributed").setLevel(logging.WARNING)  # not its every start and stop
    if cluster.scheduler is not None:
        with Client(cluster.scheduler) as client:
            return _gather(client, function, jobs)
    processes = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    with (
        LocalCluster(
            n_workers=processes,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.WARNING,
        ) as local,
        Client(local) as client,
    ):
        return _gather(client, function, jobs)


def _gather(client: Any, function: Callable[[Job], Result], jobs: Sequence[Job]) -> list[Result]:
    futures = client.map(function, list(jobs), pure=False)
    return list(client.gather(futures))
