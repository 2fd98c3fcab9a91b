"""The one Student-t interval and the one "mean with its CI" formatter.

Every interval mashsim prints — a metric's CI across replications, a paired difference, a
backlog band, a backtest's prediction band, a precision target's half-width — is
`t(0.5 + level/2, n − 1) · sd / √n` from `half_width`, so they cannot drift apart. A
utility beneath every layer: it knows nothing of metrics (callers pass bounds and scale).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from scipy import special

__all__ = [
    "UNBOUNDED",
    "f_quantile",
    "fixed",
    "format_ci",
    "half_width",
    "mean_ci",
    "paired_difference_ci",
    "prediction_interval",
    "relative_half_width",
    "t_quantile",
    "usable",
]

UNBOUNDED = (-math.inf, math.inf)


def usable(values: Iterable[float | None]) -> np.ndarray:
    """The values that carry data: None and NaN (a replication with no data) dropped."""
    return np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)


def t_quantile(n: Any, level: float = 0.95) -> Any:
    """The two-sided Student-t quantile for a mean of n values (n − 1 degrees of freedom,
    at least 1). `scipy.special.stdtrit`, what `scipy.stats.t.ppf` computes, without
    importing scipy.stats (half a second of every command's start)."""
    return special.stdtrit(np.maximum(np.asarray(n, dtype=float) - 1, 1), 0.5 + level / 2.0)


def f_quantile(q: float, dfn: float, dfd: float) -> Any:
    """The F distribution's quantile (`scipy.special.fdtri`, what `scipy.stats.f.ppf`
    computes), without importing scipy.stats."""
    return special.fdtri(dfn, dfd, q)


def half_width(sd: Any, n: Any, level: float = 0.95) -> Any:
    """Student-t CI half-width t·sd/√n of a mean of n values (NaN where n < 2).

    Scalars give a float; arrays (a band over days) give an array, element by element.
    """
    count = np.asarray(n, dtype=float)
    q = t_quantile(count, level)
    out = np.where(count > 1, q * np.asarray(sd, dtype=float) / np.sqrt(count), np.nan)
    return float(out) if out.ndim == 0 else out


def mean_ci(values: Iterable[float | None], level: float = 0.95,
            bounds: tuple[float, float] = UNBOUNDED) -> dict[str, float | None]:
    """{"mean", "ci_low", "ci_high"} across replications; NaN replications are skipped.

    With fewer than two usable values the interval is unknown (None). `bounds` is the
    range the quantity can take (a fraction: 0–1): the interval is cut to it, which keeps
    its coverage and spares readers a "−10 %" breach rate.
    """
    x = usable(values)
    if x.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None}
    mean = float(x.mean())
    if x.size < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None}
    half = half_width(x.std(ddof=1), x.size, level)
    lo, hi = bounds
    return {"mean": mean, "ci_low": max(lo, mean - half), "ci_high": min(hi, mean + half)}


def paired_difference_ci(base: Any, other: Any, level: float = 0.95) -> dict[str, float | None]:
    """CI of the mean of other − base taken replication by replication (common random
    numbers make it much narrower than the two CIs suggest); NaN pairs are skipped."""
    return mean_ci(np.asarray(other, dtype=float) - np.asarray(base, dtype=float), level)


def prediction_interval(values: Iterable[float | None], level: float = 0.95,
                        bounds: tuple[float, float] = UNBOUNDED) -> tuple[float, float]:
    """Where one more value (an observed history) should fall: mean ± t·sd·√(1 + 1/n),
    cut to `bounds`; (NaN, NaN) with fewer than two usable values."""
    x = usable(values)
    if x.size < 2:
        return math.nan, math.nan
    half = t_quantile(x.size, level) * x.std(ddof=1) * math.sqrt(1 + 1 / x.size)
    return max(bounds[0], x.mean() - half), min(bounds[1], x.mean() + half)


def relative_half_width(values: np.ndarray, level: float = 0.95) -> float:
    """CI half-width / |mean| over the non-NaN values; 0 for no spread, inf if undefined.

    A series with no values at all (a metric that never applies) does not constrain n.
    """
    x = values[~np.isnan(values)]
    if x.size == 0:
        return 0.0
    if x.size < 2:
        return math.inf
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return 0.0
    mean = abs(float(x.mean()))
    if mean == 0.0:
        return math.inf
    return half_width(sd, x.size, level) / mean


# -- text ------------------------------------------------------------------------------


def fixed(decimals: int) -> Callable[[float], str]:
    """A number with a fixed count of decimals."""
    return lambda x: f"{x:.{decimals}f}"


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def format_ci(ci: Mapping[str, Any], number: Callable[[float], str] | None = None, *,
              form: str = "range", scale: float = 1.0, unit: str = "", sep: str = "–",
              half_number: Callable[[float], str] | None = None) -> str:
    """A mean and its CI as text, in one of two forms:

    "half": "34.4 ±0.3" (mean ± half-width, `half_number` for the half if given);
    "range": "34.4 [34.1–34.7]" (`sep` between the bounds; `unit` follows the mean).

    `number` writes one value (default: one decimal). Values are multiplied by `scale`
    (100 for a fraction shown in %). A missing mean is "n/a"; a missing interval leaves
    the mean alone.
    """
    mean: Any = ci.get("mean")
    lo: Any = ci.get("ci_low")
    hi: Any = ci.get("ci_high")
    if _missing(mean):
        return "n/a"
    number = number or fixed(1)
    text = number(float(mean) * scale) + unit
    if _missing(lo) or _missing(hi):
        return text
    if form == "half":
        half = (float(hi) - float(lo)) * scale / 2
        return f"{text} ±{(half_number or number)(half)}"
    return f"{text} [{number(float(lo) * scale)}{sep}{number(float(hi) * scale)}]"
