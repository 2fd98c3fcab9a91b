"""Maximum-likelihood fits of delay and handling-time distributions, chosen by AIC.

The candidates are the families a scenario can express (`mashsim.distributions`):
exponential, gamma, lognormal (all with location 0), triangular and uniform. Each is
fitted by maximum likelihood with scipy.stats; right-censored observations (an officer
assessment not yet submitted when the log was extracted) enter the likelihood through
the survival function. The family with the lowest AIC is kept if a Kolmogorov–Smirnov
test does not reject it at `alpha`; otherwise the fit falls back to the empirical
distribution (quantiles of the data), because resampling the data beats a wrong shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, stats

__all__ = ["FAMILIES", "DistributionFit", "FamilyFit", "fit_distribution", "frozen",
           "truncated_cdf"]

FAMILIES = ("exponential", "gamma", "lognormal", "triangular", "uniform")
_POSITIVE = ("gamma", "lognormal")  # density 0 or infinite at 0: need values > 0
EMPIRICAL_POINTS = 1000


@dataclass
class FamilyFit:
    family: str
    table: dict[str, Any]  # the scenario's distribution table
    loglik: float
    k: int

    @property
    def aic(self) -> float:
        return 2.0 * self.k - 2.0 * self.loglik


@dataclass
class DistributionFit:
    """The chosen distribution for one quantity, and how it was chosen."""

    quantity: str
    unit: str
    n: int
    n_censored: int
    table: dict[str, Any]
    candidates: list[FamilyFit] = field(default_factory=list)
    ks_statistic: float = math.nan
    ks_pvalue: float = math.nan
    gof_n: int = 0
    fallback: bool = False
    note: str = ""
    values: np.ndarray = field(default_factory=lambda: np.empty(0))  # the GOF sample
    truncated_at: float = math.inf  # the GOF sample is the distribution below this

    def to_dict(self) -> dict[str, Any]:
        table = dict(self.table)
        if table.get("dist") == "empirical":
            table["values"] = f"<{len(table['values'])} quantiles>"
        return {
            "quantity": self.quantity, "unit": self.unit, "n": self.n,
            "n_censored": self.n_censored, "chosen": table, "fallback": self.fallback,
            "ks_statistic": _r(self.ks_statistic), "ks_pvalue": _r(self.ks_pvalue),
            "gof_n": self.gof_n, "gof_truncated_at": _r(self.truncated_at),
            "note": self.note,
            "candidates": [{"family": c.family, "aic": _r(c.aic), "loglik": _r(c.loglik),
                            "params": c.table} for c in self.candidates],
        }


def _r(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(f"{x:.6g}")


def _sig(x: float) -> float:
    return float(f"{x:.6g}")


def frozen(table: dict[str, Any]) -> Any:
    """A scipy frozen distribution equal to a scenario table (None for empirical/fixed)."""
    d = table["dist"]
    if d == "exponential":
        return stats.expon(scale=table["mean"])
    if d == "gamma":
        return stats.gamma(table["shape"], scale=table["scale"])
    if d == "lognormal":
        return stats.lognorm(table["sigma"], scale=table["median"])
    if d == "triangular":
        lo, mode, hi = table["min"], table["mode"], table["max"]
        return stats.triang((mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
    if d == "uniform":
        return stats.uniform(loc=table["low"], scale=table["high"] - table["low"])
    return None


def truncated_cdf(table: dict[str, Any], t_max: float = math.inf) -> Any:
    """The CDF of a table's distribution conditional on a value <= t_max."""
    f = frozen(table)
    top = 1.0 if not math.isfinite(t_max) else float(f.cdf(t_max))
    return lambda v: np.minimum(f.cdf(v) / top, 1.0)


# Each family: scipy args from the data (uncensored MLE), args → table, free-arg mask.
def _start(family: str, x: np.ndarray) -> tuple[float, ...]:
    if family == "exponential":
        return stats.expon.fit(x, floc=0)
    if family == "gamma":
        return stats.gamma.fit(x, floc=0)
    if family == "lognormal":
        return stats.lognorm.fit(x, floc=0)
    if family == "uniform":
        return stats.uniform.fit(x)
    c, loc, scale = stats.triang.fit(x)
    if loc < 0:  # the scenario needs min >= 0
        c, loc, scale = stats.triang.fit(x, floc=0)
    return c, loc, scale


_SCIPY = {"exponential": stats.expon, "gamma": stats.gamma, "lognormal": stats.lognorm,
          "triangular": stats.triang, "uniform": stats.uniform}
_K = {"exponential": 1, "gamma": 2, "lognormal": 2, "triangular": 3, "uniform": 2}


def _table(family: str, args: Sequence[float]) -> dict[str, Any]:
    if family == "exponential":
        return {"dist": "exponential", "mean": _sig(args[1])}
    if family == "gamma":
        return {"dist": "gamma", "shape": _sig(args[0]), "scale": _sig(args[2])}
    if family == "lognormal":
        return {"dist": "lognormal", "median": _sig(args[2]), "sigma": _sig(args[0])}
    if family == "uniform":
        return {"dist": "uniform", "low": _sig(max(args[0], 0.0)),
                "high": _sig(args[0] + args[1])}
    c, loc, scale = args
    lo, hi = max(loc, 0.0), loc + scale
    return {"dist": "triangular", "min": _sig(lo), "mode": _sig(min(max(loc + c * scale, lo),
                                                                    hi)), "max": _sig(hi)}


