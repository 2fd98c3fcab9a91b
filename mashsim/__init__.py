"""mashsim: discrete-event simulation of multi-agency safeguarding hub staffing.

    from mashsim import load_scenario, simulate
    sc = load_scenario("scenarios/thames_valley.toml")
    res = simulate(sc, replications=20, seed=1)
    res.summary()
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ScenarioError
from .scenario import Scenario, load_scenario
from .simulate import default_scenario_path, simulate

__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "default_scenario_path",
    "load_scenario",
    "simulate",
]
