"""Answers nobody can misread: targets, shift ends, backlog, utilisation, waits by grade.

Each test here failed against the code before its fix (see the commit that added it).
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from mashsim import Scenario, simulate
from mashsim.experiment.replications import single_run
from mashsim.model.engine import Book, Pool, Source, drive_capacity
from mashsim.model.policies import FifoQueue
from mashsim.model.referrals import draw_referrals
from mashsim.model.replication import build_calendar, run_replication
from mashsim.model.staffing import CapacitySchedule
from mashsim.model.streams import Streams
from mashsim.scenario.schema import GRADES
from mashsim.validation import mmc_scenario

# ------------------------------------------------ strategy-discussion deadline origin


@pytest.mark.parametrize("starts_at", ["creation", "mash_receipt"])
def test_sd_deadline_counts_from_where_the_scenario_says(
    small_scenario: Scenario, starts_at: str
) -> None:
    sc = small_scenario.with_overrides({
        "strategy_discussions.deadline": {"amount": 72.0, "clock": "elapsed_hours",
                                          "starts_at": starts_at}})
    refs = draw_referrals(sc, Streams(5, 0), build_calendar(sc), "reading")
    origin = refs.created if starts_at == "creation" else refs.handover
    assert np.any(refs.handover > refs.created)  # the two origins really differ
    inside = origin <= sc.horizon_hours  # a clock that starts after the run never runs out
    np.testing.assert_allclose(refs.sd_deadline[inside], origin[inside] + 72.0)
    assert np.all(np.isinf(refs.sd_deadline[~inside]))


def test_sd_deadline_from_mash_receipt_lowers_breaches(small_scenario: Scenario) -> None:
    """Same referrals and events (FIFO discussions): a later deadline can only be met
    more often, and the RPA stage (up to 72 h) makes it strictly less often breached.
    Child cases reach staff through the RPA ("extra_work"), so receipt follows creation."""
    base = small_scenario.with_overrides({"strategy_discussions.discipline": "fifo",
                                          "rpa.early_notification_mode": "extra_work"})
    later = base.with_overrides({"strategy_discussions.deadline.starts_at": "mash_receipt"})
    a = [single_run(base, 2, r).metrics["overall"]["sd_breach_72h"] for r in range(3)]
    b = [single_run(later, 2, r).metrics["overall"]["sd_breach_72h"] for r in range(3)]
    assert all(y <= x for x, y in zip(a, b, strict=True))
    assert sum(b) < sum(a)


# ------------------------------------------------------------ at_shift_end = "finish"


def _toy(service: list[float], times: list[float], levels: list[int]) -> tuple[Pool, Book]:
    """One FIFO queue holding every job at t = 0, served by a pool on a capacity schedule."""
    env = simpy.Environment()
    book = Book(list(service))
    src = Source(book, FifoQueue([0.0] * len(service)))
    pool = Pool(env, [src], at_shift_end="finish")
    drive_capacity(env, pool, CapacitySchedule(np.array(times), np.array(levels)))
    for job in range(len(service)):
        src.offer(job, 0.0)
    env.run(until=50)
    return pool, book


@pytest.mark.parametrize(("service", "leaver", "stayer"), [
    ([3.0, 6.0, 2.0, 2.0], 1, 0),  # the job started first ends first
    ([6.0, 3.0, 2.0, 2.0], 0, 1),  # the job started second ends first
])
def test_finish_the_stayer_serves_the_queue_while_the_leaver_overruns(
    service: list[float], leaver: int, stayer: int
) -> None:
    """Two on duty, both busy, two waiting; at t = 1 capacity drops to one.

    By hand: one of the two finishes the case in hand and goes; the other stays and
    takes the next job the moment they finish (t = 3), then the last at t = 5. The leaver
    ends at 6. (A capacity counter would start nobody until both were done: 6 and 8.)
    """
    pool, book = _toy(service, [0.0, 1.0], [2, 1])
    assert list(book.first_start) == [0.0, 0.0, 3.0, 5.0]
    assert book.end[stayer] == 3.0 and book.end[leaver] == 6.0
    assert list(book.end[2:]) == [5.0, 7.0]
    # on-duty busy time: the leaver's spell stops at the shift end, so ≤ capacity
    assert sorted(pool.segments) == sorted([(0.0, 3.0), (0.0, 1.0), (3.0, 5.0), (5.0, 7.0)])
    assert pool.busy == 0 and pool.leaving == 0


def test_finish_a_leaver_still_at_work_stays_on_when_capacity_returns() -> None:
    """2 → 1 at t = 1 and back to 2 at t = 2: the leaver (case ends at 6) is still there,
    so they count as the second person on duty; nobody else starts before t = 3."""
    pool, book = _toy([3.0, 6.0, 2.0, 2.0], [0.0, 1.0, 2.0], [2, 1, 2])
    assert list(book.first_start) == [0.0, 0.0, 3.0, 5.0]
    assert sorted(pool.segments) == sorted(
        [(0.0, 3.0), (0.0, 1.0), (2.0, 6.0), (3.0, 5.0), (5.0, 7.0)])


# ------------------------------------------------------- utilisation: work in progress


def test_busy_segments_count_work_in_progress_up_to_the_end() -> None:
    env = simpy.Environment()
    book = Book([100.0])
    src = Source(book, FifoQueue([0.0]))
    pool = Pool(env, [src])
    drive_capacity(env, pool, CapacitySchedule(np.array([0.0]), np.array([1])))
    src.offer(0, 0.0)
    env.run(until=10)
    assert pool.busy_segments(10.0) == [(0.0, 10.0)]


def test_staff_all_busy_all_window_is_full_utilisation() -> None:
    """Two staff always on duty, each on a case lasting ~10,000 h from the first hour:
    busy throughout the window, so utilisation is 1 (it was 0: nothing had finished)."""
    sc = mmc_scenario(9.0, 1e-4, 2, horizon_hours=200.0, warmup_hours=20.0)
    m = single_run(sc, 1, 0).metrics["overall"]
    assert m["staff_utilisation"] == pytest.approx(1.0)


# ------------------------------------------------ backlog: everything in the MASH


def test_backlog_counts_warmup_arrivals_still_in_the_mash(small_scenario: Scenario) -> None:
    """Nobody on duty, so nothing leaves: at every moment the MASH holds every referral
    that has arrived, warm-up arrivals included. By hand from the arrival times: the
    daily count, the time-average and the maximum over the window, and the oldest age."""
    sc = small_scenario.with_overrides({"hubs.reading.staff.headcount": 0})
    w, horizon = sc.warmup_hours, sc.horizon_hours
    entered = run_replication(sc, 4, 0)["reading"].referrals.entered
    run = single_run(sc, 4, 0)
    daily, m = run.daily["reading"], run.metrics["reading"]
    assert np.sum(entered < w) > 50  # plenty arrived in the warm-up
    expected = [np.sum(entered <= t) for t in daily["day_end_hours"]]
    np.testing.assert_array_equal(daily["backlog"], expected)
    assert m["backlog_mean"] == pytest.approx(
        np.sum(horizon - np.maximum(entered, w)) / (horizon - w))
    assert m["backlog_max"] == len(entered)
    assert m["oldest_waiting_days_at_end"] == pytest.approx((horizon - entered.min()) / 24.0)
    # per-referral metrics still count the window's arrivals only
    assert m["referrals_arrived"] == np.sum(entered >= w)


def test_backlog_max_is_over_the_window_only() -> None:
    """A peak before the warm-up ends is not the window's maximum: an initial backlog of
    200 cleared by a large team in the warm-up leaves a window backlog far below 200."""
    sc = mmc_scenario(2.0, 1.0, 50, horizon_hours=400.0, warmup_hours=100.0).with_overrides(
        {"hubs.mmc.initial_backlog.count": 200})
    m = single_run(sc, 1, 0).metrics["overall"]
    assert 0 < m["backlog_max"] < 50


# ------------------------------------------------------------ staff wait by grade


def test_staff_wait_by_grade_is_the_staff_wait_of_that_grade(small_scenario: Scenario) -> None:
    """Same definition as `staff_wait_hours_mean` (hand-over → first staff work, open ones
    by their wait so far, window arrivals that reached the queue), one grade at a time;
    by hand from the records, and the count-weighted mean over grades is the overall."""
    sc = small_scenario.with_overrides({"queue.discipline": "risk"})
    w, horizon = sc.warmup_hours, sc.horizon_hours
    rec = run_replication(sc, 6, 0)["reading"]
    m = single_run(sc, 6, 0).metrics["reading"]
    r = rec.referrals
    queued = (r.entered >= w) & (r.handover <= horizon)
    wait = np.where(np.isfinite(rec.staff_start), rec.staff_start, horizon) - r.handover
    counts = []
    for g, name in enumerate(GRADES):
        q = queued & (r.grade_idx == g)
        assert m[f"staff_wait_hours_mean_{name}"] == pytest.approx(wait[q].mean())
        counts.append(q.sum())
    weighted = sum(c * m[f"staff_wait_hours_mean_{g}"] for c, g in zip(counts, GRADES,
                                                                       strict=True))
    assert weighted / sum(counts) == pytest.approx(m["staff_wait_hours_mean"])
    # prioritising by risk shows: high-risk referrals wait less than standard ones
    assert m["staff_wait_hours_mean_high"] < m["staff_wait_hours_mean_standard"]


def test_staff_wait_by_grade_in_the_json_force_wide_and_per_hub(
    small_scenario: Scenario
) -> None:
    summary = simulate(small_scenario, replications=2, seed=1, workers=1).summary()
    for scope in (summary["metrics"], summary["hubs"]["reading"]["metrics"]):
        for g in GRADES:
            assert set(scope[f"staff_wait_hours_mean_{g}"]) == {"mean", "ci_low", "ci_high"}