def _loglik(family: str, args: Sequence[float], x: np.ndarray, cens: np.ndarray) -> float:
    d = _SCIPY[family]
    with np.errstate(all="ignore"):
        ll = float(np.sum(d.logpdf(x, *args)))
        if cens.size:
            ll += float(np.sum(d.logsf(cens, *args)))
    return ll if math.isfinite(ll) else -math.inf


def _censored_mle(family: str, args: tuple[float, ...], x: np.ndarray,
                  cens: np.ndarray) -> tuple[float, ...]:
    """Refine the uncensored MLE with the censored likelihood (Nelder–Mead, log scale)."""
    if family in ("exponential", "gamma", "lognormal"):
        free = [i for i in range(len(args)) if i != len(args) - 2]  # loc fixed at 0

        def unpack(theta: np.ndarray) -> tuple[float, ...]:
            a = list(args)
            for i, t in zip(free, theta, strict=True):
                a[i] = math.exp(t)
            return tuple(a)

        theta0 = np.log([args[i] for i in free])
    else:
        def unpack(theta: np.ndarray) -> tuple[float, ...]:
            return tuple(theta)

        theta0 = np.asarray(args, dtype=float)

    def nll(theta: np.ndarray) -> float:
        try:
            a = unpack(theta)
        except OverflowError:
            return math.inf
        ll = _loglik(family, a, x, cens)
        return -ll if math.isfinite(ll) else 1e300

    res = optimize.minimize(nll, theta0, method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 4000})
    return unpack(res.x)


def _empirical(x: np.ndarray) -> dict[str, Any]:
    k = min(len(x), EMPIRICAL_POINTS)
    q = np.quantile(x, (np.arange(k) + 0.5) / k)
    return {"dist": "empirical", "values": [_sig(max(v, 0.0)) for v in q]}


def fit_distribution(
    values: np.ndarray,
    quantity: str,
    unit: str,
    censor_at: np.ndarray | None = None,
    families: Sequence[str] = FAMILIES,
    alpha: float = 0.01,
) -> DistributionFit:
    """Fit `values` (NaN = right-censored at `censor_at`, same length) and choose a family.

    Without `censor_at`, NaNs are dropped. The goodness-of-fit test uses the units whose
    censoring time is past the fitted 99.9 % quantile, so censoring cannot bias it.
    """
    values = np.asarray(values, dtype=float)
    observed = np.isfinite(values)
    x = values[observed]
    cens = np.empty(0)
    c_all = None
    if censor_at is not None:
        c_all = np.asarray(censor_at, dtype=float)
        cens = c_all[~observed]
        cens = cens[np.isfinite(cens) & (cens > 0)]
    out = DistributionFit(quantity, unit, n=len(x), n_censored=len(cens), table={})
    if len(x) == 0:
        raise ValueError(f"{quantity}: no observed values")
    if np.ptp(x) == 0 and cens.size == 0:
        out.table = {"dist": "fixed", "value": _sig(float(x[0]))}
        out.note = "every value is the same"
        out.values = x
        return out
    for fam in families:
        if fam in _POSITIVE and x.min() <= 0:
            continue
        try:
            args = _start(fam, x)
            if cens.size:
                args = _censored_mle(fam, args, x, cens)
        except (ValueError, RuntimeError, FloatingPointError):
            continue
        ll = _loglik(fam, args, x, cens)
        if math.isfinite(ll):
            out.candidates.append(FamilyFit(fam, _table(fam, args), ll, _K[fam]))
    out.candidates.sort(key=lambda c: c.aic)
    gof = x
    excluded = [f for f in families if f in _POSITIVE and x.min() <= 0]
    note = f"{', '.join(excluded)} left out: values of 0 or less. " if excluded else ""
    if out.candidates and c_all is not None and cens.size:
        # Units followed for at least t_max show every value <= t_max: an exact sample
        # of the distribution truncated at t_max, whatever the censoring.
        t_max = float(min(frozen(out.candidates[0].table).ppf(0.99),
                          np.quantile(c_all, 0.5)))
        sub = values[(c_all >= t_max) & observed]
        sub = sub[sub <= t_max]
        if len(sub) >= 50:
            gof, out.truncated_at = sub, t_max
            note += f"goodness of fit tested below {t_max:.4g} {unit} (censoring). "
    out.values = gof
    if out.candidates:
        best = out.candidates[0]
        ks = stats.kstest(gof, truncated_cdf(best.table, out.truncated_at))
        out.ks_statistic, out.ks_pvalue, out.gof_n = float(ks.statistic), float(ks.pvalue), len(gof)
        if ks.pvalue >= alpha:
            out.table = best.table
            out.note = note + f"{best.family} has the lowest AIC; KS does not reject it"
            return out
        note += (f"best family {best.family} (lowest AIC) is rejected by KS "
                 f"(D={ks.statistic:.3g}, p={ks.pvalue:.2g} < {alpha}); ")
    out.fallback = True
    out.table = _empirical(gof)
    out.note = note + "empirical distribution of the data used instead"
    return out
