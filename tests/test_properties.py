"""Invariants that must hold for any scenario and seed (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mashsim import Scenario, simulate
from mashsim.experiment.replications import single_run
from mashsim.model.replication import run_replication
from mashsim.validation import mmc_scenario

from .conftest import DEFAULT, one_hub

BASE = one_hub(Scenario.from_dict(__import__("tomllib").loads(DEFAULT.read_text())),
               **{"run.duration_days": 35.0, "run.warmup_days": 7.0})
FAST = settings(max_examples=12, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

scenarios = st.builds(
    lambda headcount, per_day, discipline, at_end, notify, backlog: BASE.with_overrides({
        "hubs.reading.staff.headcount": headcount,
        "arrivals.referrals_per_day": per_day,
        "queue.discipline": discipline,
        "queue.at_shift_end": at_end,
        "rpa.early_notification": notify,
        "hubs.reading.initial_backlog.count": backlog,
    }),
    headcount=st.integers(0, 4),
    per_day=st.floats(10.0, 400.0),
    discipline=st.sampled_from(["fifo", "risk", "deadline"]),
    at_end=st.sampled_from(["finish", "handback"]),
    notify=st.booleans(),
    backlog=st.integers(0, 50),
)


@FAST
@given(sc=scenarios, seed=st.integers(0, 2**32 - 1))
def test_conservation_and_sane_ranges(sc: Scenario, seed: int) -> None:
    run = single_run(sc, seed, 0)
    for scope, m in run.metrics.items():
        assert m["referrals_arrived"] == m["referrals_completed"] + m["referrals_open_at_end"]
        assert m["referrals_open_at_end"] >= 0
        assert m["backlog_mean"] >= 0 and m["backlog_max"] >= m["backlog_mean"] - 1e-9
        assert m["oldest_waiting_days_at_end"] >= 0
        for name, value in m.items():
            if "breach" in name or name.startswith("staff_wait_over_") or name.endswith(
                    "shrinkage"):
                assert math.isnan(value) or 0.0 <= value <= 1.0, (scope, name, value)
    for hub, counts in run.daily.items():
        for stage in ("awaiting_rpa", "staff_queue", "in_progress", "sd_pending", "backlog"):
            assert np.all(counts[stage] >= 0), stage
        # the end-of-run snapshot (a different computation) sees the same open referrals:
        # the window's arrivals still open, plus the warm-up's still in the MASH
        assert counts["day_end_hours"][-1] == sc.horizon_hours
        rec = run_replication(sc, seed, 0)[hub]
        carried = np.sum((rec.referrals.entered < sc.warmup_hours) & np.isnan(rec.staff_end))
        assert counts["backlog"][-1] == run.metrics[hub]["referrals_open_at_end"] + carried


@FAST
@given(sc=scenarios, seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_summary(sc: Scenario, seed: int) -> None:
    a = simulate(sc, replications=2, seed=seed).summary()
    b = simulate(sc, replications=2, seed=seed).summary()
    assert a == b


def test_workers_do_not_change_results() -> None:
    sc = BASE.with_overrides({"run.duration_days": 21.0})
    serial = simulate(sc, replications=4, seed=9, workers=1).to_json()
    parallel = simulate(sc, replications=4, seed=9, workers=2).to_json()
    assert serial == parallel


@settings(max_examples=10, deadline=None)
@given(c=st.integers(3, 8), extra=st.integers(1, 3), seed=st.integers(0, 10_000),
       rho=st.floats(0.6, 0.95))
def test_more_staff_never_raises_mean_wait_under_crn(c: int, extra: int, seed: int,
                                                     rho: float) -> None:
    """M/M/c with common random numbers: the same referrals, more staff, no longer waits.

    FIFO with identical arrival and handling sequences is monotone in the number of
    servers (each customer's start time cannot be later), so this holds per replication.
    """
    lam = rho * c

    def wait(servers: int) -> float:
        sc = mmc_scenario(lam, 1.0, servers, horizon_hours=500.0, warmup_hours=20.0)
        return single_run(sc, seed, 0).metrics["overall"]["staff_wait_hours_mean"]

    assert wait(c + extra) <= wait(c) + 1e-12
