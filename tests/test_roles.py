"""Stages and roles: the schema, backward compatibility and the flow between stages.

A scenario without stages or roles is one stage done by one role; written out
explicitly (a stage `staff` that decides, shares and is research, a role `staff` skilled
for it) it must give the very same referrals' outcomes, replication by replication.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mashsim import Scenario, load_scenario
from mashsim.errors import ScenarioError
from mashsim.model.replication import run_replication
from mashsim.validation import tandem_scenario
from tests.conftest import one_hub

ROOT = Path(__file__).resolve().parent.parent


def explicit(sc: Scenario) -> Scenario:
    """The same scenario with its implicit stage and role written out."""
    data = sc.to_dict()
    data["stages"] = {"staff": {"decides": True, "includes_sharing": True, "research": True}}
    for hub in data["hubs"].values():
        hub["roles"] = {"staff": {**hub.pop("staff"), "skills": ["staff"]}}
    return Scenario.from_dict(data, source="explicit")


def outcomes(sc: Scenario, seed: int = 3) -> dict[str, Any]:
    recs = run_replication(sc, seed, 0)
    return {h: (r.staff_start, r.staff_end, r.sd_held, r.degraded, r.overtime,
                r.staff.busy) for h, r in recs.items()}


@pytest.mark.parametrize("mode", ["independent", "pooled", "overflow"])
def test_explicit_single_stage_and_role_is_today(small_scenario: Scenario, mode: str) -> None:
    """One stage, one role written out = the scenario without them, exactly (pooling modes
    included: a role is a pool, pooled across hubs by name)."""
    two = Scenario.from_dict({**small_scenario.to_dict(), "hubs": {
        "reading": small_scenario.to_dict()["hubs"]["reading"],
        "oxford": {**small_scenario.to_dict()["hubs"]["reading"], "demand_share": 0.5}}})
    sc = two.with_overrides({"pooling.mode": mode, "pooling.overflow_threshold": 2,
                             "pooling.overflow_team.headcount": 1,
                             "staffing.degraded_research.enabled": True,
                             "staffing.degraded_research.queue_threshold": 3,
                             "staffing.overtime.enabled": True,
                             "staffing.overtime.weekly_cap_hours": 10.0,
                             "staffing.overtime.threshold": 3.0})
    a, b = outcomes(sc), outcomes(explicit(sc))
    for hub in a:
        for x, y in zip(a[hub], b[hub], strict=True):
            np.testing.assert_array_equal(x, y)


def test_staff_held_discussions_and_backlog_unchanged(default_scenario: Scenario) -> None:
    sc = one_hub(default_scenario, **{"run.duration_days": 40.0, "run.warmup_days": 5.0,
                                      "strategy_discussions.held_by": "staff",
                                      "hubs.reading.initial_backlog.count": 30})
    a, b = outcomes(sc), outcomes(explicit(sc))
    for x, y in zip(a["reading"], b["reading"], strict=True):
        np.testing.assert_array_equal(x, y)


def test_roles_scenario_round_trips(tmp_path: Path) -> None:
    sc = tandem_scenario(arrival_rate_per_hour=1.0, stages=[("research", 0.6, 2),
                         ("decision", 1.5, 1)], horizon_hours=500.0, warmup_hours=50.0)
    path = tmp_path / "roles.toml"
    sc.to_toml(path)
    back = load_scenario(path)
    assert back == sc
    assert "staff" not in path.read_text().split("[hubs.tandem.roles")[0].split("[hubs.tandem]")[1]
    assert back.hubs["tandem"].staff.headcount == 3  # the derived view: all posts


def test_shipped_scenarios_round_trip(tmp_path: Path) -> None:
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        sc = load_scenario(path)
        sc.to_toml(tmp_path / path.name)
        assert load_scenario(tmp_path / path.name) == sc, path.name


def _tandem_dict() -> dict[str, Any]:
    return tandem_scenario(arrival_rate_per_hour=1.0, stages=[("research", 0.6, 2),
                           ("decision", 1.5, 1)], horizon_hours=500.0,
                           warmup_hours=50.0).to_dict()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["hubs"]["tandem"]["roles"]["research"].update(skills=["reserch"]),
     "hubs.tandem.roles.research.skills: no stage 'reserch'"),
    (lambda d: d["hubs"]["tandem"]["roles"].pop("decision"),
     "hubs.tandem.roles: no role is skilled for stage 'decision'"),
    (lambda d: d["hubs"]["tandem"].update(staff={"headcount": 2}),
     "hubs.tandem: give staff (one role doing every stage) or roles, not both"),
    (lambda d: d["stages"]["decision"].update(decides=False),
     "stages.decision.decides: no stage decides"),
    (lambda d: d["stages"]["research"].update(share_by_type={"dv": {"high": 1.0}}),
     "stages.research.share_by_type.dv: no such referral type"),
    (lambda d: d["hubs"]["tandem"]["roles"]["research"].update(dispatch="random"),
     "hubs.tandem.roles.research.dispatch:"),
    (lambda d: d["hubs"]["tandem"]["roles"]["research"].update(hourly_cost=-1),
     "hubs.tandem.roles.research.hourly_cost:"),
])
def test_bad_stages_and_roles_name_their_key(change: Any, message: str) -> None:
    data = _tandem_dict()
    change(data)
    with pytest.raises(ScenarioError) as err:
        Scenario.from_dict(data, source="f.toml")
    assert any(p.startswith(f"f.toml: {message}") for p in err.value.problems), \
        err.value.problems


def test_override_of_a_role_and_no_staff_key() -> None:
    sc = Scenario.from_dict(_tandem_dict())
    more = sc.with_overrides({"hubs.tandem.roles.research.headcount": 3})
    assert more.hubs["tandem"].roles["research"].headcount == 3
    assert more.hubs["tandem"].staff.headcount == 4
    with pytest.raises(ScenarioError, match="unknown key 'staff'"):
        sc.with_overrides({"hubs.tandem.staff.headcount": 3})


def test_referral_passes_stages_in_order_skipping_unneeded() -> None:
    """Each referral enters a stage when it leaves the previous one it needed; one that
    skips the first stage enters the second at hand-over; the decision is the deciding
    stage's end even when a later stage follows."""
    data = tandem_scenario(arrival_rate_per_hour=1.0, stages=[
        ("research", 2.0, 2), ("decision", 3.0, 1), ("sharing", 3.0, 1)],
        horizon_hours=400.0, warmup_hours=10.0).to_dict()
    data["stages"]["research"]["share_by_grade"] = {"high": 1.0, "medium": 1.0,
                                                    "standard": 0.5}
    data["stages"]["decision"]["decides"] = True
    data["stages"]["sharing"]["decides"] = False
    rec = run_replication(Scenario.from_dict(data), 1, 0)["tandem"]
    r = rec.referrals
    research, decision, sharing = (np.isfinite(rec.stage_entry[s])
                                   for s in ("research", "decision", "sharing"))
    assert 0.4 < research.mean() < 0.6  # the share needing it
    done = np.isfinite(rec.stage_end["research"])
    np.testing.assert_array_equal(rec.stage_entry["decision"][done],
                                  rec.stage_end["research"][done])
    skip = ~research & decision
    np.testing.assert_array_equal(rec.stage_entry["decision"][skip], r.handover[skip])
    np.testing.assert_array_equal(rec.staff_end, rec.stage_end["decision"])
    np.testing.assert_array_equal(rec.staff_start[skip], rec.stage_start["decision"][skip])
    fin = np.isfinite(rec.stage_end["decision"])
    assert (rec.stage_entry["sharing"][fin] == rec.stage_end["decision"][fin]).all()
    assert sharing.sum() >= fin.sum()


