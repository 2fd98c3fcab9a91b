"""Unit tests of the model's parts, each of which would fail without its mechanism."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import simpy

from mashsim import Scenario
from mashsim.experiment.replications import single_run
from mashsim.model.arrivals import hourly_rate_per_hour, poisson_arrival_hours
from mashsim.model.engine import (
    Book,
    Pool,
    Source,
    by_preference,
    drive_capacity,
    first_with_work,
)
from mashsim.model.policies import DeadlineQueue, FifoQueue, PriorityQueue
from mashsim.model.replication import run_replication
from mashsim.model.rpa import handover_offset_hours
from mashsim.model.staffing import CapacitySchedule, roster_schedule
from mashsim.model.streams import Streams
from mashsim.scenario.schema import Roster, Rpa, Shift

from .conftest import one_hub

MONDAY = dt.date(2025, 4, 7)


# ------------------------------------------------------------------ arrivals


def test_poisson_counts_match_the_integrated_rate() -> None:
    rate = np.where(np.arange(24 * 28) % 24 < 12, 3.0, 0.5)  # day/night pattern
    expected = rate.sum()
    counts = [len(poisson_arrival_hours(np.random.default_rng(s), rate)) for s in range(40)]
    mean, se = np.mean(counts), np.std(counts, ddof=1) / np.sqrt(len(counts))
    assert abs(mean - expected) < 4 * se
    assert np.var(counts, ddof=1) == pytest.approx(expected, rel=0.5)  # Poisson: var = mean


def test_arrival_times_follow_the_hourly_profile() -> None:
    rate = np.where(np.arange(24 * 70) % 24 < 12, 3.0, 0.5)
    t = poisson_arrival_hours(np.random.default_rng(3), rate)
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() < len(rate)
    day_share = np.mean(t % 24 < 12)
    assert day_share == pytest.approx(3.0 / 3.5, abs=0.02)


def test_profile_weights_and_date_multipliers(default_scenario: Scenario) -> None:
    arr = default_scenario.with_overrides({"arrivals.date_multipliers": [
        {"start": "2025-04-09", "end": "2025-04-09", "factor": 2.0, "label": "x"}]}).arrivals
    rate = hourly_rate_per_hour(arr, 24.0, MONDAY, 24 * 14)
    per_day = rate.reshape(14, 24).sum(1)
    assert per_day[2] == pytest.approx(2 * per_day[1])  # Wednesday doubled
    assert per_day[5] == pytest.approx(1.25 * per_day[1])  # Saturday ×1.25
    assert per_day[7:].mean() == pytest.approx(24.0)  # weekly mean preserved
    flat = hourly_rate_per_hour(arr.model_copy(update={"mode": "constant"}), 24.0, MONDAY, 48)
    assert np.all(flat == 1.0)


# ------------------------------------------------------------------ RPA


def test_rpa_hands_over_at_the_first_scan_after_the_assessment() -> None:
    delay = np.array([0.0, 0.5, 24.0, 30.0, 71.0, 500.0])
    got = handover_offset_hours(Rpa(scan_hours=[0, 24, 48, 72]), delay)
    np.testing.assert_array_equal(got, [0, 24, 24, 48, 72, 72])
    np.testing.assert_array_equal(handover_offset_hours(Rpa(enabled=False), delay), delay)


# ------------------------------------------------------------------ rosters


def test_roster_schedule_office_hours_and_night_shift() -> None:
    office = roster_schedule(Roster(headcount=3), MONDAY, 24 * 7)
    assert list(office.at([8.9, 9.0, 16.9, 17.0, 24 * 5 + 10])) == [0, 3, 3, 0, 0]
    assert office.staff_hours(0, 24 * 7) == 3 * 8 * 5
    night = Roster(headcount=4, shifts=[
        Shift(days=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], start="22:00",
              end="06:00", share=0.5)])
    sched = roster_schedule(night, MONDAY, 48)
    assert list(sched.at([1.0, 6.0, 21.9, 23.0, 29.0])) == [2, 0, 0, 2, 2]  # Sunday's at 01:00


def _one_pool(service: list[float], at_shift_end: str) -> tuple[simpy.Environment, Pool, Book]:
    env = simpy.Environment()
    book = Book(service)
    src = Source(book, FifoQueue([0.0] * len(service)))
    pool = Pool(env, [src], at_shift_end=at_shift_end)
    for job in range(len(service)):
        src.offer(job, 0.0)
    return env, pool, book


def test_pool_respects_capacity_changes_and_handback() -> None:
    env, pool, book = _one_pool([5.0, 5.0], "handback")
    drive_capacity(env, pool, CapacitySchedule(np.array([0.0, 2.0, 10.0]), np.array([1, 0, 1])))
    env.run(until=30)
    # job 0 works 0–2, is handed back, resumes at 10 and needs 3 more hours
    assert book.end[0] == pytest.approx(13.0)
    assert book.end[1] == pytest.approx(18.0)
    assert list(book.first_start) == [0.0, 13.0]
    assert pool.segments == [(0.0, 2.0), (10.0, 13.0), (13.0, 18.0)]


def test_finish_mode_lets_work_overrun_the_shift() -> None:
    env, pool, book = _one_pool([5.0], "finish")
    drive_capacity(env, pool, CapacitySchedule(np.array([0.0, 2.0]), np.array([1, 0])))
    env.run(until=30)
    assert book.end[0] == pytest.approx(5.0)


def test_first_with_work_picks_as_the_preference_rule_of_one_queue_groups() -> None:
    """A role whose skills are one queue each starts jobs through `first_with_work`,
    inline in `Pool.dispatch`: the queue `by_preference` of one-queue groups picks,
    in every state of the queues, and the same jobs in the same order from a pool."""
    def run(select_of: str) -> np.ndarray:
        env = simpy.Environment()
        books = [Book([1.0, 2.0, 0.5]), Book([1.5, 0.25, 1.0])]
        srcs = [Source(b, FifoQueue([0.0] * 3)) for b in books]
        select = (first_with_work if select_of == "first"
                  else by_preference([[s] for s in srcs]))
        pool = Pool(env, srcs, select)
        drive_capacity(env, pool, CapacitySchedule(np.array([0.0, 1.0]), np.array([1, 2])))
        srcs[1].offer(0, 0.0)
        srcs[1].offer(1, 0.0)
        srcs[0].offer(2, 0.0)
        env.run(until=1.0)
        srcs[0].offer(0, 1.0)
        srcs[0].offer(1, 1.0)
        env.run(until=20)
        return np.array([list(b.first_start) + list(b.end) for b in books])

    first = run("first")
    assert np.array_equal(first, run("preference"), equal_nan=True)
    assert np.isfinite(first).sum() >= 8  # most jobs ran, on both queues
    srcs = [Source(Book([1.0]), FifoQueue([0.0])) for _ in range(3)]
    rule = by_preference([[s] for s in srcs])
    for pattern in range(8):
        for i, s in enumerate(srcs):
            s.queue.clear()
            if pattern >> i & 1:
                s.queue.push(0)
        assert first_with_work(srcs) is rule(srcs)


# ------------------------------------------------------------------ whole model


def _mean_metric(sc: Scenario, name: str, reps: int = 6, scope: str = "overall") -> float:
    return float(np.nanmean([single_run(sc, 11, r).metrics[scope][name] for r in range(reps)]))


def test_warmup_excludes_early_arrivals(small_scenario: Scenario) -> None:
    recs = run_replication(small_scenario, 3, 0)
    created = recs["reading"].referrals.created
    run = single_run(small_scenario, 3, 0)
    assert run.metrics["reading"]["referrals_arrived"] == np.sum(
        created >= small_scenario.warmup_hours)
    assert np.sum(created < small_scenario.warmup_hours) > 0


def test_initial_backlog_is_counted_by_age(small_scenario: Scenario) -> None:
    sc = small_scenario.with_overrides({
        "run.warmup_days": 0.0,
        "run.duration_days": 2.0,
        "hubs.reading.staff.headcount": 0,
        "hubs.reading.initial_backlog.count": 40,
        "hubs.reading.initial_backlog.age_days": {"dist": "uniform", "low": 10, "high": 20},
    })
    m = single_run(sc, 1, 0).metrics["reading"]
    assert m["referrals_open_at_end"] == m["referrals_arrived"] >= 40
    assert 12.0 <= m["oldest_waiting_days_at_end"] <= 22.0


def test_risk_priority_cuts_high_risk_waits(small_scenario: Scenario) -> None:
    busy = small_scenario.with_overrides({"hubs.reading.staff.headcount": 2})
    fifo = _mean_metric(busy, "decision_target_breach_high")
    risk = _mean_metric(busy.with_overrides({"queue.discipline": "risk"}),
                        "decision_target_breach_high")
    assert risk < fifo


def test_early_notification_costs_staff_time(small_scenario: Scenario) -> None:
    as_found = small_scenario.with_overrides({"rpa.early_notification_mode": "extra_work"})
    on = _mean_metric(as_found, "staff_utilisation")
    off = _mean_metric(as_found.with_overrides({"rpa.early_notification": False}),
                       "staff_utilisation")
    assert on > off
    assert _mean_metric(as_found, "early_notifications") > 0


def test_early_handover_brings_child_referrals_to_staff_at_creation(
        small_scenario: Scenario) -> None:
    sc = small_scenario.with_overrides({"rpa.early_notification_mode": "early_handover"})
    refs = run_replication(sc, 2, 0)["reading"].referrals
    child = refs.type_idx == sc.type_names.index("child")
    assert np.all(refs.handover[child] == refs.created[child])
    assert np.all(refs.handover[~child] >= refs.created[~child])
    assert _mean_metric(sc, "early_notifications") == 0  # no duplicate work


def test_fewer_sd_attendees_more_sd_breaches(small_scenario: Scenario) -> None:
    sc = small_scenario.with_overrides({
        "referral_types.child.strategy_discussion_share_by_grade": None,
        "referral_types.child.strategy_discussion_share": 0.5,
        "strategy_discussions.held_by": "attendees"})
    two = _mean_metric(sc.with_overrides({"hubs.reading.sd_attendees.headcount": 2}),
                       "sd_breach_72h")
    none = _mean_metric(sc.with_overrides({"hubs.reading.sd_attendees.headcount": 0}),
                        "sd_breach_72h")
    assert none == 1.0 and two < none


def test_streams_are_keyed_by_name_not_position(default_scenario: Scenario) -> None:
    """Adding a hub leaves every other hub's referrals exactly as they were (CRN)."""
    one = one_hub(default_scenario, "slough", **{"run.duration_days": 30.0,
                                                 "run.warmup_days": 1.0})
    data = one.to_dict()
    data["hubs"]["aaa_new"] = data["hubs"]["slough"]
    two = Scenario.from_dict(data)
    a = run_replication(one, 5, 0)["slough"].referrals
    b = run_replication(two, 5, 0)["slough"].referrals
    # the demand share halves, so compare the referral attributes drawn per index
    assert a.created.size > b.created.size > 0
    assert np.array_equal(Streams(5, 0).rng("x").random(3), Streams(5, 0).rng("x").random(3))
    assert not np.array_equal(Streams(5, 0).rng("x").random(3), Streams(5, 1).rng("x").random(3))
    c = run_replication(one, 5, 0)["slough"].referrals
    assert np.array_equal(a.created, c.created) and np.array_equal(a.grade_idx, c.grade_idx)


