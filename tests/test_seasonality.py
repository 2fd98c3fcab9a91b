"""Seasonality, trend, over-dispersion and recurring dates in the arrival process.

Statistical checks compare a mean over independent replications (seeds) with its
configured value at Z standard errors of that mean, the standard error estimated from
the replications themselves.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from mashsim import Scenario
from mashsim.errors import ScenarioError
from mashsim.model.arrivals import (
    draw_arrival_hours,
    hourly_rate_per_hour,
    month_index_per_day,
)
from mashsim.model.calendar import WorkingCalendar
from mashsim.model.referrals import draw_referrals
from mashsim.model.streams import Streams
from mashsim.scenario.schema import date_factors_per_day
from mashsim.validation import mmc_scenario

Z = 4.0
REPS = 24
MONTHS = [1.3, 1.1, 1.0, 0.9, 0.95, 1.0, 1.2, 0.7, 0.9, 1.0, 1.05, 1.4]  # mean ≠ 1 on purpose
CV = 0.2


def _scenario(**overrides: object) -> Scenario:
    """One hub, 192 referrals a day, flat weekly profile, calendar year 2025."""
    base = mmc_scenario(8.0, 1.0, 12, 365 * 24.0, 24.0)
    return base.with_overrides({"arrivals.mode": "profile", "run.start_date": "2025-01-01",
                                **overrides})


def _daily_counts(sc: Scenario, rep: int, hub: str = "mmc") -> np.ndarray:
    created, _ = draw_arrival_hours(sc, Streams(7, rep), hub)
    return np.bincount((created // 24).astype(int), minlength=int(sc.run.duration_days))


def _within(values: np.ndarray, expected: np.ndarray | float) -> np.ndarray:
    """|mean - expected| in standard errors of the mean over the replications (axis 0)."""
    se = values.std(axis=0, ddof=1) / np.sqrt(len(values))
    return np.abs(values.mean(axis=0) - expected) / se


def test_monthly_means_and_dispersion_reproduce_the_configuration() -> None:
    sc = _scenario(**{"arrivals.month_of_year_weights": MONTHS,
                      "arrivals.overdispersion": CV})
    factors = np.asarray(MONTHS) / np.mean(MONTHS)
    month = month_index_per_day(sc.run.start_date, 365)
    mu = 192.0 * factors[month]  # expected referrals on each day
    monthly, ratio = [], []
    for rep in range(REPS):
        counts = _daily_counts(sc, rep)
        monthly.append(np.bincount(month, weights=counts, minlength=12))
        ratio.append(((counts - mu) ** 2).sum() / counts.sum())
    expected_monthly = np.bincount(month, weights=mu, minlength=12)
    assert (_within(np.array(monthly), expected_monthly) < Z).all()
    # A gamma-mixed Poisson day: variance = μ + CV² μ², so the pooled variance/mean ratio
    # is 1 + CV² Σμ²/Σμ (≈ 8.7 here, against 1 for Poisson).
    expected_ratio = 1.0 + CV**2 * (mu**2).sum() / mu.sum()
    assert _within(np.array(ratio), expected_ratio) < Z
    assert np.mean(ratio) > 5.0


def test_without_overdispersion_days_are_poisson() -> None:
    sc = _scenario(**{"arrivals.month_of_year_weights": MONTHS})
    month = month_index_per_day(sc.run.start_date, 365)
    mu = 192.0 * (np.asarray(MONTHS) / np.mean(MONTHS))[month]
    ratio = [((c - mu) ** 2).sum() / c.sum() for c in (_daily_counts(sc, r) for r in range(REPS))]
    assert _within(np.array(ratio), 1.0) < Z


def test_unset_and_neutral_values_draw_the_same_referrals(default_scenario: Scenario) -> None:
    """Explicit defaults (flat months, no over-dispersion, no recurrence) change nothing:
    no extra draws, the same referrals, the same types."""
    sc = default_scenario
    neutral = sc.with_overrides({"arrivals.month_of_year_weights": [2.0] * 12,
                                 "arrivals.overdispersion": 0.0,
                                 "arrivals.date_multipliers.0.recurring": False})
    cal = WorkingCalendar(sc.run.start_date, int(sc.run.duration_days))
    a, b = (draw_referrals(s, Streams(3, 1), cal, "reading") for s in (sc, neutral))
    assert np.array_equal(a.created, b.created)
    assert np.array_equal(a.type_idx, b.type_idx)
    assert np.array_equal(a.handling_minutes, b.handling_minutes)
    assert "month_of_year_weights" not in sc.to_dict()["arrivals"]  # unset: not dumped


def test_day_multipliers_are_common_to_hubs_and_leave_the_arrival_stream_alone() -> None:
    """One multiplier per day for the whole force, from its own stream: two hubs see the
    same busy days; the arrivals' own uniform draws are those of the Poisson run."""
    sc = _scenario(**{"arrivals.overdispersion": 0.5, "run.duration_days": 120.0})
    two = sc.to_dict()
    two["hubs"]["other"] = dict(two["hubs"]["mmc"])
    sc2 = Scenario.from_dict(two)
    a = np.array([_daily_counts(sc2, r, "mmc") for r in range(8)], dtype=float)
    b = np.array([_daily_counts(sc2, r, "other") for r in range(8)], dtype=float)
    corr = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert corr > 0.5  # Poisson noise alone would give ≈ 0
    plain = _scenario(**{"run.duration_days": 120.0})
    assert _daily_counts(plain, 0).sum() != _daily_counts(sc, 0).sum()


