"""Global sensitivity of one metric to scenario inputs: Morris screening or Sobol indices.

Each `--vary KEY=LOW:HIGH` is one input, uniform on its range. SALib lays out the points
(Morris trajectories, or Saltelli's sample for Sobol), each point is the scenario with
those values set (`Scenario.with_overrides`, the `--set` rule), and each point runs the
same replications with the same seed (common random numbers: an input that cannot touch
the metric moves it by exactly nothing). The metric is the force-wide mean over those
replications. Morris ranks by mu* (mean absolute elementary effect, with its bootstrap
CI) and sigma (interaction or non-linearity); Sobol by ST (total effect) beside S1 (first
order), both with bootstrap CIs. SALib: Herman & Usher, JOSS 2017.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mashsim.errors import ScenarioError
from mashsim.experiment.runner import ReplicationRunner
from mashsim.experiment.shared_hubs import run_points
from mashsim.metrics.compute import metric_names
from mashsim.scenario.schema import Scenario
from mashsim.scenario.uncertain import get_path

__all__ = [
    "METHODS",
    "REPORT_TRAJECTORIES",
    "Vary",
    "check_inputs",
    "design",
    "parse_vary",
    "run_sensitivity",
    "top_inputs",
]

Method = Literal["morris", "sobol"]
METHODS: tuple[Method, ...] = ("morris", "sobol")
MORRIS_LEVELS = 4  # grid levels of a Morris trajectory (the usual choice, p = 4)
RANK_BY = {"morris": "mu_star", "sobol": "ST"}
REPORT_TRAJECTORIES = 6  # `report --sensitivity`: a screening, points = 6 × (inputs + 1)


@dataclass(frozen=True)
class Vary:
    """One input varied over [low, high]: a dotted scenario path as `--set` takes."""

    key: str
    low: float
    high: float

    @property
    def text(self) -> str:
        return f"{self.key}={self.low:g}:{self.high:g}"


def parse_vary(text: str, flag: str = "--vary") -> Vary:
    """'KEY=LOW:HIGH' → Vary; a ScenarioError naming the argument otherwise."""
    key, sep, rest = text.partition("=")
    low, colon, high = rest.partition(":")
    try:
        if not (sep and colon and key.strip()):
            raise ValueError
        lo, hi = float(low), float(high)
    except ValueError:
        raise ScenarioError([f"{flag} {text}: expected KEY=LOW:HIGH, e.g. "
                             "arrivals.referrals_per_day=150:210"]) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ScenarioError([f"{flag} {text}: {key.strip()}: needs finite LOW < HIGH"])
    return Vary(key.strip(), lo, hi)


def check_inputs(sc: Scenario, varies: Sequence[Vary], metric: str,
                 flag: str = "--vary") -> None:
    """Each key is a number of the scenario valid at both ends; the metric exists; no key
    twice. Every problem in one ScenarioError, each naming its argument."""
    problems = []
    if metric not in metric_names(sc):
        problems.append(f"--metric {metric}: unknown metric (see mashsim run --list-metrics)")
    keys = [v.key for v in varies]
    problems += [f"{flag} {k}: given twice" for k in sorted(set(keys)) if keys.count(k) > 1]
    if not varies:
        problems.append(f"{flag}: give at least one KEY=LOW:HIGH")
    data = sc.to_dict()
    for v in varies:
        try:
            value = get_path(data, v.key)
        except (KeyError, IndexError, ValueError, TypeError):
            problems.append(f"{flag} {v.text}: {v.key}: no such key in the scenario")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{flag} {v.text}: {v.key}: not a number the scenario holds")
            continue
        if isinstance(value, int) and not (v.low.is_integer() and v.high.is_integer()):
            problems.append(f"{flag} {v.text}: {v.key}: takes whole numbers")
            continue
        for end in (v.low, v.high):
            try:
                sc.with_overrides({v.key: end}, source=f"{flag} {v.text}")
            except ScenarioError as err:
                problems += err.problems
                break
    if problems:
        raise ScenarioError(problems)


def _problem(varies: Sequence[Vary]) -> dict[str, Any]:
    return {"num_vars": len(varies), "names": [v.key for v in varies],
            "bounds": [[v.low, v.high] for v in varies]}


def design(varies: Sequence[Vary], method: Method, n: int, seed: int) -> np.ndarray:
    """The points to run, one row each (columns in `varies` order)."""
    problem = _problem(varies)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, N=n, num_levels=MORRIS_LEVELS, seed=seed)
    from SALib.sample import sobol

    with warnings.catch_warnings():  # SALib's own note on convergence; n is checked here
        warnings.simplefilter("ignore")
        return sobol.sample(problem, N=n, calc_second_order=False, seed=seed)


def _point(sc: Scenario, varies: Sequence[Vary], row: np.ndarray) -> Scenario:
    base = sc.to_dict()
    values: dict[str, Any] = {}
    for v, x in zip(varies, row, strict=True):
        values[v.key] = round(float(x)) if isinstance(get_path(base, v.key), int) else float(x)
    return sc.with_overrides(values, source="sensitivity point")


def run_sensitivity(sc: Scenario, varies: Sequence[Vary], metric: str, runner: ReplicationRunner,
                    method: Method = "morris", n: int = 10, replications: int = 2,
                    seed: int = 1) -> dict[str, Any]:
    """Run the design on `runner` and analyse it: the JSON that `mashsim sensitivity`
    prints, inputs ranked most influential first."""
    check_inputs(sc, varies, metric)
    x = design(varies, method, n, seed)
    points = [_point(sc, varies, row) for row in x]
    runs = run_points(points, seed, range(replications), runner)  # hubs shared: run once
    values = np.array([[run.metrics["overall"][metric] for run in point] for point in runs],
                      dtype=float)
    if np.isnan(values).all(axis=1).any():
        raise ScenarioError([f"--metric {metric}: no value at some points (nothing to "
                             "measure, e.g. no strategy discussions); pick another metric"])
    y = np.nanmean(values, axis=1)
    rows = _analyse(varies, method, x, y, seed)
    rows.sort(key=lambda r: -r[RANK_BY[method]])
    return {"scenario": sc.name, "metric": metric, "method": method, "seed": seed,
            "replications": replications, "points": len(points),
            "rank_by": RANK_BY[method], "inputs": rows}


def _analyse(varies: Sequence[Vary], method: Method, x: np.ndarray, y: np.ndarray,
             seed: int) -> list[dict[str, Any]]:
    problem = _problem(varies)
    if method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=MORRIS_LEVELS, seed=seed)
        return [_row(v, mu_star=(res["mu_star"][i], res["mu_star_conf"][i]),
                     sigma=res["sigma"][i], mu=res["mu"][i]) for i, v in enumerate(varies)]
    from SALib.analyze import sobol

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant output: SALib divides by zero
        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
    return [_row(v, S1=(res["S1"][i], res["S1_conf"][i]), ST=(res["ST"][i], res["ST_conf"][i]))
            for i, v in enumerate(varies)]


def _finite(x: Any) -> float:
    x = float(x)
    return x if math.isfinite(x) else 0.0  # no spread at all: no effect to attribute


def _row(v: Vary, **indices: Any) -> dict[str, Any]:
    """{key, low, high, index, index_ci_low, index_ci_high, ...}; a pair is (value, CI
    half-width)."""
    row: dict[str, Any] = {"key": v.key, "low": v.low, "high": v.high}
    for name, value in indices.items():
        if isinstance(value, tuple):
            est, half = _finite(value[0]), _finite(value[1])
            row |= {name: est, f"{name}_ci_low": est - half, f"{name}_ci_high": est + half}
        else:
            row[name] = _finite(value)
    return row


def top_inputs(result: dict[str, Any], n: int = 3) -> list[dict[str, Any]]:
    """The `n` inputs that move the metric most (the result is ranked already)."""
    return list(result["inputs"][:n])
