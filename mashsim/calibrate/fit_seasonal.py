"""Seasonality, trend and over-dispersion of daily referral counts (`mashsim fit`, ≥ 12 months).

The scenario's arrival model says the expected count on day d is

    μ_d = λ · a_dow(d) · w_month(d) · (1 + G)^t_d · Π factor_j (date multipliers covering d)

and, with over-dispersion, the count is Poisson given a gamma day multiplier of mean 1 and
coefficient of variation c: a negative binomial with variance μ + c² μ² (NB2). So the
fit is a log-linear negative-binomial regression of the daily counts on day of week,
calendar month (piecewise constant, as the model applies it), time in years (log growth)
and one indicator per base date multiplier the log covers, by iteratively reweighted
least squares. c² is estimated by the method of moments on the NB2 variance,
Σ[(y − μ̂)²/(1 − h) − y] / Σ μ̂² (h: leverage, so fitting the profile does not eat the
variance), alternating with the regression; its confidence interval is from a sandwich
(robust) standard error. The month weights' and growth's intervals are Wald intervals from
the NB2 information matrix (delta method for the weights, normalised to mean 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["CONFIDENCE", "SEASONAL_MIN_DAYS", "fit_seasonal", "month_of_epoch_days"]

SEASONAL_MIN_DAYS = 365  # every calendar month seen at least once
CONFIDENCE = 0.95
DAYS_PER_YEAR = 365.25  # the model's year (mashsim.model.arrivals.HOURS_PER_YEAR / 24)
_ROUNDS = 3  # regression ↔ dispersion alternations (converges in two)


def month_of_epoch_days(days: np.ndarray) -> np.ndarray:
    """Calendar month (0 = January) of days counted from 1970-01-01."""
    dates = np.datetime64("1970-01-01", "D") + np.asarray(days, dtype=np.int64)
    return dates.astype("datetime64[M]").astype(np.int64) % 12


def _design(days: np.ndarray, dow: np.ndarray, comps: list[dict[str, Any]]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Columns: intercept, Tue..Sun, Feb..Dec, years since the first day, multipliers."""
    month = month_of_epoch_days(days)
    years = (days - days[0] + 0.5) / DAYS_PER_YEAR
    cols = [np.ones(len(days))]
    cols += [(dow == k).astype(float) for k in range(1, 7)]
    cols += [(month == k).astype(float) for k in range(1, 12)]
    cols.append(years)
    cols += [c["mask"].astype(float) for c in comps]
    return np.column_stack(cols), years


def _irls(x: np.ndarray, y: np.ndarray, alpha: float, beta: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """NB2 (Poisson at alpha 0) log-linear fit; returns coefficients and X'WX."""
    ridge = 1e-9 * np.eye(x.shape[1])  # a multiplier that no day separates stays at 1
    info = ridge
    for _ in range(100):
        mu = np.exp(x @ beta)
        w = mu / (1.0 + alpha * mu)
        info = x.T @ (w[:, None] * x) + ridge
        step = np.linalg.solve(info, x.T @ (w * (y - mu) / mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta, info


def _dispersion(x: np.ndarray, y: np.ndarray, mu: np.ndarray, alpha: float,
                info: np.ndarray) -> tuple[float, float]:
    """Method-of-moments NB2 α = c² with its sandwich standard error."""
    w = mu / (1.0 + alpha * mu)
    lev = w * np.einsum("ij,ji->i", x, np.linalg.solve(info, x.T))
    sq = (y - mu) ** 2 / np.maximum(1.0 - lev, 1e-6)
    denom = float((mu**2).sum())
    est = float((sq - y).sum()) / denom
    se = math.sqrt(float(((sq - y - est * mu**2) ** 2).sum())) / denom
    return est, se


def _month_weights(beta: np.ndarray, cov: np.ndarray, z: float) -> dict[str, list[float]]:
    """Weights normalised to mean 1 with delta-method intervals (January is the base)."""
    b = np.concatenate(([0.0], beta))
    cov12 = np.zeros((12, 12))
    cov12[1:, 1:] = cov
    w = np.exp(b) / np.exp(b).mean()
    jac = np.diag(w) - np.outer(w, w) / 12.0
    sd = np.sqrt(np.maximum(np.diag(jac @ cov12 @ jac.T), 0.0))
    return {"month_of_year_weights": w.tolist(), "ci_low": (w - z * sd).tolist(),
            "ci_high": (w + z * sd).tolist()}


def fit_seasonal(obs: np.ndarray, days: np.ndarray, dow: np.ndarray,
                 comps: list[dict[str, Any]]) -> dict[str, Any]:
    """Fit month weights, growth and over-dispersion to daily counts (≥ 12 months).

    `days`: consecutive epoch days; `dow`: their weekday (Mon = 0); `comps`: the base
    date multipliers the log covers (their `factor` is refitted in place). Returns the
    estimates with intervals, plus `rate_at_first_day`, `day_of_week` (mean 1) and
    `day_factor` such that the expected count on each day is λ · a[dow] · day_factor.
    """
    x, years = _design(days, dow, comps)
    y = np.asarray(obs, dtype=float)
    beta = np.zeros(x.shape[1])
    beta[0] = math.log(max(y.mean(), 1e-9))
    alpha, alpha_se = 0.0, 0.0
    info = np.eye(x.shape[1])
    for _ in range(_ROUNDS):
        beta, info = _irls(x, y, max(alpha, 0.0), beta)
        alpha, alpha_se = _dispersion(x, y, np.exp(x @ beta), max(alpha, 0.0), info)
    cov = np.linalg.inv(info)
    mu = np.exp(x @ beta)
    z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
    dow_b = np.concatenate(([0.0], beta[1:7]))
    a = np.exp(dow_b) / np.exp(dow_b).mean()
    months = _month_weights(beta[7:18], cov[7:18, 7:18], z)
    m_b = np.concatenate(([0.0], beta[7:18]))
    g, g_se = float(beta[18]), math.sqrt(float(cov[18, 18]))
    for k, c in enumerate(comps):
        c["factor"] = math.exp(float(beta[19 + k]))
    month_b = beta[7:18]
    wald = float(month_b @ np.linalg.solve(cov[7:18, 7:18], month_b))
    w = np.asarray(months["month_of_year_weights"])
    day_factor = w[month_of_epoch_days(days)] * np.exp(g * years)
    for c in comps:
        day_factor[c["mask"]] *= c["factor"]
    cv_lo, cv_hi = (math.sqrt(max(0.0, alpha + s * z * alpha_se)) for s in (-1, 1))
    return {
        "rate_at_first_day": math.exp(beta[0]) * np.exp(dow_b).mean() * np.exp(m_b).mean(),
        "day_of_week": a, "day_factor": day_factor,
        **months,
        "growth_per_year": math.expm1(g),
        "growth_ci": [math.expm1(g - z * g_se), math.expm1(g + z * g_se)],
        "growth_p": float(2 * stats.norm.sf(abs(g) / g_se)),
        "months_p": float(stats.chi2.sf(wald, 11)),
        "overdispersion": math.sqrt(max(alpha, 0.0)),
        "overdispersion_ci": [cv_lo, cv_hi],
        "variance_to_mean_ratio": float(1.0 + max(alpha, 0.0) * (mu**2).sum() / mu.sum()),
        "confidence": CONFIDENCE,
        "days": len(days),
        "method": ("negative-binomial (NB2) log-linear regression of daily counts on day "
                   "of week, calendar month, years and date multipliers (IRLS); "
                   "over-dispersion by the method of moments on the NB2 variance with a "
                   "sandwich interval; Wald intervals for months and growth"),
    }
