"""The recovery question: how long does a backlog of K referrals take to clear with H
overtime hours a week? A sweep (common random numbers) of one hub's initial backlog and
the overtime cap, read on the metric `backlog_clear_days`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mashsim.experiment.plan import hub_scenario
from mashsim.experiment.sweep import sweep
from mashsim.scenario.schema import Scenario

__all__ = ["recovery_table"]

METRIC = "backlog_clear_days"


def recovery_table(scenario: Scenario, hub: str, backlogs: Sequence[int],
                   overtime_hours_per_week: Sequence[float], replications: int = 10,
                   seed: int = 1, workers: int | None = None):  # -> pandas.DataFrame
    """One row per (backlog, overtime hours a week): `backlog_clear_days` at `hub` (mean
    and 95 % CI), with overtime switched on (`staffing.overtime.*`, the scenario's
    trigger and shifts) at each weekly cap. The hub is simulated alone where hubs are
    independent."""
    import pandas as pd

    base = hub_scenario(scenario, hub).with_overrides(
        {"staffing.overtime.enabled": True}, source="recovery_table")
    vary: dict[str, list[Any]] = {f"hubs.{hub}.initial_backlog.count": list(backlogs),
            "staffing.overtime.weekly_cap_hours": list(overtime_hours_per_week)}
    frame = sweep(base, vary, replications=replications, seed=seed, workers=workers)
    rows: list[dict[str, Any]] = []
    mine = frame[(frame["scope"] == hub) & (frame["metric"] == METRIC)]
    for r in mine.to_dict(orient="records"):
        rows.append({"backlog": r[f"hubs.{hub}.initial_backlog.count"],
                     "overtime_hours_per_week": r["staffing.overtime.weekly_cap_hours"],
                     f"{METRIC}_mean": r["mean"], f"{METRIC}_ci_low": r["ci_low"],
                     f"{METRIC}_ci_high": r["ci_high"]})
    out = pd.DataFrame(rows)
    out.attrs.update({"hub": hub, "replications": replications, "seed": seed,
                      "scenario": scenario.name})
    return out
