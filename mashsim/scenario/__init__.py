"""The scenario layer: every input of a run as a frozen, validated value.

`schema` holds the scenario's typed sections, TOML loading, overrides and limits;
`distributions` the sampling distributions a scenario names. Nothing here knows about
simpy, replications, files of results or the command line.
"""

from __future__ import annotations

from mashsim.scenario.distributions import (
    FAMILIES,
    MAX_PARAMETER,
    Distribution,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Triangular,
    Uniform,
)
from mashsim.scenario.schema import (
    DAY_NAMES,
    Scenario,
    Shift,
    date_factors_per_day,
    display_label,
    load_scenario,
    parse_override,
)

__all__ = [
    "DAY_NAMES",
    "FAMILIES",
    "MAX_PARAMETER",
    "Distribution",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Scenario",
    "Shift",
    "Triangular",
    "Uniform",
    "date_factors_per_day",
    "display_label",
    "load_scenario",
    "parse_override",
]
