"""Fitting seasonality, growth and over-dispersion: `simulate-log` → `fit` recovers them.

The end-to-end test runs the model for two years on a small always-staffed hub (≈1 s);
the estimator's own checks draw daily counts directly from the negative-binomial model
the arrival process implies.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from mashsim import Scenario, load_scenario
from mashsim.calibrate.eventlog import epoch_hours
from mashsim.calibrate.fit import fit_event_log, fit_profile
from mashsim.calibrate.fit_seasonal import fit_seasonal, month_of_epoch_days
from mashsim.cli import main
from mashsim.validation import mmc_scenario

MONTHS = [1.3, 1.1, 1.0, 0.9, 0.95, 1.0, 1.2, 0.7, 0.9, 1.0, 1.05, 1.4]
TRUE_MONTHS = np.asarray(MONTHS) / np.mean(MONTHS)
CV, GROWTH = 0.15, 0.05


def _truth() -> Scenario:
    """One hub, 192 referrals a day (more with growth), 14 people on duty around the clock;
    two years logged after a two-week warm-up."""
    sc = mmc_scenario(8.0, 1.0, 14, (730 + 14) * 24.0, 14 * 24.0)
    return sc.with_overrides({
        "arrivals.mode": "profile", "run.start_date": "2023-12-18",
        "arrivals.day_of_week_weights": [1.2, 1.1, 1.0, 1.0, 1.0, 0.8, 0.9],
        "arrivals.month_of_year_weights": MONTHS, "arrivals.overdispersion": CV,
        "arrivals.growth_per_year": GROWTH})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, dict, Path]:
    folder = tmp_path_factory.mktemp("seasonal")
    truth = _truth()
    truth.to_toml(folder / "truth.toml")
    assert main(["simulate-log", str(folder / "truth.toml"), "--out", str(folder / "log.csv"),
                 "--seed", "4"]) == 0
    res = fit_event_log(folder / "log.csv", truth)  # what `mashsim fit` runs and writes
    res.scenario.to_toml(folder / "fitted.toml")
    return load_scenario(folder / "fitted.toml"), res.summary, folder


def test_two_years_give_back_month_weights_and_overdispersion(fitted) -> None:
    sc, summary, _ = fitted
    weights = np.asarray(sc.arrivals.month_of_year_weights)
    assert np.all(np.abs(weights / TRUE_MONTHS - 1.0) < 0.10)
    seasonal = summary["arrivals"]["diagnostics"]["seasonal"]
    low, high = seasonal["overdispersion_ci"]
    assert low <= CV <= high
    assert sc.arrivals.overdispersion == pytest.approx(seasonal["overdispersion"], rel=1e-3)
    glow, ghigh = seasonal["growth_ci"]
    assert glow <= GROWTH <= ghigh
    assert np.all(np.array(seasonal["ci_low"]) < weights)
    assert np.all(weights < np.array(seasonal["ci_high"]))


def test_fitted_rate_is_the_run_starts(fitted) -> None:
    """Growth compounds from the run start, which is warm-up days before the log: the
    fitted referrals_per_day is the rate there, not the log's mean."""
    sc, summary, _ = fitted
    assert sc.run.start_date == dt.date(2023, 12, 18)
    days = 730
    se = np.sqrt(192.0 * (1 + CV**2 * 192.0) / days)  # of a two-year mean daily rate
    assert abs(sc.arrivals.referrals_per_day - 192.0) < 4 * se * 2  # ×2: growth's error
    assert "not_estimated" not in summary["arrivals"]["diagnostics"]


def _counts(seed: int, n_days: int, cv: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d0 = int(epoch_hours(dt.date(2024, 1, 1)) // 24)
    days = np.arange(d0, d0 + n_days)
    dow = (days + 3) % 7
    years = (days - d0 + 0.5) / 365.25
    mu = 150.0 * TRUE_MONTHS[month_of_epoch_days(days)] * (1 + GROWTH) ** years
    rng = np.random.default_rng(seed)
    mult = rng.gamma(1 / cv**2, cv**2, n_days) if cv else np.ones(n_days)
    return rng.poisson(mu * mult).astype(float), days, dow


def test_intervals_cover_the_truth_at_their_level() -> None:
    """Over 40 simulated two-year logs, the 95 % intervals of the over-dispersion and of
    the month weights cover the truth about 95 % of the time (binomial bounds at 4 sd)."""
    n = 40
    cv_cover = month_cover = 0.0
    for seed in range(n):
        obs, days, dow = _counts(seed, 730, CV)
        r = fit_seasonal(obs, days, dow, [])
        cv_cover += r["overdispersion_ci"][0] <= CV <= r["overdispersion_ci"][1]
        month_cover += np.mean((np.array(r["ci_low"]) <= TRUE_MONTHS)
                               & (np.array(r["ci_high"]) >= TRUE_MONTHS))
    sd = np.sqrt(0.95 * 0.05 / n)
    assert abs(cv_cover / n - 0.95) < 4 * sd
    assert abs(month_cover / n - 0.95) < 4 * sd


def test_poisson_counts_give_overdispersion_near_zero() -> None:
    obs, days, dow = _counts(1, 730, 0.0)
    r = fit_seasonal(obs, days, dow, [])
    assert r["overdispersion_ci"][0] == 0.0  # the interval reaches 0
    assert r["overdispersion"] < 0.05


def test_a_short_log_says_what_it_could_not_estimate(tmp_path: Path) -> None:
    base = _truth()
    obs, days, _ = _counts(2, 200, CV)
    how = np.zeros((7, 24), dtype=np.int64)
    how[:, 12] = np.bincount((days + 3) % 7, weights=obs, minlength=7).astype(np.int64)
    prof = fit_profile(how, dict(zip(days.tolist(), obs.astype(int).tolist(), strict=True)),
                       base)
    assert "seasonal" not in prof.diagnostics
    (note,) = prof.diagnostics["not_estimated"]
    assert "arrivals.month_of_year_weights" in note and "200 days" in note


def test_fit_command_prints_the_intervals(fitted, capsys: pytest.CaptureFixture) -> None:
    _, _, folder = fitted
    assert main(["fit", str(folder / "log.csv"), "--base", str(folder / "truth.toml"),
                 "--out", str(folder / "again.toml")]) == 0
    out = capsys.readouterr().out
    assert "month_of_year_weights (Jan..Dec): " in out
    assert "growth_per_year +" in out and "overdispersion 0.1" in out and "95% CI" in out
