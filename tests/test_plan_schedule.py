"""Issue 14, `plan` wall time: hubs are searched with no lock-step barrier between them.

`run_searches` submits each hub's replications as soon as that hub asks and advances its
search as soon as its own step is back. Each hub's search must still see exactly its own
results in its own request order, so the plan equals a lock-step drive of the same
searches whatever order the replications finish in; the queues under it (serial,
process pool, Dask) start the highest priority first and stop cleanly on Ctrl-C.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import random
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mashsim import load_scenario
from mashsim.experiment.cache import Interrupted, ReplicationCache
from mashsim.experiment.executors import Job, ProcessExecutor, SerialExecutor, Task
from mashsim.experiment.plan import _searches, plan
from mashsim.experiment.plan_search import HubSearch, Planner, _advance, _size, run_searches
from mashsim.experiment.plan_targets import Target
from mashsim.experiment.runner import Progress, ReplicationRunner
from tests.conftest import SHIPPED

TARGET = Target.parse("sd_breach_72h<=0.05")


def _fake_metrics(task: Task) -> dict[str, dict[str, float]]:
    """A breach rate falling with the hub's posts per referral a day (each role's weighing
    differently), plus noise fixed by (seed, replication, staffing): a stand-in for a
    replication, cheap and deterministic."""
    out = {}
    per_day = task.scenario.arrivals.referrals_per_day  # the hub alone: its own demand
    for name, hub in task.scenario.hubs.items():
        posts = [r.headcount for r in hub.roles.values()] or [hub.staff.headcount]
        weighted = sum(x / (i + 1) for i, x in enumerate(posts))
        rng = np.random.default_rng([task.seed, task.replication, *posts])
        out[name] = {TARGET.metric: 0.9 * math.exp(-4.0 * weighted / per_day)
                     + float(rng.normal(0.0, 0.03))}
    return out


class _ShuffledStream:
    """Hands results back in a random order of everything submitted (not one hub's
    step at a time, not in submission order): what a pool of workers may do."""

    def __init__(self, rng: random.Random) -> None:
        self._rng, self._waiting = rng, []

    def submit(self, key: Hashable, task: Task, priority: float = 0.0) -> None:
        self._waiting.append((key, task))

    def __len__(self) -> int:
        return len(self._waiting)

    def next_done(self) -> tuple[Hashable, Any]:
        key, task = self._waiting.pop(self._rng.randrange(len(self._waiting)))
        return key, SimpleNamespace(metrics=_fake_metrics(task))


class _ShuffledRunner:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    @contextmanager
    def stream(self) -> Iterator[_ShuffledStream]:
        yield _ShuffledStream(self.rng)


def _lock_step(planner: Planner, searches: list[HubSearch]) -> None:
    """The reference: every hub's requests of a round run together, in order."""
    gens = {id(s): planner.search(s) for s in searches}
    pending = {id(s): (s, r) for s in searches
               if (r := _advance(gens[id(s)], None)) is not None}
    while pending:
        now, pending = pending, {}
        for s, reqs in sorted(now.values(), key=lambda item: -_size(item[0])):
            got = [[_fake_metrics(Task(q.scenario, q.seed, r))[s.hub] for r in q.reps]
                   for q in reqs]
            if (nxt := _advance(gens[id(s)], got)) is not None:
                pending[id(s)] = (s, nxt)


def _outcome(s: HubSearch) -> Any:
    def point(p: Any) -> Any:
        return None if p is None else (p.posts, p.patterns, p.seed, p.meets, p.metrics)

    return (point(s.answer), point(s.last), point(s.now_point),
            {r: point(p) for r, p in s.one_below.items()}, s.confirmed,
            s.replications_used, s.replications_by_phase, s.trace)


def _searches_and_planner(scenario: Any) -> tuple[list[HubSearch], Planner]:
    searches = _searches(scenario, "all", None, True, {})
    return searches, Planner([TARGET], [TARGET.metric], 20, 1, "cost")


