"""`plan --overtime-hours`: the weekly overtime cap as a decision of the plan (issue 14).

The toy: one M/M/c stage (λ = 2/h, μ = 1/h, always-on posts at £20 an hour). Erlang C:
3 posts miss P(wait > 1 h) ≤ 0.1 (0.16), 4 meet it (0.02). Overtime, worked whenever
anyone waits (threshold 0, two extra people an hour, any hour), up to 40 staff-hours a
week, lets 3 posts meet it. A post costs 168 h × 52 × £20 = £174,720 a year; 40 h of
overtime a week at most 40 × 52 × £20 × premium: £41,600 at premium 1 (overtime is
cheaper), up to £208,000 at premium 5, dearer than the post once more than 33.6 h a week
are worked (the toy works about 37).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mashsim.cli import main
from mashsim.errors import ScenarioError
from mashsim.experiment.plan import parse_overtime_hours, plan
from mashsim.validation import erlang_c, tandem_scenario

LAM, MU, RATE = 2.0, 1.0, 20.0
TARGET = "stage_wait_over_1h_research<=0.1"
POST_PER_YEAR = 168.0 * 52.0 * RATE
ANY_HOUR = {"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "start": "00:00", "end": "24:00", "long_shift": True}


def _toy(premium: float = 1.0):
    sc = tandem_scenario(arrival_rate_per_hour=LAM, stages=[("research", MU, 4)],
                         horizon_hours=1500.0, warmup_hours=100.0)
    return sc.with_overrides({"hubs.tandem.roles.research.hourly_cost": RATE,
                              "staffing.overtime.threshold": 0.0,
                              "staffing.overtime.extra_staff": 2,
                              "staffing.overtime.premium": premium,
                              "staffing.overtime.shifts": [ANY_HOUR]})


def _plan(premium: float, caps: list[float] | None = None):
    return plan(_toy(premium), [TARGET], "tandem", replications=8, seed=1, workers=1,
                overtime_hours=[0.0, 40.0] if caps is None else caps)


def test_the_toy_needs_a_fourth_post_without_overtime() -> None:
    """The premise, from Erlang C: 3 posts miss the target by far, 4 meet it by far."""
    assert erlang_c(LAM, MU, 3).p_wait_over(1.0) > 0.15
    assert erlang_c(LAM, MU, 4).p_wait_over(1.0) < 0.05


def test_cheap_overtime_replaces_a_post() -> None:
    doc = _plan(premium=1.0).attrs["plan"]
    hub = doc["hubs"]["tandem"]
    assert hub["headcount_needed"] == 3
    assert hub["overtime_cap_hours"] == 40.0
    options = {o["overtime_cap_hours"]: o for o in hub["overtime_options"]}
    assert options[0.0]["cost_per_year_needed"] == pytest.approx(4 * POST_PER_YEAR)
    assert options[0.0]["overtime_cost_per_year"] == 0.0
    assert options[40.0]["cost_per_year_needed"] == pytest.approx(3 * POST_PER_YEAR)
    # expected overtime a year: the window's mean overtime hours × 52 / its weeks × rate
    hours = hub["metrics_at_needed"]["overtime_hours"]["mean"]
    weeks = (1500.0 - 100.0) / 168.0
    assert hub["overtime_cost_per_year"] == pytest.approx(hours * 52.0 / weeks * RATE)
    assert 0 < hub["overtime_cost_per_year"] <= 40.0 * 52.0 * RATE
    assert doc["overtime_cost_per_year"] == hub["overtime_cost_per_year"]
    # every cap's replications are counted
    assert hub["replications_used"] == doc["replications_used"] > 0


def test_dear_overtime_keeps_the_post() -> None:
    hub = _plan(premium=5.0).attrs["plan"]["hubs"]["tandem"]
    assert hub["headcount_needed"] == 4
    assert hub["overtime_cap_hours"] == 0.0
    assert hub["overtime_cost_per_year"] == 0.0
    dear = next(o for o in hub["overtime_options"] if o["overtime_cap_hours"] == 40.0)
    # the cap-40 answer (3 posts) is dearer by the plan's own measure: its overtime costs
    # more than the post it saves
    assert dear["cost_per_year_needed"] == pytest.approx(3 * POST_PER_YEAR)
    assert dear["overtime_cost_per_year"] > POST_PER_YEAR


def test_without_the_flag_nothing_about_overtime_is_added() -> None:
    frame = plan(_toy(), [TARGET], "tandem", replications=8, seed=1, workers=1)
    doc = frame.attrs["plan"]
    assert "overtime_cost_per_year" not in doc
    assert not any(k.startswith("overtime_") for k in doc["hubs"]["tandem"])
    assert "overtime_cap_hours" not in frame.columns
    assert doc["hubs"]["tandem"]["headcount_needed"] == 4  # overtime as the scenario has it: off


def test_parse_overtime_hours() -> None:
    assert parse_overtime_hours("0, 8,16,8") == [0.0, 8.0, 16.0]
    for bad in ("eight", "-1", "nan", ""):
        with pytest.raises(ScenarioError, match="--overtime-hours"):
            parse_overtime_hours(bad)


def _write(tmp_path: Path, premium: float) -> Path:
    path = tmp_path / "toy.toml"
    _toy(premium).to_toml(path)
    return path


def test_cli_plan_overtime_hours(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 1.0)
    args = ["plan", str(path), "--target", TARGET, "--vary-staff", "tandem",
            "--replications", "8", "--workers", "1", "--overtime-hours", "0,40"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "overtime cap h/wk" in table and "overtime at the chosen weekly caps" in table
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["hubs"]["tandem"]["overtime_cap_hours"] == 40.0


def test_cli_bad_overtime_hours_is_an_input_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 1.0)
    code = main(["plan", str(path), "--target", TARGET, "--vary-staff", "tandem",
                 "--overtime-hours", "0,-8"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "--overtime-hours -8" in err
    assert "Traceback" not in err


def test_cli_forecast_passes_overtime_hours_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 1.0)
    assert main(["forecast", str(path), "--years", "1", "--target", TARGET,
                 "--vary-staff", "tandem", "--replications", "8", "--workers", "1",
                 "--overtime-hours", "0,40"]) == 0
    table = capsys.readouterr().out
    assert "overtime £ a year" in table
