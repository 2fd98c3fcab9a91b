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
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any, Final

import numpy as np
import simpy
from simpy.events import URGENT

from mashsim.model.staffing import CapacitySchedule
from mashsim.scenario.disciplines import JobQueue

__all__ = [
    "Book",
    "Due",
    "Env",
    "Feeder",
    "Pool",
    "Select",
    "Source",
    "by_preference",
    "drive_capacity",
    "earliest_head",
    "first_with_work",
    "flags",
    "float_array",
    "longest_over",
    "nan_view",
    "nans",
    "oldest_first",
    "own_queue",
    "small_ints",
    "wake_at",
]

NAN = math.nan
#: simpy's normal event priority (`simpy.events.NORMAL`), as a constant the compiled
#: loop inlines (tests/test_engine_lead.py checks it is simpy's)
NORMAL: Final = 1


def float_array(values: Sequence[float] | np.ndarray) -> array[float]:
    """`values` as an `array('d')` (8 bytes a slot, no float objects); a numpy array is
    copied straight into the array's memory, never through a list of Python floats (nor
    through a `bytes` copy first: two fresh blocks of a large array cost ≈20× the one
    copy)."""
    if isinstance(values, np.ndarray):
        out = array("d")
        out.frombytes(np.ascontiguousarray(values, dtype=np.float64).data.cast("B"))
        return out
    return array("d", values)


def small_ints(values: np.ndarray) -> array[int]:
    """Integers (e.g. stage indices, -1 for none) as a compact `array`: one byte a slot
    where they fit, else eight. Indexing gives Python ints, as a list's would."""
    v = np.asarray(values, dtype=np.int64)
    fits = not v.size or (int(v.min()) >= -128 and int(v.max()) <= 127)
    code, dtype = ("b", np.int8) if fits else ("q", np.int64)
    out = array(code)
    out.frombytes(v.astype(dtype).data.cast("B"))
    return out


def flags(values: np.ndarray) -> bytes:
    """Booleans as bytes, one a slot: indexing gives 0 or 1 (a list of bools costs eight
    bytes a slot)."""
    return np.asarray(values, dtype=bool).tobytes()


class Book:
    """Per-job records of one job space: work remaining, first start, end.

    Plain float arrays (`array('d')`, 8 bytes a slot; NaN: not yet), not lists of float
    objects: a national run holds millions of slots, and the garbage collector never
    walks an array. `on_start(job, source)` runs when a job first starts (e.g. to cut
    research short under pressure) and may change `remaining[job]`; `on_done(job)` when
    it ends.
    """

    def __init__(
        self,
        service_hours: Sequence[float] | np.ndarray,
        on_done: Callable[[int], None] | None = None,
        on_start: Callable[[int, Source], None] | None = None,
    ) -> None:
        n = len(service_hours)
        self.remaining = float_array(service_hours)
        self.first_start = nans(n)
        self.end = nans(n)
        self.on_done = on_done
        self.on_start = on_start


NAN_ROW = [NAN]


def nans(n: int) -> array[float]:
    """n NaN slots."""
    return array("d", NAN_ROW) * n


def nan_view(n: int) -> np.ndarray:
    """n NaNs that take no memory: a read-only view of one (the times of a work stream no
    referral needed, which has no slots of its own)."""
    return np.broadcast_to(np.float64(NAN), (n,))


class Source:
    """A queue of one book's jobs and the pools that may serve it (first = preferred)."""

    def __init__(self, book: Book, queue: JobQueue, track_oldest: bool = False) -> None:
        self.book = book
        self.queue = queue
        # the queue's own push and pop, bound once (a call each, no method lookup)
        self.push: Callable[[int], None] = queue.push
        self.pop: Callable[[], int] = queue.pop
        self.pools: list[Pool] = []
        self.on_push: Callable[[], None] | None = None  # a controller watching the length
        self._arrivals: deque[tuple[float, int]] | None = deque() if track_oldest else None

    def offer(self, job: int, now: float) -> None:
        """A job joins the queue; the first pool with a free person takes what it selects."""
        self.push(job)
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


def first_with_work(sources: Sequence[Source]) -> Source | None:
    """A role's rule when each of its skills is one queue (a hub's own): the first, in
    the role's order of preference, with work (`by_preference` of one-queue groups;
    `Pool.dispatch` calls it directly, not through its `select` attribute)."""
    for src in sources:
        if src.queue:
            return src
    return None


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


