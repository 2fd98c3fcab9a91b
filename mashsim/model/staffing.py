"""Rosters → capacity schedules: how many people are on duty, and when.

A schedule is a pair of arrays (change times in hours, capacity from that time on),
computed up front from the weekly roster. Anything that varies capacity independently
of the queue (absences, vacancies) can be folded into the schedule before the run, so
the event loop only replays change points.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mashsim.model.calendar import WorkingCalendar
from mashsim.scenario.schema import DAY_NAMES, Roster, Staffing, date_factors_per_day

__all__ = ["Availability", "CapacitySchedule", "FrozenSchedule", "available_schedule",
           "merge_schedules", "planned_shrinkage", "roster_schedule", "simulate_availability"]


class CapacitySchedule:
    """Piecewise-constant capacity: `capacity[i]` holds from `times_hours[i]`."""

    def __init__(self, times_hours: np.ndarray, capacity: np.ndarray) -> None:
        self.times_hours = np.asarray(times_hours, dtype=float)
        self.capacity = np.asarray(capacity, dtype=np.int64)

    def staff_hours(self, lo_hours: float, hi_hours: float) -> float:
        """Integral of capacity over [lo, hi]: rostered staff-hours."""
        lo, hi = self.cumulative_hours(np.array([lo_hours, max(lo_hours, hi_hours)]))
        return float(hi - lo)

    def hours_per_day(self, horizon_hours: float) -> np.ndarray:
        """Staff-hours in each day of [0, horizon] (the last day may be partial)."""
        edges = np.append(np.arange(0.0, horizon_hours, 24.0), horizon_hours)
        return np.diff(self.cumulative_hours(edges))

    def cumulative_hours(self, t_hours: np.ndarray) -> np.ndarray:
        """∫₀ᵗ capacity for each t (vectorised): staff-hours per interval by differences."""
        t = np.asarray(t_hours, dtype=float)
        widths = np.diff(self.times_hours)
        cum = np.concatenate(([0.0], np.cumsum(self.capacity[:-1] * widths)))
        idx = np.maximum(np.searchsorted(self.times_hours, t, side="right") - 1, 0)
        return cum[idx] + self.capacity[idx] * np.maximum(t - self.times_hours[idx], 0.0)

    def at(self, t_hours: np.ndarray | float) -> np.ndarray:
        """Capacity in force at each time."""
        idx = np.searchsorted(self.times_hours, t_hours, side="right") - 1
        return self.capacity[np.maximum(idx, 0)]


class FrozenSchedule(CapacitySchedule):
    """A schedule whose arrays are read-only, so what is derived from them can be kept:
    `roster_schedule` hands the same one to every replication of a process, and each
    asks for its staff-hours per day (≈30 µs a time)."""

    def __init__(self, times_hours: np.ndarray, capacity: np.ndarray) -> None:
        super().__init__(np.array(times_hours, dtype=float), np.array(capacity, dtype=np.int64))
        self.times_hours.flags.writeable = False
        self.capacity.flags.writeable = False
        self._hours_per_day: dict[float, np.ndarray] = {}

    def hours_per_day(self, horizon_hours: float) -> np.ndarray:
        """As `CapacitySchedule.hours_per_day`, computed once per horizon (read-only)."""
        hours = self._hours_per_day.get(horizon_hours)
        if hours is None:
            hours = super().hours_per_day(horizon_hours)
            hours.flags.writeable = False
            if len(self._hours_per_day) < 4:  # the run's horizon; rarely another
                self._hours_per_day[horizon_hours] = hours
        return hours


# A shift as the expansion sees it: (people on duty, start hour, length in hours, weekdays).
ShiftKey = tuple[int, float, float, tuple[int, ...]]


def roster_schedule(
    roster: Roster, start: dt.date, horizon_hours: float,
    bank_holidays: frozenset[dt.date] = frozenset(),
) -> CapacitySchedule:
    """Expand a weekly roster over [0, horizon] (shifts from the day before count).

    With `roster.skip_bank_holidays`, shifts that start on a bank holiday are not worked.
    The schedule depends only on the shifts' people, times and weekdays, the start's
    weekday, the horizon and the skipped holidays' day numbers: it is expanded once per
    process for those values (`_expanded`, memoised; every replication of a scenario asks
    again) and handed out read-only (`FrozenSchedule`), so no caller can change it.
    """
    n_days = math.ceil(horizon_hours / 24.0) + 1
    skipped: tuple[int, ...] = ()
    if roster.skip_bank_holidays and bank_holidays:
        skipped = tuple(sorted(day for day in ((d - start).days for d in bank_holidays)
                               if -1 <= day < n_days))
    shifts: list[ShiftKey] = []
    for shift in roster.shifts:
        people = shift.people_on_duty(roster.headcount)
        if people:
            weekdays = tuple(sorted({DAY_NAMES.index(d) for d in shift.days}))
            shifts.append((people, shift.start_hours, shift.length_hours, weekdays))
    return _expanded(tuple(shifts), start.weekday(), float(horizon_hours), skipped)


# A plan's candidate rosters × a few horizons; ≈15 kB a year-long roster's schedule.
@functools.lru_cache(maxsize=256)
def _expanded(shifts: tuple[ShiftKey, ...], start_weekday: int, horizon_hours: float,
              skipped_days: tuple[int, ...]) -> FrozenSchedule:
    """The weekly shifts expanded over [0, horizon] (day -1 included), less skipped days.

    Each shift's days are expanded as one array (a Python loop over days × shifts cost
    ≈1 ms a roster, hundreds of rosters a plan); the change times are the same floats
    (day × 24 + start, then + length) and equal times' changes are summed, so the
    schedule does not depend on the order they are listed in.
    """
    n_days = math.ceil(horizon_hours / 24.0) + 1
    days = np.arange(-1, n_days)
    weekday = (start_weekday + days) % 7
    worked = np.ones(len(days), dtype=bool)
    worked[np.asarray(skipped_days, dtype=np.int64) + 1] = False  # day -1 is index 0
    starts, deltas = [], []
    for people, start_hours, length_hours, weekdays in shifts:
        on_weekday = np.zeros(7, dtype=bool)
        on_weekday[list(weekdays)] = True
        t0 = days[worked & on_weekday[weekday]] * 24.0 + start_hours
        starts += [t0, t0 + length_hours]
        deltas += [np.full(len(t0), people), np.full(len(t0), -people)]
    t = np.concatenate(starts) if starts else np.empty(0)
    if not len(t):
        return FrozenSchedule(np.array([0.0]), np.array([0]))
    order = np.argsort(t, kind="stable")
    t, level = t[order], np.cumsum(np.concatenate(deltas)[order])
    last_of_time = np.append(t[1:] != t[:-1], True)
    t, level = t[last_of_time], level[last_of_time]
    before = t <= 0
    c0 = int(level[before][-1]) if before.any() else 0
    keep = (t > 0) & (t < horizon_hours)
    return FrozenSchedule(np.concatenate(([0.0], t[keep])), np.concatenate(([c0], level[keep])))


@dataclass
class Availability:
    """Who of a roster's posts is at work, by day: the result of vacancies and absences.

    Arrays are indexed by day from the run start. `fte` counts people at work weighted by
    productivity (new starters count less); `paid` counts filled posts.
    """

    fte: np.ndarray
    paid: np.ndarray
    headcount: int

    def fraction(self) -> np.ndarray:
        """Share of the full roster actually available each day."""
        if self.headcount == 0:
            return np.zeros_like(self.fte)
        return self.fte / self.headcount


def simulate_availability(
    roster: Roster, staffing: Staffing, cal: WorkingCalendar, n_days: int,
    rng: Callable[[str], np.random.Generator],
) -> Availability:
    """Draw vacancies filled, leave and sickness for each post and day (`rng(name)` streams).

    Leave: each post is away on day d with probability entitlement × w_d / Σ w over the
    working days of the year from the start, where w_d multiplies the `peaks` covering d.
    Sickness: Poisson episodes per post, each lasting a drawn number of calendar days.
    Each post draws from its own stream (`rng("post<k>")`), so common random numbers hold
    across headcounts.
    """
    posts = roster.headcount
    filled = np.ones((posts, n_days), dtype=bool)
    vacant = min(roster.vacant_posts, posts)
    rec = staffing.recruitment
    # weights by post and day: only where new starters (counting less than 1) may join
    productivity = np.ones((posts, n_days)) if vacant and rec.enabled else None
    if vacant:
        filled[posts - vacant:] = False
        if productivity is not None:
            starts = np.ceil(rec.lead_time_days.sample(rng("recruitment"), vacant)).astype(int)
            for k, day in enumerate(starts):
                row = posts - vacant + k
                filled[row, day:] = True
                productivity[row, day:day + math.ceil(rec.training_period_days)] = (
                    rec.new_starter_productivity)
    at_work = filled.copy()
    leave, sick = staffing.leave, staffing.sickness
    p_leave = (_leave_probability(leave, cal, n_days) if leave.entitlement_days_per_year > 0
               else None)
    sick_too = sick.episodes_per_year > 0
    for post in range(posts if p_leave is not None or sick_too else 0):
        g = rng(f"post{post}")  # a stream per post: one more post shifts no one else's days
        if p_leave is not None:
            at_work[post] &= g.random(n_days) >= p_leave
        if sick_too:
            _clear_sick_days(at_work[post], sick, n_days, g)
    if not posts:
        fte = np.zeros(n_days)
    elif productivity is not None:  # a weighted sum
        fte = (at_work * productivity).sum(0)
    else:  # every weight 1: the same whole numbers counted as integers (exact either way)
        fte = at_work.sum(0)
    return Availability(fte=fte.astype(float), paid=filled.sum(0).astype(float),
                        headcount=posts)


# (entitlement, peaks without labels, start, days, the year's working days) → shares
LeaveKey = tuple[float, tuple[tuple[dt.date, dt.date, float, bool], ...], dt.date, int, bytes]
_LEAVE_SHARES: dict[LeaveKey, np.ndarray] = {}
_LEAVE_SHARES_MAX = 256  # a plan's scenarios share one leave policy; a few calendars


def _leave_probability(leave, cal: WorkingCalendar, n_days: int) -> np.ndarray:
    """Each day's chance a post is on leave: the same for every post and replication of a
    scenario, so computed once per process for the values it depends on (read-only)."""
    working = cal.working_day_flags(365)
    key: LeaveKey = (leave.entitlement_days_per_year,
                     tuple((m.start, m.end, m.factor, bool(m.recurring)) for m in leave.peaks),
                     cal.start, n_days, working.tobytes())
    shares = _LEAVE_SHARES.get(key)
    if shares is None:
        shares = _leave_shares(leave, cal.start, working, n_days)
        shares.flags.writeable = False
        if len(_LEAVE_SHARES) >= _LEAVE_SHARES_MAX:
            _LEAVE_SHARES.clear()
        _LEAVE_SHARES[key] = shares
    return shares


def _leave_shares(leave, start: dt.date, working: np.ndarray, n_days: int) -> np.ndarray:
    year = max(n_days, 365)
    w = date_factors_per_day(leave.peaks, start, year)
    per_weight = leave.entitlement_days_per_year / max(float(np.sum(w[:365] * working)), 1e-9)
    return np.minimum(1.0, w[:n_days] * per_weight)


def _sick_days(sick, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """One post's sick days; episodes may start up to 60 days before the run."""
    away = np.zeros(n_days, dtype=bool)
    _mark_sick_days(away, sick, n_days, rng, True)
    return away