@pytest.mark.parametrize("order_seed", [1, 2, 3])
def test_results_finishing_in_any_order_give_the_lock_step_plan(order_seed) -> None:
    """Every role of every hub of the shipped default; results back in a random order
    across hubs, steps and replications: each hub's search must still get its own, in
    its request order."""
    sc = load_scenario(SHIPPED)
    ref, planner = _searches_and_planner(sc)
    _lock_step(planner, ref)
    got, planner = _searches_and_planner(sc)
    run_searches(planner, got, _ShuffledRunner(order_seed), lambda s: s.hub)
    assert len(got) == len(sc.hubs) > 1
    assert [_outcome(s) for s in got] == [_outcome(s) for s in ref]
    assert all(s.answer is not None for s in got)  # the searches went somewhere
    assert sum(len(s.trace) for s in got) > 5 * len(got)


def test_plan_json_is_the_same_on_one_worker_two_and_dask(small_scenario) -> None:
    distributed = pytest.importorskip("distributed")
    sc = small_scenario.with_overrides({"run.duration_days": 35.0})
    args = (["sd_breach_72h<=0.5"], "reading")
    one = plan(sc, *args, replications=4, seed=2, workers=1).attrs["plan"]
    two = plan(sc, *args, replications=4, seed=2, workers=2).attrs["plan"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        on_dask = plan(sc, *args, replications=4, seed=2,
                       scheduler=cluster.scheduler_address).attrs["plan"]
    assert json.dumps(two) == json.dumps(one) == json.dumps(on_dask)
    assert one["replications_used"] > 0


# -- the queues -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Echo(Job):
    """The replication number back, without simulating."""

    def __call__(self, scenario: Any, seed: int, replication: int) -> int:
        return replication

    def cache_key(self) -> str:
        return "echo"


def test_serial_queue_runs_the_highest_priority_first(small_scenario) -> None:
    queue = SerialExecutor().queue()
    for key, priority in (("a", 1.0), ("b", 5.0), ("c", 1.0), ("d", 3.0)):
        queue.submit(key, Task(small_scenario, 1, ord(key), job=_Echo()), priority)
    got = [queue.next_done() for _ in range(len(queue))]
    assert got == [("b", ord("b")), ("d", ord("d")), ("a", ord("a")), ("c", ord("c"))]
    assert len(queue) == 0


def test_process_queue_gives_every_result_back_under_its_key(small_scenario) -> None:
    with ProcessExecutor(2) as ex:
        queue = ex.queue()
        for r in range(7):
            queue.submit(("k", r), Task(small_scenario, 1, r, job=_Echo()), priority=r % 3)
        back = dict(queue.next_done() for _ in range(7))
        queue.submit("late", Task(small_scenario, 1, 99, job=_Echo()))  # after a drain
        assert queue.next_done() == ("late", 99) and len(queue) == 0
    assert back == {("k", r): r for r in range(7)}


def test_ctrl_c_in_a_stream_saves_what_ran_and_leaves_no_worker(small_scenario,
                                                                tmp_path) -> None:
    tasks = [Task(small_scenario, 3, r) for r in range(6)]
    seen: list[int] = []

    def ctrl_c_after_two() -> None:
        seen.append(1)
        if len(seen) == 2:
            raise KeyboardInterrupt

    ex = ProcessExecutor(2)
    runner = ReplicationRunner(ex, ReplicationCache(tmp_path),
                               Progress(False, "", ctrl_c_after_two))
    with pytest.raises(Interrupted) as err, runner.stream() as stream:
        for r, task in enumerate(tasks):
            stream.submit(r, task)
        while len(stream):
            stream.next_done()
    assert ex._pool is None and not multiprocessing.active_children()
    saved = len(list((tmp_path / "cache").rglob("r*.json")))
    assert err.value.total == 6 and err.value.done == saved >= 2
    assert err.value.done + err.value.in_flight <= 6
    # the rerun takes the saved ones from the cache and runs only the rest
    ran: list[int] = []
    with SerialExecutor() as serial:
        runner = ReplicationRunner(serial, ReplicationCache(tmp_path),
                                   Progress(False, "", lambda: ran.append(1)))
        assert len(runner.run_all(tasks)) == 6
    assert len(ran) == 6 - saved
