"""The one replication runner: executor + cache + progress, under every command.

`run`, `sweep`, `plan`, `report` and `backtest` all run their replications here, so each
gets the same choice of executor (`--workers`, `--scheduler`), the same resume (the
replication cache under `--out`) and the same progress bar. A replication's seed streams
depend only on (seed, r), so the results are identical whatever the executor, the number
of workers and the order in which replications finish.

`ReplicationRunner.run(tasks)` yields `(task index, result)` as each result is ready,
the cache consulted per task: a caller may ask for replications in batches and stop
iterating when it has seen enough (a sequential search); stopping cancels what is
queued and keeps (saves) what was already running. `run_all(tasks)` gives every result in
task order, and turns Ctrl-C into `Interrupted` (what was saved and what was lost).
`with runner.stream() as stream:` takes tasks one at a time instead
(`stream.submit(key, task, priority)`, `stream.next_done()` → `(key, result)`), for a
caller whose next tasks depend on what came back (`plan`): same cache, progress and
Ctrl-C rule.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Hashable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

from mashsim.errors import ScenarioError
from mashsim.experiment.cache import Interrupted, ReplicationCache
from mashsim.experiment.executors import (
    Executor,
    ProcessExecutor,
    SerialExecutor,
    Task,
    TaskQueue,
    make_executor,
    task_weight,
)
from mashsim.experiment.replications import ReplicationResult
from mashsim.progress import stream
from mashsim.scenario.schema import Scenario

__all__ = ["Progress", "ReplicationRunner", "ReplicationStream", "replication_runner",
           "run_replications", "run_tasks"]


class Progress:
    """tqdm bar on stderr (replications done, ETA); a no-op when disabled."""

    def __init__(self, enabled: bool, desc: str, on_done: Callable[[], None] | None = None,
                 delay_s: float = 0.5):
        self._bar = None
        self._on_done = on_done
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=0, desc=desc, unit="rep", file=stream(), delay=delay_s,
                             leave=False, dynamic_ncols=True)

    def add_total(self, n: int) -> None:
        if self._bar is not None:
            self._bar.total += n
            bar = self._bar
            if bar._time() >= bar.start_t + bar.delay:  # never before its delay
                bar.refresh()

    def cached(self, n: int) -> None:
        if self._bar is not None and n:
            self._bar.update(n)

    def done(self, n: int = 1) -> None:
        """`n` replications finished (a task made of parts counts them all)."""
        if self._bar is not None:
            self._bar.update(n)
        if self._on_done is not None:
            for _ in range(n):
                self._on_done()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class ReplicationRunner:
    """Runs tasks on an executor, reusing and filling a cache, ticking a progress bar."""

    def __init__(self, executor: Executor, cache: ReplicationCache | None = None,
                 progress: Progress | None = None) -> None:
        self.executor = executor
        self.cache = cache if cache is not None else ReplicationCache(None)
        self.progress = progress if progress is not None else Progress(False, "")
        #: (task index, result) of replications that finished while a run was stopped
        self.salvaged: list[tuple[int, Any]] = []

    @property
    def workers(self) -> int:
        """Replications that run at once (for choosing a batch size)."""
        return int(getattr(self.executor, "workers", 1))

    def run(self, tasks: Sequence[Task]) -> Generator[tuple[int, Any], None, None]:
        """Yield `(i, result of tasks[i])` for every task: saved ones first, then each as
        it finishes (any order). Each one run here is saved before it is yielded."""
        self.progress.add_total(sum(map(task_weight, tasks)))
        missing: list[int] = []
        ready: list[tuple[int, Any]] = []
        for i, task in enumerate(tasks):
            res = self.cache.get(task)
            if res is None:
                missing.append(i)
            else:
                ready.append((i, res))
        self.progress.cached(sum(task_weight(tasks[i]) for i, _ in ready))
        yield from ready
        if not missing:
            return
        try:
            # closing(): stop the executor's generator (cancelling queued work and
            # counting what was in flight) as soon as this one is stopped.
            with closing(self.executor.run([tasks[i] for i in missing])) as finished:
                for j, res in finished:
                    self.cache.put(tasks[missing[j]], res)
                    try:
                        self.progress.done(task_weight(tasks[missing[j]]))
                    except BaseException:  # stopped here: this one is saved, keep it
                        self.salvaged.append((missing[j], res))
                        raise
                    yield missing[j], res
        finally:
            for j, res in self.executor.salvaged:  # finished while stopping: keep them
                self.salvaged.append((missing[j], res))
                with suppress(ScenarioError):  # the folder cannot take it: the error says
                    self.cache.put(tasks[missing[j]], res)
            self.executor.salvaged = []

    def run_all(self, tasks: Sequence[Task]) -> list[Any]:
        """Every task's result, in task order; Ctrl-C raises `Interrupted`."""
        results: list[Any] = [None] * len(tasks)
        self.salvaged = []
        try:
            with closing(self.run(tasks)) as ready:
                for i, res in ready:
                    results[i] = res
        except KeyboardInterrupt as err:
            if isinstance(err, Interrupted):
                raise
            for i, res in self.salvaged:
                results[i] = res
            done = sum(task_weight(t) for t, r in zip(tasks, results, strict=True)
                       if r is not None)
            raise Interrupted(done, sum(map(task_weight, tasks)), self.executor.in_flight,
                              self.cache.root) from None
        return results

    @contextmanager
    def stream(self) -> Iterator[ReplicationStream]:
        """Tasks one at a time (`ReplicationStream`); Ctrl-C raises `Interrupted`, and
        any exception cancels what is queued, keeping (saving) what was running."""
        queue = self.executor.queue()
        stream = ReplicationStream(self, queue)
        try:
            yield stream
        except BaseException as err:
            interrupted = isinstance(err, KeyboardInterrupt) and not isinstance(
                err, Interrupted)
            try:
                stream.abandon()
            except KeyboardInterrupt:  # a second Ctrl-C while the running ones finish
                interrupted = True
            if interrupted:
                raise Interrupted(stream.done, stream.total, queue.in_flight,
                                  self.cache.root) from None
            raise


