"""Issue 16: the fixed cost of building staff capacity cut, results kept bit for bit.

A roster's schedule and the leave shares are computed once per process and handed out
read-only; each memo is checked for hits (equal, read-only arrays) and for misses (a
roster, horizon, calendar or leave policy differing in one value gets its own result),
and each shortcut against the plain computation it replaced, with the same draws.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import pytest

from mashsim.model.calendar import WorkingCalendar
from mashsim.model.staffing import (
    CapacitySchedule,
    _leave_probability,
    _sick_days,
    _sorted_distinct,
    available_schedule,
    merge_schedules,
    roster_schedule,
    simulate_availability,
)
from mashsim.scenario.distributions import Lognormal
from mashsim.scenario.schema import (
    DateMultiplier,
    Leave,
    Recruitment,
    Roster,
    Shift,
    Sickness,
    Staffing,
    date_factors_per_day,
)

from .test_fixed_cost import _roster_schedule_day_by_day

MONDAY = dt.date(2025, 4, 7)


def _plain(s: CapacitySchedule) -> CapacitySchedule:
    """The same schedule as a plain, writeable one (nothing memoised)."""
    return CapacitySchedule(s.times_hours.copy(), s.capacity.copy())


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _read_only(*arrays: np.ndarray) -> None:
    for a in arrays:
        assert not a.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            a[0] = a[0] + 1


def test_an_equal_roster_gets_the_memoised_read_only_schedule() -> None:
    """Two equal rosters (distinct objects): equal arrays, read-only, and their hours per
    day those of the plain computation, also read-only."""
    shifts = [Shift(days=["Mon", "Tue", "Wed"], start="08:00", end="16:00"),
              Shift(days=["Sat"], start="22:00", end="06:00", share=0.5)]
    a = roster_schedule(Roster(headcount=4, shifts=shifts), MONDAY, 24.0 * 30)
    b = roster_schedule(Roster(headcount=4, shifts=list(shifts)), MONDAY, 24.0 * 30)
    _same(a.times_hours, b.times_hours)
    _same(a.capacity, b.capacity)
    _read_only(a.times_hours, a.capacity, b.times_hours, b.capacity)
    for horizon in (24.0 * 30, 24.0 * 7.5):
        want = _plain(a).hours_per_day(horizon)
        for s in (a, b, a):
            got = s.hours_per_day(horizon)
            _same(got, want)
            _read_only(got)


@pytest.mark.parametrize("change", ["headcount", "share", "start", "end", "days", "horizon",
                                    "start_weekday", "skip_bank_holidays", "holidays"])
def test_a_roster_differing_in_one_value_misses_the_memo(change: str) -> None:
    """Each value the schedule depends on is in the memo's key: after the first is
    memoised, the second is still its own (that of the day-by-day expansion)."""
    easter = dt.date(2025, 4, 21)  # Easter Monday, two weeks after MONDAY
    first = dict(headcount=4, share=1.0, start="09:00", end="17:00",
                 days=["Mon", "Tue", "Wed", "Thu", "Fri"], horizon=24.0 * 21,
                 start_date=MONDAY, skip=True, holidays=frozenset({easter}))
    second = dict(first, **{
        "headcount": dict(headcount=5), "share": dict(share=0.5), "start": dict(start="08:00"),
        "end": dict(end="18:30"), "days": dict(days=["Mon", "Sat"]),
        "horizon": dict(horizon=24.0 * 17.5), "start_weekday": dict(start_date=MONDAY
                                                                    + dt.timedelta(days=1)),
        "skip_bank_holidays": dict(skip=False), "holidays": dict(holidays=frozenset()),
    }[change])

    def build(p: dict) -> tuple[CapacitySchedule, CapacitySchedule]:
        roster = Roster(headcount=p["headcount"], skip_bank_holidays=p["skip"], shifts=[
            Shift(days=p["days"], start=p["start"], end=p["end"], share=p["share"])])
        args = (roster, p["start_date"], p["horizon"], p["holidays"])
        return roster_schedule(*args), _roster_schedule_day_by_day(*args)

    (got_a, want_a), (got_b, want_b) = build(first), build(second)
    for got, want in ((got_a, want_a), (got_b, want_b)):
        _same(got.times_hours, want.times_hours)
        _same(got.capacity, want.capacity)
    assert (got_a.times_hours.tobytes() != got_b.times_hours.tobytes()
            or got_a.capacity.tobytes() != got_b.capacity.tobytes())


def test_a_holiday_outside_the_horizon_changes_nothing() -> None:
    """Holidays are keyed by the days they skip: one beyond the run is the same schedule."""
    roster = Roster(headcount=2, skip_bank_holidays=True)
    near = roster_schedule(roster, MONDAY, 24.0 * 7, frozenset({dt.date(2025, 4, 8)}))
    far = roster_schedule(roster, MONDAY, 24.0 * 7, frozenset({dt.date(2025, 5, 26)}))
    none = roster_schedule(roster, MONDAY, 24.0 * 7)
    assert far.staff_hours(0, 168) == none.staff_hours(0, 168) == 80.0
    assert near.staff_hours(0, 168) == 64.0


def _leave_probability_plain(leave: Leave, cal: WorkingCalendar, n_days: int) -> np.ndarray:
    """The computation before issue 16's memo."""
    w = date_factors_per_day(leave.peaks, cal.start, max(n_days, 365))
    per_weight = (leave.entitlement_days_per_year
                  / max(float(np.sum(w[:365] * cal.working_day_flags(365))), 1e-9))
    return np.minimum(1.0, w[:n_days] * per_weight)


