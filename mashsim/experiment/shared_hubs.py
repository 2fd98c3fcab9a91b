"""Points that share hubs: each hub group simulated once per replication, not per point.

A sweep's points usually differ in one hub or a few (`--vary hubs.reading....`).
Replication r of every point runs with the same seed streams (common random numbers),
and a group of hubs (`hub_groups`: a hub alone, or every hub where they share people)
reads only its own hubs' settings, their shares of the force's demand and the
force-wide settings. So a group that a point leaves as it was has, at that point, the
same records as at every other such point, and its metrics too.

`run_points` (sweeps, sensitivity designs) runs a grid's replications this way when
some group is shared. `PointsJob` runs replication r of several points in one task: it
simulates each distinct group once (`group_key`), reduces it once (`reduce_group`), and
combines every point's force-wide figures from its groups' slim records
(`combine_groups`). Each point's result is exactly `single_run` of that point; the task
is cached and counted as one replication per point (`Job.parts`), so `--out` resumes as
before. Memory: one replication's slim records of every distinct group, held until the
task ends (the force-wide figures of each point read them).

The key is conservative: the whole scenario but the other hubs' own tables, plus the
group's demand shares (normalised over every hub) and the metric names (scenario-wide
families). Anything a group could read of another hub is inside it, so a wrong reuse
would need a cross-hub read the key does not name; `tests/test_shared_hubs.py` checks
the results against `single_run` point by point.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mashsim.experiment.executors import Job, Task
from mashsim.experiment.replications import ReplicationResult, point_scenario
from mashsim.experiment.runner import ReplicationRunner
from mashsim.metrics.compute import (
    GroupOutcome,
    combine_groups,
    daily_backlog,
    metric_names,
    reduce_group,
)
from mashsim.model.replication import replication_groups
from mashsim.model.wiring import hub_groups
from mashsim.scenario.schema import Scenario

__all__ = ["PointsJob", "group_key", "group_keys", "run_points", "shares_groups",
           "tasks_per_replication"]


def group_key(scenario: Scenario, hubs: Sequence[str], data: dict[str, Any] | None = None
              ) -> str:
    """What a group's simulation and metrics can read of `scenario`, hashed: equal keys,
    equal records and per-hub metrics. `data`: `scenario.to_dict()`, if already made."""
    data = scenario.to_dict() if data is None else data
    doc = {"force": {k: v for k, v in data.items() if k != "hubs"},
           "hubs": {h: data["hubs"][h] for h in hubs},
           "shares": [scenario.hub_share(h) for h in hubs],
           "metrics": metric_names(scenario)}
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def group_keys(scenario: Scenario) -> list[str]:
    """Every group's key, in the scenario's group order."""
    data = scenario.to_dict()
    return [group_key(scenario, hubs, data) for hubs in hub_groups(scenario)]


def shares_groups(scenarios: Sequence[Scenario]) -> bool:
    """Whether some group is the same at two of the points (worth a `PointsJob`)."""
    seen: set[str] = set()
    for sc in scenarios:
        keys = set(group_keys(sc))
        if keys & seen:
            return True
        seen |= keys
    return False


@dataclass(frozen=True)
class PointsJob(Job):
    """Replication r of every point in `points`, each group simulated once (module
    docstring); the result is one `ReplicationResult` per point, in order."""

    points: tuple[Scenario, ...]

    def __call__(self, scenario: Scenario, seed: int, replication: int
                 ) -> list[ReplicationResult]:
        done: dict[str, tuple[GroupOutcome, dict[str, dict[str, np.ndarray]]]] = {}
        results = []
        for base in self.points:
            sc = point_scenario(base, seed, replication)
            data = sc.to_dict()
            groups: list[GroupOutcome] = []
            daily: dict[str, dict[str, np.ndarray]] = {}
            for hubs, simulate in replication_groups(sc, seed, replication):
                key = group_key(sc, hubs, data)
                if key not in done:
                    part = simulate()
                    done[key] = (reduce_group(part, sc),
                                 {h: daily_backlog(rec, sc) for h, rec in part.items()})
                    del part
                outcome, days = done[key]
                groups.append(outcome)
                daily.update(days)
            results.append(ReplicationResult(replication=replication,
                                             metrics=combine_groups(groups, sc), daily=daily))
        return results

    def cache_key(self) -> str:  # never used: the cache keeps the parts (`parts`)
        return "points:" + ",".join(group_keys(self.points[0]))

    def parts(self, seed: int, replication: int) -> list[Task]:
        return [Task(sc, seed, replication) for sc in self.points]


def tasks_per_replication(scenarios: Sequence[Scenario]) -> int:
    """Tasks `run_points` makes of one replication of every point: one where some hub
    group is shared, else one per point (for choosing how many replications a batch
    needs to keep the workers busy)."""
    return 1 if len(scenarios) <= 1 or shares_groups(scenarios) else len(scenarios)


def run_points(
    scenarios: Sequence[Scenario],
    seed: int,
    replications: range,
    runner: ReplicationRunner,
) -> list[list[ReplicationResult]]:
    """Replications `replications` of every scenario: result[point][i], CRN seeds.

    Where points share a hub group (a grid over one hub's settings), replication r of
    the points is one task that simulates each distinct group once (`PointsJob`), or,
    where fewer replications than workers are asked for, a few tasks of consecutive
    points (`_chunks`: every worker gets one; a shared group then runs once a chunk);
    otherwise (every group differs at every point) a task per point and replication."""
    if tasks_per_replication(scenarios) == 1 and len(scenarios) > 1:
        chunks = _chunks(list(scenarios), math.ceil(runner.workers / max(1, len(replications))))
        jobs = [PointsJob(tuple(chunk)) for chunk in chunks]
        tasks = [Task(job.points[0], seed, r, job=job) for r in replications for job in jobs]
        flat = runner.run_all(tasks)
        per_rep = [[res for part in flat[i:i + len(jobs)] for res in part]
                   for i in range(0, len(flat), len(jobs))]
        return [[runs[p] for runs in per_rep] for p in range(len(scenarios))]
    tasks = [Task(sc, seed, r) for r in replications for sc in scenarios]
    flat = runner.run_all(tasks)
    width = len(scenarios)
    return [flat[p::width] for p in range(width)]


def _chunks(points: list[Scenario], n: int) -> list[list[Scenario]]:
    """`points` in at most `n` (at least 1) runs of consecutive points, sizes within one."""
    n = max(1, min(n, len(points)))
    size, extra = divmod(len(points), n)
    out, at = [], 0
    for i in range(n):
        k = size + (i < extra)
        out.append(points[at:at + k])
        at += k
    return out
