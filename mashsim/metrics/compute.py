"""One replication's records → named metrics, by the registry's declarations.

The metrics themselves (name, kind, words, computing function) are declared once in
`mashsim.metrics.registry`; the arrays they share, in `mashsim.metrics.window`. This
module runs them for each scope and keeps the documented names: `METRICS` (display
order), `metric_names(scenario)` (with the scenario-dependent families),
`metric_bounds(name)` (from the metric's kind).
"""

from __future__ import annotations

from mashsim.metrics.registry import METRICS, REGISTRY
from mashsim.metrics.window import STAGES, Window, breach_flags, daily_backlog
from mashsim.model.replication import HubRecord
from mashsim.scenario.schema import Scenario

__all__ = ["METRICS", "STAGES", "breach_flags", "daily_backlog", "metric_bounds",
           "metric_names", "replication_metrics"]


def metric_bounds(name: str) -> tuple[float, float]:
    """The range a metric can take, from its kind: fractions lie in [0, 1], the rest ≥ 0."""
    return REGISTRY.info(name).bounds


def metric_names(scenario: Scenario) -> list[str]:
    """All metric names for a scenario in display order, the wait thresholds included."""
    return REGISTRY.names(scenario)


def replication_metrics(
    records: dict[str, HubRecord], scenario: Scenario
) -> dict[str, dict[str, float]]:
    """{"overall": {...}, hub: {...}} for one replication."""
    out = {"overall": REGISTRY.compute(Window(list(records.values()), scenario,
                                              force_wide=True))}
    for hub, rec in records.items():
        out[hub] = REGISTRY.compute(Window([rec], scenario, force_wide=False))
    return out