def test_types_follow_their_own_seasonality_and_growth() -> None:
    d = _scenario(**{"arrivals.month_of_year_weights": MONTHS,
                     "arrivals.growth_per_year": 0.0}).to_dict()
    flat = [1.0] * 12
    d["referral_types"] = {
        "children": {"share": 1.0, "month_of_year_weights": flat, "growth_per_year": 0.5},
        "domestic_abuse": {"share": 3.0},  # the force-wide months, no growth
    }
    d["run"]["duration_days"] = 730.0
    sc = Scenario.from_dict(d)
    cal = WorkingCalendar(sc.run.start_date, 730)
    month = month_index_per_day(sc.run.start_date, 730)
    factors = np.asarray(MONTHS) / np.mean(MONTHS)
    t_day = (np.arange(730) * 24 + 12.0) / (365.25 * 24)
    mu = {0: 48.0 * 1.5 ** t_day, 1: 144.0 * factors[month]}
    counts = {0: [], 1: []}
    for rep in range(12):
        r = draw_referrals(sc, Streams(5, rep), cal, "mmc")
        day = (r.created // 24).astype(int)
        for k in (0, 1):
            per_day = np.bincount(day[r.type_idx == k], minlength=730)
            counts[k].append(np.bincount(month + 12 * (np.arange(730) >= 365),
                                         weights=per_day, minlength=24))
    for k in (0, 1):
        expected = np.bincount(month + 12 * (np.arange(730) >= 365), weights=mu[k],
                               minlength=24)
        assert (_within(np.array(counts[k]), expected) < Z).all(), k


def test_hourly_rate_is_piecewise_constant_by_calendar_month() -> None:
    sc = _scenario(**{"arrivals.month_of_year_weights": MONTHS})
    rate = hourly_rate_per_hour(sc.arrivals, 24.0, dt.date(2025, 1, 30), 24 * 5)
    f = np.asarray(MONTHS) / np.mean(MONTHS)
    assert np.allclose(rate[:48], f[0]) and np.allclose(rate[48:], f[1])  # 30, 31 Jan; Feb


def test_recurring_ranges_repeat_every_year() -> None:
    sc = _scenario(**{"arrivals.date_multipliers": [
        {"start": "2025-12-24", "end": "2026-01-01", "factor": 1.5, "recurring": True}],
        "run.duration_days": 4 * 365 + 1})
    start = sc.run.start_date
    factor = date_factors_per_day(sc.arrivals.date_multipliers, start, 4 * 365 + 1)
    days = [start + dt.timedelta(days=i) for i in range(len(factor))]
    festive = np.array([(d.month == 12 and d.day >= 24) or (d.month == 1 and d.day == 1)
                        for d in days])
    assert np.all(factor[festive] == 1.5) and np.all(factor[~festive] == 1.0)
    # 1 Jan 2025 (the 2024 range), three whole Christmases, 24-31 Dec 2028 (the run's end)
    assert festive.sum() == 1 + 9 * 3 + 8


def test_recurring_leave_peaks_are_accepted_and_a_four_year_run_is_covered(
        default_scenario: Scenario) -> None:
    sc = default_scenario.with_overrides({
        "run.duration_days": 4 * 365.25, "staffing.leave.peaks": [
            {"start": "2025-07-21", "end": "2025-09-02", "factor": 1.6, "recurring": True}]})
    peaks = date_factors_per_day(sc.staffing.leave.peaks, sc.run.start_date, 1461)
    assert (peaks == 1.6).sum() == 4 * 44
    cal = WorkingCalendar(sc.run.start_date, 1461)
    christmases = [d for d in cal.bank_holidays() if (d.month, d.day) == (12, 25)]
    assert [d.year for d in christmases] == list(range(2024, 2030))  # the run ± 400 days
    assert not cal.is_working_day(dt.date(2029, 12, 25))


@pytest.mark.parametrize(("overrides", "message"), [
    ({"arrivals.month_of_year_weights": [1.0] * 11},
     "arrivals.month_of_year_weights: List should have at least 12 items"),
    ({"arrivals.month_of_year_weights": [0.0] * 12},
     "arrivals.month_of_year_weights: month_of_year_weights need a positive sum"),
    ({"arrivals.overdispersion": -0.1}, "arrivals.overdispersion: Input should be greater"),
    ({"arrivals.date_multipliers": [{"start": "2025-01-01", "end": "2026-01-01",
                                     "factor": 2.0, "recurring": True}]},
     "arrivals.date_multipliers.0: a recurring range must span less than a year"),
])
def test_bad_values_name_their_key(overrides: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        _scenario(**overrides)
    assert any(message in p for p in err.value.problems), err.value.problems
