"""Time-varying referral arrivals: a non-homogeneous Poisson (or Cox) process.

The rate is piecewise constant by clock hour (hour-of-week profile × date multipliers ×
month-of-year weight × growth), so arrival times are drawn exactly by inverting the
cumulative intensity rather than by thinning: unit-rate exponential gaps are mapped
through Λ⁻¹. This is exact, fully vectorised, and couples scenarios monotonically under
common random numbers (more demand adds referrals, it does not reshuffle them).

Referral types with their own seasonality or growth are the superposition of one
process per type: arrivals are drawn from the summed rate and each is given a type with
probability proportional to the types' rates in its hour. That is exact (no thinning,
no rejected draws) and uses the same one uniform per referral as fixed shares do.

Over-dispersion: each calendar day's rate is multiplied by a gamma variable of mean 1
and coefficient of variation `arrivals.overdispersion`, common to every hub and type (a
force-wide busy or quiet day), drawn from its own named stream so that common random
numbers hold and a scenario without it makes no extra draws.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

from mashsim.model.streams import Streams
from mashsim.scenario.schema import (
    Arrivals,
    ReferralType,
    Scenario,
    date_factors_per_day,
    month_factors,
)

__all__ = [
    "DAY_MULTIPLIER_STREAM",
    "day_multipliers",
    "draw_arrival_hours",
    "has_type_overrides",
    "hourly_rate_per_hour",
    "month_index_per_day",
    "poisson_arrival_hours",
    "type_rates_per_hour",
]

HOURS_PER_YEAR = 365.25 * 24.0
# One part, so it cannot be ("arrivals", <hub>) hashed under another name.
DAY_MULTIPLIER_STREAM = "arrivals_day_multiplier"


def month_index_per_day(start: dt.date, n_days: int) -> np.ndarray:
    """Calendar month (0 = January) of each day from `start`."""
    days = np.datetime64(start, "D") + np.arange(n_days)
    return days.astype("datetime64[M]").astype(np.int64) % 12


def hourly_rate_per_hour(
    arrivals: Arrivals, rate_per_day: float, start: dt.date, horizon_hours: float
) -> np.ndarray:
    """Expected referrals per hour for each clock hour of [0, horizon_hours).

    Demand growth compounds continuously from the run start at `growth_per_year`; the
    month-of-year weights are piecewise constant by calendar month. Force-wide settings
    only (per-type overrides: `type_rates_per_hour`); no over-dispersion (a mean).
    """
    return _rate(arrivals, rate_per_day, start, horizon_hours, arrivals.growth_per_year,
                 arrivals.month_factors)


def _rate(
    arrivals: Arrivals, rate_per_day: float, start: dt.date, horizon_hours: float,
    growth_per_year: float, months: np.ndarray | None,
) -> np.ndarray:
    n_hours = max(1, math.ceil(horizon_hours))
    base = np.full(n_hours, rate_per_day / 24.0)
    if growth_per_year:
        base *= (1.0 + growth_per_year) ** (np.arange(n_hours) / HOURS_PER_YEAR)
    if arrivals.mode == "constant":
        return base
    hours = np.arange(n_hours)
    day = hours // 24
    weekday = (start.weekday() + day) % 7
    dow = np.asarray(arrivals.day_of_week_weights, dtype=float)
    hod = np.asarray(arrivals.hour_of_day_weights, dtype=float)
    week_mean = dow.mean() * hod.mean()
    profile = dow[weekday] * hod[hours % 24] / week_mean
    n_days = int(day[-1]) + 1
    by_date = date_factors_per_day(arrivals.date_multipliers, start, n_days)
    rate = base * profile * by_date[day]
    if months is not None:
        rate *= months[month_index_per_day(start, n_days)][day]
    return rate


def has_type_overrides(types: Sequence[ReferralType]) -> bool:
    """Whether any type has its own seasonality or growth (then types vary in time)."""
    return any(t.month_of_year_weights is not None or t.growth_per_year is not None
               for t in types)


def type_rates_per_hour(
    arrivals: Arrivals, types: Sequence[ReferralType], rate_per_day: float,
    start: dt.date, horizon_hours: float,
) -> np.ndarray:
    """Expected referrals per hour of each type, (types, hours).

    Type k gets `share_k / Σ share` of `rate_per_day` (its share of the year's mean at
    the run start) shaped by its own month weights and growth where given, else the
    force-wide ones.
    """
    shares = np.array([t.share for t in types], dtype=float)
    shares /= shares.sum()
    rows = []
    for share, t in zip(shares, types, strict=True):
        growth = t.growth(arrivals)
        months = (arrivals.month_factors if t.month_of_year_weights is None
                  else month_factors(t.month_of_year_weights))
        rows.append(_rate(arrivals, rate_per_day * share, start, horizon_hours, growth, months))
    return np.vstack(rows)


def day_multipliers(cv: float, rng: np.random.Generator, n_days: int) -> np.ndarray:
    """Gamma day-level rate multipliers with mean 1 and coefficient of variation `cv`."""
    shape = 1.0 / cv**2
    return rng.gamma(shape, 1.0 / shape, n_days)


def draw_arrival_hours(
    sc: Scenario, streams: Streams, hub: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """A hub's referral creation times (sorted hours inside the run) and types' odds.

    The second value is None when every type keeps a fixed share (draw types from the
    shares); otherwise each referral's cumulative type probabilities, (n, types), from
    the types' rates in its hour.
    """
    a, types = sc.arrivals, list(sc.referral_types.values())
    args = (sc.hub_rate_per_day(hub), sc.run.start_date, sc.horizon_hours)
    by_type = None
    if has_type_overrides(types):
        by_type = type_rates_per_hour(a, types, *args)
        rate = by_type.sum(0)
    else:
        rate = hourly_rate_per_hour(a, *args)
    if a.day_cv > 0:
        day = np.arange(len(rate)) // 24
        rate = rate * day_multipliers(a.day_cv, streams.rng(DAY_MULTIPLIER_STREAM),
                                      int(day[-1]) + 1)[day]
    created = poisson_arrival_hours(streams.rng("arrivals", hub), rate)
    created = created[created < sc.horizon_hours]
    if by_type is None:
        return created, None
    hour = np.minimum(created.astype(np.int64), by_type.shape[1] - 1)
    cum = np.cumsum(by_type[:, hour].T, axis=1)
    return created, cum / cum[:, -1:]


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
