"""The event machinery: pools of people serving queues of jobs, in a simpy Environment.

Three pieces. A `Book` holds one job space's per-job records (a hub's staff work, or its
strategy discussions). A `Source` is a queue of a book's jobs plus the pools that may
serve it, in order of preference. A `Pool` is people with a time-varying headcount that
serve one or more sources, choosing among them with a selection rule — its own hub's
queue, the earliest head across pooled hubs, or the longest queue over a threshold for a
force-wide overflow team. Jobs are integers; completions are simpy `Timeout` events with
a bound-method callback, so one job costs a few events and two O(1) queue operations,
however many jobs wait.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from heapq import heappush
from typing import cast

import simpy

from mashsim.model.staffing import CapacitySchedule
from mashsim.scenario.disciplines import JobQueue

__all__ = [
    "Book",
    "Feeder",
    "Pool",
    "Select",
    "Source",
    "by_preference",
    "drive_capacity",
    "earliest_head",
    "longest_over",
    "oldest_first",
    "own_queue",
    "wake_at",
]

NAN = math.nan


class Book:
    """Per-job records of one job space: work remaining, first start, end.

    `on_start(job, source)` runs when a job first starts (e.g. to cut research short
    under pressure) and may change `remaining[job]`; `on_done(job)` when it ends.
    """

    def __init__(
        self,
        service_hours: list[float],
        on_done: Callable[[int], None] | None = None,
        on_start: Callable[[int, Source], None] | None = None,
    ) -> None:
        n = len(service_hours)
        self.remaining = service_hours
        self.first_start: list[float] = [NAN] * n
        self.end: list[float] = [NAN] * n
        self.on_done = on_done
        self.on_start = on_start


class Source:
    """A queue of one book's jobs and the pools that may serve it (first = preferred)."""

    def __init__(self, book: Book, queue: JobQueue, track_oldest: bool = False) -> None:
        self.book = book
        self.queue = queue
        self.pools: list[Pool] = []
        self.on_push: Callable[[], None] | None = None  # a controller watching the length
        self._arrivals: deque[tuple[float, int]] | None = deque() if track_oldest else None

    def offer(self, job: int, now: float) -> None:
        """A job joins the queue; the first pool with a free person takes what it selects."""
        self.queue.push(job)
        if self._arrivals is not None:
            self._arrivals.append((now, job))
        for pool in self.pools:
            if pool.busy < pool.capacity:
                pool.dispatch()
                if not self.queue:
                    break
        if self.on_push is not None:
            self.on_push()

    def oldest_wait_hours(self, now: float) -> float:
        """Age of the longest-waiting job never started (amortised O(1): lazy deletion).

        Needs `track_oldest=True`."""
        first_start, arrivals = self.book.first_start, self._arrivals
        if arrivals is None:
            raise RuntimeError("this source does not track its oldest job")
        while arrivals and first_start[arrivals[0][1]] == first_start[arrivals[0][1]]:
            arrivals.popleft()
        return now - arrivals[0][0] if arrivals else 0.0


Select = Callable[[Sequence[Source]], "Source | None"]


def own_queue(sources: Sequence[Source]) -> Source | None:
    """A hub's own staff: the single source, if anything waits."""
    src = sources[0]
    return src if src.queue else None


def earliest_head(sources: Sequence[Source]) -> Source | None:
    """Fully pooled hubs: the source whose next job comes first in the common discipline."""
    best, best_key = None, None
    for src in sources:
        if src.queue:
            key = src.queue.peek_key()
            if best_key is None or key < best_key:
                best, best_key = src, key
    return best


def longest_over(threshold: int) -> Select:
    """Overflow team: the longest queue among those longer than `threshold`."""

    def select(sources: Sequence[Source]) -> Source | None:
        best, best_len = None, threshold
        for src in sources:
            if len(src.queue) > best_len:
                best, best_len = src, len(src.queue)
        return best

    return select


def by_preference(groups: Sequence[Sequence[Source]]) -> Select:
    """A role's rule: its first skill (a group of sources: one hub's queue, or every
    pooled hub's) with work; within a group, the earliest head (`earliest_head`)."""

    def select(_sources: Sequence[Source]) -> Source | None:
        for group in groups:
            src = group[0] if len(group) == 1 else earliest_head(group)
            if src is not None and src.queue:
                return src
        return None

    return select


def oldest_first(sources: Sequence[Source]) -> Source | None:
    """The alternative rule: the queue whose head has waited longest (its entry time,
    the last item of every discipline's `peek_key`); ties go to the earlier skill."""
    best, best_entry = None, math.inf
    for src in sources:
        if src.queue:
            entry = src.queue.peek_key()[-1]
            if entry < best_entry:
                best, best_entry = src, entry
    return best


_GONE = object()  # a completion withdrawn by a hand-back


