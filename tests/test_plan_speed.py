"""Issue 14, continued: `plan` fast — a first guess that counts all the work a MASH
carries, decisions from few replications where they are clear, no staffing simulated
twice, an up phase that adds the post that helps."""

from __future__ import annotations

import numpy as np
import pytest

from mashsim.experiment.plan import _searches
from mashsim.experiment.plan_guess import first_guess
from mashsim.experiment.plan_search import (
    FIRST_BATCH,
    LOOKS,
    Planner,
    Point,
    _futile,
    _judge,
    run_searches,
)
from mashsim.experiment.plan_targets import Target
from mashsim.experiment.runner import replication_runner
from mashsim.metrics.compute import metric_names
from mashsim.model.workload import stage_work_hours_per_week
from mashsim.scenario.schema import SD_SKILL
from mashsim.validation import erlang_c, mmc_scenario

LAM, MU = 4.0, 1.0
TARGET = Target.parse("staff_wait_over_1h<=0.1")


def _reading():
    """Reading alone in the default scenario (roles, costs, every work stream)."""
    from mashsim import load_scenario
    from mashsim.experiment.simulate import default_scenario_path

    return load_scenario(default_scenario_path()).hub_alone("reading")


# -- the first guess counts every work stream -------------------------------------------


def test_guess_counts_partner_discussions_adult_meetings_and_marac() -> None:
    """Strategy discussions asked for by partners (most of them in the default), adult
    strategy meetings and MARAC research are work the hub's roles do; the guess must
    size the roles for them (before, it counted police referrals' discussions only and
    started the trained attendees at 1 post)."""
    sc = _reading()
    sd = sc.strategy_discussions
    assert sd.partner_initiated_per_day > 0 and sc.marac.enabled
    work = stage_work_hours_per_week(sc, "reading")
    without = stage_work_hours_per_week(
        sc.with_overrides({"strategy_discussions.partner_initiated_per_day": 0.0}), "reading")
    per_week = sd.partner_initiated_per_day * 7.0  # the hub alone holds all of it
    minutes = (sd.partner_research_minutes.mean + sd.preparation_minutes.mean
               + sd.meeting_minutes.mean)
    assert work[SD_SKILL] - without[SD_SKILL] == pytest.approx(per_week * minutes / 60.0)
    assert work["adult_strategy_meeting"] > 0 and work["marac_research"] > 0


def test_guess_counts_linked_child_referrals_and_cheaper_repeats() -> None:
    """A linked child referral is a referral of its own (more research); a repeat's
    handling is × repeat_handling_factor (less)."""
    sc = _reading()
    base = stage_work_hours_per_week(sc, "reading")["research"]
    unlinked = sc.with_overrides({"referral_types.domestic_abuse.linked_child_share": 0.0})
    assert stage_work_hours_per_week(unlinked, "reading")["research"] < base
    no_repeats = sc.with_overrides({f"referral_types.{t}.repeat_share": 0.0
                                    for t in sc.referral_types})
    assert stage_work_hours_per_week(no_repeats, "reading")["research"] > base


def test_guess_sizes_the_cheapest_role_skilled_for_a_stage() -> None:
    """Research is listed by researchers (£20) and sergeants (£37) alike at the same
    place: the least-cost plan gives it to researchers, so they are sized for it."""
    sc = _reading()
    roles = sc.hubs["reading"].roles
    assert roles["researcher"].hourly_cost < roles["decision_maker"].hourly_cost
    guess = first_guess(sc, "reading")
    dearer = sc.with_overrides({"hubs.reading.roles.researcher.hourly_cost": 99.0})
    assert first_guess(dearer, "reading")["researcher"] < guess["researcher"]


def test_guess_on_mmc_is_just_above_the_load() -> None:
    """One always-on role: the guess is the least posts above the offered load."""
    sc = mmc_scenario(LAM, MU, servers=9)
    assert first_guess(sc, "mmc") == {"staff": 5}


# -- sequential decisions -----------------------------------------------------------------


