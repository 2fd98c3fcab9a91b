"""The one-call entry point for notebooks and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mashsim.experiment.results import Results
from mashsim.experiment.runner import run_replications
from mashsim.scenario.schema import Scenario

__all__ = ["default_scenario_path", "simulate"]


def simulate(
    scenario: Scenario,
    replications: int = 10,
    seed: int = 1,
    workers: int = 1,
    on_replication_done: Callable[[], None] | None = None,
) -> Results:
    """Run `replications` independent replications; same inputs, same Results."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    runs = run_replications(scenario, replications, seed, workers, on_replication_done)
    return Results(scenario=scenario, seed=seed, runs=runs)


def default_scenario_path() -> Path:
    """The bundled default scenario (installed copy, else the source checkout's)."""
    here = Path(__file__).resolve().parents[1]  # the mashsim package
    for candidate in (here / "_scenarios", here.parent / "scenarios"):
        path = candidate / "thames_valley.toml"
        if path.exists():
            return path
    raise FileNotFoundError("bundled scenario thames_valley.toml not found")
