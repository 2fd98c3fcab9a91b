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
from typing import Any

import numpy as np

from mashsim.metrics.compute import daily_backlog, reduce_replication
from mashsim.model.replication import replication_parts
from mashsim.model.streams import Streams
from mashsim.scenario.schema import GRADES, Scenario
from mashsim.scenario.uncertain import draw_index, draw_point
from mashsim.stats import mean_ci

__all__ = [
    "OUTCOME_COLUMNS",
    "ReplicationResult",
    "confidence_interval",
    "default_workers",
    "point_scenario",
    "referral_outcomes",
    "single_run",
]

#: Per-referral outcomes kept on a result when asked for (what the report's wait figure
#: reads), one array per column for the referrals created after the warm-up.
OUTCOME_COLUMNS = ("grade_idx", "staff_wait_hours", "decision_hours", "target_hours",
                   "time_in_mash_hours", "breached", "resolved", "open_at_end")


@dataclass
class ReplicationResult:
    """Flat results of one replication: metrics per scope and daily backlog per hub.

    `outcomes` (hub → column → array, see `OUTCOME_COLUMNS`) is kept only when asked for:
    per-referral data is large, and only the report's figures need it.
    """

    replication: int
    metrics: dict[str, dict[str, float]]  # scope ("overall" or hub) → metric → value
    daily: dict[str, dict[str, np.ndarray]]  # hub → stage → counts
    outcomes: dict[str, dict[str, np.ndarray]] | None = None


def single_run(scenario: Scenario, seed: int, replication: int,
               outcomes: bool = False) -> ReplicationResult:
    """Simulate one replication and reduce it to flat results (cheap to ship home);
    `outcomes=True` also keeps each referral's waits (`referral_outcomes`)."""
    scenario = point_scenario(scenario, seed, replication)
    daily: dict[str, dict[str, np.ndarray]] = {}
    kept: dict[str, dict[str, np.ndarray]] = {}

    def each(hub: str, rec: Any) -> None:  # as each hub's group finishes (issue 16)
        daily[hub] = daily_backlog(rec, scenario)
        if outcomes:
            kept[hub] = referral_outcomes(rec, scenario)

    metrics = reduce_replication(replication_parts(scenario, seed, replication), scenario,
                                 each)
    return ReplicationResult(replication=replication, metrics=metrics, daily=daily,
                             outcomes=kept if outcomes else None)


def point_scenario(scenario: Scenario, seed: int, replication: int) -> Scenario:
    """The scenario replication `replication` runs: its uncertain inputs drawn from the
    "inputs" stream of its draw (replications of one draw share it; no other stream is
    touched, so common random numbers hold)."""
    if scenario.uncertainty is None:
        return scenario
    rng = Streams(seed, draw_index(scenario, replication)).rng("inputs")
    return draw_point(scenario, rng)


def referral_outcomes(rec: Any, scenario: Scenario) -> dict[str, np.ndarray]:
    """One hub's per-referral waits, for referrals created after the warm-up.

    Hours stay float64 (not float32): the report's figures must be exactly those drawn
    from the model's own numbers. Columns as `mashsim.report.plots.wait_records` reads
    them: staff_wait_hours (hand-over → first staff work; NaN if never handed over),
    decision_hours (target clock start → decision, or → end of run if still open),
    target_hours, time_in_mash_hours, breached, resolved, open_at_end.
    """
    sc = scenario
    horizon = sc.horizon_hours
    grades: dict[str, Any] = {str(k): v for k, v in sc.grades.items()}
    starts = np.asarray([getattr(grades[g].decision_target, "starts_at", "creation")
                         for g in GRADES])
    r = rec.referrals
    keep = r.entered >= sc.warmup_hours
    start = np.where(np.isfinite(rec.staff_start), rec.staff_start, horizon)
    end = np.where(np.isfinite(rec.staff_end), rec.staff_end, horizon)
    handed = r.handover <= horizon
    zero = np.where(starts[r.grade_idx] == "mash_receipt", r.handover, r.created)
    return {
        "grade_idx": np.asarray(r.grade_idx[keep], dtype=np.int8),
        "staff_wait_hours": np.where(handed, start - r.handover, np.nan)[keep],
        "decision_hours": np.where(zero <= horizon, end - zero, np.nan)[keep],
        "target_hours": (r.deadline - zero)[keep],
        "time_in_mash_hours": (end - r.created)[keep],
        "breached": (end > r.deadline)[keep],  # open and not yet due: False
        "resolved": (np.isfinite(rec.staff_end) | (r.deadline <= horizon))[keep],
        "open_at_end": ~np.isfinite(rec.staff_end[keep]),
    }


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
