"""Time-varying referral arrivals: a non-homogeneous Poisson process.

The rate is piecewise constant by clock hour (hour-of-week profile × date
multipliers), so arrival times are drawn exactly by inverting the cumulative
intensity rather than by thinning: unit-rate exponential gaps are mapped through
Λ⁻¹. This is exact, fully vectorised, and couples scenarios monotonically under
common random numbers (more demand adds referrals, it does not reshuffle them).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from mashsim.scenario.schema import Arrivals, date_factors_per_day

__all__ = ["hourly_rate_per_hour", "poisson_arrival_hours"]

HOURS_PER_YEAR = 365.25 * 24.0


def hourly_rate_per_hour(
    arrivals: Arrivals, rate_per_day: float, start: dt.date, horizon_hours: float
) -> np.ndarray:
    """Expected referrals per hour for each clock hour of [0, horizon_hours).

    Demand growth compounds continuously from the run start at `growth_per_year`.
    """
    n_hours = max(1, math.ceil(horizon_hours))
    base = np.full(n_hours, rate_per_day / 24.0)
    if arrivals.growth_per_year:
        base *= (1.0 + arrivals.growth_per_year) ** (np.arange(n_hours) / HOURS_PER_YEAR)
    if arrivals.mode == "constant":
        return base
    hours = np.arange(n_hours)
    day = hours // 24
    weekday = (start.weekday() + day) % 7
    dow = np.asarray(arrivals.day_of_week_weights, dtype=float)
    hod = np.asarray(arrivals.hour_of_day_weights, dtype=float)
    week_mean = dow.mean() * hod.mean()
    profile = dow[weekday] * hod[hours % 24] / week_mean
    by_date = date_factors_per_day(arrivals.date_multipliers, start, int(day[-1]) + 1)
    return base * profile * by_date[day]


def poisson_arrival_hours(rng: np.random.Generator, rate_per_hour: np.ndarray) -> np.ndarray:
    """Sorted arrival times (hours) of a Poisson process with hourly piecewise rates."""
    cum = np.concatenate(([0.0], np.cumsum(rate_per_hour)))
    total = float(cum[-1])
    if total <= 0:
        return np.empty(0)
    chunks, reached = [], 0.0
    while reached <= total:
        n = int(total - reached + 4.0 * math.sqrt(total - reached + 1.0)) + 16
        s = reached + np.cumsum(rng.exponential(1.0, n))
        chunks.append(s)
        reached = float(s[-1])
    s = np.concatenate(chunks)
    s = s[s < total]
    idx = np.searchsorted(cum, s, side="right") - 1
    return idx + (s - cum[idx]) / rate_per_hour[idx]