def test_queue_disciplines_order_and_handback() -> None:
    prio = PriorityQueue([2, 0, 1, 0], [0.0, 1.0, 2.0, 3.0])
    for job in range(4):
        prio.push(job)
    assert [prio.pop() for _ in range(2)] == [1, 3]
    prio.requeue(3)  # handed back: front of its own level
    assert [prio.pop() for _ in range(len(prio))] == [3, 2, 0]
    edf = DeadlineQueue([5.0, 1.0, 1.0], [0.0, 2.0, 1.0])
    for job in range(3):
        edf.push(job)
    assert [edf.pop() for _ in range(3)] == [2, 1, 0]
    fifo = FifoQueue([0.0] * 6)
    for job in (4, 5):
        fifo.push(job)
    fifo.requeue(fifo.pop())
    assert [fifo.pop(), fifo.pop()] == [4, 5]


def test_source_tracks_its_oldest_waiting_job() -> None:
    env = simpy.Environment()
    book = Book([1.0, 1.0, 1.0])
    src = Source(book, FifoQueue([0.0, 2.0, 5.0]), track_oldest=True)
    pool = Pool(env, [src])
    for job, t in enumerate((0.0, 2.0, 5.0)):
        src.offer(job, t)
    assert src.oldest_wait_hours(10.0) == 10.0  # nobody on duty: job 0 waits
    drive_capacity(env, pool, CapacitySchedule(np.array([0.0, 10.5]), np.array([0, 1])))
    env.run(until=11.6)  # job 0 started at 10.5, job 1 at 11.5
    assert src.oldest_wait_hours(11.6) == pytest.approx(11.6 - 5.0)
    untracked = Source(Book([1.0]), FifoQueue([0.0]))
    with pytest.raises(RuntimeError):
        untracked.oldest_wait_hours(1.0)


def test_overtime_on_the_oldest_wait(small_scenario: Scenario) -> None:
    sc = small_scenario.with_overrides({
        "hubs.reading.staff.headcount": 3,
        "staffing.overtime.enabled": True, "staffing.overtime.trigger": "oldest_waiting_hours",
        "staffing.overtime.threshold": 48, "staffing.overtime.weekly_cap_hours": 6})
    assert _mean_metric(sc, "overtime_hours", reps=2) > 0
