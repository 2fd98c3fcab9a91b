"""Forecast: each year is the scenario's window moved on with demand grown, planned as
`plan` plans it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from mashsim import Scenario
from mashsim.cli import main
from mashsim.experiment.forecast import forecast, year_scenario
from mashsim.experiment.plan import plan
from tests.conftest import one_hub


def _small(default_scenario: Scenario, **more: object) -> Scenario:
    return one_hub(default_scenario, **{"run.duration_days": 40.0, "run.warmup_days": 7.0,
                                        "arrivals.growth_per_year": 0.25, **more})


def test_year_scenario_moves_dates_and_grows_demand(default_scenario: Scenario) -> None:
    sc = _small(default_scenario, **{
        "run.start_date": dt.date(2024, 2, 29),
        "arrivals.date_multipliers": [{"start": dt.date(2024, 3, 1),
                                       "end": dt.date(2024, 3, 8), "factor": 1.5}]})
    three = year_scenario(sc, 2)
    assert three.run.start_date == dt.date(2026, 2, 28)
    assert three.arrivals.date_multipliers[0].start == dt.date(2026, 3, 1)
    assert three.arrivals.referrals_per_day == pytest.approx(
        sc.arrivals.referrals_per_day * 1.25 ** 2)
    mix = {t: rt.share for t, rt in sc.referral_types.items()}
    new = {t: rt.share for t, rt in three.referral_types.items()}
    total = sum(mix.values())
    assert {t: v / total for t, v in mix.items()} == pytest.approx(
        {t: v / sum(new.values()) for t, v in new.items()})  # one rate for all: same mix
    assert year_scenario(sc, 0) is sc


def test_each_forecast_year_is_the_plan_of_that_year(default_scenario: Scenario) -> None:
    """Year 1 is today's plan of the scenario; year 2 the plan of the scenario a year on;
    with 25 % growth and the same seed, year 2 needs at least as many posts here."""
    sc = _small(default_scenario)
    target = ["sd_breach_72h<=0.10"]
    opts = {"hubs": ["reading"], "replications": 3, "seed": 2, "workers": 1}
    frame = forecast(sc, 2, target, **opts)
    for k in (0, 1):
        direct = plan(year_scenario(sc, k), target, **opts)
        row = frame[frame.year == k + 1].iloc[0]
        assert row.headcount_needed == direct.iloc[0].headcount_needed
        assert row.referrals_per_day == pytest.approx(
            sc.arrivals.referrals_per_day * 1.25 ** k)
    needed = frame.set_index("year").headcount_needed
    assert needed[2] >= needed[1]
    doc = frame.attrs["forecast"]
    assert [y["year"] for y in doc["years"]] == [1, 2]
    assert set(doc["years"][1]["hubs"]) == {"reading"}


def test_forecast_cli_prints_years_and_writes_json(default_scenario: Scenario, tmp_path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    _small(default_scenario).to_toml(path)
    code = main(["forecast", str(path), "--years", "2", "--target", "sd_breach_72h<=0.1",
                 "--vary-staff", "reading", "--replications", "2", "--format", "json",
                 "--out", str(tmp_path / "out")])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["years"]) == 2
    assert json.loads((tmp_path / "out" / "forecast.json").read_text()) == doc
    assert main(["forecast", str(path), "--years", "11", "--target", "sd_breach_72h<=0.1"]) == 2
    capsys.readouterr()
    assert main(["forecast", str(path), "--years", "2", "--target", "sd_breach_72h<=0.1",
                 "--vary-staff", "reading", "--replications", "2"]) == 0
    table = capsys.readouterr().out
    totals = {y["year"]: sum(h["headcount_needed"] for h in y["hubs"].values())
              for y in doc["years"]}
    assert "all posts" in table and table.split("all posts")[1].split()[1:3] == [
        str(totals[1]), str(totals[2])]


def test_a_type_with_its_own_growth_shifts_the_mix(default_scenario: Scenario) -> None:
    """Type rates compound separately: total demand is the sum of the grown type rates and
    each type's share of it is its grown rate's."""
    sc = _small(default_scenario, **{"arrivals.growth_per_year": 0.0})
    first = next(iter(sc.referral_types))
    sc = sc.with_overrides({f"referral_types.{first}.growth_per_year": 1.0})
    shares = {t: rt.share for t, rt in sc.referral_types.items()}
    total = sum(shares.values())
    grown = {t: v * (4.0 if t == first else 1.0) for t, v in shares.items()}  # (1 + 1)^2
    two = year_scenario(sc, 2)
    assert two.arrivals.referrals_per_day == pytest.approx(
        sc.arrivals.referrals_per_day * sum(grown.values()) / total)
    new = {t: rt.share for t, rt in two.referral_types.items()}
    assert {t: v / sum(new.values()) for t, v in new.items()} == pytest.approx(
        {t: v / sum(grown.values()) for t, v in grown.items()})
