"""Issue 16: the fixed cost of a replication (set-up, records, metrics) cut, results kept.

Each shortcut is checked against the plain computation it replaced, and each memo
against leaking between scenarios: two inputs differing only in what is memoised
get their own results.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from mashsim.metrics.compute import reduce_replication, replication_metrics
from mashsim.model.calendar import WorkingCalendar, _english_bank_holidays
from mashsim.model.referrals import _cum_count
from mashsim.model.replication import replication_parts, run_replication
from mashsim.model.staffing import CapacitySchedule, roster_schedule
from mashsim.scenario.schema import DAY_NAMES, Roster, Shift
from mashsim.validation import mmc_scenario


def _roster_schedule_day_by_day(roster: Roster, start: dt.date, horizon_hours: float,
                                bank_holidays: frozenset[dt.date]) -> CapacitySchedule:
    """The expansion as it was written before issue 16: a loop over days × shifts."""
    n_days = math.ceil(horizon_hours / 24.0) + 1
    starts: list[float] = []
    deltas: list[int] = []
    for day in range(-1, n_days):
        date = start + dt.timedelta(days=day)
        if roster.skip_bank_holidays and date in bank_holidays:
            continue
        weekday = DAY_NAMES[(start.weekday() + day) % 7]
        for shift in roster.shifts:
            people = shift.people_on_duty(roster.headcount)
            if weekday in shift.days and people:
                t0 = day * 24.0 + shift.start_hours
                starts += [t0, t0 + shift.length_hours]
                deltas += [people, -people]
    if not starts:
        return CapacitySchedule(np.array([0.0]), np.array([0]))
    t = np.asarray(starts)
    order = np.argsort(t, kind="stable")
    t, level = t[order], np.cumsum(np.asarray(deltas)[order])
    last = np.append(t[1:] != t[:-1], True)
    t, level = t[last], level[last]
    c0 = int(level[t <= 0][-1]) if (t <= 0).any() else 0
    keep = (t > 0) & (t < horizon_hours)
    return CapacitySchedule(np.concatenate(([0.0], t[keep])), np.concatenate(([c0], level[keep])))


def _hhmm(minutes: int) -> str:
    return "24:00" if minutes == 24 * 60 else f"{minutes // 60:02d}:{minutes % 60:02d}"


@pytest.mark.parametrize("seed", range(4))
def test_a_roster_expanded_shift_by_shift_is_the_day_by_day_schedule(seed: int) -> None:
    """Overnight shifts, shares rounding to nobody, bank holidays skipped, a horizon
    ending mid-shift: the same change times (bit for bit) and levels."""
    rng = np.random.default_rng(seed)
    start = dt.date(2025, 1, 1) + dt.timedelta(days=int(rng.integers(0, 400)))
    holidays = frozenset(WorkingCalendar(start, 400).bank_holidays())
    for _ in range(60):
        shifts = []
        for _ in range(int(rng.integers(1, 4))):
            begin = int(rng.integers(0, 96)) * 15
            end = (begin + int(rng.integers(1, 48)) * 15) % (24 * 60) or 24 * 60
            days = list(rng.choice(DAY_NAMES, int(rng.integers(1, 8)), replace=False))
            shifts.append(Shift(days=days, start=_hhmm(begin), end=_hhmm(end),
                                share=float(rng.choice([1.0, 0.5, 0.3, 0.0]))))
        roster = Roster(headcount=int(rng.integers(0, 20)), shifts=shifts,
                        skip_bank_holidays=bool(rng.integers(0, 2)))
        horizon = float(rng.choice([1.0, 30.5, 24.0 * 119, 24.0 * 365]))
        got = roster_schedule(roster, start, horizon, holidays)
        want = _roster_schedule_day_by_day(roster, start, horizon, holidays)
        assert got.times_hours.tobytes() == want.times_hours.tobytes()
        assert got.capacity.tobytes() == want.capacity.tobytes()


def test_memoised_shift_times_are_each_shifts_own() -> None:
    """Two rosters differing only in a shift's start: each its own schedule; a bad time
    still fails after good ones were memoised."""
    early, late = (Roster(headcount=2, shifts=[Shift(days=["Mon"], start=s, end="17:00")])
                   for s in ("08:00", "09:30"))
    start = dt.date(2025, 4, 7)  # a Monday
    assert roster_schedule(early, start, 48.0).times_hours.tolist() == [0.0, 8.0, 17.0]
    assert roster_schedule(late, start, 48.0).times_hours.tolist() == [0.0, 9.5, 17.0]
    with pytest.raises(ValueError, match="HH:MM"):
        Shift(days=["Mon"], start="9:75")


def test_memoised_bank_holidays_are_each_calendars_own() -> None:
    """Two calendars differing only in their start year: each the holidays of its own
    range (as built afresh), not the other's."""
    a, b = WorkingCalendar(dt.date(2024, 4, 1), 30), WorkingCalendar(dt.date(2031, 4, 1), 30)
    for cal in (a, b, a):
        first, last = cal._first_day, cal._first_day + dt.timedelta(days=cal._n_days - 1)
        assert cal.bank_holidays() == list(_english_bank_holidays.__wrapped__(first, last))
        assert all(first <= d <= last for d in cal.bank_holidays())
    assert not set(a.bank_holidays()) & set(b.bank_holidays())


def test_counts_under_each_rows_cumulative_share_are_the_comparisons_summed() -> None:
    """Grades drawn by a search per referral type: the counts of the (n, k) comparison,
    zero weights (equal cumulative values) and several types included."""
    rng = np.random.default_rng(5)
    weights = np.array([[0.1, 0.3, 0.6], [0.0, 0.5, 0.5], [0.2, 0.0, 0.8], [1.0, 0.0, 0.0]])
    cum = np.cumsum(weights / weights.sum(1, keepdims=True), axis=1)
    u = rng.random(20_000)
    u[:3] = [0.0, 0.1, 0.5]  # on a cumulative value
    for rows in (cum[:1], cum):
        row = rng.integers(0, len(rows), len(u))
        np.testing.assert_array_equal(_cum_count(rows, row, u),
                                      (u[:, None] >= rows[row]).sum(1))


def test_one_hub_metrics_without_force_wide_buffers_are_those_of_its_records() -> None:
    """One hub copies nothing into the force-wide buffers; its metrics, the overall
    ones included, are still those of its full records."""
    sc = mmc_scenario(9.0, 1.0, 10, horizon_hours=300.0, warmup_hours=20.0)
    streamed = reduce_replication(replication_parts(sc, 2, 0), sc)
    whole = replication_metrics(run_replication(sc, 2, 0), sc)
    assert list(streamed) == list(whole) == ["overall", "mmc"]
    for scope in whole:
        assert list(streamed[scope]) == list(whole[scope])
        np.testing.assert_array_equal(list(streamed[scope].values()),
                                      list(whole[scope].values()), err_msg=scope)