def test_a_clear_miss_is_decided_at_the_first_look() -> None:
    """M/M/c at λ = 4/h, μ = 1/h: three servers are overloaded (P(wait > 1 h) near 1):
    the first look's three replications decide it; the requirement (Erlang C: 6) is
    still found, and its one below (5) misses."""
    assert erlang_c(LAM, MU, 6).p_wait_over(1.0) < TARGET.value / 2
    assert erlang_c(LAM, MU, 5).p_wait_over(1.0) > 2 * TARGET.value
    s, planner = _mmc_search(servers=3)
    with replication_runner(1) as runner:
        run_searches(planner, [s], runner, lambda x: x.hub)
    assert s.answer is not None and s.answer.posts == (6,)
    judged = {(phase, posts): reps for phase, posts, _, seed, reps, _ in s.trace
              if seed == planner.seed}
    assert judged["start", (3,)] == FIRST_BATCH
    assert not s.now_point.meets and s.one_below[None].posts == (5,)
    assert sum(s.replications_by_phase.values()) == s.replications_used


def _values(x) -> dict[str, np.ndarray]:
    return {TARGET.metric: np.asarray(x, dtype=float)}


def test_futility_stops_a_staffing_that_cannot_meet_by_the_last_look() -> None:
    n = LOOKS[1]
    rng = np.random.default_rng(3)
    # mean above the value at the second look: the CI at 20 still holds the mean
    above = 0.12 + rng.normal(0, 0.05, n)
    assert _futile([TARGET], _values(above), 20)
    # below on average at the second look: not yet, whatever the spread
    below = 0.07 + rng.normal(0, 0.05, n)
    assert not _futile([TARGET], _values(below), 20)
    # from the third look, a mean just under the value with a spread that would leave
    # the CI at 20 replications straddling it
    wide = 0.09 + np.tile([-0.08, 0.08], LOOKS[2] // 2)
    assert _futile([TARGET], _values(wide), 20)
    narrow = 0.05 + np.tile([-0.01, 0.01], LOOKS[2] // 2)
    assert not _futile([TARGET], _values(narrow), 20)
    # the first look never stops for futility, nor a staffing at its last look
    assert not _futile([TARGET], _values(above[:FIRST_BATCH]), 20)
    ci = {TARGET.metric: {"mean": 0.09, "ci_low": 0.05, "ci_high": 0.13}}
    assert _judge([TARGET], ci, final=False) is None
    assert _judge([TARGET], ci, final=False, futile=True) is False


# -- the search's bookkeeping ---------------------------------------------------------


def _mmc_search(servers: int = 8):
    sc = mmc_scenario(LAM, MU, servers=servers, horizon_hours=600.0, warmup_hours=50.0)
    (s,) = _searches(sc, "all", None, True, {})
    planner = Planner([TARGET], metric_names(sc), 10, 1, "posts")
    return s, planner


def test_a_staffing_named_twice_is_simulated_once() -> None:
    """Today's posts equal to the first guess: one staffing, one set of replications."""
    s, planner = _mmc_search()
    gen = planner.evaluate_many(s, [((6,), ("own",)), ((6,), ("own",))])
    requests = next(gen)
    assert len(requests) == 1 and list(requests[0].reps) == list(range(FIRST_BATCH))


def _point(mean: float, posts: int) -> Point:
    ci = {"mean": mean, "ci_low": mean, "ci_high": mean}
    return Point((posts, 1), ("own", "own"), 1, False, {TARGET.metric: ci}, {})


def test_the_up_phase_adds_the_post_that_moves_a_missed_target() -> None:
    """A cheap post that leaves the missed target where it is is not preferred to a
    dearer one that brings it closer (before: ties on the worst target went to the
    cheaper post, and the search climbed researchers to the limit)."""
    s, planner = _mmc_search()
    s.roles, s.now = ["a", "b"], (1, 1)
    s.cost_rate = {"a": 20.0, "b": 37.0}
    s.candidates = {r: s.candidates[""] for r in ("a", "b")}
    planner.objective = "cost"
    here = _point(0.9, 1)
    cheap = Point((2, 1), ("own", "own"), 1, False, here.metrics, {})
    useful = Point((1, 2), ("own", "own"), 1, False,
                   {TARGET.metric: {"mean": 0.5, "ci_low": 0.5, "ci_high": 0.5}}, {})
    best = min((cheap, useful), key=lambda p: planner._step_value(s, here, p))
    assert best is useful