def test_leave_shares_are_memoised_read_only_and_each_policys_own() -> None:
    summer = DateMultiplier(start=dt.date(2025, 7, 21), end=dt.date(2025, 8, 29), factor=1.6,
                            label="summer")
    base = Leave(entitlement_days_per_year=27.0, peaks=[summer])
    variants = [
        (base, MONDAY, 150), (base.model_copy(update={"entitlement_days_per_year": 30.0}),
                              MONDAY, 150),
        (Leave(entitlement_days_per_year=27.0, peaks=[summer.model_copy(update={"factor": 2.0})]),
         MONDAY, 150),
        (Leave(entitlement_days_per_year=27.0, peaks=[summer.model_copy(
            update={"recurring": True})]), MONDAY, 800),
        (base, MONDAY, 30), (base, dt.date(2026, 4, 6), 150),
    ]
    week = (0, 1, 2, 3, 4)
    calendars = [dict(working_weekdays=week)] * len(variants) + [
        dict(working_weekdays=(0, 1, 2, 3)), dict(working_weekdays=week,
                                                  exclude_bank_holidays=False)]
    variants += [(base, MONDAY, 150)] * 2  # the first, on other working days
    got = []
    for (leave, start, n_days), kw in 2 * list(zip(variants, calendars, strict=True)):
        cal = WorkingCalendar(start, n_days + 2, **kw)  # the second time round: memo hits
        shares = _leave_probability(leave, cal, n_days)
        _same(shares, _leave_probability_plain(leave, cal, n_days))
        _read_only(shares)
        got.append(shares.tobytes())
    assert len(set(got)) == len(variants)
    relabelled = Leave(entitlement_days_per_year=27.0,
                       peaks=[summer.model_copy(update={"label": "other"})])
    cal = WorkingCalendar(MONDAY, 152)
    assert _leave_probability(relabelled, cal, 150) is _leave_probability(base, cal, 150)


