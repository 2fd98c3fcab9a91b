"""Stages and roles against queueing theory, across seeds, with theory inside the CI.

As in test_validation: each check builds a 99.9 % Student-t interval from independent
replications (Bonferroni over the few checks here) of a stage's mean wait, and asserts
theory lies inside it and that the interval is narrow (half-width under a quarter of
theory), so agreement is not bought with noise.
- tandem M/M/c stages: Jackson's product form, each stage an M/M/c at λ (Erlang C);
- a stage needed by a share p: an M/M/c at pλ;
- two roles skilled for one stage: one pooled M/M/(c1 + c2);
- one role skilled for two stages, strict preference: non-preemptive priority M/M/c
  (Cobham), both classes with the same service rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

from mashsim import Scenario
from mashsim.model.replication import run_replication
from mashsim.validation import cobham_waits_hours, erlang_c, tandem_scenario

LEVEL = 0.999
REPLICATIONS = 12
HORIZON, WARMUP = 4_000.0, 200.0


def stage_waits(sc: Scenario, seed: int = 12) -> dict[str, np.ndarray]:
    """Per stage, each replication's mean wait of the jobs joining it after the warm-up
    (open ones by their wait so far)."""
    out: dict[str, list[float]] = {s: [] for s in sc.stage_names}
    for r in range(REPLICATIONS):
        rec = next(iter(run_replication(sc, seed, r).values()))
        for s in sc.stage_names:
            entry, start = rec.stage_entry[s], rec.stage_start[s]
            m = entry >= sc.warmup_hours
            out[s].append(float((np.where(np.isfinite(start), start, sc.horizon_hours)
                                 - entry)[m].mean()))
    return {s: np.asarray(v) for s, v in out.items()}


def assert_inside(values: np.ndarray, theory: float) -> None:
    half = stats.t.ppf(0.5 + LEVEL / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(
        values.size)
    mean = values.mean()
    assert mean - half <= theory <= mean + half, (mean, half, theory)
    assert half < 0.25 * theory, (half, theory)


def test_tandem_stages_are_jackson() -> None:
    lam, stages = 2.0, [("research", 1.0, 3), ("decision", 1.5, 2)]
    waits = stage_waits(tandem_scenario(arrival_rate_per_hour=lam, stages=stages,
                                        horizon_hours=HORIZON, warmup_hours=WARMUP))
    for name, mu, c in stages:
        assert_inside(waits[name], erlang_c(lam, mu, c).mean_wait_hours)


def _edit(sc: Scenario, change: Any) -> Scenario:
    data = sc.to_dict()
    change(data)
    return Scenario.from_dict(data)


def test_stage_needed_by_a_share_is_mmc_at_p_lambda() -> None:
    lam, p = 2.0, 0.5
    sc = tandem_scenario(arrival_rate_per_hour=lam, stages=[("research", 1.0, 3),
                         ("review", 0.8, 2)], horizon_hours=HORIZON, warmup_hours=WARMUP)
    sc = _edit(sc, lambda d: d["stages"]["review"].update(
        share_by_grade={"high": 1.0, "medium": 1.0, "standard": p}))
    waits = stage_waits(sc)
    assert_inside(waits["review"], erlang_c(p * lam, 0.8, 2).mean_wait_hours)
    assert_inside(waits["research"], erlang_c(lam, 1.0, 3).mean_wait_hours)


def test_two_roles_on_one_stage_pool() -> None:
    lam, mu = 2.2, 1.0
    sc = tandem_scenario(arrival_rate_per_hour=lam, stages=[("decision", mu, 1)],
                         horizon_hours=HORIZON, warmup_hours=WARMUP)

    def second_role(d: dict[str, Any]) -> None:
        roles = d["hubs"]["tandem"]["roles"]
        roles["sergeant"] = {**roles["decision"], "headcount": 2}

    waits = stage_waits(_edit(sc, second_role))
    assert_inside(waits["decision"], erlang_c(lam, mu, 3).mean_wait_hours)


def _two_classes_one_role(share: float, dispatch: str) -> Callable[[dict[str, Any]], None]:
    """An edit of a two-stage tandem scenario: two referral types, each needing its own
    stage (both deciding), and one role skilled for both (`urgent` first) with `dispatch`."""

    def edit(d: dict[str, Any]) -> None:
        one = d["referral_types"].pop("referral")
        d["referral_types"] = {"urgent": {**one, "share": share},
                               "routine": {**one, "share": 1.0 - share}}
        d["stages"]["urgent"]["share_by_type"] = {"routine": {"standard": 0.0}}
        d["stages"]["routine"]["share_by_type"] = {"urgent": {"standard": 0.0}}
        d["stages"]["urgent"]["decides"] = True
        roles = d["hubs"]["tandem"]["roles"]
        roles.pop("routine")
        roles["urgent"].update(skills=["urgent", "routine"], dispatch=dispatch)

    return edit


def test_preferred_stage_is_cobham_priority() -> None:
    """Two referral types, each needing one stage; one role (c = 2) skilled for both,
    preferring `urgent`: non-preemptive priority M/M/2."""
    lam, share, mu, c = 1.4, 0.4, 1.0, 2
    sc = tandem_scenario(arrival_rate_per_hour=lam, stages=[("urgent", mu, c),
                         ("routine", mu, c)], horizon_hours=HORIZON, warmup_hours=WARMUP)

    waits = stage_waits(_edit(sc, _two_classes_one_role(share, "preference")))
    w_urgent, w_routine = cobham_waits_hours([share * lam, (1 - share) * lam], mu, c)
    assert_inside(waits["urgent"], w_urgent)
    assert_inside(waits["routine"], w_routine)
    # and preference matters: the same role taking the oldest job first is FCFS for both
    assert w_urgent < erlang_c(lam, mu, c).mean_wait_hours < w_routine


def test_oldest_first_dispatch_is_fcfs_across_stages() -> None:
    """`oldest_first` over two queues of one pool is one FCFS M/M/c: both stages wait the
    Erlang C time of the total rate."""
    lam, share, mu, c = 1.4, 0.4, 1.0, 2
    sc = tandem_scenario(arrival_rate_per_hour=lam, stages=[("urgent", mu, c),
                         ("routine", mu, c)], horizon_hours=HORIZON, warmup_hours=WARMUP)

    waits = stage_waits(_edit(sc, _two_classes_one_role(share, "oldest_first")))
    fcfs = erlang_c(lam, mu, c).mean_wait_hours
    assert_inside(waits["urgent"], fcfs)
    assert_inside(waits["routine"], fcfs)


def test_cobham_formula_reduces_to_erlang_c() -> None:
    """One class: Cobham's wait is Erlang C's; the load-weighted mean of the classes'
    waits is the FCFS wait (conservation law, same service rate)."""
    assert cobham_waits_hours([1.5], 1.0, 2)[0] == pytest.approx(
        erlang_c(1.5, 1.0, 2).mean_wait_hours)
    rates = [0.5, 0.9]
    w = cobham_waits_hours(rates, 1.0, 2)
    assert np.dot(rates, w) / sum(rates) == pytest.approx(erlang_c(1.4, 1.0, 2).mean_wait_hours)
