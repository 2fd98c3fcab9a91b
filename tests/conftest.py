"""Shared fixtures: small, fast scenarios built from the bundled default."""

from __future__ import annotations

from pathlib import Path

import pytest

from mashsim import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "scenarios" / "thames_valley.toml"  # the bundled default (stages and roles)
# The default as it was before stages and roles (one stage, one `staff` role per hub): the
# mechanism tests vary `hubs.<hub>.staff` and pin answers on it, so it stays as it was.
DEFAULT = ROOT / "tests" / "data" / "one_role" / "thames_valley.toml"


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return load_scenario(DEFAULT)


def one_hub(scenario: Scenario, hub: str = "reading", **overrides: object) -> Scenario:
    """The default scenario cut down to one hub (and any dotted-path overrides)."""
    small = scenario.hub_alone(hub)  # the one single-hub rule, shared with `plan`
    return small.with_overrides(overrides) if overrides else small


@pytest.fixture(scope="session")
def small_scenario(default_scenario: Scenario) -> Scenario:
    """Reading alone for 8 weeks after a 1-week warm-up: ≈0.05 s a replication."""
    return one_hub(default_scenario, **{"run.duration_days": 63.0, "run.warmup_days": 7.0})


@pytest.fixture
def dask_scheduler():
    """The address of a two-worker Dask cluster for one test: threads in one process
    (fast to start), tcp on loopback as a real cluster would use."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address