def _sick_days_counted(sick: Sickness, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """The count per day (bincount, cumsum) before issue 16."""
    lead = 60
    count = rng.poisson(sick.episodes_per_year * (n_days + lead) / 365.0)
    if count == 0:
        return np.zeros(n_days, dtype=bool)
    start = rng.integers(-lead, n_days, count)
    length = np.maximum(1, np.ceil(sick.duration_days.sample(rng, count))).astype(int)
    mask = (np.bincount(np.clip(start, 0, n_days), minlength=n_days + 1)
            - np.bincount(np.clip(start + length, 0, n_days), minlength=n_days + 1))
    return np.cumsum(mask)[:n_days] > 0


@pytest.mark.parametrize("n_days", [1, 8, 151])
def test_sick_days_by_slices_are_the_counted_days_with_the_same_draws(n_days: int) -> None:
    """Episodes before the run, past its end and overlapping: the same days, and the
    stream left at the same state (the next draw equal)."""
    sick = Sickness(episodes_per_year=40.0, duration_days=Lognormal(median=5.0, sigma=1.2))
    for seed in range(200):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        _same(_sick_days(sick, n_days, a), _sick_days_counted(sick, n_days, b))
        assert a.random() == b.random()


def _availability_plain(roster: Roster, staffing: Staffing, cal: WorkingCalendar, n_days: int,
                        rng: Callable[[str], np.random.Generator]) -> tuple[np.ndarray, ...]:
    """`simulate_availability` before issue 16 (fte, paid)."""
    posts = roster.headcount
    filled = np.ones((posts, n_days), dtype=bool)
    productivity = np.ones((posts, n_days))
    vacant = min(roster.vacant_posts, posts)
    rec = staffing.recruitment
    if vacant:
        filled[posts - vacant:] = False
        if rec.enabled:
            starts = np.ceil(rec.lead_time_days.sample(rng("recruitment"), vacant)).astype(int)
            for k, day in enumerate(starts):
                row = posts - vacant + k
                filled[row, day:] = True
                productivity[row, day:day + math.ceil(rec.training_period_days)] = (
                    rec.new_starter_productivity)
    at_work = filled.copy()
    leave, sick = staffing.leave, staffing.sickness
    p_leave = (_leave_probability_plain(leave, cal, n_days)
               if leave.entitlement_days_per_year > 0 else None)
    for post in range(posts):
        g = rng(f"post{post}")
        if p_leave is not None:
            at_work[post] &= g.random(n_days) >= p_leave
        if sick.episodes_per_year > 0:
            at_work[post] &= ~_sick_days_counted(sick, n_days, g)
    fte = (at_work * productivity).sum(0) if posts else np.zeros(n_days)
    return fte.astype(float), filled.sum(0).astype(float)


@pytest.mark.parametrize("leave,sick,recruit", [(27.0, 6.0, False), (27.0, 6.0, True),
                                                (0.0, 6.0, False), (27.0, 0.0, True),
                                                (0.0, 0.0, False)])
@pytest.mark.parametrize("headcount,vacancies", [(0, 0), (1, 0), (9, 2), (12, 5)])
def test_availability_is_that_of_the_plain_computation(leave: float, sick: float,
                                                       recruit: bool, headcount: int,
                                                       vacancies: int) -> None:
    staffing = Staffing(
        leave=Leave(entitlement_days_per_year=leave, peaks=[DateMultiplier(
            start=dt.date(2025, 7, 21), end=dt.date(2025, 8, 29), factor=1.6)]),
        sickness=Sickness(episodes_per_year=sick),
        recruitment=Recruitment(enabled=recruit, new_starter_productivity=0.3,
                                training_period_days=20.0,
                                lead_time_days={"dist": "uniform", "low": 0, "high": 60}))
    roster = Roster(headcount=headcount, vacancies=vacancies)
    n_days = 120
    cal = WorkingCalendar(MONDAY, n_days)
    for seed in range(3):
        def rng(name: str, seed: int = seed) -> np.random.Generator:
            return np.random.default_rng([seed, *name.encode()])
        got = simulate_availability(roster, staffing, cal, n_days, rng)
        want_fte, want_paid = _availability_plain(roster, staffing, cal, n_days, rng)
        _same(got.fte, want_fte)
        _same(got.paid, want_paid)


def test_schedules_built_on_a_memoised_roster_are_those_of_a_plain_one() -> None:
    """available_schedule and merge_schedules read a read-only schedule as a writeable
    copy of it (their distinct change times are `np.unique`'s)."""
    roster = Roster(headcount=6, shifts=[Shift(days=["Mon", "Tue", "Wed", "Thu", "Fri"],
                                               start="07:30", end="15:30"),
                                         Shift(days=["Fri", "Sat"], start="20:00", end="04:00")])
    horizon = 24.0 * 40 + 5.0
    base = roster_schedule(roster, MONDAY, horizon)
    staffing = Staffing(sickness=Sickness(episodes_per_year=8.0))
    n_days = math.ceil(horizon / 24.0) + 1
    avail = simulate_availability(roster, staffing, WorkingCalendar(MONDAY, n_days), n_days,
                                  lambda name: np.random.default_rng(list(name.encode())))
    got = available_schedule(base, avail, 0.1, horizon, np.random.default_rng(4))
    want = available_schedule(_plain(base), avail, 0.1, horizon, np.random.default_rng(4))
    for a, b in zip(got[1:], want[1:], strict=True):
        _same(a, b)
    _same(got[0].times_hours, want[0].times_hours)
    _same(got[0].capacity, want[0].capacity)
    times = np.unique(np.concatenate((base.times_hours, np.arange(0.0, horizon, 24.0))))
    _same(got[0].times_hours, times[times < horizon])
    merged = merge_schedules([base, got[0], _plain(base)])
    _same(merged.times_hours, np.unique(np.concatenate((base.times_hours,
                                                        got[0].times_hours))))


def test_sorted_distinct_is_unique() -> None:
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 50):
        t = rng.integers(0, 10, n) * 1.5
        _same(_sorted_distinct(t.copy()), np.unique(t))
    t = np.array([3.0, -0.0, 0.0, 3.0, -0.0])
    _same(_sorted_distinct(t.copy()), np.unique(t))
