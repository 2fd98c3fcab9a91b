"""Issue 16: the faster engine gives the very same results as the one it replaced.

The references are kept here, written as they were: the overtime controller that polled
its trigger every `block_hours` (`PollingOvertime`). A change to the engine that moves an
event changes a record, and these tests compare records exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy

import mashsim.model.wiring as wiring
from mashsim import Scenario, load_scenario
from mashsim.metrics.compute import reduce_replication, replication_metrics
from mashsim.metrics.window import _step_max
from mashsim.model.engine import Pool
from mashsim.model.replication import (
    HubRecord,
    build_records,
    replication_parts,
    run_replication,
)
from mashsim.model.staffing import CapacitySchedule
from mashsim.scenario.schema import Overtime

ROOT = Path(__file__).resolve().parent.parent


class PollingOvertime:
    """The overtime controller before issue 16: wakes every block_hours, checks, sleeps."""

    def __init__(self, env: simpy.Environment, pool: Pool, cfg: Overtime,
                 measure: Callable[[], float], permitted: CapacitySchedule, start: dt.date,
                 watch: Any = ()) -> None:
        self.env, self.pool, self.cfg, self.measure = env, pool, cfg, measure
        self.permitted = permitted
        self.week_offset_hours = start.weekday() * 24.0
        self.log: list[tuple[float, float]] = []
        self.wakes = 0
        env.process(self._run())

    def _run(self) -> Generator[simpy.Event, None, None]:
        cfg, env = self.cfg, self.env
        block_staff_hours = cfg.extra_staff * cfg.block_hours
        week, used = -1, 0.0
        while True:
            now = env.now
            self.wakes += 1
            this_week = int((now + self.week_offset_hours) // 168.0)
            if this_week != week:
                week, used = this_week, 0.0
            if (
                used + block_staff_hours <= cfg.weekly_cap_hours + 1e-9
                and self.permitted.at(now) > 0
                and self.measure() > cfg.threshold
            ):
                used += block_staff_hours
                self.log.append((now, block_staff_hours))
                self.pool.set_extra(self.pool.extra + cfg.extra_staff)
                yield env.timeout(cfg.block_hours)
                self.pool.set_extra(self.pool.extra - cfg.extra_staff)
            else:
                yield env.timeout(cfg.block_hours)


def assert_same_records(a: dict[str, HubRecord], b: dict[str, HubRecord]) -> None:
    """Every array of every hub's record equal, NaN where NaN (the busy spells included)."""
    assert list(a) == list(b)
    for hub in a:
        x, y = a[hub], b[hub]
        for name in ("staff_start", "staff_end", "sd_held", "degraded", "overtime",
                     "notifications_entered"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)
        np.testing.assert_array_equal(x.staff.busy, y.staff.busy)
        for stage in x.stage_end:
            np.testing.assert_array_equal(x.stage_start[stage], y.stage_start[stage])
            np.testing.assert_array_equal(x.stage_end[stage], y.stage_end[stage])
        for role in x.roles:
            np.testing.assert_array_equal(x.roles[role].busy, y.roles[role].busy)


def _polled(sc: Scenario, seed: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, HubRecord]:
    with monkeypatch.context() as m:
        m.setattr(wiring, "OvertimeController", PollingOvertime)
        return run_replication(sc, seed, 0)


def _summer(days: float, **overrides: object) -> Scenario:
    sc = load_scenario(ROOT / "scenarios" / "summer_2023.toml")
    return sc.with_overrides({"run.duration_days": days, "reporting.audit_date": None,
                              **overrides})


