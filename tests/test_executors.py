"""Executors and the replication cache: parallel and Dask results equal the serial run."""

from __future__ import annotations

import numpy as np
import pytest

from mashsim.experiment.cache import Interrupted, ReplicationCache, _decode, _encode
from mashsim.experiment.executors import ProcessExecutor, SerialExecutor, Task
from mashsim.experiment.replications import ReplicationResult, single_run
from mashsim.experiment.runner import run_replications, run_tasks
from mashsim.experiment.sweep import sweep

VARY = {"hubs.reading.staff.headcount": [3, 4]}


def _same(a: ReplicationResult, b: ReplicationResult) -> None:
    assert a.replication == b.replication
    np.testing.assert_equal(a.metrics, b.metrics)  # NaN == NaN here
    assert a.daily.keys() == b.daily.keys()
    for hub in a.daily:
        for stage in a.daily[hub]:
            np.testing.assert_array_equal(a.daily[hub][stage], b.daily[hub][stage])


def test_process_pool_equals_serial(small_scenario):
    tasks = [Task(small_scenario, 7, r) for r in range(4)]
    serial = dict(SerialExecutor().run(tasks))
    with ProcessExecutor(2) as pool:
        parallel = dict(pool.run(tasks))
    assert serial.keys() == parallel.keys() == set(range(4))
    for i in serial:
        _same(serial[i], parallel[i])


def test_run_replications_order_and_values_independent_of_workers(small_scenario):
    one = run_replications(small_scenario, 3, seed=5, workers=1)
    two = run_replications(small_scenario, 3, seed=5, workers=2)
    assert [r.replication for r in two] == [0, 1, 2]
    for a, b in zip(one, two, strict=True):
        _same(a, b)


def test_sweep_on_dask_local_cluster_equals_serial(small_scenario, dask_scheduler):
    serial = sweep(small_scenario, VARY, replications=3, seed=2, workers=1)
    on_dask = sweep(small_scenario, VARY, replications=3, seed=2, scheduler=dask_scheduler)
    assert on_dask.equals(serial)


def test_unreachable_scheduler_is_a_clear_error(small_scenario):
    pytest.importorskip("distributed")
    from mashsim.errors import ScenarioError
    from mashsim.experiment.executors import DaskExecutor

    with pytest.raises(ScenarioError, match="cannot connect"):
        DaskExecutor("tcp://127.0.0.1:9", timeout_s=1.0)


def test_cache_round_trip_is_exact(small_scenario):
    res = single_run(small_scenario, 3, 1)
    back = _decode(_encode(res))
    _same(res, back)
    for hub in res.daily:
        for stage, arr in res.daily[hub].items():
            assert back.daily[hub][stage].dtype == arr.dtype


def test_interruption_keeps_finished_replications(small_scenario, tmp_path):
    tasks = [Task(small_scenario, 1, r) for r in range(5)]
    cache = ReplicationCache(tmp_path)
    done = []

    def ctrl_c_after_two() -> None:
        done.append(1)
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as err, SerialExecutor() as ex:
        run_tasks(tasks, ex, cache, on_done=ctrl_c_after_two)
    assert err.value.done == 2 and err.value.total == 5
    assert "saved under" in err.value.message() and "lost" in err.value.message()
    assert len(list((tmp_path / "cache").rglob("r*.json"))) == 2
    # the rerun runs only the three that are missing
    reran: list[int] = []
    with SerialExecutor() as ex:
        results = run_tasks(tasks, ex, cache, on_done=lambda: reran.append(1))
    assert len(reran) == 3
    for r, res in enumerate(results):
        _same(res, single_run(small_scenario, 1, r))