class ReplicationStream:
    """A runner's tasks submitted one by one, results taken back as each finishes.

    `submit(key, task, priority)` answers from the cache at once where the result is
    saved, else queues the task on the executor (highest priority first);
    `next_done()` gives `(key, result)` of the next one back, saved before it is
    given. `len(stream)`: submitted and not yet taken back.
    """

    def __init__(self, runner: ReplicationRunner, queue: TaskQueue) -> None:
        self._runner, self._queue = runner, queue
        self._ready: deque[tuple[Hashable, Any]] = deque()
        self._tasks: dict[Hashable, Task] = {}
        self.total = 0  # tasks submitted
        self.done = 0  # results saved or taken from the cache
        self._unannounced = 0  # submitted, not yet added to the progress bar's total

    def submit(self, key: Hashable, task: Task, priority: float = 0.0) -> None:
        if key in self._tasks or any(k == key for k, _ in self._ready):
            raise ValueError(f"task key {key!r} is already waiting")
        self.total += 1
        self._unannounced += 1
        res = self._runner.cache.get(task)
        if res is not None:
            self.done += 1
            self._ready.append((key, res))
            return
        self._tasks[key] = task
        self._queue.submit(key, task, priority)

    def __len__(self) -> int:
        return len(self._ready) + len(self._queue)

    def next_done(self) -> tuple[Hashable, Any]:
        if self._unannounced:  # a whole step's submissions at once: one bar refresh
            self._runner.progress.add_total(self._unannounced)
            self._unannounced = 0
        if self._ready:
            self._runner.progress.cached(1)
            return self._ready.popleft()
        key, res = self._queue.next_done()
        self._runner.cache.put(self._tasks.pop(key), res)
        self.done += 1
        self._runner.progress.done()  # Ctrl-C here: this one is saved already
        return key, res

    def abandon(self) -> None:
        """Stop: cancel what is queued; what finished meanwhile is saved."""
        try:
            self._queue.abandon()
        finally:
            for key, res in self._queue.salvaged:
                self.done += 1
                with suppress(ScenarioError):  # the folder cannot take it: the error says
                    self._runner.cache.put(self._tasks.pop(key), res)
            self._queue.salvaged = []


@contextmanager
def replication_runner(
    workers: int | None = None,
    scheduler: Any = None,
    out: str | Path | None = None,
    progress: bool = False,
    desc: str = "replications",
    on_done: Callable[[], None] | None = None,
    delay_s: float = 0.5,
) -> Iterator[ReplicationRunner]:
    """A runner on `make_executor(workers, scheduler)`, caching under `out/cache` (when
    `out` is a folder), with a progress bar when `progress` (shown after `delay_s`);
    released on exit."""
    cache = ReplicationCache(out)
    bar = Progress(progress, desc, on_done, delay_s)
    with make_executor(workers, scheduler) as executor:
        try:
            yield ReplicationRunner(executor, cache, bar)
        finally:
            bar.close()


def run_tasks(
    tasks: Sequence[Task],
    executor: Executor,
    cache: ReplicationCache,
    on_done: Callable[[], None] | None = None,
    on_cached: Callable[[int], None] | None = None,
) -> list[Any]:
    """Results for `tasks` in task order: from the cache where saved, else run and saved.

    `on_cached(n)` is told how many came from the cache; `on_done()` is called after each
    replication run here has been saved (an exception from it stops the run, keeping what
    was saved).
    """

    class _Callbacks(Progress):
        def __init__(self) -> None:
            super().__init__(False, "", on_done)

        def cached(self, n: int) -> None:
            if on_cached is not None:
                on_cached(n)

    return ReplicationRunner(executor, cache, _Callbacks()).run_all(tasks)


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    workers: int = 1,
    on_done: Callable[[], None] | None = None,
) -> list[ReplicationResult]:
    """Run replications 0..n-1, in order of replication number whatever the workers."""
    tasks = [Task(scenario, seed, r) for r in range(replications)]
    workers = min(workers, replications)
    with ProcessExecutor(workers) if workers > 1 else SerialExecutor() as executor:
        return ReplicationRunner(executor, None, Progress(False, "", on_done)).run_all(tasks)