def _clear_sick_days(at_work: np.ndarray, sick, n_days: int,
                     rng: np.random.Generator) -> None:
    """`at_work &= ~_sick_days(...)` in place, with the same draws."""
    _mark_sick_days(at_work, sick, n_days, rng, False)


def _mark_sick_days(days: np.ndarray, sick, n_days: int, rng: np.random.Generator,
                    value: bool) -> None:
    """Set `days` to `value` on each drawn episode's days [start, start + length) within
    the run. Episodes are few (a handful a post): a slice each is ≈5× faster than the
    counts (bincount, cumsum) per day that gave the same days."""
    lead = 60
    count = rng.poisson(sick.episodes_per_year * (n_days + lead) / 365.0)
    if count == 0:
        return
    start = rng.integers(-lead, n_days, count)
    length = np.maximum(1, np.ceil(sick.duration_days.sample(rng, count))).astype(int)
    for first, days_long in zip(start.tolist(), length.tolist(), strict=True):
        days[max(first, 0):min(max(first + days_long, 0), n_days)] = value


def available_schedule(
    base: CapacitySchedule, availability: Availability, abstraction_share: float,
    horizon_hours: float, rng: np.random.Generator,
) -> tuple[CapacitySchedule, np.ndarray, np.ndarray]:
    """The roster scaled by each day's availability and abstractions, in whole people.

    Returns the schedule and, per day, the paid staff-hours (roster × filled posts) and
    the available staff-hours (the schedule's), from which realised shrinkage follows.
    Fractions are rounded stochastically (floor + Bernoulli of the remainder), so the
    expected capacity is exact even for hubs of two or three people.
    """
    n_days = len(availability.fte)
    t = _sorted_distinct(np.concatenate((base.times_hours, _day_starts(horizon_hours))))
    t = t[t < horizon_hours]
    level = base.at(t).astype(float)
    day = np.minimum((t // 24).astype(int), n_days - 1)
    frac = availability.fraction()[day] * (1.0 - abstraction_share)
    want = level * frac
    whole = np.floor(want)
    people = (whole + (rng.random(len(t)) < want - whole)).astype(np.int64)
    sched = CapacitySchedule(t, people)
    roster_hours = base.hours_per_day(horizon_hours)
    avail_hours = sched.hours_per_day(horizon_hours)
    paid_share = (availability.paid[: len(roster_hours)] / availability.headcount
                  if availability.headcount else np.zeros(len(roster_hours)))
    return sched, roster_hours * paid_share, avail_hours


@functools.lru_cache(maxsize=64)
def _day_starts(horizon_hours: float) -> np.ndarray:
    """0, 24, 48, ... below the horizon (read-only: shared by every call)."""
    cuts = np.arange(0.0, horizon_hours, 24.0)
    cuts.flags.writeable = False
    return cuts


def _sorted_distinct(t: np.ndarray) -> np.ndarray:
    """`np.unique(t)` for floats without NaN (change times), sorting `t` in place as
    `unique` sorts its copy: the same array, without `unique`'s ≈10 µs of Python a call."""
    t.sort()
    return t[np.concatenate(([True], t[1:] != t[:-1]))] if len(t) else t


def merge_schedules(schedules: list[CapacitySchedule]) -> CapacitySchedule:
    """The sum of several schedules (pooled hubs)."""
    t = _sorted_distinct(np.concatenate([s.times_hours for s in schedules]))
    return CapacitySchedule(t, np.sum([s.at(t) for s in schedules], axis=0))


def planned_shrinkage(staffing: Staffing, working_days_per_year: float = 252.0) -> float:
    """Expected share of filled posts' rostered time lost to leave, sickness, abstractions.

    Leave: entitlement ÷ working days a year (its seasonal profile moves it, not its
    total); sickness: episodes × mean length in calendar days ÷ 365. The three combine
    multiplicatively, as independent reasons to be away.
    """
    leave = min(1.0, staffing.leave.entitlement_days_per_year / working_days_per_year)
    sick = staffing.sickness
    sick_share = min(1.0, sick.episodes_per_year * sick.duration_days.mean / 365.0)
    return 1.0 - (1.0 - leave) * (1.0 - sick_share) * (1.0 - staffing.abstraction_share)
