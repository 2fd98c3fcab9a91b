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
from scipy import stats

from mashsim.metrics.compute import daily_backlog, replication_metrics
from mashsim.model.replication import run_replication
from mashsim.scenario.schema import Scenario

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
    """Mean and Student-t CI across replications; NaN replications (no data) are skipped.

    With fewer than two usable replications the interval is unknown (None). `bounds` is
    the range the quantity can take (a fraction: 0–1): the interval is cut to it, which
    keeps its coverage and spares readers a "−10 %" breach rate.
    """
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if x.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None}
    mean = float(x.mean())
    if x.size < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None}
    half = float(stats.t.ppf(0.5 + level / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    lo, hi = bounds
    return {"mean": mean, "ci_low": max(lo, mean - half), "ci_high": min(hi, mean + half)}
