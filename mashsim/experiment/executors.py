"""Where replications run: in this process, on local worker processes, or on Dask.

Every executor takes the same tasks — `Task(scenario, seed, replication)` — and yields
`(task index, result)` pairs (a `ReplicationResult`, or what the task's `job` returns)
as they finish, in any order. A replication is a pure function of its task, so the
caller, which puts results back in task order, gets exactly what a serial run gives
whatever the executor and number of workers.

A scenario pickles to about 5 kB in about 0.3 ms, against 0.05–1 s for a replication, so
the process pool simply sends it with each task; Dask scatters each scenario to the
cluster once (`broadcast=True`) because its per-task overhead is larger.

`Executor.queue()` is the same work asked for one task at a time: `submit(key, task,
priority)` and `next_done()` → `(key, result)` as each finishes, for a caller whose next
tasks depend on earlier results (`plan`'s hubs, each searched without waiting for the
others). Waiting tasks start highest priority first (ties: first submitted first).

On an exception or Ctrl-C in the caller, queued tasks are cancelled and the pool is shut
down. The local pool lets the replications already running finish and hands them back in
`salvaged` (a second Ctrl-C while it waits kills them); Dask cancels them (`in_flight`
says how many were lost).

Local workers die with the process that started them, however it ends (SIGKILL
included): on Linux the kernel kills them (prctl PR_SET_PDEATHSIG), and everywhere a
watchdog thread in each worker exits when its parent process is gone, so no orphan
keeps computing or holds the caller's pipes open.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import heapq
import itertools
import os
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from mashsim.errors import ScenarioError
from mashsim.experiment.replications import default_workers, single_run
from mashsim.model.demand_memo import keeping_demand
from mashsim.scenario.schema import Scenario

__all__ = [
    "DaskExecutor",
    "Executor",
    "Job",
    "ProcessExecutor",
    "SerialExecutor",
    "Task",
    "TaskQueue",
    "make_executor",
    "run_task",
    "task_parts",
    "task_weight",
]


class Job(ABC):
    """Another reduction of one replication than `single_run`'s (e.g. the backtest's).

    A job is a picklable value (a frozen dataclass at module level) whose parameters are
    its `cache_key`; `encode`/`decode` turn its result into JSON-ready data and back
    exactly, so the replication cache can keep it.
    """

    @abstractmethod
    def __call__(self, scenario: Scenario, seed: int, replication: int) -> Any:
        """The result of replication `replication`: a pure function of the inputs."""

    @abstractmethod
    def cache_key(self) -> str:
        """The job and its parameters, as text: part of the cache key."""

    def encode(self, result: Any) -> Any:
        return result

    def decode(self, data: Any) -> Any:
        return data

    def parts(self, seed: int, replication: int) -> list[Task] | None:
        """The plain tasks whose results, in order, this job's result is (None: it is a
        reduction of its own). Such a job computes several replications in one task
        (sharing work between them) and is cached, and counted, as those tasks."""
        return None


@dataclass(frozen=True)
class Task:
    """One replication to run: the pure inputs of `single_run` (or of `job`).

    `outcomes` keeps each referral's waits on the result (the report's figures need them
    for a few replications); `job` replaces `single_run` by another reduction;
    `keep_demand`: the worker keeps a one-hub replication's demand draws for the same
    replication at another staffing (`plan`; `mashsim.model.demand_memo`), results
    unchanged.
    """

    scenario: Scenario
    seed: int
    replication: int
    outcomes: bool = False
    job: Job | None = None
    keep_demand: bool = False


def task_parts(task: Task) -> list[Task] | None:
    """The plain tasks `task` stands for (`Job.parts`), or None."""
    return None if task.job is None else task.job.parts(task.seed, task.replication)


def task_weight(task: Task) -> int:
    """Replications `task` computes: its parts, or one."""
    parts = task_parts(task)
    return 1 if parts is None else len(parts)


def run_task(task: Task) -> Any:
    """What any executor computes for `task`, wherever it runs."""
    with keeping_demand(task.keep_demand):
        if task.job is not None:
            return task.job(task.scenario, task.seed, task.replication)
        return single_run(task.scenario, task.seed, task.replication, task.outcomes)


class Executor(ABC):
    """Runs tasks and yields (index, result) as each finishes; a context manager."""

    #: replications that were running when the last `run` was abandoned and are lost
    in_flight: int = 0
    #: (index, result) of replications that finished while the abandoned run stopped
    salvaged: list[tuple[int, Any]] = []  # noqa: RUF012 - reset per instance

    @abstractmethod
    def run(self, tasks: Sequence[Task]) -> Generator[tuple[int, Any], None, None]:
        """Yield `(i, single_run(*tasks[i]))` for every task, in completion order."""

    @abstractmethod
    def queue(self) -> TaskQueue:
        """An empty queue on this executor's workers, for tasks submitted one by one."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release workers; idempotent."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TaskQueue(ABC):
    """Tasks submitted one at a time and taken back as each finishes, in any order.

    The caller may submit more between `next_done` calls (what it asks next depends on
    what came back), so workers never wait for a whole batch. Waiting tasks start
    highest `priority` first, ties in submission order.
    """

    #: replications that were running when the queue was abandoned and are lost
    in_flight: int = 0

    def __init__(self) -> None:
        #: (key, result) of replications that finished while the queue was abandoned
        self.salvaged: list[tuple[Hashable, Any]] = []
        self._order = itertools.count()
        self._waiting: list[tuple[float, int, Hashable, Task]] = []  # a heap

    def submit(self, key: Hashable, task: Task, priority: float = 0.0) -> None:
        """Queue `task`; `next_done` hands its result back with `key`."""
        heapq.heappush(self._waiting, (-priority, next(self._order), key, task))
        self._started()

    def _pop(self) -> tuple[Hashable, Task]:
        _, _, key, task = heapq.heappop(self._waiting)
        return key, task

    def _started(self) -> None:  # noqa: B027 - a hook: start what the workers can take
        """Hand waiting tasks to idle workers (nothing to do for a serial queue)."""

    @abstractmethod
    def __len__(self) -> int:
        """Tasks submitted and not yet handed back."""

    @abstractmethod
    def next_done(self) -> tuple[Hashable, Any]:
        """The next task to finish, as (key, result); blocks until one does."""

    def abandon(self) -> None:
        """Cancel what is queued; running work is kept (`salvaged`) or lost (`in_flight`)."""
        self._waiting.clear()


