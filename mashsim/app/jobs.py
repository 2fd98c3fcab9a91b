"""Runs in worker processes, so the page never waits on a simulation and can cancel one.

A `Job` runs one function (a simulation, a plan, a report) in its own process and sends
back a tick per replication done, then its result or its input problems. Cancelling kills
that process; its replication workers die with it (mashsim's local workers have the
kernel kill them when their parent dies, and a watchdog everywhere), and the job process
itself exits when the app's server process is gone, so nothing is left behind.

`JobManager` keeps finished results by key (scenario fingerprint, replications, seed),
so returning to a setting already run is instant, and shares a running job between
requests for the same key.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from mashsim.errors import InputError

__all__ = ["Job", "JobManager", "default_workers", "plan_job", "report_job",
           "simulate_job"]

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
SERVER_WATCH_PERIOD_S = 0.5
MAX_CACHED = 48  # finished results kept (a default run's results are ≈0.3 MB)


def default_workers() -> int:
    """Usable cores (the CPU affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


# -- what runs in the job process ----------------------------------------------------


def simulate_job(scenario: Any, replications: int, seed: int, workers: int,
                 on_done: Callable[[], None]) -> Any:
    """mashsim.simulate with a tick per replication."""
    from mashsim.experiment.simulate import simulate

    return simulate(scenario, replications=replications, seed=seed,
                    workers=min(workers, replications), on_replication_done=on_done)


def plan_job(scenario: Any, targets: list[str], hubs: list[str], replications: int, seed: int,
             workers: int, on_done: Callable[[], None]) -> Any:
    """mashsim.plan.plan (least posts per hub meeting the targets), a tick per replication."""
    from mashsim.experiment.plan import plan

    return plan(scenario, targets, hubs=hubs, replications=replications, seed=seed,
                workers=workers, on_done=on_done)


def report_job(base: Any, other: Any, on_done: Callable[[], None]) -> str:
    """The self-contained HTML report: the baseline with the what-if as its comparison."""
    from mashsim.report import build_report

    return build_report(base, comparisons={"what-if": other}, base_name="baseline").html


def _watch_server(server_pid: int) -> None:
    """Exit as soon as the app's server process is gone (nobody is left to read results)."""
    while True:
        time.sleep(SERVER_WATCH_PERIOD_S)
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # pragma: no cover - a pid reused by another user
            os._exit(1)


def _job_main(conn: Any, server_pid: int, func: Callable[..., Any], args: tuple[Any, ...]
              ) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal: the server decides
    if sys.platform.startswith("linux"):
        # This process was started by the forkserver, whose start method it inherits;
        # mashsim's replication workers must be this process's own children (fork).
        mp.set_start_method("fork", force=True)
    threading.Thread(target=_watch_server, args=(server_pid,), daemon=True).start()

    def tick() -> None:
        conn.send(("tick", None))

    try:
        result = func(*args, on_done=tick)
    except InputError as err:
        conn.send(("error", list(err.problems)))
    except Exception as err:  # reported on the page; the server keeps running
        conn.send(("error", [f"{type(err).__name__}: {err}"]))
    else:
        conn.send(("result", result))
    conn.close()


def _context() -> Any:
    """forkserver where there is one (forks a clean, pre-imported process: quick and safe
    beside the web server's threads), else spawn."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["mashsim", "mashsim.plan", "mashsim.report"])
        return ctx
    return mp.get_context("spawn")


# -- the app's side ------------------------------------------------------------------


class Job:
    """One function running in a worker process; `poll()` collects what it has sent."""

    def __init__(self, key: Hashable, total: int | None,
                 on_result: Callable[[Hashable, Any], None] | None = None) -> None:
        self.key = key
        self.total = total  # replications expected (None: not known in advance)
        self.done = 0
        self.state = RUNNING
        self.result: Any = None
        self.problems: list[str] = []
        self.started_s = time.monotonic()
        self.finished_s: float | None = None
        self._on_result = on_result
        self._process: Any = None
        self._conn: Any = None
        self._lock = threading.Lock()

    @classmethod
    def finished(cls, key: Hashable, result: Any) -> Job:
        """A job whose result was already known (from the cache)."""
        job = cls(key, None)
        job.state, job.result, job.finished_s = DONE, result, job.started_s
        return job

    def start(self, ctx: Any, func: Callable[..., Any], args: tuple[Any, ...]) -> Job:
        self._conn, child = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_job_main, args=(child, os.getpid(), func, args),
                                    name="mashsim-app-job")  # not daemonic: it has workers
        self._process.start()
        child.close()
        return self

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def elapsed_s(self) -> float:
        end = self.finished_s if self.finished_s is not None else time.monotonic()
        return end - self.started_s

    def poll(self) -> str:
        """Read what the worker has sent so far; the state afterwards."""
        with self._lock:
            while self.state == RUNNING and self._conn.poll():
                try:
                    kind, payload = self._conn.recv()
                except (EOFError, OSError):
                    self._end(FAILED, problems=["the worker process stopped unexpectedly"])
                    break
                if kind == "tick":
                    self.done += 1
                elif kind == "result":
                    self._end(DONE, result=payload)
                else:
                    self._end(FAILED, problems=payload)
            if self.state == RUNNING and not self._process.is_alive() and \
                    not self._conn.poll():
                self._end(FAILED, problems=["the worker process stopped unexpectedly"])
        return self.state

    def wait(self, timeout_s: float) -> str:
        """Poll until the job ends or `timeout_s` passes (tests, scripts)."""
        deadline = time.monotonic() + timeout_s
        while self.poll() == RUNNING and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.state

    def cancel(self) -> None:
        """Stop now: kill the worker (its replication workers die with it)."""
        with self._lock:
            if self.state != RUNNING:
                return
            self._process.kill()
            self._process.join(timeout=5)
            self._end(CANCELLED)

    def _end(self, state: str, result: Any = None, problems: list[str] | None = None) -> None:
        self.state, self.result = state, result
        self.problems = list(problems or [])
        self.finished_s = time.monotonic()
        if self._process is not None:
            self._process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        if state == DONE and self._on_result is not None:
            self._on_result(self.key, result)


class JobManager:
    """Starts jobs, shares running ones by key, and keeps finished results (LRU)."""

    def __init__(self, max_cached: int = MAX_CACHED) -> None:
        self._ctx = _context()
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._running: dict[Hashable, Job] = {}
        self._max = max_cached
        self._lock = threading.Lock()
        atexit.register(self.shutdown)  # before multiprocessing's own exit hook waits on jobs

    def cached(self, key: Hashable) -> Any | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def submit(self, key: Hashable, func: Callable[..., Any], args: tuple[Any, ...],
               total: int | None = None) -> Job:
        """A job for `key`: finished at once if cached, the running one if any, else new."""
        result = self.cached(key)
        if result is not None:
            return Job.finished(key, result)
        with self._lock:
            job = self._running.get(key)
            if job is not None and job.state == RUNNING:  # (no poll here: lock order)
                return job
            job = Job(key, total, self._store)
            self._running[key] = job
        return job.start(self._ctx, func, args)

    def _store(self, key: Hashable, result: Any) -> None:
        with self._lock:
            self._cache[key] = result
            self._cache.move_to_end(key)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
            self._running.pop(key, None)

    def shutdown(self) -> None:
        """Cancel every running job (the server is stopping)."""
        with self._lock:
            jobs = list(self._running.values())
            self._running.clear()
        for job in jobs:
            job.cancel()
