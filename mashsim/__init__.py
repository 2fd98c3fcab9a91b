"""mashsim: discrete-event simulation of multi-agency safeguarding hub staffing.

    from mashsim import load_scenario, simulate
    sc = load_scenario("scenarios/thames_valley.toml")
    res = simulate(sc, replications=20, seed=1)
    res.summary()
"""

from __future__ import annotations

from mashsim._version import __version__
from mashsim.errors import ScenarioError
from mashsim.experiment.simulate import default_scenario_path, simulate
from mashsim.scenario.schema import Scenario, load_scenario

__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "default_scenario_path",
    "load_scenario",
    "simulate",
]
