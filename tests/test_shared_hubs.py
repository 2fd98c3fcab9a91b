"""Sweep points that share hubs simulate each hub group once per replication
(`mashsim.experiment.shared_hubs`), with every point's result exactly `single_run`'s."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mashsim.model.replication as replication
from mashsim import Scenario, load_scenario
from mashsim.experiment.executors import Task
from mashsim.experiment.replications import ReplicationResult, single_run
from mashsim.experiment.shared_hubs import PointsJob, group_keys, shares_groups
from mashsim.experiment.sweep import point_scenarios, sweep

from .conftest import ROOT

READING = "hubs.reading.roles.trained_attendee.headcount"


def _three_hubs(**overrides: object) -> Scenario:
    """The shipped default cut to its first three hubs, six weeks."""
    sc = load_scenario(ROOT / "scenarios" / "thames_valley.toml")
    data = sc.to_dict()
    data["hubs"] = {h: data["hubs"][h] for h in ("oxfordshire", "reading", "slough")}
    data["hubs"]["oxfordshire"]["demand_share"] = 0.4  # a small Oxfordshire: a fast test
    return Scenario.from_dict(data, source="three hubs").with_overrides(
        {"run.duration_days": 42.0, "run.warmup_days": 7.0, "reporting.audit_date": None,
         **overrides})


@pytest.fixture(scope="module")
def three() -> Scenario:
    return _three_hubs()


def _same(a: ReplicationResult, b: ReplicationResult) -> None:
    assert json.dumps(a.metrics, sort_keys=True) == json.dumps(b.metrics, sort_keys=True)
    assert list(a.metrics) == list(b.metrics)  # scopes in the same order
    assert a.daily.keys() == b.daily.keys()
    for hub in a.daily:
        assert a.daily[hub].keys() == b.daily[hub].keys()
        for stage in a.daily[hub]:
            np.testing.assert_array_equal(a.daily[hub][stage], b.daily[hub][stage])


def _count_groups(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every group simulated from here on, by its hubs."""
    runs: list[list[str]] = []
    real = replication._run_group

    def counted(sc, streams, hubs, cal):
        runs.append(list(hubs))
        return real(sc, streams, hubs, cal)

    monkeypatch.setattr(replication, "_run_group", counted)
    return runs


@pytest.mark.parametrize("vary", [
    {READING: [1, 2, 3]},  # one hub's posts: the other two hubs shared
    {"hubs.slough.demand_share": [1.0, 1.5]},  # every hub's demand share moves
    {"arrivals.referrals_per_day": [150.0, 180.0]},  # force-wide: nothing shared
    {"pooling.mode": ["independent", "pooled"]},  # one group of every hub at point 1
])
def test_each_point_is_exactly_its_own_replication(three: Scenario, vary) -> None:
    _, points = point_scenarios(three, vary)
    job = PointsJob(tuple(points))
    for r in (0, 1):
        got = job(points[0], 5, r)
        for sc, res in zip(points, got, strict=True):
            _same(res, single_run(sc, 5, r))


def test_a_hub_left_as_it_was_is_simulated_once(three: Scenario, monkeypatch) -> None:
    _, points = point_scenarios(three, {READING: [1, 2, 3]})
    runs = _count_groups(monkeypatch)
    PointsJob(tuple(points))(points[0], 1, 0)
    # point 0: all three hubs; points 1 and 2: Reading only
    assert runs == [["oxfordshire"], ["reading"], ["slough"], ["reading"], ["reading"]]


def test_a_demand_share_elsewhere_changes_every_hub(three: Scenario, monkeypatch) -> None:
    """Shares are normalised over every hub: one hub's share moves every hub's demand,
    so no group is reused (the key carries each group's normalised share)."""
    _, points = point_scenarios(three, {"hubs.slough.demand_share": [1.0, 1.5]})
    assert not shares_groups(points)
    runs = _count_groups(monkeypatch)
    PointsJob(tuple(points))(points[0], 1, 0)
    assert len(runs) == 6


