"""`plan --vary-staff HUB.ROLE`: one role's posts searched, per-role JSON, cost now → needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mashsim.cli import main
from mashsim.cli.sweep import format_plan
from mashsim.errors import ScenarioError
from mashsim.experiment.plan import _resolve_units, plan
from mashsim.validation import erlang_c, servers_needed, tandem_scenario

from .conftest import DEFAULT

LAM, MU_RESEARCH, MU_DECISION = 2.0, 1.0, 1.5
COST_RESEARCH, COST_DECISION = 20.0, 35.0
TARGET_P = 0.06  # P(stage wait > 1 h) at most this, each stage
SEARCH_KEYS = {"headcount_now", "headcount_needed", "metrics_now", "metrics_at_needed",
               "metrics_one_below"}
ROLE_KEYS = SEARCH_KEYS | {"pattern_now", "pattern_needed", "cost_per_year_now",
                           "cost_per_year_needed"}
HUB_KEYS = {"feasible", "cost_per_year_now", "cost_per_year_needed", "metrics_at_limit",
            "replications_used", "confirmed"}


def _tandem(research: int = 6, decision: int = 5, horizon_hours: float = 1500.0):
    sc = tandem_scenario(arrival_rate_per_hour=LAM, stages=[
        ("research", MU_RESEARCH, research), ("decision", MU_DECISION, decision)],
        horizon_hours=horizon_hours, warmup_hours=100.0)
    return sc.with_overrides({"hubs.tandem.roles.research.hourly_cost": COST_RESEARCH,
                              "hubs.tandem.roles.decision.hourly_cost": COST_DECISION})


def _targets() -> list[str]:
    return [f"stage_wait_over_1h_research<={TARGET_P}",
            f"stage_wait_over_1h_decision<={TARGET_P}"]


def test_each_role_needs_its_own_erlang_c_requirement() -> None:
    """Tandem M/M/c stages (Jackson): each stage is an M/M/c at λ, so the least-cost
    staffing of both roles together is each stage's Erlang C requirement. The requirement
    and the one below are far from the target (not marginal)."""
    need = {"research": servers_needed(LAM, MU_RESEARCH, 1.0, TARGET_P),
            "decision": servers_needed(LAM, MU_DECISION, 1.0, TARGET_P)}
    for role, mu in (("research", MU_RESEARCH), ("decision", MU_DECISION)):
        assert erlang_c(LAM, mu, need[role]).p_wait_over(1.0) < TARGET_P / 2
        assert erlang_c(LAM, mu, need[role] - 1).p_wait_over(1.0) > 2 * TARGET_P
    sc = _tandem()
    frame = plan(sc, _targets(), "tandem", replications=8, seed=1, workers=2)
    assert list(frame["role"]) == ["research", "decision"]
    assert dict(zip(frame["role"], frame["headcount_needed"], strict=True)) == need
    doc = frame.attrs["plan"]["hubs"]["tandem"]
    assert set(doc) == {"roles"} | HUB_KEYS  # two roles searched: per role only
    for role, entry in doc["roles"].items():
        assert set(entry) == ROLE_KEYS
        metric = f"stage_wait_over_1h_{role}"
        assert entry["metrics_at_needed"][metric]["ci_high"] <= TARGET_P
        assert entry["metrics_one_below"][metric]["ci_high"] > TARGET_P
    # the cost of the window's paid hours at the answer: always-on posts, whole days
    # after the warm-up
    hours = 1500.0 - 5 * 24.0
    cost = doc["roles"]["research"]["metrics_at_needed"]["staff_hours_cost"]["mean"]
    assert cost == pytest.approx(hours * (need["research"] * COST_RESEARCH
                                          + need["decision"] * COST_DECISION))
    # cost a year: posts × hourly cost × rostered hours (168 a week, always on) × 52
    year = 168.0 * 52.0
    assert doc["cost_per_year_needed"] == pytest.approx(
        year * (need["research"] * COST_RESEARCH + need["decision"] * COST_DECISION))
    assert doc["roles"]["decision"]["cost_per_year_now"] == year * 5 * COST_DECISION
    table = format_plan(frame)
    assert "cost £/yr now→needed" in table and "role util. % now→needed" in table
    now_cost = year * 6 * COST_RESEARCH
    need_cost = year * need["research"] * COST_RESEARCH
    assert f"{now_cost:,.0f} → {need_cost:,.0f}" in table
    assert "least cost per hub and role" in table


def test_vary_staff_names_hubs_roles_or_all(default_scenario) -> None:
    sc = _tandem()
    assert _resolve_units(sc, "tandem.decision") == [("tandem", "decision")]
    assert _resolve_units(sc, ["tandem", "tandem.research"]) == [
        ("tandem", "research"), ("tandem", "decision")]
    assert _resolve_units(sc, "all") == [("tandem", "research"), ("tandem", "decision")]
    # a hub described by staff alone: one search, also named by its implicit role
    assert _resolve_units(default_scenario, "reading") == [("reading", None)]
    assert _resolve_units(default_scenario, "reading.staff") == [("reading", None)]
    with pytest.raises(ScenarioError) as err:
        _resolve_units(sc, ["tandem.reserch", "atlantis.x"])
    assert err.value.problems == [
        "--vary-staff tandem.reserch: hub tandem has no role 'reserch' "
        "(known: research, decision)",
        "--vary-staff atlantis.x: no such hub (known: tandem, or all)"]


def _cli(path: Path, *extra: str) -> list[str]:
    return ["plan", str(path), "--replications", "3", "--workers", "2",
            "--max-headcount", "8", *extra]


def test_cli_one_role_keeps_the_hub_keys(tmp_path: Path, capsys) -> None:
    """One role of a hub searched: `hubs[hub]` keeps today's keys (outside checks read
    them) and adds `roles[role]` with the same."""
    path = tmp_path / "roles.toml"
    _tandem(horizon_hours=600.0).to_toml(path)
    rc = main(_cli(path, "--target", _targets()[1], "--vary-staff", "tandem.decision",
                   "--format", "json"))
    assert rc == 0
    hub = json.loads(capsys.readouterr().out)["hubs"]["tandem"]
    assert set(hub) == SEARCH_KEYS | {"roles"} | HUB_KEYS
    assert list(hub["roles"]) == ["decision"]
    assert {k: hub[k] for k in SEARCH_KEYS} == {
        k: hub["roles"]["decision"][k] for k in SEARCH_KEYS}
    assert hub["headcount_now"] == 5


def test_cli_unknown_role_and_infeasible_role_exit_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "roles.toml"
    _tandem(horizon_hours=300.0).to_toml(path)
    assert main(_cli(path, "--target", _targets()[0], "--vary-staff", "tandem.boss")) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("mashsim: error: --vary-staff tandem.boss: hub tandem has no "
                           "role 'boss' (known: research, decision)")
    # the decision role cannot shorten the research queue
    assert main(_cli(path, "--set", "hubs.tandem.roles.research.headcount=3", "--target",
                     "stage_wait_over_1h_research<=0.001", "--vary-staff",
                     "tandem.decision")) == 2
    captured = capsys.readouterr()
    assert "at hub tandem, role decision;" in captured.err
    assert "decision" in captured.out


def test_hub_described_by_staff_keeps_its_table_and_json() -> None:
    """No roles: no role column, no cost, today's title."""
    from mashsim import load_scenario

    sc = load_scenario(DEFAULT).hub_alone("reading").with_overrides(
        {"run.duration_days": 21.0, "run.warmup_days": 3.0})
    frame = plan(sc, ["staff_wait_over_72h<=0.9"], "reading", replications=2, seed=1,
                 workers=1, max_headcount=4)
    assert "role" not in frame.columns and "costed" not in frame.attrs
    assert set(frame.attrs["plan"]["hubs"]["reading"]) == SEARCH_KEYS | HUB_KEYS
    head = format_plan(frame).splitlines()[1].split()
    assert head[:3] == ["hub", "now", "needed"] and "role" not in head
    assert "cost" not in head
