"""The one Student-t interval and the one CI formatter."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from mashsim.stats import (
    fixed,
    format_ci,
    half_width,
    mean_ci,
    paired_difference_ci,
    prediction_interval,
    relative_half_width,
)


def test_mean_ci_is_the_textbook_t_interval_cut_to_bounds() -> None:
    x = [0.0, 0.0, 0.3, math.nan, None]
    ci = mean_ci(x, bounds=(0.0, 1.0))
    half = sps.t.ppf(0.975, 2) * np.std([0, 0, 0.3], ddof=1) / math.sqrt(3)
    assert ci["mean"] == pytest.approx(0.1)
    assert ci["ci_low"] == 0.0 and ci["ci_high"] == pytest.approx(0.1 + half)
    assert mean_ci([0.0, 0.0, 0.3])["ci_low"] == pytest.approx(0.1 - half)
    assert mean_ci([2.0]) == {"mean": 2.0, "ci_low": None, "ci_high": None}
    assert mean_ci([]) == {"mean": None, "ci_low": None, "ci_high": None}


def test_half_width_is_the_same_for_scalars_and_arrays() -> None:
    sd, n = np.array([1.0, 2.0, 3.0, 1.0]), np.array([5, 10, 2, 1])
    band = half_width(sd, n)
    assert [half_width(s, k) for s, k in zip(sd[:3], n[:3], strict=True)] == list(band[:3])
    assert math.isnan(band[3])  # one value: no interval
    x = np.array([3.0, 5.0, 4.0, 8.0])
    assert relative_half_width(x) == half_width(x.std(ddof=1), 4) / x.mean()


def test_paired_difference_and_prediction_band() -> None:
    a, b = np.array([1.0, 2.0, 3.0, math.nan]), np.array([1.5, 2.4, 3.6, 9.0])
    d = paired_difference_ci(a, b)
    assert d["mean"] == pytest.approx(0.5)  # the NaN pair is skipped
    x = [1.0, 2.0, 3.0, 4.0]
    lo, hi = prediction_interval(x)
    half = sps.t.ppf(0.975, 3) * np.std(x, ddof=1) * math.sqrt(1 + 1 / 4)
    assert (lo, hi) == pytest.approx((2.5 - half, 2.5 + half))
    assert prediction_interval(x, bounds=(0.0, 3.0))[1] == 3.0
    assert all(math.isnan(v) for v in prediction_interval([1.0]))


def test_ci_covers_the_true_mean_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    trials, n = 4000, 5
    hits = sum(c["ci_low"] <= 10.0 <= c["ci_high"]
               for c in (mean_ci(rng.normal(10.0, 3.0, n)) for _ in range(trials)))
    # 99.9 % binomial interval around 0.95 for 4000 trials: ± 3.29·√(0.95·0.05/4000)
    assert abs(hits / trials - 0.95) < 3.29 * math.sqrt(0.95 * 0.05 / trials)


def test_format_ci_forms() -> None:
    ci = {"mean": 0.617, "ci_low": 0.494, "ci_high": 0.74}
    assert format_ci(ci, fixed(1), form="half", scale=100.0,
                     half_number=lambda h: f"{h:.{1 if h < 10 else 0}f}") == "61.7 ±12"
    assert format_ci(ci, fixed(0), scale=100.0, unit=" %") == "62 % [49–74]"
    diff = {"mean": 0.043, "ci_low": 0.035, "ci_high": 0.052}
    signed = format_ci(diff, lambda x: f"{x:+.1f}", scale=100.0, sep=" to ")
    assert signed == "+4.3 [+3.5 to +5.2]"
    assert format_ci({"mean": None, "ci_low": None, "ci_high": None}) == "n/a"
    assert format_ci({"mean": math.nan, "ci_low": 1.0, "ci_high": 2.0}) == "n/a"
    assert format_ci({"mean": 2.0, "ci_low": math.nan, "ci_high": None}, form="half") == "2.0"
