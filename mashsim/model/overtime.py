"""Overtime: extra staff-hours when a hub is under pressure, up to a weekly cap.

A controller checks its trigger every `block_hours` inside the permitted overtime hours
(a roster of its own); when the trigger measure passes the threshold and the week's cap
allows a whole block, it adds `extra_staff` people to the pool for one block. The cap is
per hub and per week (Monday 00:00 to Monday 00:00), in staff-hours.

The checks happen on a grid (0, b, 2b, ... hours, each the previous plus `block_hours`),
but the controller does not poll it: after a failed check it sleeps until the first grid
moment at which the check can pass. With the week's cap spent, that is the first grid
moment of the next week; outside the permitted hours, the first grid moment inside them;
with the measure at or under the threshold (the `staff_queue` trigger, whose queues are
`watch`ed), the first grid moment at or after a queue push that takes it over. A check
skipped this way would have failed, so the blocks are those of an hourly poll; the wake
event is pushed at the grid time itself (not now + delay), so its time is bit-for-bit the
poll's.

What can differ is the tie order against another event at exactly the same grid
instant: simpy orders ties by when they were scheduled, and the poll's timeout for t was
scheduled at the check at t − b. A timed sleep therefore wakes at t − b and takes the
last step with a timeout as the poll did; it can still differ when events fall on three
consecutive grid moments, each scheduling the next (a roster changing every block), as
the wake at t − b itself sits elsewhere among that instant's events. A wake by a queue
push is scheduled at the push, after t − b, so it follows, where the poll preceded, an
event at t scheduled in between. Either way the rule and its grid are the poll's; only
which of two same-instant events comes first may swap (one pooled variant of
summer_2023 in tests/test_engine_identity.py; no shipped scenario's output changes).
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections.abc import Callable, Generator, Sequence
from functools import partial

import simpy

from mashsim.model.engine import Pool, Source, wake_at
from mashsim.model.staffing import CapacitySchedule
from mashsim.scenario.schema import Overtime

__all__ = ["OvertimeController"]

HOURS_PER_WEEK = 168.0


class OvertimeController:
    """Adds overtime blocks to a pool; `log` holds (start hour, staff-hours) per block.

    `watch`: the queues whose length is the measure (the `staff_queue` trigger); without
    it the controller wakes at every grid moment while the measure is under the threshold
    (the other triggers grow with time or outside the queues)."""

    def __init__(
        self,
        env: simpy.Environment,
        pool: Pool,
        cfg: Overtime,
        measure: Callable[[], float],
        permitted: CapacitySchedule,
        start: dt.date,
        watch: Sequence[Source] = (),
    ) -> None:
        self.env, self.pool, self.cfg, self.measure = env, pool, cfg, measure
        self.permitted = permitted
        self.week_offset_hours = start.weekday() * 24.0
        self.log: list[tuple[float, float]] = []
        self.watch = list(watch)
        self.wakes = 0  # checks made (the poll made one every block_hours)
        self._asleep_since = math.nan  # grid moment of the failed check (measure sleep)
        self._kick: simpy.Event | None = None
        self._last_permitted = float(permitted.times_hours[-1])
        # the permitted roster as Python lists: `at` by bisection, as numpy's
        # searchsorted(side="right") finds it, without a numpy call per grid moment
        self._p_times: list[float] = permitted.times_hours.tolist()
        self._p_people: list[int] = permitted.capacity.tolist()
        self._pushes_left = 0  # pushes before the measure can pass (measure sleep)
        env.process(self._run())

    def _week(self, t_hours: float) -> int:
        return int((t_hours + self.week_offset_hours) // HOURS_PER_WEEK)

    def _new_week(self, week: int, t_hours: float) -> bool:
        return self._week(t_hours) != week

    def _permits(self, t_hours: float) -> bool:
        """`permitted.at(t) > 0`."""
        return self._p_people[max(bisect_right(self._p_times, t_hours) - 1, 0)] > 0

    def _next_grid(self, t_hours: float, ok: Callable[[float], bool]) -> tuple[float, float]:
        """The first grid moment after `t_hours` where `ok` holds, and the grid moment
        before it (inf: none ever)."""
        b = self.cfg.block_hours
        before, t = t_hours, t_hours + b
        while not ok(t):
            if t > self._last_permitted and not self._permits(t):
                return math.inf, math.inf  # past the permitted roster's last change
            before, t = t, t + b
        return before, t

    def _sleep_until(self, grid: tuple[float, float]) -> Generator[simpy.Event, None, None]:
        """Sleep to the grid moment before the one wanted, then one block as the poll
        did: the last timeout is scheduled at the moment the poll scheduled it, so it
        meets the events of that instant in the poll's order."""
        before, _t = grid
        if before == math.inf:
            yield self.env.event()  # never
        if before > self.env.now:
            ev = self.env.event()
            wake_at(self.env, before, ev)
            yield ev
        yield self.env.timeout(self.cfg.block_hours)

    def _pushes_needed(self, measure: float) -> int:
        """A push adds one job to the watched queues (pops only take away), so the
        measure cannot pass the threshold in fewer pushes than this."""
        return math.floor(self.cfg.threshold - measure) + 1

    def _on_push(self) -> None:
        """A watched queue grew: once the measure passes the threshold, wake at the first
        grid moment at or after now. The measure is read only when enough pushes have
        come to take it over the threshold."""
        self._pushes_left -= 1
        if self._kick is None or self._pushes_left > 0:
            return
        measure = self.measure()
        if not measure > self.cfg.threshold:
            self._pushes_left = self._pushes_needed(measure)
            return
        now, b, t = self.env.now, self.cfg.block_hours, self._asleep_since
        while t < now:
            t += b
        wake_at(self.env, t, self._kick)
        self._kick = None
        for src in self.watch:
            src.on_push = None

    def _sleep_on_measure(self, now: float, measure: float) -> simpy.Event:
        ev = self.env.event()
        self._kick, self._asleep_since = ev, now
        self._pushes_left = self._pushes_needed(measure)
        for src in self.watch:
            src.on_push = self._on_push
        return ev

    def _run(self) -> Generator[simpy.Event, None, None]:
        cfg, env = self.cfg, self.env
        block_staff_hours = cfg.extra_staff * cfg.block_hours
        week, used = -1, 0.0
        while True:
            now = env.now
            self.wakes += 1
            this_week = self._week(now)
            if this_week != week:
                week, used = this_week, 0.0
            if used + block_staff_hours > cfg.weekly_cap_hours + 1e-9:
                yield from self._sleep_until(self._next_grid(now, partial(self._new_week, week)))
            elif not self._permits(now):
                yield from self._sleep_until(self._next_grid(now, self._permits))
            elif not (measure := self.measure()) > cfg.threshold:
                yield (self._sleep_on_measure(now, measure) if self.watch
                       else env.timeout(cfg.block_hours))
            else:
                used += block_staff_hours
                self.log.append((now, block_staff_hours))
                self.pool.set_extra(self.pool.extra + cfg.extra_staff)
                yield env.timeout(cfg.block_hours)
                self.pool.set_extra(self.pool.extra - cfg.extra_staff)
