"""`backlog_clear_days` and the recovery table (issue 14)."""

from __future__ import annotations

import numpy as np

from mashsim.experiment.plan_recovery import recovery_table
from mashsim.experiment.replications import confidence_interval, single_run
from mashsim.validation import mmc_scenario

LAM, MU, BACKLOG = 2.0, 1.0, 300


def _backlogged(servers: int, count: int = BACKLOG):
    return mmc_scenario(LAM, MU, servers, horizon_hours=1200.0, warmup_hours=24.0) \
        .with_overrides({"hubs.mmc.initial_backlog.count": count,
                         "hubs.mmc.initial_backlog.age_days": {"dist": "fixed",
                                                               "value": 0.0}})


def test_backlog_clears_at_the_fluid_rate() -> None:
    """M/M/c with K waiting at the start drains at cμ − λ an hour: K / (cμ − λ) hours.
    Read at midnight (whole days: up to one day later) and against a band above the
    steady level (earlier), so the mean over replications must lie within one day plus
    its 95 % CI half-width of the fluid figure; no backlog: 0."""
    for servers in (3, 4):
        days = [single_run(_backlogged(servers), 1, r).metrics["mmc"]["backlog_clear_days"]
                for r in range(8)]
        ci = confidence_interval(days)
        fluid = BACKLOG / (servers * MU - LAM) / 24.0
        half = (ci["ci_high"] - ci["ci_low"]) / 2
        assert abs(ci["mean"] - fluid) <= 1.0 + half, (servers, days, fluid)
    assert single_run(_backlogged(3, 0), 1, 0).metrics["mmc"]["backlog_clear_days"] == 0.0


def test_recovery_table_backlog_by_overtime() -> None:
    sc = _backlogged(3).with_overrides({"staffing.overtime.trigger": "staff_queue",
                                        "staffing.overtime.threshold": 20,
                                        "staffing.overtime.extra_staff": 2})
    frame = recovery_table(sc, "mmc", [150], [0, 60], replications=3, seed=1, workers=1)
    assert list(frame.columns) == ["backlog", "overtime_hours_per_week",
                                   "backlog_clear_days_mean", "backlog_clear_days_ci_low",
                                   "backlog_clear_days_ci_high"]
    none, some = frame["backlog_clear_days_mean"]
    assert np.isfinite(none) and some < none  # overtime clears it sooner
