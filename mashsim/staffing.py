"""Rosters → capacity schedules: how many people are on duty, and when.

A schedule is a pair of arrays (change times in hours, capacity from that time on),
computed up front from the weekly roster. Anything that varies capacity independently
of the queue (absences, vacancies) can be folded into the schedule before the run, so
the event loop only replays change points.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from .scenario import DAY_NAMES, Roster

__all__ = ["CapacitySchedule", "roster_schedule"]


class CapacitySchedule:
    """Piecewise-constant capacity: `capacity[i]` holds from `times_hours[i]`."""

    def __init__(self, times_hours: np.ndarray, capacity: np.ndarray) -> None:
        self.times_hours = np.asarray(times_hours, dtype=float)
        self.capacity = np.asarray(capacity, dtype=np.int64)

    def staff_hours(self, lo_hours: float, hi_hours: float) -> float:
        """Integral of capacity over [lo, hi]: rostered staff-hours."""
        edges = np.append(self.times_hours, np.inf)
        a = np.clip(edges[:-1], lo_hours, hi_hours)
        b = np.clip(edges[1:], lo_hours, hi_hours)
        return float(np.sum(self.capacity * (b - a)))

    def at(self, t_hours: np.ndarray | float) -> np.ndarray:
        """Capacity in force at each time."""
        idx = np.searchsorted(self.times_hours, t_hours, side="right") - 1
        return self.capacity[np.maximum(idx, 0)]


def _on_duty(headcount: int, share: float) -> int:
    return math.floor(headcount * share + 0.5)


def roster_schedule(roster: Roster, start: dt.date, horizon_hours: float) -> CapacitySchedule:
    """Expand a weekly roster over [0, horizon] (shifts from the day before count)."""
    n_days = math.ceil(horizon_hours / 24.0) + 1
    starts, deltas = [], []
    for day in range(-1, n_days):
        weekday = DAY_NAMES[(start.weekday() + day) % 7]
        for shift in roster.shifts:
            people = _on_duty(roster.headcount, shift.share)
            if weekday in shift.days and people:
                t0 = day * 24.0 + shift.start_hours
                starts += [t0, t0 + shift.length_hours]
                deltas += [people, -people]
    if not starts:
        return CapacitySchedule(np.array([0.0]), np.array([0]))
    t = np.asarray(starts)
    order = np.argsort(t, kind="stable")
    t, level = t[order], np.cumsum(np.asarray(deltas)[order])
    last_of_time = np.append(t[1:] != t[:-1], True)
    t, level = t[last_of_time], level[last_of_time]
    before = t <= 0
    c0 = int(level[before][-1]) if before.any() else 0
    keep = (t > 0) & (t < horizon_hours)
    return CapacitySchedule(np.concatenate(([0.0], t[keep])), np.concatenate(([c0], level[keep])))
