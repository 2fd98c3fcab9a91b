"""The engine against queueing theory: Erlang C and Little's law on the M/M/c case.

Each statistical check asserts that theory lies inside a confidence interval built from
independent replications. With several checks per run, each uses a 99.9 % interval
(Bonferroni over ≤ 50 checks keeps the family-wise false-alarm rate ≤ 5 %), and each
also requires the interval to be narrow, so that agreement is not bought with noise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mashsim import simulate
from mashsim.validation import erlang_c, mmc_scenario, servers_needed

LEVEL = 0.999


def _ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and half-width of a Student-t interval at LEVEL."""
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + LEVEL / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(half), float(x.std(ddof=1) / math.sqrt(x.size))


# ------------------------------------------------------------------ formulas


def test_mm1_closed_forms() -> None:
    e = erlang_c(0.5, 1.0, 1)
    assert e.p_wait == pytest.approx(0.5)
    assert e.mean_wait_hours == pytest.approx(0.5 / (1.0 - 0.5))
    assert e.p_wait_over(2.0) == pytest.approx(0.5 * math.exp(-0.5 * 2.0))


def test_erlang_c_textbook_value() -> None:
    # 10 agents, 9 Erlangs: C(10, 9) = 0.6687 (standard Erlang C tables)
    e = erlang_c(9.0, 1.0, 10)
    assert e.p_wait == pytest.approx(0.66873, abs=5e-5)
    assert e.mean_wait_hours == pytest.approx(e.p_wait / (10 - 9))
    assert e.p_wait_over(0.0) == pytest.approx(e.p_wait)


def test_erlang_c_is_stable_for_large_c() -> None:
    e = erlang_c(950.0, 1.0, 1000)
    assert 0.0 < e.p_wait < 1.0


def test_erlang_c_rejects_unstable_load() -> None:
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(10.0, 1.0, 10)


def test_servers_needed_is_the_smallest_meeting_the_target() -> None:
    c = servers_needed(9.0, 1.0, wait_hours=0.5, max_p_wait_over=0.2)
    assert erlang_c(9.0, 1.0, c).p_wait_over(0.5) <= 0.2
    assert c == 10 or erlang_c(9.0, 1.0, c - 1).p_wait_over(0.5) > 0.2


# ------------------------------------------------------------------ simulation vs theory

CASES = [  # (arrival rate /h, service rate /h, servers, horizon h, warm-up h)
    (0.5, 1.0, 1, 5_000.0, 200.0),
    (4.0, 1.0, 5, 4_000.0, 200.0),
    (9.0, 1.0, 10, 4_000.0, 300.0),
    (19.0, 1.0, 20, 3_000.0, 300.0),
]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"c={c[2]},rho={c[0] / c[2]:.2f}")
def mmc_run(request: pytest.FixtureRequest):
    lam, mu, c, horizon, warmup = request.param
    res = simulate(mmc_scenario(lam, mu, c, horizon, warmup), replications=12, seed=2024)
    return erlang_c(lam, mu, c), res.metrics_frame().query("hub == 'overall'"), lam


def test_mean_wait_agrees_with_erlang_c(mmc_run) -> None:
    theory, frame, _ = mmc_run
    mean, half, _ = _ci(frame["staff_wait_hours_mean"])
    assert abs(mean - theory.mean_wait_hours) <= half
    assert half <= 0.25 * theory.mean_wait_hours  # the check has power


@pytest.mark.parametrize("threshold", [1.0, 4.0])
def test_tail_probability_agrees_with_erlang_c(mmc_run, threshold: float) -> None:
    theory, frame, _ = mmc_run
    mean, half, _ = _ci(frame[f"staff_wait_over_{threshold:g}h"])
    assert abs(mean - theory.p_wait_over(threshold)) <= half + 1e-4
    assert half <= 0.05


def test_utilisation_agrees_with_offered_load(mmc_run) -> None:
    theory, frame, _ = mmc_run
    mean, half, _ = _ci(frame["staff_utilisation"])
    assert abs(mean - theory.utilisation) <= half


def test_littles_law_on_the_outputs(mmc_run) -> None:
    """L = λW: backlog_mean (everything in the system, integrated over the window) against
    the window's arrival rate × their mean time in the system. Not an exact per-replication
    identity (the warm-up's carry-over counts in L, the window's open referrals are cut at
    the end), so the paired difference must be zero within its CI; and L against theory."""
    theory, frame, _ = mmc_run
    *_, horizon, warmup = next(case for case in CASES if case[2] == theory.servers)
    window_hours = horizon - warmup
    rate_per_hour = frame["referrals_arrived"] / window_hours
    diff = frame["backlog_mean"] - rate_per_hour * frame["time_in_mash_hours_mean"]
    mean, half, _ = _ci(diff)
    assert abs(mean) <= half
    assert abs(mean) <= 0.02 * theory.mean_in_system  # and small: a 2 % bias at most
    mean, half, _ = _ci(frame["backlog_mean"])
    assert abs(mean - theory.mean_in_system) <= half


def test_rho_095_single_long_run_mean_wait() -> None:
    """Heavy traffic (ρ = 0.95, c = 2): slow to mix, so a long warm-up and horizon."""
    res = simulate(mmc_scenario(1.9, 1.0, 2, 40_000.0, 2_000.0), replications=8, seed=5)
    frame = res.metrics_frame().query("hub == 'overall'")
    mean, half, _ = _ci(frame["staff_wait_hours_mean"])
    theory = erlang_c(1.9, 1.0, 2).mean_wait_hours
    assert abs(mean - theory) <= half
    assert half <= 0.25 * theory


def test_fraction_intervals_stay_inside_zero_and_one() -> None:
    from mashsim.experiment.replications import confidence_interval
    from mashsim.metrics.compute import metric_bounds

    ci = confidence_interval([0.0, 0.0, 0.3], bounds=metric_bounds("sd_breach_72h"))
    assert ci["ci_low"] == 0.0 and ci["mean"] == pytest.approx(0.1)
    assert ci["mean"] < ci["ci_high"] <= 1.0
    assert confidence_interval([0.0, 0.0, 0.3])["ci_low"] < 0  # unbounded: plain Student t
    assert metric_bounds("backlog_mean") == (0.0, math.inf)
    assert metric_bounds("staff_wait_over_4h") == (0.0, 1.0)