@pytest.mark.parametrize("overrides", [
    {},  # the shipped rule: the cap binds (the queue is long all summer)
    {"staffing.overtime.threshold": 25, "staffing.overtime.block_hours": 1.5},
    {"staffing.overtime.trigger": "oldest_waiting_hours", "staffing.overtime.threshold": 30},
])
def test_overtime_without_polling_gives_the_polled_blocks(
        overrides: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """Sleeping until a check can pass gives the blocks (and every other record) that the
    hourly poll gave, with far fewer wake-ups."""
    sc = _summer(35.0, **overrides)
    new = run_replication(sc, 5, 0)
    old = _polled(sc, 5, monkeypatch)
    assert_same_records(new, old)
    assert sum(len(r.overtime) for r in new.values()) > 0  # the rule did fire


def test_pooled_overtime_without_polling_gives_the_polled_outcomes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pooled hubs share a pool whose merged roster changes at many grid moments: a wake
    from a queue push may meet a same-instant roster change in another order than the
    poll did (see the module doc of mashsim.model.overtime), which can swap who of the
    busy is sent home at that instant. Blocks and every referral's times stay the same;
    the busy time agrees to rounding."""
    sc = _summer(35.0, **{"staffing.overtime.threshold": 40,
                          "staffing.overtime.weekly_cap_hours": 60, "pooling.mode": "pooled"})
    new, old = run_replication(sc, 5, 0), _polled(sc, 5, monkeypatch)
    for hub in new:
        for name in ("staff_start", "staff_end", "sd_held", "degraded", "overtime"):
            np.testing.assert_array_equal(getattr(new[hub], name), getattr(old[hub], name))
        busy = [np.diff(r[hub].staff.busy, axis=1).sum() for r in (new, old)]
        assert busy[0] == pytest.approx(busy[1], rel=1e-12)


def test_overtime_wakes_far_less_than_the_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = _summer(35.0)
    model = wiring.build_hub_model(sc, wiring.Streams(5, 0))
    model.env.run(until=sc.horizon_hours)
    wakes = sum(c.wakes for c in model.overtime.values())
    polls = len(model.overtime) * sc.horizon_hours / sc.staffing.overtime.block_hours
    assert wakes < 0.3 * polls


def _one_environment(sc: Scenario, seed: int) -> dict[str, HubRecord]:
    """The reference: every hub in one simpy environment, as before issue 16."""
    model = wiring.build_hub_model(sc, wiring.Streams(seed, 0))
    model.env.run(until=sc.horizon_hours)
    return build_records(model)


def _three_hubs(path: str, **overrides: object) -> Scenario:
    sc = load_scenario(ROOT / "scenarios" / path)
    data = sc.to_dict()
    data["hubs"] = {h: data["hubs"][h] for h in list(data["hubs"])[:3]}
    return Scenario.from_dict(data, source="three hubs").with_overrides(
        {"run.duration_days": 42.0, "reporting.audit_date": None, **overrides})


@pytest.mark.parametrize("path", ["thames_valley.toml", "summer_2023.toml"])
def test_hubs_alone_give_the_records_of_one_environment(path: str) -> None:
    """Independent hubs each in their own environment: every record as when all hubs
    shared one environment (their events keep their order within the hub)."""
    sc = _three_hubs(path, **{"staffing.overtime.enabled": True,
                              "staffing.overtime.weekly_cap_hours": 20.0,
                              "staffing.overtime.threshold": 5})
    assert wiring.hub_groups(sc) == [[h] for h in sc.hubs]
    assert_same_records(run_replication(sc, 11, 0), _one_environment(sc, 11))


@pytest.mark.parametrize("mode", ["pooled", "overflow"])
def test_hubs_sharing_people_stay_together(mode: str) -> None:
    sc = _three_hubs("thames_valley.toml", **{"pooling.mode": mode})
    assert wiring.hub_groups(sc) == [list(sc.hubs)]
    assert_same_records(run_replication(sc, 11, 0), _one_environment(sc, 11))


def test_metrics_reduced_hub_by_hub_equal_those_of_all_records() -> None:
    """Per-hub metrics as each hub finishes, force-wide ones from slim records: the very
    numbers `replication_metrics` gives from the full records (NaN where NaN)."""
    sc = _three_hubs("summer_2023.toml")
    seen: list[str] = []
    streamed = reduce_replication(replication_parts(sc, 4, 0), sc,
                                  lambda hub, _rec: seen.append(hub))
    whole = replication_metrics(run_replication(sc, 4, 0), sc)
    assert seen == list(sc.hubs) and list(streamed) == list(whole)
    for scope in whole:
        assert list(streamed[scope]) == list(whole[scope])
        np.testing.assert_array_equal(list(streamed[scope].values()),
                                      list(whole[scope].values()), err_msg=scope)


def _step_max_before(starts: np.ndarray, ends: np.ndarray) -> float:
    """The peak count as it was computed before issue 16: merge, lexsort, cumulate."""
    if len(starts) == 0:
        return 0.0
    t = np.concatenate((starts, ends))
    d = np.concatenate((np.ones(len(starts)), -np.ones(len(ends))))
    return float(max(0.0, np.cumsum(d[np.lexsort((d, t))]).max()))


def test_peak_count_with_less_memory_is_the_same_count() -> None:
    """Ties (whole hours), ends before their start and unmatched ends included."""
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(0, 30))
        starts = np.round(rng.uniform(0, 10, n))
        ends = (starts + np.round(rng.uniform(-2, 5, n)))[rng.random(n) < 0.7]
        assert _step_max(starts, ends) == _step_max_before(starts, ends)


@pytest.mark.parametrize("threshold", [2.5, 7.0])
def test_overtime_sleeping_on_the_queue_gives_the_polled_blocks(
        threshold: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default's queues cross a low threshold many times a day: each crossing wakes
    the controller at the next grid moment (the measure read only once enough pushes
    came to pass it), and the blocks are the poll's."""
    sc = _three_hubs("thames_valley.toml", **{
        "staffing.overtime.enabled": True, "staffing.overtime.weekly_cap_hours": 40.0,
        "staffing.overtime.threshold": threshold})
    new, old = run_replication(sc, 2, 0), _polled(sc, 2, monkeypatch)
    assert_same_records(new, old)
    assert sum(len(r.overtime) for r in new.values()) > 10
