"""The event machinery: pools of people serving priority queues, in a simpy Environment.

Work items are integers (job numbers) indexing per-job lists, and completions are
simpy `Timeout` events with a bound-method callback, so the cost of one job is a few
events and two queue operations, independent of how many jobs wait.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import simpy

from .policies import JobQueue
from .staffing import CapacitySchedule

__all__ = ["Feeder", "Pool", "drive_capacity"]

NAN = math.nan


class Pool:
    """People with a time-varying headcount serving one queue (see `policies`).

    `at_shift_end`: "finish" lets work in progress finish when capacity drops (the
    person leaves after it); "handback" returns it to the queue, keeping its place and
    the work already done (preemptive resume).
    """

    def __init__(
        self,
        env: simpy.Environment,
        queue: JobQueue,
        service_hours: list[float],
        on_done: Callable[[int], None] | None = None,
        at_shift_end: str = "finish",
    ) -> None:
        self.env = env
        self.queue = queue
        self.remaining = service_hours
        n = len(service_hours)
        self.first_start: list[float] = [NAN] * n
        self.end: list[float] = [NAN] * n
        self.segments: list[tuple[float, float]] = []
        self.on_done = on_done
        self.handback = at_shift_end == "handback"
        self.capacity = 0
        self.busy = 0
        self._started_at: dict[int, tuple[float, simpy.Timeout]] = {}
        self._finish_cb = self._finish

    def offer(self, job: int) -> None:
        """A job joins the queue (and starts at once if someone is free)."""
        self.queue.push(job)
        if self.busy < self.capacity:
            self._dispatch()

    def waiting(self) -> int:
        return len(self.queue)

    def set_capacity(self, capacity: int) -> None:
        self.capacity = capacity
        if self.handback:
            while self.busy > capacity:
                self._hand_back()
        self._dispatch()

    def _dispatch(self) -> None:
        env, queue = self.env, self.queue
        while self.busy < self.capacity and queue:
            job = queue.pop()
            now = env.now
            if self.first_start[job] != self.first_start[job]:  # NaN: first time
                self.first_start[job] = now
            self.busy += 1
            ev = env.timeout(self.remaining[job], job)
            ev.callbacks.append(self._finish_cb)
            self._started_at[job] = (now, ev)

    def _finish(self, ev: simpy.Timeout) -> None:
        job = ev._value
        started = self._started_at.get(job)
        if started is None or started[1] is not ev:
            return  # handed back earlier: this completion no longer stands
        del self._started_at[job]
        now = self.env.now
        self.segments.append((started[0], now))
        self.busy -= 1
        self.end[job] = now
        if self.on_done is not None:
            self.on_done(job)
        self._dispatch()

    def _hand_back(self) -> None:
        job, (t0, _) = self._started_at.popitem()  # the most recently started
        now = self.env.now
        self.segments.append((t0, now))
        self.remaining[job] -= now - t0
        self.busy -= 1
        self.queue.requeue(job)


class Feeder:
    """Replays pre-computed (time, job) arrivals into a callback, in time order."""

    def __init__(
        self,
        env: simpy.Environment,
        times_hours: Sequence[float],
        jobs: Sequence[int],
        deliver: Callable[[int], None],
    ) -> None:
        self.env, self.times, self.jobs, self.deliver = env, times_hours, jobs, deliver
        self.i = 0
        self._cb = self._fire
        self._schedule()

    def _schedule(self) -> None:
        if self.i < len(self.times):
            ev = self.env.timeout(max(0.0, self.times[self.i] - self.env.now))
            ev.callbacks.append(self._cb)

    def _fire(self, _ev: simpy.Event) -> None:
        times, jobs, now = self.times, self.jobs, self.env.now
        n = len(times)
        self.deliver(jobs[self.i])  # the job this event was scheduled for
        self.i += 1
        while self.i < n and times[self.i] <= now:
            self.deliver(jobs[self.i])
            self.i += 1
        self._schedule()


def drive_capacity(env: simpy.Environment, pool: Pool, schedule: CapacitySchedule) -> Feeder:
    """Apply a capacity schedule's change points to a pool as simulated time passes."""
    levels = schedule.capacity.tolist()
    return Feeder(env, schedule.times_hours.tolist(), range(len(levels)),
                  lambda i: pool.set_capacity(levels[i]))