def test_keys_follow_what_a_group_reads(three: Scenario) -> None:
    base = group_keys(three)
    assert len(set(base)) == 3
    reading = group_keys(three.with_overrides({READING: 4}))
    assert [a == b for a, b in zip(base, reading, strict=True)] == [True, False, True]
    force = group_keys(three.with_overrides({"queue.discipline": "deadline"}))
    assert not set(force) & set(base)


def test_sweep_over_one_hub_runs_the_others_once_and_resumes(three: Scenario, tmp_path,
                                                            monkeypatch) -> None:
    vary = {READING: [1, 2]}
    runs = _count_groups(monkeypatch)
    ticks: list[int] = []
    whole = sweep(three, vary, replications=2, seed=3, workers=1, out=tmp_path,
                  on_done=lambda: ticks.append(1))
    assert len(runs) == 2 * 4  # per replication: three hubs, then Reading again
    assert len(ticks) == 4  # counted as replications of points, not tasks
    assert len(list((tmp_path / "cache").rglob("r*.json"))) == 4  # cached per point
    runs.clear()
    again = sweep(three, vary, replications=2, seed=3, workers=1, out=tmp_path)
    assert runs == [] and again.equals(whole)


def test_parallel_equals_serial_and_a_task_per_point(three: Scenario) -> None:
    vary = {READING: [1, 2]}
    serial = sweep(three, vary, replications=2, seed=4, workers=1)
    parallel = sweep(three, vary, replications=2, seed=4, workers=2)
    assert parallel.equals(serial)
    job = PointsJob(tuple(point_scenarios(three, vary)[1]))
    parts = job.parts(4, 1)
    assert [t.replication for t in parts] == [1, 1] and parts[0] == Task(
        job.points[0], 4, 1)


def test_uncertain_inputs_drawn_per_replication_as_alone(three: Scenario) -> None:
    data = three.to_dict()
    data["arrivals"]["referrals_per_day"] = {"low": 60, "high": 100}
    sc = Scenario.from_dict(data, source="uncertain")
    _, points = point_scenarios(sc, {READING: [1, 2]})
    got = PointsJob(tuple(points))(points[0], 2, 3)
    for p, res in zip(points, got, strict=True):
        _same(res, single_run(p, 2, 3))


def test_points_sharing_hubs_run_on_dask_as_serially(three: Scenario,
                                                     dask_scheduler: str) -> None:
    vary = {READING: [1, 2]}
    serial = sweep(three, vary, replications=2, seed=6, workers=1)
    on_dask = sweep(three, vary, replications=2, seed=6, scheduler=dask_scheduler)
    assert on_dask.equals(serial)


def test_fewer_replications_than_workers_split_the_points() -> None:
    """A replication's points go to at most as many tasks as there are workers per
    replication, in runs of consecutive points of sizes within one."""
    from mashsim.experiment.shared_hubs import _chunks

    pts = list("abcdefg")
    assert _chunks(pts, 1) == [pts]
    assert _chunks(pts, 3) == [list("abc"), list("de"), list("fg")]
    assert _chunks(pts, 20) == [[p] for p in pts]
    assert _chunks(pts, 0) == [pts]


def test_a_split_grid_equals_the_serial_one(three: Scenario, monkeypatch) -> None:
    """One replication on three workers: a task a point (each worker busy), the same
    figures as one task of every point."""
    from mashsim.experiment.runner import ReplicationRunner

    vary = {READING: [1, 2, 3]}
    serial = sweep(three, vary, replications=1, seed=8, workers=1)
    sizes: list[list[int]] = []
    real = ReplicationRunner.run_all

    def run_all(self, tasks):
        sizes.append([len(t.job.points) for t in tasks])
        return real(self, tasks)

    monkeypatch.setattr(ReplicationRunner, "run_all", run_all)
    split = sweep(three, vary, replications=1, seed=8, workers=3)
    assert split.equals(serial)
    assert sizes == [[1, 1, 1]]
    sweep(three, vary, replications=3, seed=8, workers=3)
    assert sizes[-1] == [3, 3, 3]  # a replication a worker: one task of every point
