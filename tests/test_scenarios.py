"""The shipped scenarios say what their headers claim: the inspection's picture, and its cure."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mashsim import Scenario, load_scenario
from mashsim.experiment.replications import single_run

from .conftest import ROOT, SHIPPED, one_hub

REPS = 16


def _oxfordshire(name: str) -> Scenario:
    return one_hub(load_scenario(ROOT / "scenarios" / name), "oxfordshire")


@pytest.fixture(scope="module")
def runs() -> dict[str, list[dict[str, float]]]:
    out = {}
    for name in ("summer_2023.toml", "summer_2023_recovery.toml"):
        sc = _oxfordshire(name)
        out[name] = [single_run(sc, 2023, r).metrics["oxfordshire"] for r in range(REPS)]
    return out


def _ci(values: list[float], level: float = 0.95) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


def test_summer_2023_reproduces_the_inspection_in_the_worst_hub(runs) -> None:
    found = runs["summer_2023.toml"]
    low_72h, _ = _ci([m["audit_sd_pending_over_72h"] for m in found])
    low_14d, _ = _ci([m["audit_sd_pending_over_14d"] for m in found])
    low_oldest, _ = _ci([m["audit_oldest_waiting_days"] for m in found])
    assert low_72h >= 10  # tens pending beyond 72 hours (inspection: 28)
    assert low_14d >= 3  # several beyond 14 days (inspection: 7)
    assert low_oldest >= 14  # an oldest unassessed referral of weeks (inspection: six)


def test_recovery_brings_the_72_hour_breach_rate_down(runs) -> None:
    found, fixed = runs["summer_2023.toml"], runs["summer_2023_recovery.toml"]
    diff = [b["sd_breach_72h"] - a["sd_breach_72h"] for a, b in zip(found, fixed, strict=True)]
    _, high = _ci(diff, level=0.99)
    assert high < -0.3  # paired under common random numbers: a large, certain fall
    _, pending_high = _ci([m["audit_sd_pending_over_72h"] for m in fixed])
    assert pending_high < 5
    assert np.mean([m["decision_target_breach_high"] for m in fixed]) < np.mean(
        [m["decision_target_breach_high"] for m in found])


def test_thames_valley_default_is_a_sound_baseline() -> None:
    m = single_run(load_scenario(SHIPPED), 1, 0).metrics["overall"]
    for role in ("researcher", "decision_maker", "trained_attendee"):
        assert 0.6 < m[f"utilisation_{role}"] < 0.9, role  # no idle and no swamped role
    assert 0.2 < m["realised_shrinkage"] < 0.35
    assert m["referrals_open_at_end"] < 0.05 * m["referrals_arrived"]


def test_summer_2023_worst_hub_is_held_up_by_research(runs) -> None:
    """The closing note's answer: in the worst hub, research is the bottleneck (referrals
    wait days for it, researchers and decision makers who help them are all but always
    busy), decisions wait hours, and the discussion attendees (too few for the discussions
    of every source, issue 13) are nearly always busy."""
    found = runs["summer_2023.toml"]
    research_low, _ = _ci([m["stage_wait_hours_mean_research"] for m in found])
    _, decision_high = _ci([m["stage_wait_hours_mean_decision"] for m in found])
    assert research_low > 24 and decision_high < research_low / 4  # found: ≈49 h vs ≈3 h
    for role in ("researcher", "decision_maker", "trained_attendee"):
        low, _ = _ci([m[f"utilisation_{role}"] for m in found])
        assert low > 0.9, role  # found: 0.96, 0.96, 0.99
