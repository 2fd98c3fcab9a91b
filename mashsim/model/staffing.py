"""Rosters → capacity schedules: how many people are on duty, and when.

A schedule is a pair of arrays (change times in hours, capacity from that time on),
computed up front from the weekly roster. Anything that varies capacity independently
of the queue (absences, vacancies) can be folded into the schedule before the run, so
the event loop only replays change points.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mashsim.model.calendar import WorkingCalendar
from mashsim.scenario.schema import DAY_NAMES, Roster, Staffing, date_factors_per_day

__all__ = ["Availability", "CapacitySchedule", "available_schedule", "merge_schedules",
           "planned_shrinkage", "roster_schedule", "simulate_availability"]


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


def roster_schedule(
    roster: Roster, start: dt.date, horizon_hours: float,
    bank_holidays: frozenset[dt.date] = frozenset(),
) -> CapacitySchedule:
    """Expand a weekly roster over [0, horizon] (shifts from the day before count).

    With `roster.skip_bank_holidays`, shifts that start on a bank holiday are not worked.
    Each shift's days are expanded as one array (a Python loop over days × shifts cost
    ≈1 ms a roster, hundreds of rosters a plan); the change times are the same floats
    (day × 24 + start, then + length) and equal times' changes are summed, so the
    schedule does not depend on the order they are listed in.
    """
    n_days = math.ceil(horizon_hours / 24.0) + 1
    days = np.arange(-1, n_days)
    weekday = (start.weekday() + days) % 7
    worked = np.ones(len(days), dtype=bool)
    if roster.skip_bank_holidays and bank_holidays:
        worked &= ~np.isin(days, [(d - start).days for d in bank_holidays])
    starts, deltas = [], []
    for shift in roster.shifts:
        people = shift.people_on_duty(roster.headcount)
        if not people:
            continue
        on = worked & np.isin(weekday, [DAY_NAMES.index(d) for d in shift.days])
        t0 = days[on] * 24.0 + shift.start_hours
        starts += [t0, t0 + shift.length_hours]
        deltas += [np.full(len(t0), people), np.full(len(t0), -people)]
    t = np.concatenate(starts) if starts else np.empty(0)
    if not len(t):
        return CapacitySchedule(np.array([0.0]), np.array([0]))
    order = np.argsort(t, kind="stable")
    t, level = t[order], np.cumsum(np.concatenate(deltas)[order])
    last_of_time = np.append(t[1:] != t[:-1], True)
    t, level = t[last_of_time], level[last_of_time]
    before = t <= 0
    c0 = int(level[before][-1]) if before.any() else 0
    keep = (t > 0) & (t < horizon_hours)
    return CapacitySchedule(np.concatenate(([0.0], t[keep])), np.concatenate(([c0], level[keep])))


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
    p_leave = (_leave_probability(leave, cal, n_days) if leave.entitlement_days_per_year > 0
               else None)
    for post in range(posts):  # a stream per post: one more post shifts no one else's days
        g = rng(f"post{post}")
        if p_leave is not None:
            at_work[post] &= g.random(n_days) >= p_leave
        if sick.episodes_per_year > 0:
            at_work[post] &= ~_sick_days(sick, n_days, g)
    fte = (at_work * productivity).sum(0) if posts else np.zeros(n_days)
    return Availability(fte=fte.astype(float), paid=filled.sum(0).astype(float),
                        headcount=posts)


def _leave_probability(leave, cal: WorkingCalendar, n_days: int) -> np.ndarray:
    year = max(n_days, 365)
    w = date_factors_per_day(leave.peaks, cal.start, year)
    working = cal.working_day_flags(365)
    per_weight = leave.entitlement_days_per_year / max(float(np.sum(w[:365] * working)), 1e-9)
    return np.minimum(1.0, w[:n_days] * per_weight)


def _sick_days(sick, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """One post's sick days; episodes may start up to 60 days before the run."""
    lead = 60
    count = rng.poisson(sick.episodes_per_year * (n_days + lead) / 365.0)
    if count == 0:
        return np.zeros(n_days, dtype=bool)
    start = rng.integers(-lead, n_days, count)
    length = np.maximum(1, np.ceil(sick.duration_days.sample(rng, count))).astype(int)
    # episodes starting minus ending on each day (bincount: np.add.at's counts, faster)
    mask = (np.bincount(np.clip(start, 0, n_days), minlength=n_days + 1)
            - np.bincount(np.clip(start + length, 0, n_days), minlength=n_days + 1))
    return np.cumsum(mask)[:n_days] > 0


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
    cuts = np.arange(0.0, horizon_hours, 24.0)
    t = np.unique(np.concatenate((base.times_hours, cuts)))
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


def merge_schedules(schedules: list[CapacitySchedule]) -> CapacitySchedule:
    """The sum of several schedules (pooled hubs)."""
    t = np.unique(np.concatenate([s.times_hours for s in schedules]))
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