class Pool:
    """People with a time-varying headcount serving one or more sources.

    Capacity = rostered (from a schedule) + extra (overtime): the people on duty. When
    it drops below the number busy, `at_shift_end` says what happens to the excess:

    - "finish": idle people leave at once; the excess are taken from those busy, who
      finish the case in hand and go, while those staying keep taking work. Free
      people = capacity − busy stayers. Which busy people leave is not recorded in the
      roster, so the leavers are those whose cases end last: the queue is picked up
      as soon as anyone on duty finishes (not only when the overrun ends). If capacity
      rises again while leavers are still at work, they stay on first.
    - "handback": work in progress is returned to its queue, keeping its place and the
      work already done (preemptive resume); the most recently started goes first.

    `busy` counts busy people on duty; `segments` are their busy spells on duty (an
    overrun past the leaver's shift is real work but not on-duty time).
    """

    def __init__(
        self,
        env: simpy.Environment,
        sources: Sequence[Source],
        select: Select = own_queue,
        at_shift_end: str = "finish",
    ) -> None:
        self.env = env
        self.sources = list(sources)
        for src in self.sources:
            src.pools.append(self)
        self.select = select
        self.handback = at_shift_end == "handback"
        self.rostered = 0
        self.extra = 0
        self.capacity = 0
        self.busy = 0
        self.leaving = 0  # people past their shift finishing a case ("finish" mode)
        self.segments: list[tuple[float, float]] = []
        # running completion → on duty since (None: a leaver's overrun); in start order
        self._running: dict[simpy.Timeout, float | None] = {}
        self._finish_cb = self._finish

    def set_rostered(self, people: int) -> None:
        self.rostered = people
        self._resize()

    def set_extra(self, people: int) -> None:
        self.extra = people
        self._resize()

    def _resize(self) -> None:
        self.capacity = self.rostered + self.extra
        if self.busy > self.capacity:
            if self.handback:
                while self.busy > self.capacity:
                    self._hand_back()
            else:
                self._send_home(self.busy - self.capacity)
        elif self.leaving and self.busy < self.capacity:
            self._keep_on(min(self.leaving, self.capacity - self.busy))
        self.dispatch()

    def dispatch(self) -> None:
        """Start jobs while someone is free and a source has work."""
        env, sources, select = self.env, self.sources, self.select
        while self.busy < self.capacity:
            src = select(sources)
            if src is None:
                return
            job = src.queue.pop()
            book, now = src.book, env.now
            if book.first_start[job] != book.first_start[job]:  # NaN: first time
                book.first_start[job] = now
                if book.on_start is not None:
                    book.on_start(job, src)
            self.busy += 1
            ev = env.timeout(book.remaining[job], (src, job, now))
            ev.callbacks.append(self._finish_cb)
            self._running[ev] = now

    def _finish(self, ev: simpy.Event) -> None:
        since = self._running.pop(cast(simpy.Timeout, ev), _GONE)
        if since is _GONE:
            return  # handed back earlier: this completion no longer stands
        src, job, _t0 = ev._value
        now = self.env.now
        book = src.book
        if since is None:
            self.leaving -= 1  # a leaver's case is done: they go
        else:
            self.segments.append((cast(float, since), now))
            self.busy -= 1
        book.end[job] = now
        if book.on_done is not None:
            book.on_done(job)
        self.dispatch()

    def _hand_back(self) -> None:
        ev, since = self._running.popitem()  # the most recently started (no leavers here)
        src, job, t0 = ev._value
        now = self.env.now
        self.segments.append((cast(float, since), now))
        src.book.remaining[job] -= now - t0
        self.busy -= 1
        src.queue.requeue(job)
        if src.on_push is not None:
            src.on_push()

    def _ends(self, on_duty: bool) -> list[tuple[float, int, simpy.Timeout]]:
        """Running cases of people on duty (or of leavers): (end, start order, event)."""
        return [(ev._value[2] + ev._delay, i, ev) for i, (ev, since) in
                enumerate(self._running.items()) if (since is not None) == on_duty]

    def _send_home(self, people: int) -> None:
        """Capacity fell below the busy count: the `people` busy whose cases end last
        finish them past their shift; their time from now on is not on duty."""
        now = self.env.now
        for _end, _i, ev in sorted(self._ends(on_duty=True))[-people:]:
            self.segments.append((cast(float, self._running[ev]), now))  # on duty: a float
            self._running[ev] = None
        self.busy -= people
        self.leaving += people

    def _keep_on(self, people: int) -> None:
        """Capacity rose while leavers are still at work: they stay on, soonest done first."""
        now = self.env.now
        for _end, _i, ev in sorted(self._ends(on_duty=False))[:people]:
            self._running[ev] = now
        self.busy += people
        self.leaving -= people

    def busy_segments(self, until_hours: float) -> list[tuple[float, float]]:
        """Busy spells on duty, with work still in progress counted up to `until_hours`."""
        open_ = [(since, until_hours) for since in self._running.values()
                 if since is not None and since < until_hours]
        return self.segments + open_


class Feeder:
    """Replays pre-computed (time, item) arrivals into a callback, in time order."""

    def __init__(
        self,
        env: simpy.Environment,
        times_hours: Sequence[float],
        items: Sequence[int],
        deliver: Callable[[int], None],
    ) -> None:
        self.env, self.times, self.items, self.deliver = env, times_hours, items, deliver
        self.i = 0
        self._cb = self._fire
        self._schedule()

    def _schedule(self) -> None:
        if self.i < len(self.times):
            ev = self.env.timeout(max(0.0, self.times[self.i] - self.env.now))
            ev.callbacks.append(self._cb)

    def _fire(self, _ev: simpy.Event) -> None:
        times, items, now = self.times, self.items, self.env.now
        n = len(times)
        self.deliver(items[self.i])  # the item this event was scheduled for
        self.i += 1
        while self.i < n and times[self.i] <= now:
            self.deliver(items[self.i])
            self.i += 1
        self._schedule()


def wake_at(env: simpy.Environment, t_hours: float, event: simpy.Event) -> None:
    """Trigger `event` at exactly `t_hours` (not now + (t − now), which may round
    differently): a sleeper waking on a grid its poll would have reached by additions."""
    event._ok, event._value = True, None
    heappush(env._queue, (t_hours, simpy.events.NORMAL, next(env._eid), event))  # type: ignore[attr-defined]


def drive_capacity(env: simpy.Environment, pool: Pool, schedule: CapacitySchedule) -> Feeder:
    """Apply a capacity schedule's change points to a pool as simulated time passes."""
    levels = schedule.capacity.tolist()
    return Feeder(env, schedule.times_hours.tolist(), range(len(levels)),
                  lambda i: pool.set_rostered(levels[i]))