class SerialExecutor(Executor):
    """Run in this process, in task order: the reference every executor must match."""

    def run(self, tasks: Sequence[Task]) -> Generator[tuple[int, Any], None, None]:
        for i, t in enumerate(tasks):
            self.in_flight = 1
            result = run_task(t)
            self.in_flight = 0
            yield i, result

    def queue(self) -> TaskQueue:
        return _SerialQueue()


class _SerialQueue(TaskQueue):
    """Runs each task in this process when its result is asked for, best first."""

    def __len__(self) -> int:
        return len(self._waiting)

    def next_done(self) -> tuple[Hashable, Any]:
        key, task = self._pop()
        self.in_flight = 1
        result = run_task(task)
        self.in_flight = 0
        return key, result


# -- local worker processes ---------------------------------------------------------

_PR_SET_PDEATHSIG = 1
WATCHDOG_PERIOD_S = 0.5


def _worker_init(parent_pid: int, pdeathsig: bool) -> None:
    # Ctrl-C goes to the whole process group; let the parent decide, so that workers
    # never print a traceback of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if pdeathsig:
        _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="mashsim-parent-watchdog").start()


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGKILL to this worker when its parent thread dies."""
    if not sys.platform.startswith("linux"):
        return
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    with suppress(OSError, AttributeError):  # without it the watchdog still works
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL,
                                                     0, 0, 0)


def _watch_parent(parent_pid: int) -> None:
    """Portable fallback: exit as soon as the parent process is gone (we are re-parented)."""
    while os.getppid() == parent_pid:
        time.sleep(WATCHDOG_PERIOD_S)
    os._exit(1)


def _worker_run(task: Task) -> Any:
    return run_task(task)


class ProcessExecutor(Executor):
    """A pool of local worker processes (fork on Linux), kept across `run` calls."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def pool(self) -> ProcessPoolExecutor:
        """The worker processes, started on first use."""
        if self._pool is None:
            # PDEATHSIG fires when the forking *thread* ends, so use it only when workers
            # are forked from the main thread, which lives as long as the process.
            main = threading.current_thread() is threading.main_thread()
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             initializer=_worker_init,
                                             initargs=(os.getpid(), main))
        return self._pool

    def run(self, tasks: Sequence[Task]) -> Generator[tuple[int, Any], None, None]:
        pool = self.pool()
        # A bounded window of submitted tasks: an interruption then cancels cheaply.
        window = 2 * self.workers
        pending: dict[Future, int] = {}
        todo = iter(range(len(tasks)))
        finished = False
        try:
            for i in todo:
                pending[pool.submit(_worker_run, tasks[i])] = i
                if len(pending) >= window:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=pending.__getitem__):
                    i = pending.pop(fut)
                    result = fut.result()
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending[pool.submit(_worker_run, tasks[nxt])] = nxt
                    yield i, result
            finished = True
        finally:
            if not finished:
                self._abandon(pending)

    def queue(self) -> TaskQueue:
        return _ProcessQueue(self)

    def _abandon(self, pending: dict[Future, Any]) -> None:
        """Cancel what is queued, let what is running finish, keep what finished."""
        for fut in pending:
            fut.cancel()
        try:
            self.close()  # waits for the running ones
        except KeyboardInterrupt:  # a second Ctrl-C: do not wait, kill them
            self.terminate()
            self.in_flight = sum(1 for f in pending if not f.done())
            self.salvaged = [(i, f.result()) for f, i in pending.items()
                             if f.done() and not f.cancelled() and f.exception() is None]
            raise
        self.salvaged = [(i, f.result()) for f, i in pending.items()
                         if not f.cancelled() and f.exception() is None]
        self.in_flight = sum(1 for f in pending if not f.cancelled()) - len(self.salvaged)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def terminate(self) -> None:
        """Kill the workers now (what is running is lost); idempotent."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.join(timeout=5)


class _ProcessQueue(TaskQueue):
    """Tasks on the pool: one per worker plus one, so that a worker never waits for the
    parent to hand it the next; the others wait here, in priority order (a task given
    to the pool can no longer be overtaken)."""

    def __init__(self, executor: ProcessExecutor) -> None:
        super().__init__()
        self._executor = executor
        self._running: dict[Future, Hashable] = {}
        self._done: list[tuple[Hashable, Any]] = []

    def __len__(self) -> int:
        return len(self._waiting) + len(self._running) + len(self._done)

    def _started(self) -> None:
        window = self._executor.workers + 1
        while self._waiting and len(self._running) < window:
            key, task = self._pop()
            self._running[self._executor.pool().submit(_worker_run, task)] = key

    def next_done(self) -> tuple[Hashable, Any]:
        if not self._done:
            finished, _ = wait(self._running, return_when=FIRST_COMPLETED)
            order = {f: n for n, f in enumerate(self._running)}  # first given, first back
            for fut in sorted(finished, key=order.__getitem__):
                key = self._running.pop(fut)
                self._done.append((key, fut.result()))
            self._started()
        return self._done.pop(0)

    def abandon(self) -> None:
        """Cancel what waits, let what runs finish (kept in `salvaged`): as `run` does."""
        self._waiting.clear()
        kept, self._done = self._done, []
        try:
            self._executor._abandon(self._running)
        finally:
            self.salvaged = kept + list(self._executor.salvaged)
            self.in_flight = self._executor.in_flight
            self._executor.salvaged, self._running = [], {}


# -- Dask distributed ---------------------------------------------------------------


def _dask_run(scenario: Scenario, seed: int, rep: int, outcomes: bool,
              job: Job | None, keep_demand: bool = False) -> Any:
    return run_task(Task(scenario, seed, rep, outcomes, job, keep_demand))


class DaskExecutor(Executor):
    """Tasks on an existing Dask distributed cluster (`tcp://host:port` or a Client).

    Needs the optional extra `mashsim[dask]`; workers must have mashsim importable.
    """

    def __init__(self, scheduler: Any, timeout_s: float = 20.0) -> None:
        self._scattered: dict[int, tuple[Scenario, Any]] = {}
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - depends on the environment
            raise ScenarioError([f"--scheduler {scheduler}: needs Dask distributed "
                                 "(pip install 'mashsim[dask]')"]) from None
        if isinstance(scheduler, Client):
            self._client, self._own = scheduler, False
            return
        try:
            self._client = Client(scheduler, set_as_default=False, timeout=timeout_s)
        except (OSError, TimeoutError, ValueError) as err:
            raise ScenarioError([f"--scheduler {scheduler}: cannot connect to a Dask "
                                 f"scheduler ({err})"]) from None
        self._own = True

    def _remote(self, scenario: Scenario) -> Any:
        entry = self._scattered.get(id(scenario))
        if entry is None or entry[0] is not scenario:
            fut = self._client.scatter(scenario, broadcast=True, hash=False)
            entry = (scenario, fut)
            self._scattered[id(scenario)] = entry
        return entry[1]

    def run(self, tasks: Sequence[Task]) -> Generator[tuple[int, Any], None, None]:
        from distributed import as_completed

        futures = {self.submit(t): i for i, t in enumerate(tasks)}
        finished = False
        try:
            for fut in as_completed(list(futures), loop=self._client.loop):
                yield futures[fut], fut.result()
            finished = True
        finally:
            if not finished:
                self.in_flight = sum(1 for f in futures if f.status == "pending")
                self._client.cancel(list(futures))

    def queue(self) -> TaskQueue:
        return _DaskQueue(self)

    def submit(self, task: Task, priority: float = 0.0) -> Any:
        """One task on the cluster (Dask runs higher `priority` first; 0 is its
        default); its future."""
        return self._client.submit(_dask_run, self._remote(task.scenario), task.seed,
                                   task.replication, task.outcomes, task.job, task.keep_demand,
                                   pure=False, priority=priority)

    def close(self) -> None:
        self._scattered.clear()
        if self._own:
            self._client.close()
            self._own = False


class _DaskQueue(TaskQueue):
    """Every task goes to the cluster at once, with its priority: Dask's scheduler
    keeps its workers busy and starts the highest priority first."""

    def __init__(self, executor: DaskExecutor) -> None:
        super().__init__()
        self._executor = executor
        self._futures: dict[Any, Hashable] = {}
        self._finished: Any = None  # distributed.as_completed, made on first submit

    def __len__(self) -> int:
        return len(self._waiting) + len(self._futures)

    def _started(self) -> None:
        from distributed import as_completed

        while self._waiting:
            priority = -self._waiting[0][0]
            key, task = self._pop()
            fut = self._executor.submit(task, priority)
            self._futures[fut] = key
            if self._finished is None:
                self._finished = as_completed([fut], loop=self._executor._client.loop)
            else:
                self._finished.add(fut)

    def next_done(self) -> tuple[Hashable, Any]:
        fut = next(self._finished)
        key = self._futures.pop(fut)
        return key, fut.result()

    def abandon(self) -> None:
        """Cancel every task not handed back (those running are lost: `in_flight`)."""
        self._waiting.clear()
        futures, self._futures = list(self._futures), {}
        self.in_flight = sum(1 for f in futures if f.status == "pending")
        if futures:
            self._executor._client.cancel(futures)


def make_executor(workers: int | None = None, scheduler: Any = None) -> Executor:
    """Dask when a scheduler is named, else processes for workers > 1, else serial."""
    if scheduler is not None:
        return DaskExecutor(scheduler)
    n = workers if workers is not None else default_workers()
    return ProcessExecutor(n) if n > 1 else SerialExecutor()
