"""Input uncertainty against run-to-run noise: a one-way random-effects ANOVA.

With uncertain inputs, replications come in groups that share one input draw (a nested
design: k draws × m replications, `uncertainty.replications_per_draw`). A metric's spread
then has two parts: between draws (the inputs we are unsure of) and within a draw (the
randomness of referrals, absences and waits). The variance components are the classical
ANOVA estimates, σ²_noise = MSW and σ²_input = max(0, (MSB − MSW) / n₀), and the input
share σ²_input / (σ²_input + σ²_noise) is the intraclass correlation, whose exact CI for
a balanced design (Searle 1971) comes from the F distribution of MSB / MSW.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mashsim.experiment.replications import ReplicationResult
from mashsim.scenario.schema import Scenario
from mashsim.scenario.uncertain import draw_index, has_uncertainty
from mashsim.stats import f_quantile

__all__ = ["METHOD", "uncertainty_summary", "variance_shares"]

METHOD = ("one-way random-effects ANOVA over input draws (replications of a draw share "
          "its inputs); input_share is the intraclass correlation with an F-based 95 % CI")


def variance_shares(values: Sequence[float], groups: Sequence[int],
                    level: float = 0.95) -> dict[str, float | None]:
    """Share of the variance of `values` between `groups` (input) and within (noise).

    Shares are None where they cannot be estimated: fewer than two groups, no group with
    two values, or no spread at all. NaN values (a metric with no data) are left out.
    """
    none: dict[str, float | None] = dict.fromkeys(
        ("input_share", "noise_share", "input_share_ci_low", "input_share_ci_high"))
    by: dict[int, list[float]] = {}
    for v, g in zip(values, groups, strict=True):
        if v is not None and math.isfinite(v):
            by.setdefault(g, []).append(float(v))
    k, n = len(by), sum(len(v) for v in by.values())
    if k < 2 or n - k < 1:
        return none
    grand = sum(sum(v) for v in by.values()) / n
    ssb = sum(len(v) * (float(np.mean(v)) - grand) ** 2 for v in by.values())
    ssw = sum(float(np.sum((np.asarray(v) - np.mean(v)) ** 2)) for v in by.values())
    df_b, df_w = k - 1, n - k
    msb, msw = float(ssb) / df_b, ssw / df_w
    n0 = (n - sum(len(v) ** 2 for v in by.values()) / n) / df_b
    var_input = max(0.0, (msb - msw) / n0)
    total = var_input + msw
    if total <= 0:
        return none
    share = var_input / total
    lo, hi = _icc_ci(msb, msw, df_b, df_w, n0, level)
    return {"input_share": share, "noise_share": 1.0 - share,
            "input_share_ci_low": lo, "input_share_ci_high": hi}


def _icc_ci(msb: float, msw: float, df_b: int, df_w: int, n0: float,
            level: float) -> tuple[float, float]:
    """Exact CI of the intraclass correlation (balanced design; n₀ otherwise), in [0, 1]."""
    if msw == 0:
        return 1.0, 1.0
    f = msb / msw
    alpha = 1.0 - level
    f_low = f / f_quantile(1 - alpha / 2, df_b, df_w)
    f_high = f / f_quantile(alpha / 2, df_b, df_w)

    def icc(x: float) -> float:
        return min(1.0, max(0.0, (x - 1) / (x + n0 - 1)))

    return icc(f_low), icc(f_high)


def uncertainty_summary(scenario: Scenario, runs: Sequence[ReplicationResult],
                        names: Sequence[str]) -> dict[str, Any]:
    """{metric: shares} for the force-wide metrics, and the design they came from."""
    groups = [draw_index(scenario, run.replication) for run in runs]
    u = scenario.uncertainty
    assert u is not None and has_uncertainty(scenario)
    shares = {name: variance_shares([run.metrics["overall"][name] for run in runs], groups)
              for name in names}
    design = {"method": METHOD, "inputs": sorted(p for p, r in u.inputs.items()
                                                 if not r.is_point),
              "draws": len(set(groups)), "replications_per_draw": u.replications_per_draw}
    return {"uncertainty": shares, "uncertainty_design": design}
