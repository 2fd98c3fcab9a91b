"""Minimum-staffing search: logic, agreement with Erlang C, infeasible targets, CLI shape."""

from __future__ import annotations

import json

import pytest

from mashsim.cli import main
from mashsim.errors import ScenarioError
from mashsim.experiment import single_run
from mashsim.plan import HubPlan, Target, hub_scenario, plan, staff_hours_per_week
from mashsim.validation import erlang_c, servers_needed

from .conftest import DEFAULT


def test_target_parse_and_confidence_side():
    t = Target.parse("sd_breach_72h<=0.05")
    assert (t.metric, t.op, t.value) == ("sd_breach_72h", "<=", 0.05)
    assert t.met({"mean": 0.01, "ci_low": 0.0, "ci_high": 0.05})
    assert not t.met({"mean": 0.01, "ci_low": 0.0, "ci_high": 0.06})  # mean alone is not enough
    assert not t.met({"mean": 0.01, "ci_low": None, "ci_high": None})
    up = Target.parse("staff_utilisation >= 0.5")
    assert up.met({"mean": 0.6, "ci_low": 0.5, "ci_high": 0.7})
    assert not up.met({"mean": 0.6, "ci_low": 0.49, "ci_high": 0.7})
    with pytest.raises(ScenarioError):
        Target.parse("sd_breach_72h=0.05")


@pytest.mark.parametrize("now", [1, 4, 9, 30])
@pytest.mark.parametrize("answer", [1, 2, 5, 9, 17, 29])
def test_search_finds_the_least_headcount_of_a_monotone_rule(now, answer):
    s = HubPlan("h", now=now, limit=40)
    tried = []
    while (h := s.next_headcount()) is not None:
        tried.append(h)
        s.observe(h, h >= answer, {})
    assert s.needed == answer
    assert s.one_below == (answer - 1 if answer > 1 else None)
    if answer > 1:
        assert answer - 1 in tried  # the one below is simulated, not assumed
    assert len(tried) == len(set(tried)) and len(tried) <= 12  # no grid: logarithmic


def test_search_reports_infeasible_at_the_limit():
    s = HubPlan("h", now=3, limit=10)
    while (h := s.next_headcount()) is not None:
        s.observe(h, False, {})
    assert s.needed is None and s.fails == 10


def test_hub_alone_gives_the_same_hub_results(default_scenario):
    sc = default_scenario.with_overrides({"run.duration_days": 21.0, "run.warmup_days": 3.0})
    alone = hub_scenario(sc, "slough")
    assert alone.hub_names == ["slough"]
    assert single_run(alone, 3, 1).metrics["slough"] == single_run(sc, 3, 1).metrics["slough"]


def test_pooled_hubs_are_planned_whole(default_scenario):
    pooled = default_scenario.with_overrides({"pooling.mode": "pooled"})
    assert hub_scenario(pooled, "slough") is pooled


def test_staff_hours_per_week(default_scenario):
    # office hours: 5 days × 8 h per person
    assert staff_hours_per_week(default_scenario, "reading", 4) == 4 * 40.0


@pytest.mark.parametrize("max_p_wait_over_1h", [0.1, 0.015])
def test_plan_agrees_with_erlang_c_on_mmc(max_p_wait_over_1h):
    """λ = 4/h, μ = 1/h: P(wait > 1 h) is 0.204, 0.0385, 0.0067 for c = 5, 6, 7, so each
    target has a requirement far from its boundary; the CI-based search must find it."""
    from mashsim.validation import mmc_scenario

    lam, mu = 4.0, 1.0
    need = servers_needed(lam, mu, 1.0, max_p_wait_over_1h)
    p_at = erlang_c(lam, mu, need).p_wait_over(1.0)
    p_below = erlang_c(lam, mu, need - 1).p_wait_over(1.0)
    assert p_at < max_p_wait_over_1h / 2 and p_below > 2 * max_p_wait_over_1h  # not marginal
    sc = mmc_scenario(lam, mu, servers=8, horizon_hours=1500.0, warmup_hours=100.0)
    frame = plan(sc, [f"staff_wait_over_1h<={max_p_wait_over_1h}"], "all", replications=8,
                 seed=1, workers=2)
    row = frame.iloc[0]
    assert row["headcount_needed"] == need
    doc = frame.attrs["plan"]["hubs"]["mmc"]
    assert doc["metrics_at_needed"]["staff_wait_over_1h"]["ci_high"] <= max_p_wait_over_1h
    assert doc["metrics_one_below"]["staff_wait_over_1h"]["ci_high"] > max_p_wait_over_1h


def _small_cli(*extra: str) -> list[str]:
    return ["plan", str(DEFAULT), "--set", "run.duration_days=35", "--set",
            "run.warmup_days=7", "--replications", "3", "--workers", "2", *extra]


def test_cli_plan_json_shape(capsys, tmp_path):
    rc = main(_small_cli("--target", "staff_wait_over_72h<=0.5", "--vary-staff", "reading",
                         "--vary-staff", "slough", "--format", "json", "--out", str(tmp_path)))
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["targets"] == ["staff_wait_over_72h<=0.5"]
    assert list(doc["hubs"]) == ["reading", "slough"]
    for hub in doc["hubs"].values():
        assert set(hub) == {"headcount_now", "headcount_needed", "metrics_at_needed",
                            "metrics_one_below"}
        ci = hub["metrics_at_needed"]["staff_wait_over_72h"]
        assert set(ci) == {"mean", "ci_low", "ci_high"} and ci["ci_high"] <= 0.5
    assert json.loads((tmp_path / "plan.json").read_text()) == doc


def test_cli_plan_infeasible_exits_2(capsys):
    # arrivals do not depend on staff: no headcount can meet this
    rc = main(_small_cli("--target", "referrals_arrived<=1", "--vary-staff", "reading",
                         "--max-headcount", "5"))
    assert rc == 2
    captured = capsys.readouterr()
    assert "no headcount up to 5 meets referrals_arrived<=1" in captured.err
    assert "reading" in captured.out  # the table (metrics at the limit) is still printed


def test_cli_plan_unknown_metric_and_hub(capsys):
    assert main(_small_cli("--target", "nonsense<=1", "--vary-staff", "reading")) == 2
    assert "unknown metric 'nonsense'" in capsys.readouterr().err
    assert main(_small_cli("--target", "sd_breach_72h<=1", "--vary-staff", "atlantis")) == 2
    assert "atlantis" in capsys.readouterr().err
