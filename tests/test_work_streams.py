"""The work streams of issue 13: partner-initiated strategy discussions, adult strategy
meetings, MARAC, early notifications in their own queue, repeat and linked referrals.

Theory where it exists (partner discussions through an M/M/c attendee pool: Erlang C;
MARAC meetings of capacity K with Poisson listings: a bulk-service queue solved
numerically), conservation (every listed case heard, rolled over or open), shares
recovered from the outputs, and "off by default" (no new keys, no new metrics).
Intervals: Student-t over independent replications, or binomial, at 99.9 %.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from mashsim import Scenario, default_scenario_path, load_scenario
from mashsim.errors import ScenarioError
from mashsim.metrics.compute import metric_names, replication_metrics
from mashsim.model.replication import run_replication
from mashsim.validation import ALWAYS_ON, erlang_c, mmc_scenario

LEVEL = 0.999
Z = stats.norm.ppf(0.5 + LEVEL / 2)
STREAM_METRICS = ("sd_breach_72h_partner", "sd_held_partner", "asm_breach", "asm_held",
                  "asm_pending_over_deadline_at_end", "marac_listed",
                  "marac_researched_in_time", "marac_rolled_over", "repeat_referrals",
                  "linked_referrals")


def edited(sc: Scenario, **changes: Any) -> Scenario:
    """`sc` with top-level tables merged (one level deep) and then validated."""
    d = sc.to_dict()
    for key, value in changes.items():
        d[key] = {**d.get(key, {}), **value} if isinstance(value, dict) else value
    return Scenario.from_dict(d)


def t_half(values: np.ndarray) -> float:
    return float(stats.t.ppf(0.5 + LEVEL / 2, values.size - 1) * values.std(ddof=1)
                 / math.sqrt(values.size))


def test_streams_are_off_by_default_and_leave_no_trace() -> None:
    sc = mmc_scenario(1.0, 2.0, 1, horizon_hours=200.0, warmup_hours=20.0)
    d = sc.to_dict()
    assert "marac" not in d and "adult_strategy_meetings" not in d
    assert "partner_initiated_per_day" not in d["strategy_discussions"]
    assert "repeat_share" not in d["referral_types"]["referral"]
    assert not set(STREAM_METRICS) & set(metric_names(sc))


def test_bad_stream_inputs_name_their_key() -> None:
    sc = mmc_scenario(1.0, 2.0, 1)
    with pytest.raises(ScenarioError, match=r"referral_types\.referral\.linked_child_type"):
        edited(sc, referral_types={"referral": {"share": 1.0, "linked_child_share": 0.2}})
    with pytest.raises(ScenarioError, match=r"marac\.share_by_type\.nope: no such referral type"):
        edited(sc, marac={"share_by_type": {"nope": {"high": 1.0}}})
    with pytest.raises(ScenarioError, match=r"strategy_discussions\.held_by"):
        edited(sc, strategy_discussions={"held_by": "staff", "partner_initiated_per_day": 1.0})


def partner_mmc(lam_per_hour: float, mu: float, c: int, horizon: float) -> Scenario:
    """No referrals; partner discussions (exponential meeting, no preparation) held by
    c attendees always on duty: an M/M/c."""
    sc = mmc_scenario(0.5, 10.0, 1, horizon_hours=horizon, warmup_hours=200.0)
    d = sc.to_dict()
    d["arrivals"]["referrals_per_day"] = 0.0
    d["strategy_discussions"].update(
        partner_initiated_per_day=lam_per_hour * 24.0,
        preparation_minutes={"dist": "fixed", "value": 0.0},
        meeting_minutes={"dist": "exponential", "mean": 60.0 / mu})
    d["hubs"]["mmc"]["sd_attendees"] = {"headcount": c, "shifts": [ALWAYS_ON]}
    d["staffing"] = {"absences_apply_to_sd_attendees": False}
    return Scenario.from_dict(d)


def test_partner_discussions_through_attendees_are_erlang_c() -> None:
    lam, mu, c = 1.5, 1.0, 2
    sc = partner_mmc(lam, mu, c, horizon=4_000.0)
    waits = []
    for r in range(10):
        w = next(iter(run_replication(sc, 5, r).values())).work
        assert w is not None
        m = w.partner_created >= sc.warmup_hours
        start = np.where(np.isfinite(w.partner_start), w.partner_start, sc.horizon_hours)
        waits.append(float((start - w.partner_created)[m].mean()))
    values = np.asarray(waits)
    theory = erlang_c(lam, mu, c).mean_wait_hours
    half = t_half(values)
    assert abs(values.mean() - theory) <= half, (values.mean(), half, theory)
    assert half < 0.25 * theory


def test_partner_metrics_by_source_and_together() -> None:
    sc = partner_mmc(0.5, 1.0, 1, horizon=1_000.0)
    standard = {"high": 0.0, "medium": 0.0, "standard": 1.0}
    sc = edited(sc, arrivals={"referrals_per_day": 12.0},
                referral_types={"referral": {"share": 1.0, "strategy_discussion_share": 0.5,
                                             "grade_mix": standard}})
    m = replication_metrics(run_replication(sc, 3, 0), sc)["overall"]
    assert m["sd_held"] == m["sd_held_partner"] + m["sd_held_police_referral"]
    assert m["sd_held_partner"] > 0 and m["sd_held_police_referral"] > 0
    # all sources: between the two sources' breach rates
    lo, hi = sorted((m["sd_breach_72h_partner"], m["sd_breach_72h_police_referral"]))
    assert lo <= m["sd_breach_72h"] <= hi


def marac_scenario(per_week: float, capacity: int, weeks: int) -> Scenario:
    """Referrals decided at once (staff always on, tiny handling), every one listed for a
    weekly MARAC; research (tiny) by the attendees, always on."""
    sc = mmc_scenario(per_week / 168.0, 600.0, 50, horizon_hours=weeks * 168.0,
                      warmup_hours=20 * 168.0)
    d = sc.to_dict()
    d["marac"] = {"share_by_type": {"referral": {"high": 1.0, "medium": 1.0, "standard": 1.0}},
                  "every_days": 7, "cases_per_meeting": capacity,
                  "research_minutes": {"dist": "fixed", "value": 0.1}}
    d["hubs"]["mmc"]["sd_attendees"] = {"headcount": 5, "shifts": [ALWAYS_ON]}
    d["staffing"] = {"absences_apply_to_sd_attendees": False}
    return Scenario.from_dict(d)


def bulk_service_rolled_share(mean_per_period: float, capacity: int) -> float:
    """Share of listings not heard at their first meeting: X' = (X + A − K)+ with A
    Poisson, solved for its stationary law on a truncated state space; oldest first, so
    per period E[X'] − E[(X − K)+] new cases roll over."""
    n = 400
    a = stats.poisson.pmf(np.arange(n + capacity), mean_per_period)
    p = np.zeros((n, n))
    for x in range(n):
        for arrivals, pa in enumerate(a):
            p[x, min(max(0, x + arrivals - capacity), n - 1)] += pa
        p[x] /= p[x].sum()
    w, v = np.linalg.eig(p.T)
    pi = np.real(v[:, np.argmin(abs(w - 1))])
    pi /= pi.sum()
    x = np.arange(n)
    return float((pi @ x - pi @ np.maximum(x - capacity, 0)) / mean_per_period)


def test_marac_rolled_over_share_is_the_bulk_service_queue() -> None:
    per_week, capacity = 10.0, 11
    sc = marac_scenario(per_week, capacity, weeks=400)
    shares = []
    for r in range(12):
        m = replication_metrics(run_replication(sc, 9, r), sc)["overall"]
        shares.append(m["marac_rolled_over"] / m["marac_listed"])
        assert m["marac_researched_in_time"] > 0.99
    values = np.asarray(shares)
    theory = bulk_service_rolled_share(per_week, capacity)
    half = t_half(values)
    assert abs(values.mean() - theory) <= half, (values.mean(), half, theory)
    assert half < 0.25 * theory


def test_every_listed_case_is_heard_rolled_over_or_open() -> None:
    sc = marac_scenario(14.0, 10, weeks=30)  # over capacity: the waiting list grows
    w = next(iter(run_replication(sc, 2, 0).values())).work
    assert w is not None
    listed = np.isfinite(w.marac_listed)
    heard = listed & np.isfinite(w.marac_heard)
    heard_first = heard & (w.marac_heard <= w.marac_first_meeting)
    rolled = listed & ~heard_first & (w.marac_first_meeting <= sc.horizon_hours)
    not_yet = listed & (w.marac_first_meeting > sc.horizon_hours)
    assert listed.sum() == heard_first.sum() + rolled.sum() + not_yet.sum()
    assert not (heard_first & rolled).any() and not (rolled & not_yet).any()
    # heard at or after listing, at a meeting, never more than the capacity at once
    assert (w.marac_heard[heard] >= w.marac_listed[heard]).all()
    assert np.unique(w.marac_heard[heard], return_counts=True)[1].max() <= 10
    assert rolled.sum() > 0 and (listed & ~heard).sum() > 0


def test_adult_meetings_by_role_skill_with_working_day_deadline() -> None:
    sc = mmc_scenario(0.5, 6.0, 3, horizon_hours=1_500.0, warmup_hours=100.0)
    d = sc.to_dict()
    d["referral_types"]["referral"]["grade_mix"] = {"high": 0.2, "medium": 0.3,
                                                    "standard": 0.5}
    d["adult_strategy_meetings"] = {
        "share_by_type": {"referral": {"high": 1.0, "medium": 0.5, "standard": 0.0}},
        "deadline": {"amount": 5, "clock": "working_days"},
        "deadline_by_grade": {"high": {"amount": 24, "clock": "elapsed_hours"}}}
    d["stages"] = {"work": {"decides": True, "includes_sharing": True, "research": True}}
    hub = d["hubs"]["mmc"]
    staff = hub.pop("staff")
    hub["roles"] = {"caseworker": {**staff, "skills": ["work"]},
                    "asm_lead": {"headcount": 1, "shifts": [ALWAYS_ON],
                                 "skills": ["adult_strategy_meeting"]}}
    sc = Scenario.from_dict(d)
    recs = run_replication(sc, 4, 0)
    rec = next(iter(recs.values()))
    m = replication_metrics(recs, sc)["overall"]
    refs = rec.referrals
    high = refs.grade_idx == 0
    assert (refs.asm_needed[high]).all() and not refs.asm_needed[refs.grade_idx == 2].any()
    assert np.allclose(refs.asm_deadline[high], refs.created[high] + 24.0)
    assert (refs.asm_deadline[~high] > refs.created[~high] + 24.0).all()
    assert m["asm_held"] > 100 and m["asm_breach"] < 0.05
    assert m["asm_pending_over_deadline_at_end"] == 0
    assert rec.roles["asm_lead"].busy.shape[0] >= m["asm_held"]  # its work, counted
    assert 0 < m["utilisation_asm_lead"] < 1


def test_early_notifications_get_their_own_queue_when_a_role_has_the_skill() -> None:
    sc = mmc_scenario(1.0, 3.0, 2, horizon_hours=600.0, warmup_hours=50.0)
    d = sc.to_dict()
    d["rpa"] = {"enabled": True, "early_notification": True, "scan_hours": [0.0, 24.0]}
    d["referral_types"]["referral"]["early_notification"] = True
    d["stages"] = {"work": {"decides": True, "includes_sharing": True, "research": True}}
    hub = d["hubs"]["mmc"]
    staff = hub.pop("staff")
    hub["roles"] = {"caseworker": {**staff, "skills": ["work"]},
                    "notifier": {"headcount": 1, "shifts": [ALWAYS_ON],
                                 "skills": ["early_notification"]}}
    own = Scenario.from_dict(d)
    hub["roles"]["notifier"]["skills"] = ["work"]
    shared = Scenario.from_dict(d)
    w = next(iter(run_replication(own, 1, 0).values())).work
    assert w is not None and np.isfinite(w.notification_start).mean() > 0.95
    rec_own = next(iter(run_replication(own, 1, 0).values()))
    n_notified = rec_own.notifications_entered.size
    assert rec_own.roles["notifier"].busy.shape[0] >= n_notified - 2  # all its work
    w_shared = next(iter(run_replication(shared, 1, 0).values())).work
    assert w_shared is not None and np.isnan(w_shared.notification_start).all()


def binomial_ok(hits: int, n: int, p: float) -> bool:
    return abs(hits - n * p) <= Z * math.sqrt(n * p * (1 - p)) + 1


@pytest.mark.parametrize("handling", ["separately", "together"])
def test_repeat_and_linked_shares_are_recovered(handling: str) -> None:
    sc = mmc_scenario(2.0, 6.0, 1, horizon_hours=2_000.0, warmup_hours=100.0)
    d = sc.to_dict()
    base = d["referral_types"].pop("referral")
    d["referral_types"] = {
        "domestic_abuse": {**base, "share": 0.6, "repeat_share": 0.32,
                           "repeat_handling_factor": 0.5, "repeat_escalate": True,
                           "grade_mix": {"high": 0.0, "medium": 0.0, "standard": 1.0},
                           "linked_child_share": 0.3, "linked_child_type": "child",
                           "linked_handling": handling},
        "child": {**base, "share": 0.4, "grade_mix": {"high": 0.0, "medium": 0.0, "standard": 1.0}}}
    d["hubs"]["mmc"]["staff"]["headcount"] = 40
    sc = Scenario.from_dict(d)
    recs = run_replication(sc, 8, 0)
    refs = next(iter(recs.values())).referrals
    da = (refs.type_idx == 0)
    assert binomial_ok(int(refs.repeat[da].sum()), int(da.sum()), 0.32)
    # escalated one grade: every repeat high→? standard → medium
    assert (refs.grade_idx[da & refs.repeat] == 1).all()
    assert (refs.grade_idx[da & ~refs.repeat] == 2).all()
    assert binomial_ok(int(refs.linked[da].sum()), int(da.sum()), 0.3)
    kids = refs.linked_parent >= 0
    if handling == "separately":
        assert kids.sum() == refs.linked[da].sum()
        assert (refs.type_idx[kids] == 1).all()
        assert np.array_equal(refs.created[kids], refs.created[refs.linked_parent[kids]])
    else:
        assert not kids.any()
    m = replication_metrics(recs, sc)["overall"]
    assert m["repeat_referrals"] == (refs.repeat & (refs.entered >= sc.warmup_hours)).sum()


def test_a_hub_can_keep_its_own_marac_calendar() -> None:
    from mashsim.model.marac import meeting_hours

    sc = marac_scenario(5.0, 8, weeks=30)
    d = sc.to_dict()
    d["hubs"]["mmc"]["marac"] = {"every_days": 7, "weekday": "Thu", "cases_per_meeting": 3}
    own = Scenario.from_dict(d)
    assert own.marac_calendar("mmc") == (7, "Thu", 10.0, 3)
    times = meeting_hours(own, "mmc")
    assert np.allclose(np.diff(times), 168.0)
    w = next(iter(run_replication(own, 1, 0).values())).work
    assert w is not None
    heard = w.marac_heard[np.isfinite(w.marac_heard)]
    assert np.unique(heard, return_counts=True)[1].max() <= 3
    d["hubs"]["mmc"]["marac"]["every_days"] = 0
    with pytest.raises(ScenarioError, match=r"hubs\.mmc\.marac\.every_days"):
        Scenario.from_dict(d)


def test_a_hub_alone_keeps_its_share_of_partner_discussions_and_its_marac() -> None:
    sc = marac_scenario(5.0, 8, weeks=30)
    d = sc.to_dict()
    d["hubs"]["other"] = {**d["hubs"]["mmc"], "demand_share": 3.0}
    d["strategy_discussions"] = {"partner_initiated_per_day": 8.0}
    d["hubs"]["mmc"]["marac"] = {"cases_per_meeting": 4}
    alone = Scenario.from_dict(d).hub_alone("mmc")
    assert alone.strategy_discussions.partner_initiated_per_day == pytest.approx(2.0)
    assert alone.marac_calendar("mmc") == (7, "Tue", 10.0, 4)


def test_streams_naming_a_dropped_type_are_pruned() -> None:
    from mashsim.scenario.schema import drop_missing_types

    d = mmc_scenario(1.0, 2.0, 1).to_dict()
    base = d["referral_types"]["referral"]
    d["referral_types"] = {"da": {**base, "linked_child_share": 0.2, "linked_child_type": "kid"}}
    d["marac"] = {"share_by_type": {"da": {"high": 1.0}, "kid": {"high": 1.0}}}
    d["adult_strategy_meetings"] = {"share_by_type": {"adult": {"high": 1.0}}}
    with pytest.raises(ScenarioError):
        Scenario.from_dict(d)
    drop_missing_types(d)
    sc = Scenario.from_dict(d)
    assert list(sc.marac.share_by_type) == ["da"] and not sc.adult_strategy_meetings.enabled
    assert sc.referral_types["da"].linked_child_share == 0.0


def test_a_repeats_factor_scales_every_stage_once() -> None:
    """Research takes the grade's handling time, decision its own: a repeat's factor
    (0.5 against 1) halves both, never squares (it was applied twice to the first)."""
    from mashsim.model.referrals import draw_referrals
    from mashsim.model.streams import Streams
    from mashsim.model.wiring import build_calendar

    base = load_scenario(default_scenario_path()).hub_alone("reading")
    assert base.stages["research"].handling_minutes is None  # falls back to the grade's

    def minutes(factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sc = base.with_overrides({f"referral_types.{t}.repeat_handling_factor": factor
                                  for t in base.referral_types})
        refs = draw_referrals(sc, Streams(1, 0), build_calendar(sc), "reading")
        return refs.stage_minutes, refs.repeat, refs.linked

    half, rep, linked = minutes(0.5)
    whole, rep1, _ = minutes(1.0)
    assert np.array_equal(rep, rep1)
    alone = rep & ~linked  # a joined child's minutes are added to its parent's
    assert alone.sum() > 100
    assert np.array_equal(half[alone], 0.5 * whole[alone])
    assert np.array_equal(half[~rep], whole[~rep])


def test_a_joined_childs_discussion_has_its_parents_discussion_times() -> None:
    """Discussion times are drawn wherever some type may need one (not only where the
    batch's own draws do): a linked child's discussion joined to a parent whose type has
    none then has real preparation and meeting times, and is held."""
    sc = mmc_scenario(2.0, 6.0, 1, horizon_hours=2_000.0, warmup_hours=100.0)
    d = sc.to_dict()
    base = d["referral_types"].pop("referral")
    d["referral_types"] = {
        "domestic_abuse": {**base, "share": 1.0, "strategy_discussion_share": 0.0,
                           "linked_child_share": 0.5, "linked_child_type": "child",
                           "linked_handling": "together"},
        "child": {**base, "share": 0.0, "strategy_discussion_share": 1.0}}
    d["hubs"]["mmc"]["staff"]["headcount"] = 20
    d["hubs"]["mmc"]["sd_attendees"]["headcount"] = 4
    rec = next(iter(run_replication(Scenario.from_dict(d), 3, 0).values()))
    refs = rec.referrals
    joined = refs.linked & refs.sd_needed
    assert joined.sum() > 50 and (refs.sd_needed == refs.linked).all()
    assert np.isfinite(refs.sd_service_hours[joined]).all()
    assert np.isfinite(refs.sd_delay_hours[joined]).all()
    assert np.isfinite(rec.sd_held[joined]).mean() > 0.9
