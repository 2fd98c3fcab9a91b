"""mashsim: discrete-event simulation of multi-agency safeguarding hub staffing.

    from mashsim import load_scenario, simulate
    sc = load_scenario("scenarios/thames_valley.toml")
    res = simulate(sc, replications=20, seed=1)
    res.summary()

`__all__` below is the package face, listed in docs/reference/api/index.md (a test keeps
the two equal); each layer's names live in its subpackage (`mashsim.scenario`, ...).
"""

from __future__ import annotations

from mashsim import _native  # noqa: F401  first: compiled or pure engine, decided before it loads
from mashsim._version import __version__
from mashsim.errors import ScenarioError
from mashsim.experiment.results import Results
from mashsim.experiment.simulate import default_scenario_path, simulate
from mashsim.scenario.schema import Scenario, load_scenario

__all__ = [
    "Results",
    "Scenario",
    "ScenarioError",
    "__version__",
    "default_scenario_path",
    "load_scenario",
    "simulate",
]