def test_trained_attendees_hold_discussions_as_a_skill(default_scenario: Scenario) -> None:
    """A role skilled for `strategy_discussion` serves the discussion queue (no separate
    attendee team); with no one skilled, the hub's `sd_attendees` do, as before."""
    sc = one_hub(default_scenario, **{"run.duration_days": 30.0, "run.warmup_days": 2.0})
    data = sc.to_dict()
    hub = data["hubs"]["reading"]
    hub["roles"] = {"caseworker": {**hub.pop("staff"), "skills": ["staff"]},
                    "detective_sergeant": {"headcount": 2, "skills": ["strategy_discussion",
                                                                      "staff"]}}
    data["stages"] = {"staff": {"decides": True, "includes_sharing": True}}
    rec = run_replication(Scenario.from_dict(data), 1, 0)["reading"]
    assert rec.sd is None
    held = np.isfinite(rec.sd_held) & rec.referrals.sd_needed
    assert held.sum() > 0
    assert len(rec.roles["detective_sergeant"].busy) >= held.sum()


def test_a_hub_with_no_referrals_has_empty_stage_records() -> None:
    sc = tandem_scenario(arrival_rate_per_hour=1.0, stages=[("a", 1.0, 1), ("b", 1.0, 1)],
                         horizon_hours=100.0, warmup_hours=10.0)
    sc = sc.with_overrides({"arrivals.referrals_per_day": 0.0})
    rec = run_replication(sc, 1, 0)["tandem"]
    assert rec.stage_entry["a"].shape == (0,) and rec.staff_end.shape == (0,)


