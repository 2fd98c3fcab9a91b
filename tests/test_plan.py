"""Minimum-staffing search: logic, agreement with Erlang C, infeasible targets, CLI shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mashsim.cli import main
from mashsim.errors import ScenarioError
from mashsim.experiment.plan import (
    HubPlan,
    Target,
    breach_warnings,
    hub_scenario,
    plan,
    staff_hours_per_week,
)
from mashsim.experiment.replications import confidence_interval, single_run
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
    assert isinstance(doc["warnings"], list)
    assert list(doc["hubs"]) == ["reading", "slough"]
    for hub in doc["hubs"].values():
        assert set(hub) >= {"headcount_now", "headcount_needed", "metrics_now",
                            "metrics_at_needed", "metrics_one_below", "cost_per_year_now",
                            "cost_per_year_needed", "replications_used", "confirmed"}
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


# -- fractions: 0.05 or 5%, never a bare 5 --------------------------------------------


def test_fraction_target_above_one_is_an_error_and_percent_is_accepted():
    with pytest.raises(ScenarioError, match=r"fractions are 0–1; write 0\.05 or 5%"):
        Target.parse("sd_breach_72h<=5")  # meant 5 %: every headcount would "meet" it
    with pytest.raises(ScenarioError, match="fractions are 0–1"):
        Target.parse("staff_utilisation>=-0.1")
    assert Target.parse("sd_breach_72h<=5%").value == pytest.approx(0.05)
    assert Target.parse("decision_target_breach_high<=0.05").value == 0.05
    assert Target.parse("staff_wait_over_72h < 12.5%").value == pytest.approx(0.125)
    assert Target.parse("backlog_mean<=5").value == 5.0  # a count, not a fraction
    with pytest.raises(ScenarioError, match="not a fraction"):
        Target.parse("backlog_mean<=5%")


def test_fraction_metrics_follow_their_documented_range(default_scenario):
    from mashsim.experiment.plan import is_fraction_metric
    from mashsim.metrics.compute import metric_names

    fractions = {m for m in metric_names(default_scenario) if is_fraction_metric(m)}
    assert {"sd_breach_72h", "decision_target_breach", "decision_target_breach_standard",
            "staff_wait_over_1h", "staff_utilisation", "realised_shrinkage"} <= fractions
    assert not fractions & {"backlog_mean", "sd_held", "staff_wait_hours_mean",
                            "oldest_waiting_days_at_end", "overtime_hours"}


def test_cli_plan_percentage_written_as_number_exits_2(capsys, tmp_path):
    out = tmp_path / "out"
    rc = main(_small_cli("--target", "sd_breach_72h<=5", "--vary-staff", "reading",
                         "--out", str(out)))
    assert rc == 2
    captured = capsys.readouterr()
    assert captured.err == ("mashsim: error: --target 'sd_breach_72h<=5': 5 is not a "
                            "fraction; fractions are 0–1; write 0.05 or 5%\n")
    assert captured.out == "" and not out.exists()


# -- every metric, and a warning when a cut worsens a breach ----------------------------


def _plan_with(now_values, needed_values, now=4, needed=3):
    s = HubPlan("reading", now=now, limit=10, meets=needed, fails=needed - 1)
    for h, x in ((now, now_values), (needed, needed_values)):
        x = np.asarray(x, dtype=float)
        s.record(h, {"decision_target_breach": confidence_interval(x, bounds=(0.0, 1.0)),
                     "backlog_mean": confidence_interval(x)},
                 {"decision_target_breach": x, "backlog_mean": x})
    return s


def test_cut_that_worsens_a_breach_beyond_its_paired_ci_warns():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.02, 0.30, size=10)  # replication-to-replication spread (shared)
    # +2 points in every replication: the unpaired CIs overlap, the paired one does not
    worse = breach_warnings(_plan_with(base, base + 0.02 + rng.normal(0, 0.002, 10)))
    assert [w["metric"] for w in worse] == ["decision_target_breach"]  # not backlog_mean
    w = worse[0]
    assert w["paired"] and w["difference"]["ci_low"] > 0
    assert w["now"]["ci_high"] > w["needed"]["ci_low"]  # only pairing shows it
    assert "cutting 4 → 3 raises decision_target_breach" in w["message"]
    # the same cut with changes that are noise around zero: no warning
    noise = base + np.tile([0.01, -0.01], 5)
    assert breach_warnings(_plan_with(base, noise)) == []
    # a headcount that goes up is not a cut
    assert breach_warnings(_plan_with(base, base + 0.05, now=3, needed=4)) == []


def test_current_headcount_above_the_limit_is_simulated_for_the_comparison():
    s = HubPlan("h", now=10, limit=5)
    while (h := s.next_headcount()) is not None:
        s.observe(h, h >= 3, {})
    assert s.needed == 3 and 10 not in s.metrics
    assert s.now_to_compare == 10


def test_plan_reports_every_metric_and_warns_on_a_risky_cut(small_scenario, capsys):
    """Under risk discipline a cut to meet a loose SD target raises the decision-target
    breach: the plan must say so beside the target, in the JSON and on stderr."""
    from mashsim.cli.sweep import format_plan
    from mashsim.metrics.compute import metric_names

    sc = small_scenario.with_overrides({"queue.discipline": "risk"})
    frame = plan(sc, ["sd_breach_72h<=0.5"], "reading", replications=4, seed=1, workers=2)
    doc = frame.attrs["plan"]
    hub = doc["hubs"]["reading"]
    assert hub["headcount_needed"] < hub["headcount_now"] == 4
    for key in ("metrics_now", "metrics_at_needed", "metrics_one_below"):
        if hub[key] is not None:
            assert set(hub[key]) == set(metric_names(sc))
    warned = {w["metric"] for w in doc["warnings"]}
    assert "decision_target_breach" in warned
    now = hub["metrics_now"]["decision_target_breach"]["mean"]
    assert hub["metrics_at_needed"]["decision_target_breach"]["mean"] > now
    table = format_plan(frame)
    for heading in ("target breach % now→needed", "high % now→needed",
                    "SD >72h % now→needed", "utilisation % now→needed"):
        assert heading in table
    assert f"{100 * now:.1f} → " in table and " !" in table
    assert {f"{m}_at_needed_mean" for m in metric_names(sc)} <= set(frame.columns)


def test_a_targeted_breach_is_not_warned_about():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.02, 0.30, size=10)
    s = _plan_with(base, base + 0.05)
    assert [w["metric"] for w in breach_warnings(s)] == ["decision_target_breach"]
    assert breach_warnings(s, targeted=["decision_target_breach"]) == []


def test_the_table_says_per_role_what_fresh_seeds_found():
    """Which answers the fresh-seed confirmation did not bear out, role by role, and
    why: the JSON's `confirmed` as a column, not only a footnote."""
    from mashsim.cli.sweep import FRESH_BELOW, FRESH_MISSES, _fresh_seeds

    ok = {"needed_meets": True, "one_below_fails": {"reading.researcher": True,
                                                    "reading.decision_maker": False}}
    assert _fresh_seeds(ok, "reading", "researcher") == "confirmed"
    assert _fresh_seeds(ok, "reading", "decision_maker") == FRESH_BELOW
    assert _fresh_seeds(ok, "reading", "trained_attendee") == "confirmed"  # at 1: no −1
    assert _fresh_seeds({**ok, "needed_meets": False}, "reading", "researcher") == FRESH_MISSES
    assert _fresh_seeds({"needed_meets": True, "one_below_fails": {"reading": False}},
                        "reading", None) == FRESH_BELOW
    assert _fresh_seeds(None, "reading", None) == ""  # infeasible: nothing was confirmed