class Due:
    """A scheduled completion or delivery: the lightest event simpy will process.

    simpy's loop needs only `callbacks` (called with the event, then set to None) and
    `_ok`; a `Timeout` would also run an `__init__`, a `schedule` call and keep an `env`
    and a value. The model schedules a few of these a referral, so it builds them
    itself and pushes them on the environment's queue as `Timeout` would (`now +
    delay`, normal priority, the next event id): the same key, the same order. Its one
    callback is its `pool`'s `_finish` or its `feeder`'s `_fire`; `Env.run` calls that
    directly (a method call, not a walk over a callback list)."""

    __slots__ = ("callbacks", "end", "feeder", "job", "pool", "src", "t0")
    _ok = True

    def __init__(self, callbacks: tuple[Callable[[Due], None], ...], src: Source | None,
                 job: int, t0: float, end: float, pool: Pool | None = None,
                 feeder: Feeder | None = None) -> None:
        self.callbacks: tuple[Callable[[Due], None], ...] | None = callbacks
        self.src, self.job, self.t0, self.end = src, job, t0, end
        self.pool, self.feeder = pool, feeder


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

    `busy` counts busy people on duty; their busy spells on duty (an overrun past the
    leaver's shift is real work but not on-duty time) are kept as two float arrays,
    `seg_start` and `seg_end` (`busy_segments`).
    """

    def __init__(
        self,
        env: simpy.Environment,
        sources: Sequence[Source],
        select: Select = own_queue,
        at_shift_end: str = "finish",
    ) -> None:
        self.env = env
        # the environment's event heap and id counter, held once (simpy never replaces
        # them): a start pushes its completion without two attribute lookups on `env`
        self._heap: list[Any] = env._queue  # type: ignore[attr-defined]
        self._next_id: Callable[[], int] = env._eid.__next__  # type: ignore[attr-defined]
        self.sources = list(sources)
        for src in self.sources:
            src.pools.append(self)
        self.select = select
        self._own = select is own_queue and len(self.sources) == 1
        self._first = select is first_with_work
        self.handback = at_shift_end == "handback"
        self.rostered = 0
        self.extra = 0
        self.capacity = 0
        self.busy = 0
        self.leaving = 0  # people past their shift finishing a case ("finish" mode)
        self.seg_start: array[float] = array("d")
        self.seg_end: array[float] = array("d")
        # bound once: a completion records its spell without two method lookups
        self._add_start: Callable[[float], None] = self.seg_start.append
        self._add_end: Callable[[float], None] = self.seg_end.append
        # running completion → on duty since (None: a leaver's overrun); in start order
        self._running: dict[Due, float | None] = {}
        self._finish_cbs = (self._finish,)

    @property
    def segments(self) -> list[tuple[float, float]]:
        """Closed busy spells on duty, (start, end) in the order they closed."""
        return list(zip(self.seg_start, self.seg_end, strict=True))

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
        if self.busy >= self.capacity:
            return
        if self._own:
            self._dispatch_own()
            return
        sources, select, first_rule = self.sources, self.select, self._first
        queue_, next_id, running, cbs = self._heap, self._next_id, self._running, self._finish_cbs
        now: float = self.env._now  # type: ignore[attr-defined]
        while self.busy < self.capacity:
            # `first_with_work` called by name: a direct call when compiled, where
            # `select`, a callable attribute, goes through Python's call protocol
            src = first_with_work(sources) if first_rule else select(sources)
            if src is None:
                return
            job = src.pop()
            book = src.book
            first = book.first_start
            f = first[job]
            if f != f:  # NaN: first time
                first[job] = now
                if book.on_start is not None:
                    book.on_start(job, src)
            self.busy += 1
            end = now + book.remaining[job]
            ev = Due(cbs, src, job, now, end, self)
            heappush(queue_, (end, NORMAL, next_id(), ev))
            running[ev] = now

    def _dispatch_own(self) -> None:
        """`dispatch` for a pool with one source of its own: as many jobs as there are
        free people and waiting jobs, in the order the loop above would start them."""
        src = self.sources[0]
        queue = src.queue
        k = self.capacity - self.busy
        waiting = len(queue)
        if waiting < k:
            k = waiting
        if k <= 0:
            return
        heap, next_id, running, cbs = self._heap, self._next_id, self._running, self._finish_cbs
        now: float = self.env._now  # type: ignore[attr-defined]
        book, pop = src.book, src.pop
        first, remaining, on_start = book.first_start, book.remaining, book.on_start
        for _ in range(k):
            job = pop()
            f = first[job]
            if f != f:  # NaN: first time
                first[job] = now
                if on_start is not None:
                    on_start(job, src)
            self.busy += 1
            end = now + remaining[job]
            ev = Due(cbs, src, job, now, end, self)
            heappush(heap, (end, NORMAL, next_id(), ev))
            running[ev] = now

    def _finish(self, ev: Due) -> None:
        since = self._running.pop(ev, _GONE)
        if since is _GONE:
            return  # handed back earlier: this completion no longer stands
        job = ev.job
        book = ev.src.book  # type: ignore[union-attr]
        now = ev.end
        if since is None:
            self.leaving -= 1  # a leaver's case is done: they go
        else:
            self._add_start(since)  # type: ignore[arg-type]
            self._add_end(now)
            self.busy -= 1
        book.end[job] = now
        if book.on_done is not None:
            book.on_done(job)
        if self.busy < self.capacity:
            self.dispatch()

    def _hand_back(self) -> None:
        ev, since = self._running.popitem()  # the most recently started (no leavers here)
        src, job, t0 = ev.src, ev.job, ev.t0
        assert src is not None and since is not None
        now = self.env.now
        self.seg_start.append(since)
        self.seg_end.append(now)
        src.book.remaining[job] -= now - t0
        self.busy -= 1
        src.queue.requeue(job)
        if src.on_push is not None:
            src.on_push()

    def _ends(self, on_duty: bool) -> list[tuple[float, int, Due]]:
        """Running cases of people on duty (or of leavers): (end, start order, event)."""
        return [(ev.end, i, ev) for i, (ev, since) in
                enumerate(self._running.items()) if (since is not None) == on_duty]

    def _send_home(self, people: int) -> None:
        """Capacity fell below the busy count: the `people` busy whose cases end last
        finish them past their shift; their time from now on is not on duty."""
        now = self.env.now
        for _end, _i, ev in sorted(self._ends(on_duty=True))[-people:]:
            self.seg_start.append(self._running[ev])  # type: ignore[arg-type]  # on duty
            self.seg_end.append(now)
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
        return [tuple(row) for row in self.busy_array(until_hours).tolist()]  # type: ignore[misc]

    def busy_array(self, until_hours: float) -> np.ndarray:
        """`busy_segments` as a (k, 2) float array, built from the arrays without a
        Python float per spell."""
        open_ = [since for since in self._running.values()
                 if since is not None and since < until_hours]
        k = len(self.seg_start)
        out = np.empty((k + len(open_), 2))  # written in place: no joined copies first
        out[:k, 0] = np.frombuffer(self.seg_start)
        out[:k, 1] = np.frombuffer(self.seg_end)
        out[k:, 0] = open_
        out[k:, 1] = until_hours
        return out


class Feeder:
    """Replays pre-computed (time, item) arrivals into a callback, in time order.

    `deliver(item)`, or, when `deliver` is a `Source`, its `offer(item, now)` (called
    directly, without a wrapper). The times and items may be numpy arrays: they are turned into
    Python numbers a block at a time (`BLOCK`), so a year of a hub's arrivals is never a
    list of float objects."""

    BLOCK = 1024  # a list of this many floats and ints per feeder; the loads are amortised

    def __init__(
        self,
        env: simpy.Environment,
        times_hours: Sequence[float] | np.ndarray,
        items: Sequence[int] | np.ndarray,
        deliver: Callable[[int], None] | Source,
    ) -> None:
        self.env = env
        self.source: Source | None = deliver if isinstance(deliver, Source) else None
        self.deliver: Callable[[int], None] | None = (
            None if isinstance(deliver, Source) else deliver)
        self._heap: list[Any] = env._queue  # type: ignore[attr-defined]
        self._next_id: Callable[[], int] = env._eid.__next__  # type: ignore[attr-defined]
        self._all_times, self._all_items = times_hours, items
        self.n = len(times_hours)
        self.i = 0  # next item, counted over all of them
        self._cbs = (self._fire,)
        # kept off the heap while `Env.run` merges this feeder itself (`Env.lead`): the
        # pending delivery's key (time `at`, normal priority, event id `eid`) and event
        self.merged = False
        self.pending: Due | None = None
        self.at = 0.0
        self.eid = 0
        if self.n:
            self._load(0)
            self._schedule(env._now, self.times[0])  # type: ignore[attr-defined]

    def _load(self, lo: int) -> None:
        hi = lo + self.BLOCK
        t, it = self._all_times[lo:hi], self._all_items[lo:hi]
        self.times: list[float] = t.tolist() if isinstance(t, np.ndarray) else list(t)
        self.items: list[int] = it.tolist() if isinstance(it, np.ndarray) else list(it)
        self._lo = lo

    def _schedule(self, now: float, t: float) -> None:
        """The next delivery, at `t`, keyed as `Timeout(max(0, t − now))` would be."""
        at = now + max(0.0, t - now)
        heappush(self._heap, (at, NORMAL, self._next_id(),
                              Due(self._cbs, None, self.i, now, at, None, self)))

    def _fire(self, ev: Due) -> None:
        """Deliver the item this event was scheduled for and any others due by now; then
        the same event object goes back on the heap for the next (a feeder has one
        delivery pending at a time, and nothing else holds it)."""
        now = ev.end  # the clock: the loop set it from this event's key
        deliver, source = self.deliver, self.source
        times, items, k = self.times, self.items, self.i - self._lo
        while True:
            if source is not None:
                source.offer(items[k], now)
            else:
                assert deliver is not None
                deliver(items[k])
            k += 1
            if k == len(times):
                if self._lo + k >= self.n:
                    self.i = self.n
                    return
                self._load(self._lo + k)
                times, items, k = self.times, self.items, 0
            t = times[k]
            if t > now:
                break
        i = self.i = self._lo + k
        # `_schedule` inline (a call less an arrival); t > now, so max(0, t − now) is
        # t − now and the key is the one `_schedule` gives
        at = now + (t - now)
        eid = self._next_id()
        ev.callbacks, ev.job, ev.t0, ev.end = self._cbs, i, now, at
        if self.merged:
            self.pending, self.at, self.eid = ev, at, eid
        else:
            heappush(self._heap, (at, NORMAL, eid, ev))

    def unmerge(self) -> None:
        """Back to the heap: the pending delivery goes on it with the key it was given."""
        self.merged = False
        ev = self.pending
        if ev is not None:
            self.pending = None
            heappush(self._heap, (self.at, NORMAL, self.eid, ev))


class Env(simpy.Environment):
    """simpy's environment with `run(until=time)` stepping in one tight loop.

    `Environment.run` calls `step()` per event, a method call and a `try` each; this loop
    does what `step` does (pop the earliest (time, priority, id) entry, set the clock,
    call the callbacks, crash on a failed event nobody defused) inline. The stop event
    is scheduled, and handled when reached, as `run` does it (urgent, at now + (until −
    now), re-queued at priority −1 after), so event ids, order and the final clock are
    those of `Environment.run`. Any other `until` goes to `Environment.run`.

    One feeder (`lead`: a hub's referrals, the most frequent deliveries) stays off the
    heap while this loop runs: the loop compares its pending delivery's key with the
    heap's first and takes the earlier, as the heap would have (the key is the one it
    would have had there), saving a push and a pop a referral. Leaving the loop puts it
    back on the heap."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self._lead: Feeder | None = None

    def lead(self, feeder: Feeder) -> None:
        """Merge `feeder`'s deliveries in the loop (the first feeder named keeps it)."""
        if self._lead is None:
            self._lead = feeder

    def run(self, until: simpy.core.SimTime | simpy.Event | None = None) -> object:
        if until is None or isinstance(until, simpy.Event):
            return super().run(until)
        at = until if isinstance(until, int) else float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = simpy.Event(self)
        stop._ok, stop._value = True, None
        self.schedule(stop, URGENT, at - self._now)
        # untyped: the queue holds simpy events and `Due`s (whose callbacks are a tuple)
        queue: Any = self._queue
        lead = self._lead
        if lead is not None:
            lead.merged = True
        try:
            self._loop(queue, stop, lead)
        finally:
            if lead is not None:
                lead.unmerge()
        return None

    def _loop(self, queue: list[Any], stop: simpy.Event, lead: Feeder | None) -> None:
        event: Any
        callbacks: Any
        top: tuple[Any, ...]
        pop = heappop
        while True:
            if lead is not None:
                ev = lead.pending
                if ev is not None:
                    at = lead.at
                    if queue:
                        top = queue[0]
                        t = top[0]  # untyped: simpy's times may be ints
                        first = at < t or (at == t and (NORMAL, lead.eid) < (top[1], top[2]))
                    else:
                        first = True
                    if first:
                        lead.pending = None
                        self._now = at
                        lead._fire(ev)
                        continue
            if not queue:
                raise RuntimeError(f'No scheduled events left but "until" event was not '
                                   f"triggered: {stop}")
            self._now, _, _, event = pop(queue)
            if isinstance(event, Due):  # the model's own: one callback, always ok
                event.callbacks = None
                pool = event.pool
                if pool is not None:
                    pool._finish(event)
                else:
                    feeder = event.feeder
                    assert feeder is not None
                    feeder._fire(event)
                continue
            if event is stop:
                event.callbacks = []
                self.schedule(event, simpy.core.EventPriority(-1))
                return
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc


def wake_at(env: simpy.Environment, t_hours: float, event: simpy.Event) -> None:
    """Trigger `event` at exactly `t_hours` (not now + (t − now), which may round
    differently): a sleeper waking on a grid its poll would have reached by additions."""
    event._ok, event._value = True, None
    queue: list[Any] = env._queue  # type: ignore[attr-defined]
    heappush(queue, (t_hours, NORMAL, next(env._eid), event))  # type: ignore[attr-defined]


def drive_capacity(env: simpy.Environment, pool: Pool, schedule: CapacitySchedule) -> Feeder:
    """Apply a capacity schedule's change points to a pool as simulated time passes."""
    levels = schedule.capacity.tolist()
    return Feeder(env, schedule.times_hours.tolist(), range(len(levels)),
                  lambda i: pool.set_rostered(levels[i]))