def test_stage_and_role_metrics() -> None:
    """Per-stage waits, per-role utilisation and the cost, per hub and force-wide; a
    scenario without stages or roles keeps exactly today's metric names."""
    from mashsim import simulate
    from mashsim.metrics.compute import metric_names

    sc = tandem_scenario(arrival_rate_per_hour=2.0, stages=[("research", 1.0, 3),
                         ("decision", 1.5, 2)], horizon_hours=2000.0, warmup_hours=100.0)
    sc = sc.with_overrides({"hubs.tandem.roles.research.hourly_cost": 20.0,
                            "hubs.tandem.roles.decision.hourly_cost": 35.0})
    summary = simulate(sc, replications=3, seed=1).summary()
    for scope in (summary["metrics"], summary["hubs"]["tandem"]["metrics"]):
        m = {k: v["mean"] for k, v in scope.items()}
        # always-on posts, no absences: every hour of the window's whole days is paid
        assert m["staff_hours_cost"] == pytest.approx((2000.0 - 5 * 24.0) * (3 * 20 + 2 * 35))
        assert m["utilisation_research"] == pytest.approx(2.0 / 3.0, abs=0.03)
        assert m["utilisation_decision"] == pytest.approx(2.0 / 3.0, abs=0.03)
        assert m["stage_wait_hours_mean_research"] > 0 and 0 < m["stage_wait_over_1h_decision"] < 1
    legacy = load_scenario(ROOT / "tests" / "data" / "one_role" / "thames_valley.toml")
    names = metric_names(legacy)
    assert not [n for n in names if n.startswith(("stage_", "utilisation_", "staff_hours_cost"))]


def test_staff_utilisation_counts_every_role() -> None:
    """With roles, `staff_utilisation` is busy / rostered hours over all roles' posts, not
    the first role's: research (λ/3μ = 2/3 busy) and decision at 2 × 1.5/h (4/9 busy) give
    (3·2/3 + 3·4/9) / 6 = 5/9 over six always-on posts."""
    from mashsim import simulate

    sc = tandem_scenario(arrival_rate_per_hour=2.0, stages=[("research", 1.0, 3),
                         ("decision", 1.5, 3)], horizon_hours=3000.0, warmup_hours=100.0)
    m = {k: v["mean"] for k, v in simulate(sc, replications=3, seed=2).summary()["metrics"]
         .items()}
    weighted = (3 * m["utilisation_research"] + 3 * m["utilisation_decision"]) / 6
    assert m["staff_utilisation"] == pytest.approx(weighted, rel=1e-9)
    assert m["staff_utilisation"] == pytest.approx(5 / 9, abs=0.03)
    assert abs(m["staff_utilisation"] - m["utilisation_research"]) > 0.05
