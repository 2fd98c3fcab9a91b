"""Issue 16 (continued): the hot path's shortcuts keep every result.

Each shortcut is pinned by what it promises (fewer Python calls, no repeated pass), and
its result against the general code it stands in for; byte-identical outputs of the
shipped scenarios are checked by the project's reference set.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest

import mashsim.metrics.window as window_mod
from mashsim import load_scenario
from mashsim.metrics.compute import slim_record
from mashsim.metrics.registry import REGISTRY
from mashsim.metrics.window import Window
from mashsim.model import wiring
from mashsim.model.replication import run_replication
from mashsim.scenario.disciplines import FifoQueue
from mashsim.validation import mmc_scenario

ROOT = Path(__file__).resolve().parent.parent


def test_fifo_queue_is_a_deque_with_c_methods() -> None:
    q = FifoQueue([5.0, 6.0, 7.0])
    assert FifoQueue.push is deque.append and FifoQueue.pop is deque.popleft
    q.push(1)
    q.push(2)
    q.requeue(0)
    assert len(q) == 3 and q and q.peek_key() == (5.0,)
    assert [q.pop(), q.pop(), q.pop()] == [0, 1, 2] and not q


def test_a_stage_whose_end_does_nothing_has_no_hook() -> None:
    """M/M/c: one stage, nothing after the decision: no end-of-stage call per job. The
    default's stages lead on to others, so theirs keep it."""
    mmc = mmc_scenario(9.0, 1.0, 10, horizon_hours=200.0, warmup_hours=0.0)
    model = wiring.build_hub_model(mmc, wiring.Streams(1, 0))
    assert [b.on_done for h in model.hubs.values() for b in h.stage_books] == [None]
    sc = load_scenario(ROOT / "scenarios" / "thames_valley.toml").with_overrides(
        {"run.duration_days": 7.0, "run.warmup_days": 0.0})
    model = wiring.build_hub_model(sc, wiring.Streams(1, 0), ["reading"])
    assert model.hubs["reading"].stage_books[0].on_done is not None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stable_sorts_give_the_same_counts_and_points(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.round(np.cumsum(rng.exponential(1.0, 3000)) + rng.normal(0, 3, 3000), 1)
    a[:5] = [0.0, -0.0, 0.0, 2.5, 2.5]
    b = a + rng.exponential(2.0, len(a))
    t = np.linspace(-5, a.max() + 5, 97)
    want = np.searchsorted(np.sort(a), t, side="right") - np.searchsorted(np.sort(b), t,
                                                                          side="right")
    np.testing.assert_array_equal(window_mod.count_open(a, b, t), want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_open_spells_in_one_sort_are_those_counted_at_each_midpoint(seed: int) -> None:
    """`_open_between` (utilisation's one sort) gives the distinct clipped points (a
    zero's sign that of the first in a stable sort, as before) and the spells open
    between each and the next as counting them around the midpoint does; spells and
    roster changes outside [lo, hi], empty spells and ties included."""
    rng = np.random.default_rng(seed)
    a = np.round(rng.uniform(-20, 400, 2000), 1)
    a[:4] = [0.0, -0.0, 0.0, 2.5]
    b = np.round(a + rng.exponential(3.0, len(a)), 1)
    b[-3:] = [np.inf, a[-2], 450.0]
    changes = np.round(rng.uniform(-10, 420, 60), 0)
    lo, hi = -0.0, 300.0
    pts, busy = window_mod._open_between(np.column_stack((a, b)), changes, lo, hi)
    every = np.sort(np.clip(np.concatenate((a, b, changes, [lo, hi])), lo, hi), kind="stable")
    want_pts = every[np.append(True, every[1:] != every[:-1])]  # first of equals: its zero
    np.testing.assert_array_equal(pts, np.unique(every))
    assert pts.tobytes() == want_pts.tobytes()  # the same bits: -0.0 where it came first
    mid = (pts[:-1] + pts[1:]) / 2.0
    np.testing.assert_array_equal(busy, window_mod.count_open(a, b, mid))


def test_a_hubs_slim_record_reuses_its_busy_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    """The busy on-duty hours of a team, computed for the hub's utilisation, are not
    computed again for its slim record (a sort of every busy spell each)."""
    sc = mmc_scenario(9.0, 1.0, 10, horizon_hours=500.0, warmup_hours=50.0)
    rec = run_replication(sc, 3, 0)["mmc"]
    w = Window([rec], sc, force_wide=False)
    metrics = REGISTRY.compute(w)
    calls: list[bool] = []  # per call: was it the staff team's spells
    original = window_mod._busy_on_duty_hours

    def counted(*args: object) -> float:
        calls.append(args[0] is rec.staff.busy)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(window_mod, "_busy_on_duty_hours", counted)
    slim = slim_record(rec, sc, {}, w)
    assert not any(calls)  # other teams (discussion attendees) are measured here
    assert isinstance(slim.staff, window_mod.MeasuredTeam)
    assert slim.staff.busy_hours == original(rec.staff.busy, rec.staff.schedule, 50.0, 500.0)
    assert 0 < metrics["staff_utilisation"] < 1


def test_the_feeder_schedules_its_next_arrival_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """One `_schedule` call per feeder (its first delivery); each later arrival is pushed
    from the delivering loop with the same key, so the records are unchanged."""
    from mashsim.model.engine import Feeder
    sc = mmc_scenario(9.0, 1.0, 10, horizon_hours=100.0, warmup_hours=0.0)
    calls: list[int] = []
    original = Feeder._schedule

    def counted(self: Feeder, now: float, t: float) -> None:
        calls.append(1)
        original(self, now, t)

    monkeypatch.setattr(Feeder, "_schedule", counted)
    model = wiring.build_hub_model(sc, wiring.Streams(1, 0))
    feeders = len(calls)
    model.env.run(until=sc.horizon_hours)
    assert len(calls) == feeders and model.hubs["mmc"].n > 500
