"""The one-call entry point for notebooks and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mashsim.experiment.executors import Task
from mashsim.experiment.results import Results
from mashsim.experiment.runner import ReplicationRunner, replication_runner
from mashsim.scenario.schema import Scenario

__all__ = ["default_scenario_path", "replication_tasks", "simulate"]


def replication_tasks(scenario: Scenario, replications: int, seed: int,
                      outcomes: int = 0) -> list[Task]:
    """Replications 0..n-1; the first `outcomes` keep per-referral outcomes."""
    return [Task(scenario, seed, r, outcomes=r < outcomes) for r in range(replications)]


def simulate(
    scenario: Scenario,
    replications: int = 10,
    seed: int = 1,
    workers: int = 1,
    on_replication_done: Callable[[], None] | None = None,
    *,
    scheduler: Any = None,
    out: str | Path | None = None,
    outcomes: int = 0,
    runner: ReplicationRunner | None = None,
) -> Results:
    """Run `replications` independent replications; same inputs, same Results.

    `scheduler` runs them on Dask; `out` keeps each finished one under `out/cache`, so a
    rerun resumes; `outcomes` keeps each referral's waits for the first `outcomes`
    replications (what `mashsim.report.plots.wait_records` reads); `runner` runs them on
    a runner the caller holds (its executor, cache and progress bar), ignoring the rest.
    """
    if replications < 1:
        raise ValueError("replications must be at least 1")
    tasks = replication_tasks(scenario, replications, seed, outcomes)
    if runner is not None:
        return Results(scenario=scenario, seed=seed, runs=runner.run_all(tasks))
    with replication_runner(min(workers, replications), scheduler, out,
                            on_done=on_replication_done) as own:
        return Results(scenario=scenario, seed=seed, runs=own.run_all(tasks))


def default_scenario_path() -> Path:
    """The bundled default scenario (installed copy, else the source checkout's)."""
    here = Path(__file__).resolve().parents[1]  # the mashsim package
    for candidate in (here / "_scenarios", here.parent / "scenarios"):
        path = candidate / "thames_valley.toml"
        if path.exists():
            return path
    raise FileNotFoundError("bundled scenario thames_valley.toml not found")
