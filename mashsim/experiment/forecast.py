"""Forecast: the staffing plan year by year over a horizon, for a force management statement.

Year k of the forecast (k = 1 is the scenario as written) is the scenario's own window moved
k − 1 years on: every date in it (the run's start, the audit date, date multipliers, leave
peaks) moves by the same whole years, and demand is grown by the scenario's growth rates
compounded over those years (`arrivals.growth_per_year`, or a referral type's own rate
where it gives one, which also shifts the mix of types). Each year is then planned as
`plan` would plan it, with the same seed, so years differ by demand and calendar, not by
luck. Staff in post, rosters and absences are the scenario's in every year: the forecast
answers "what would each year need", not "what will we have".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from mashsim.experiment.shared_doc import SharedDoc
from mashsim.scenario.schema import Scenario

__all__ = ["MAX_FORECAST_YEARS", "forecast", "forecast_summary", "year_scenario"]

MAX_FORECAST_YEARS = 10


def _shift_date(day: dt.date, years: int) -> dt.date:
    """The same day `years` on (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _shift_dates(node: Any, years: int) -> Any:
    if isinstance(node, dt.date) and not isinstance(node, dt.datetime):
        return _shift_date(node, years)
    if isinstance(node, Mapping):
        return {k: _shift_dates(v, years) for k, v in node.items()}
    if isinstance(node, list):
        return [_shift_dates(v, years) for v in node]
    return node


def _type_growth(scenario: Scenario) -> dict[str, float]:
    """Each referral type's growth per year: its own where it gives one, else the force's."""
    return {name: t.growth(scenario.arrivals) for name, t in scenario.referral_types.items()}


def year_scenario(scenario: Scenario, years_ahead: int) -> Scenario:
    """The scenario `years_ahead` whole years on: dates moved, demand grown (see module)."""
    if years_ahead < 0:
        raise ValueError("years_ahead must be 0 or more")
    if years_ahead == 0:
        return scenario
    data = _shift_dates(scenario.to_dict(), years_ahead)
    growth = _type_growth(scenario)
    shares = {t: rt.share for t, rt in scenario.referral_types.items()}
    total = sum(shares.values())
    grown = {t: shares[t] * (1.0 + growth[t]) ** years_ahead for t in shares}
    factor = sum(grown.values()) / total  # demand multiplier over all types
    data["arrivals"]["referrals_per_day"] = scenario.arrivals.referrals_per_day * factor
    for t, rt in data["referral_types"].items():
        rt["share"] = grown[t] / factor  # same total weight, the new mix
    data["name"] = f"{scenario.name}_year{years_ahead + 1}"
    return Scenario.from_dict(data, source=f"forecast year {years_ahead + 1}")


def forecast(scenario: Scenario, years: int, targets: Sequence[Any] = (),
             **plan_options: Any):  # -> pandas.DataFrame
    """The plan for each of `years` years (a DataFrame: `plan`'s rows with `year`,
    `start_date` and `referrals_per_day` in front); `frame.attrs["forecast"]` is the JSON
    document (`forecast_summary`). `plan_options` go to `mashsim.experiment.plan.plan`."""
    import pandas as pd

    from mashsim.experiment.plan import plan

    if not 1 <= years <= MAX_FORECAST_YEARS:
        raise ValueError(f"years must be 1 to {MAX_FORECAST_YEARS}")
    frames, docs = [], []
    for k in range(years):
        sc = year_scenario(scenario, k)
        frame = plan(sc, targets, **plan_options)
        front = {"year": k + 1, "start_date": sc.run.start_date.isoformat(),
                 "referrals_per_day": sc.arrivals.referrals_per_day}
        frames.append(frame.assign(**front)[[*front, *frame.columns]])
        docs.append({**front, **frame.attrs["plan"]})
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update({k: v for k, v in frames[0].attrs.items() if k != "plan"})
    out.attrs["forecast"] = SharedDoc(forecast_summary(scenario, docs))
    return out


def forecast_summary(scenario: Scenario, years: list[dict[str, Any]]) -> dict[str, Any]:
    """{"scenario", "growth_per_year", "years": [{year, start_date, referrals_per_day,
    targets, hubs, warnings}]}: each year's entry is that year's `plan` JSON."""
    return {"scenario": scenario.name, "growth_per_year": _type_growth(scenario),
            "years": years}
