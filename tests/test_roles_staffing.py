"""Staffing mechanisms per role and per stage: overtime, the overflow team, degraded
research and absences, each aimed where the scenario says.

The checks run a two-stage tandem (research then decision, one always-on person each)
where research is the bottleneck, so sending help to the right or the wrong stage moves
research waits by hours, far beyond run-to-run noise over three seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mashsim import Scenario, simulate
from mashsim.errors import ScenarioError
from mashsim.model.replication import run_replication
from mashsim.model.streams import Streams
from mashsim.model.wiring import build_hub_model
from mashsim.validation import tandem_scenario

SEEDS = (1, 2, 3)


def tandem(**overrides: Any) -> Scenario:
    """Research at 1.2/h then decision at 3/h, one person each, 1 referral an hour: research
    is 83 % busy and queues; decision 33 %."""
    sc = tandem_scenario(arrival_rate_per_hour=1.0, stages=[("research", 1.2, 1),
                         ("decision", 3.0, 1)], horizon_hours=1500.0, warmup_hours=100.0)
    return sc.with_overrides(overrides) if overrides else sc


OVERTIME = {"staffing.overtime.enabled": True, "staffing.overtime.threshold": 2.0,
            "staffing.overtime.weekly_cap_hours": 40.0}


def research_wait(sc: Scenario) -> float:
    """Mean research wait over SEEDS (each seed a separate one-replication run)."""
    return float(np.mean([simulate(sc, replications=1, seed=s).summary()["metrics"]
                          ["stage_wait_hours_mean_research"]["mean"] for s in SEEDS]))


def test_overtime_goes_to_the_named_role_and_reads_the_named_stages() -> None:
    """Overtime for researchers triggered by the research queue shortens research waits;
    the same hours given to decision makers (or triggered by the short decision queue)
    barely touch them."""
    none = research_wait(tandem())
    to_research = research_wait(tandem(**OVERTIME, **{"staffing.overtime.role": "research",
                                                      "staffing.overtime.stages": ["research"]}))
    to_decision = research_wait(tandem(**OVERTIME, **{"staffing.overtime.role": "decision"}))
    on_decision_queue = research_wait(tandem(**OVERTIME, **{
        "staffing.overtime.role": "research", "staffing.overtime.stages": ["decision"]}))
    assert to_research < 0.7 * none
    assert to_decision > 0.9 * none
    assert on_decision_queue > to_research
    model = build_hub_model(tandem(**OVERTIME, **{"staffing.overtime.role": "decision"}),
                            Streams(1, 0))
    assert model.overtime["tandem"].pool is model.role_team("tandem", "decision").pool


def test_overtime_premium_prices_overtime_hours_only() -> None:
    """The premium changes the cost by (premium − 1) × overtime hours × the role's rate and
    nothing else (same seed: the same run)."""
    base = {**OVERTIME, "staffing.overtime.role": "research",
            "hubs.tandem.roles.research.hourly_cost": 20.0,
            "hubs.tandem.roles.decision.hourly_cost": 35.0}
    plain = simulate(tandem(**base), replications=2, seed=4).summary()["metrics"]
    dear = simulate(tandem(**base, **{"staffing.overtime.premium": 1.5}),
                    replications=2, seed=4).summary()["metrics"]
    hours = plain["overtime_hours"]["mean"]
    assert hours > 0 and dear["overtime_hours"]["mean"] == hours
    assert dear["staff_hours_cost"]["mean"] - plain["staff_hours_cost"]["mean"] == \
        pytest.approx(0.5 * hours * 20.0)


def test_overflow_team_works_the_stages_it_is_skilled_for() -> None:
    """By default the overflow team takes the first stage's overflow (as before roles);
    skilled for decision only, it leaves the research queue alone."""
    team = {"pooling.mode": "overflow", "pooling.overflow_threshold": 2,
            "pooling.overflow_team.headcount": 1,
            "pooling.overflow_team.shifts": [{"days": ["Mon", "Tue", "Wed", "Thu", "Fri",
                                                        "Sat", "Sun"], "start": "00:00",
                                              "end": "12:00"}]}
    default = research_wait(tandem(**team))
    explicit = research_wait(tandem(**team, **{"pooling.overflow_skills": ["research"]}))
    elsewhere = research_wait(tandem(**team, **{"pooling.overflow_skills": ["decision"]}))
    assert default == explicit
    assert elsewhere > 1.3 * default


def test_degraded_research_per_stage() -> None:
    """A stage's own rule cuts that stage short even when it is not a research stage; the
    staffing-level rule touches research stages only (the tandem has none)."""
    rule = {"enabled": True, "queue_threshold": 0, "handling_factor": 0.5}
    own = run_replication(tandem(**{"stages.research.degraded_research": rule}), 1, 0)
    force = run_replication(tandem(**{"staffing.degraded_research.enabled": True,
                                      "staffing.degraded_research.queue_threshold": 0}), 1, 0)
    assert own["tandem"].degraded.mean() > 0.3
    assert not force["tandem"].degraded.any()


def test_absences_per_role_override_the_force_settings() -> None:
    """A role's own sickness removes its people's hours; a role without one keeps the
    force's settings (here none: every paid hour available)."""
    sick = {"episodes_per_year": 12.0, "duration_days": {"dist": "fixed", "value": 5.0}}
    sc = tandem(**{"hubs.tandem.roles.research.sickness": sick,
                   "hubs.tandem.roles.research.headcount": 4})
    cap = build_hub_model(sc, Streams(1, 0)).role_capacity["tandem"]
    _, paid_r, avail_r = cap["research"]
    _, paid_d, avail_d = cap["decision"]
    assert avail_r.sum() < 0.95 * paid_r.sum()
    np.testing.assert_array_equal(avail_d, paid_d)
    role = sc.hubs["tandem"].roles["research"]
    assert role.absences(sc.staffing).sickness.episodes_per_year == 12.0
    assert sc.hubs["tandem"].roles["decision"].absences(sc.staffing) is sc.staffing


@pytest.mark.parametrize(("key", "value", "message"), [
    ("staffing.overtime.stages", ["reserch"], "staffing.overtime.stages: no stage 'reserch'"),
    ("pooling.overflow_skills", ["x"], "pooling.overflow_skills: no stage 'x'"),
    ("staffing.overtime.role", "analyst", "staffing.overtime.role: hub 'tandem' has no role"),
    ("staffing.overtime.premium", 0.5, "staffing.overtime.premium:"),
])
def test_bad_names_for_overtime_and_overflow_name_their_key(key: str, value: Any,
                                                            message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        tandem(**{key: value})
    assert any(message in p for p in err.value.problems), err.value.problems
