"""Issue 3's mechanisms, each with a test that would fail without it."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from mashsim import Scenario, simulate
from mashsim.experiment.replications import single_run
from mashsim.model.replication import build_calendar, run_replication
from mashsim.model.staffing import planned_shrinkage, roster_schedule
from mashsim.scenario.schema import Roster, Shift
from mashsim.validation import mmc_scenario

from .conftest import one_hub

REPS = 8


@pytest.fixture(scope="module")
def hub(default_scenario: Scenario) -> Scenario:
    """Oxfordshire alone, 20 weeks from April, no warm-up: ≈0.15 s a replication."""
    return one_hub(default_scenario, "oxfordshire", **{
        "run.duration_days": 140.0, "run.warmup_days": 0.0,
        "staffing.leave.entitlement_days_per_year": 0.0,
        "staffing.sickness.episodes_per_year": 0.0,
        "staffing.abstraction_share": 0.0,
        "staffing.overtime.enabled": False,
        "staffing.degraded_research.enabled": False,
    })


def _metric(sc: Scenario, name: str, reps: int = REPS, seed: int = 3) -> np.ndarray:
    return np.array([single_run(sc, seed, r).metrics["overall"][name] for r in range(reps)])


def _paired_upper(a: np.ndarray, b: np.ndarray, level: float = 0.99) -> float:
    """Upper bound of a one-sided CI for mean(a - b) (paired, common random numbers)."""
    d = a - b
    return float(d.mean() + stats.t.ppf(level, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size))


def test_vacancies_remove_rostered_hours(hub: Scenario) -> None:
    full = run_replication(hub, 1, 0)["oxfordshire"]
    short = run_replication(hub.with_overrides({"hubs.oxfordshire.staff.vacancies": 4}), 1, 0)
    got = short["oxfordshire"].available_staff_hours_per_day.sum()
    assert got == pytest.approx(full.available_staff_hours_per_day.sum() * 11 / 15, rel=0.02)


def test_recruitment_fills_vacancies_after_the_lead_time(hub: Scenario) -> None:
    sc = hub.with_overrides({
        "hubs.oxfordshire.staff.vacancies": 4,
        "staffing.recruitment.enabled": True,
        "staffing.recruitment.lead_time_days": {"dist": "fixed", "value": 42},
        "staffing.recruitment.new_starter_productivity": 0.5,
        "staffing.recruitment.training_period_days": 28,
    })
    per_day = run_replication(sc, 1, 0)["oxfordshire"].available_staff_hours_per_day
    weekday = np.array([(dt.date(2025, 4, 7) + dt.timedelta(days=d)).weekday() < 5
                        for d in range(len(per_day))])
    early, training, later = (per_day[:42][weekday[:42]].mean(),
                              per_day[42:70][weekday[42:70]].mean(),
                              per_day[70:][weekday[70:]].mean())
    assert early == pytest.approx(11 * 8, abs=2)
    assert training == pytest.approx(13 * 8, abs=4)  # 11 + 4 × 0.5
    assert later == pytest.approx(15 * 8, abs=5)  # bank holidays aside


def test_school_holiday_leave_peak_lowers_available_hours(hub: Scenario) -> None:
    peak = {"start": dt.date(2025, 7, 21), "end": dt.date(2025, 8, 24), "factor": 1.6,
            "label": "summer"}
    sc = hub.with_overrides({"staffing.leave.entitlement_days_per_year": 27.0,
                             "staffing.leave.peaks": [peak]})
    inside, outside = [], []
    for r in range(REPS):
        per_day = run_replication(sc, 5, r)["oxfordshire"].available_staff_hours_per_day
        days = [dt.date(2025, 4, 7) + dt.timedelta(days=d) for d in range(len(per_day))]
        work = np.array([d.weekday() < 5 for d in days])
        in_peak = np.array([peak["start"] <= d <= peak["end"] for d in days])
        inside.append(per_day[work & in_peak].mean())
        outside.append(per_day[work & ~in_peak].mean())
    assert _paired_upper(np.array(inside), np.array(outside)) < 0


def test_realised_shrinkage_matches_planned(hub: Scenario) -> None:
    sc = hub.with_overrides({
        "run.duration_days": 364.0,
        "calendar.exclude_bank_holidays": False,
        "staffing.leave.entitlement_days_per_year": 26.0,
        "staffing.sickness.episodes_per_year": 2.0,
        "staffing.sickness.duration_days": {"dist": "fixed", "value": 3},
        "staffing.abstraction_share": 0.15,
        "hubs.oxfordshire.staff.headcount": 30,
    })
    realised = _metric(sc, "realised_shrinkage", reps=6)
    planned = planned_shrinkage(sc.staffing, working_days_per_year=260.0)
    half = stats.t.ppf(0.995, realised.size - 1) * realised.std(ddof=1) / math.sqrt(realised.size)
    assert abs(realised.mean() - planned) <= half + 0.005  # + calendar-edge effects
    assert 0.2 < planned < 0.3


def test_overtime_respects_its_weekly_cap(hub: Scenario) -> None:
    sc = hub.with_overrides({
        "hubs.oxfordshire.staff.headcount": 8,
        "staffing.overtime.enabled": True,
        "staffing.overtime.threshold": 20,
        "staffing.overtime.weekly_cap_hours": 12,
        "staffing.overtime.extra_staff": 2,
        "staffing.overtime.block_hours": 1.5,
    })
    used_any = 0.0
    for r in range(4):
        log = run_replication(sc, 2, r)["oxfordshire"].overtime
        week = ((log[:, 0] + 0.0) // 168).astype(int)  # the run starts on a Monday
        per_week = np.bincount(week, weights=log[:, 1]) if len(log) else np.zeros(1)
        assert per_week.max() <= 12.0 + 1e-9
        used_any += log[:, 1].sum()
        # blocks start only inside the permitted overtime hours
        hour, weekday = log[:, 0] % 24, (log[:, 0] // 24) % 7
        assert np.all(np.where(weekday < 5, (hour >= 17) & (hour < 20), (hour >= 9) & (hour < 17)))
    assert used_any > 0
    without = _metric(hub.with_overrides({"hubs.oxfordshire.staff.headcount": 8}),
                      "staff_wait_hours_mean", reps=4, seed=2)
    with_ot = _metric(sc, "staff_wait_hours_mean", reps=4, seed=2)
    assert _paired_upper(with_ot, without) < 0
    assert _metric(sc, "overtime_hours", reps=2, seed=2).min() > 0


def test_degraded_research_is_counted_and_shortens_waits(hub: Scenario) -> None:
    busy = hub.with_overrides({"hubs.oxfordshire.staff.headcount": 8})
    cut = busy.with_overrides({"staffing.degraded_research.enabled": True,
                               "staffing.degraded_research.queue_threshold": 30,
                               "staffing.degraded_research.handling_factor": 0.5})
    assert _metric(busy, "decisions_without_full_research", reps=2).max() == 0
    assert _metric(cut, "decisions_without_full_research", reps=2).min() > 0
    assert _paired_upper(_metric(cut, "backlog_mean", 4), _metric(busy, "backlog_mean", 4)) < 0


def test_pooling_same_headcount_never_raises_mmc_wait() -> None:
    """Two M/M/c hubs vs the same staff pooled, under common random numbers."""
    base = mmc_scenario(4.0, 1.0, 5, horizon_hours=3_000.0, warmup_hours=200.0).to_dict()
    base["hubs"] = {"east": base["hubs"]["mmc"], "west": base["hubs"]["mmc"]}
    base["arrivals"]["referrals_per_day"] *= 2
    apart = Scenario.from_dict(base)
    pooled = apart.with_overrides({"pooling.mode": "pooled"})
    for r in range(REPS):
        a = single_run(apart, 8, r).metrics["overall"]["staff_wait_hours_mean"]
        p = single_run(pooled, 8, r).metrics["overall"]["staff_wait_hours_mean"]
        assert p <= a
    # and the same referrals were served: pooling changes who, not what
    ra, rp = run_replication(apart, 8, 0), run_replication(pooled, 8, 0)
    assert np.array_equal(ra["east"].referrals.created, rp["east"].referrals.created)


def test_overflow_team_takes_work_from_long_queues(hub: Scenario, default_scenario) -> None:
    two = default_scenario.with_overrides({"run.duration_days": 70.0, "run.warmup_days": 7.0,
                                           "hubs.oxfordshire.staff.headcount": 8})
    team = two.with_overrides({
        "pooling.mode": "overflow", "pooling.overflow_threshold": 10,
        "pooling.overflow_team": {"headcount": 2, "shifts": [
            {"days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "start": "09:00", "end": "17:00"}]},
    })
    a = np.array([single_run(two, 4, r).metrics["oxfordshire"]["staff_wait_hours_mean"]
                  for r in range(4)])
    b = np.array([single_run(team, 4, r).metrics["oxfordshire"]["staff_wait_hours_mean"]
                  for r in range(4)])
    assert _paired_upper(b, a) < 0
    rec = run_replication(team, 4, 0)["oxfordshire"]
    assert rec.overflow_team is not None and len(rec.overflow_team.busy) > 0


def test_officer_cap_bounds_the_rpa_stage(hub: Scenario) -> None:
    refs = run_replication(hub.with_overrides({"officer_assessment.cap_hours": 24.0}), 1, 0)[
        "oxfordshire"].referrals
    assert np.nanmax(refs.officer_delay_hours) <= 24.0
    assert np.max(refs.handover - refs.created) <= 24.0 + 1e-9
    free = run_replication(hub, 1, 0)["oxfordshire"].referrals
    assert np.max(free.handover - free.created) == pytest.approx(72.0)


def test_demand_growth_compounds(hub: Scenario) -> None:
    sc = hub.with_overrides({"arrivals.growth_per_year": 1.0, "arrivals.mode": "constant",
                             "run.duration_days": 364.0})
    created = np.concatenate([run_replication(sc, 1, r)["oxfordshire"].referrals.created
                              for r in range(2)])
    first, last = np.sum(created < 24 * 28), np.sum(created >= 24 * 336)
    assert last / first == pytest.approx(2 ** (350 / 365.25) / 2 ** (14 / 365.25), rel=0.1)


def test_rosters_can_skip_bank_holidays(default_scenario: Scenario) -> None:
    cal = build_calendar(default_scenario)
    roster = Roster(headcount=3, skip_bank_holidays=True, shifts=[
        Shift(days=["Mon", "Tue", "Wed", "Thu", "Fri"], start="09:00", end="17:00")])
    sched = roster_schedule(roster, dt.date(2025, 4, 7), 24 * 30, frozenset(cal.bank_holidays()))
    good_friday = (dt.date(2025, 4, 18) - dt.date(2025, 4, 7)).days * 24 + 10
    assert sched.at(good_friday) == 0 and sched.at(good_friday - 24) == 3


def test_working_day_sd_deadline_skips_weekend_and_easter(hub: Scenario) -> None:
    sc = hub.with_overrides({"strategy_discussions.deadline": {"amount": 3,
                                                               "clock": "working_days"}})
    refs = run_replication(sc, 1, 0)["oxfordshire"].referrals
    thursday = (dt.date(2025, 4, 17) - dt.date(2025, 4, 7)).days * 24
    pick = (refs.created >= thursday) & (refs.created < thursday + 24)
    # Thu 17 Apr + 3 working days, skipping Good Friday, the weekend, Easter Monday: Thu 24th
    due = (dt.date(2025, 4, 24) - dt.date(2025, 4, 7)).days * 24 + 17
    assert pick.any() and np.all(refs.sd_deadline[pick] == due)


def test_audit_counts_match_the_records(hub: Scenario) -> None:
    sc = hub.with_overrides({"reporting.audit_date": dt.date(2025, 6, 2),
                             "strategy_discussions.held_by": "attendees",
                             "hubs.oxfordshire.sd_attendees.headcount": 1,
                             "strategy_discussions.scheduling_delay_hours":
                                 {"dist": "fixed", "value": 60}})
    rec = run_replication(sc, 6, 0)["oxfordshire"]
    m = single_run(sc, 6, 0).metrics["oxfordshire"]
    at = (dt.date(2025, 6, 2) - dt.date(2025, 4, 7)).days * 24.0
    r = rec.referrals
    open_at = (r.created <= at) & ~(rec.staff_end <= at)
    assert m["audit_oldest_waiting_days"] == pytest.approx((at - r.created[open_at]).min() * 0
                                                           + (at - r.created[open_at]).max() / 24)
    pending = (rec.staff_end <= at) & r.sd_needed & ~(rec.sd_held <= at)
    assert m["audit_sd_pending_over_72h"] == np.sum(pending & (at - r.created > 72))
    assert m["audit_sd_pending_over_72h"] > 0
    assert math.isnan(single_run(hub, 6, 0).metrics["oxfordshire"]["audit_sd_pending_over_72h"])


def test_summary_has_every_issue3_metric(hub: Scenario) -> None:
    s = simulate(hub.with_overrides({"run.duration_days": 14.0}), replications=2).summary()
    for name in ("overtime_hours", "realised_shrinkage", "decisions_without_full_research",
                 "audit_sd_pending_over_72h", "audit_sd_pending_over_14d",
                 "audit_oldest_waiting_days"):
        assert set(s["metrics"][name]) == {"mean", "ci_low", "ci_high"}
        assert name in s["hubs"]["oxfordshire"]["metrics"]


# ------------------------------------------------------------ one weekly staff-hours formula


def test_validate_and_plan_quote_the_same_weekly_staff_hours() -> None:
    """Summer 2023 runs 150 days (not whole weeks): the old validate figure averaged the
    window and read 161.3 for a 4-person office-hours roster; a week of it is 160."""
    from mashsim import load_scenario
    from mashsim.experiment import plan
    from mashsim.report import stress

    from .conftest import ROOT

    sc = load_scenario(ROOT / "scenarios" / "summer_2023.toml")
    assert (sc.horizon_hours - sc.warmup_hours) % 168 != 0
    for hub, h in sc.hubs.items():
        week = plan.staff_hours_per_week(sc, hub, h.staff.headcount)
        assert stress.staff_hours_per_week(sc, hub) == week, hub
        base = roster_schedule(h.staff, sc.run.start_date, 4 * 168.0)
        assert week == pytest.approx(base.staff_hours(168.0, 336.0)), hub  # any whole week
    assert stress.staff_hours_per_week(sc) == pytest.approx(
        sum(stress.staff_hours_per_week(sc, hub) for hub in sc.hubs))


def test_a_day_listed_twice_is_worked_once() -> None:
    twice = Roster(headcount=3, shifts=[Shift(days=["Mon", "Mon", "Tue"], start="09:00",
                                              end="17:00", share=0.5)])
    schedule = roster_schedule(twice, dt.date(2025, 4, 7), 2 * 168.0)
    assert twice.staff_hours_per_week() == schedule.staff_hours(0.0, 168.0) == 2 * 2 * 8.0
    assert twice.staff_hours_per_week(headcount=5) == 3 * 2 * 8.0  # round(2.5) = 3: half up


@pytest.mark.parametrize("start, weekdays, bank", [
    (dt.date(2024, 4, 1), (0, 1, 2, 3, 4), True),
    (dt.date(2023, 12, 20), (0, 1, 2, 3, 4), False),
    (dt.date(2025, 7, 5), (1, 3, 5, 6), True),
])
def test_working_days_in_one_call_are_those_of_the_day_by_day_check(
        start: dt.date, weekdays: tuple[int, ...], bank: bool) -> None:
    """Leave's working-day weights (issue 16: vectorised) are the calendar's own days,
    bank holidays and odd working weeks included, up to the calendar's last covered day."""
    from mashsim.model.calendar import WorkingCalendar
    cal = WorkingCalendar(start, 14, day_start_hour=7.5, day_end_hour=24.0,
                          working_weekdays=weekdays, exclude_bank_holidays=bank)
    n = 400 + 14  # the calendar covers 400 days past the horizon
    got = cal.working_day_flags(n)
    want = [cal.is_working_day(start + dt.timedelta(days=d)) for d in range(n)]
    assert got.tolist() == want and 0 < got.sum() < n
    assert len(cal.working_day_flags(n + 1)) == n + 1  # the last covered day
    with pytest.raises(ValueError, match="covered range"):
        cal.working_day_flags(n + 2)
