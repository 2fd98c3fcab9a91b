"""One replication reduced to flat results, and the confidence interval across them.

A replication is `run_replication(scenario, seed, r)` for r = 0..n-1; its seed streams
depend only on (seed, r), so the results are identical whatever the number of workers
and in whatever order they finish.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from mashsim.metrics.compute import daily_backlog, replication_metrics
from mashsim.model.replication import run_replication
from mashsim.scenario.schema import Scenario
from mashsim.stats import mean_ci

__all__ = [
    "ReplicationResult",
    "confidence_interval",
    "default_workers",
    "single_run",
]


@dataclass
class ReplicationResult:
    """Flat results of one replication: metrics per scope and daily backlog per hub."""

    replication: int
    metrics: dict[str, dict[str, float]]  # scope ("overall" or hub) → metric → value
    daily: dict[str, dict[str, np.ndarray]]  # hub → stage → counts


def single_run(scenario: Scenario, seed: int, replication: int) -> ReplicationResult:
    """Simulate one replication and reduce it to flat results (cheap to ship home)."""
    records = run_replication(scenario, seed, replication)
    return ReplicationResult(
        replication=replication,
        metrics=replication_metrics(records, scenario),
        daily={hub: daily_backlog(rec, scenario) for hub, rec in records.items()},
    )


def default_workers() -> int:
    """Usable cores (the CPU affinity mask where the platform has one)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def confidence_interval(
    values: Iterable[float], level: float = 0.95,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> dict[str, float | None]:
    """Mean and Student-t CI across replications (`mashsim.stats.mean_ci`, the one
    interval); NaN replications (no data) are skipped, the interval is cut to `bounds`."""
    return mean_ci(values, level, bounds)
