"""One hub's work: its job books, queues and the hooks that move a referral along.

A hub has two job spaces. The staff book holds referrals (jobs 0..n-1), early
notifications (n..n+m-1) and, when staff hold the strategy discussions, those discussions
(n+m..); the discussion book holds discussions held by attendee teams. Which people serve
these queues is not decided here: `wiring` attaches pools to `staff_src` and `sd_src`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
import simpy

from mashsim.model.calendar import WorkingCalendar
from mashsim.model.engine import Book, Feeder, Source
from mashsim.model.referrals import Referrals
from mashsim.scenario.disciplines import make_queue
from mashsim.scenario.schema import GRADES, Scenario

__all__ = ["HubQueues"]


class HubQueues:
    """One hub's job books, queues and record-keeping."""

    def __init__(self, env: simpy.Environment, sc: Scenario, cal: WorkingCalendar,
                 hub: str, refs: Referrals) -> None:
        self.env, self.sc, self.name, self.refs = env, sc, hub, refs
        n = self.n = len(refs)
        notif = np.flatnonzero(refs.notify)
        m = self.m = len(notif)
        sdc = sc.strategy_discussions
        self.sd_by_staff = sdc.held_by == "staff"
        k = n if self.sd_by_staff else 0  # strategy-discussion jobs in the staff book
        priority = np.array([sc.grades[g].priority for g in GRADES])
        notif_grade = sc.rpa.early_notification_queue_as
        notif_target = sc.grades[notif_grade].decision_target
        self.notif_created = refs.created[notif]
        self.entry = np.concatenate((refs.handover, self.notif_created, np.full(k, np.nan)))
        entry = self._entry_list = self.entry.tolist()  # SD jobs get theirs when ready
        staff_priority = np.concatenate((
            priority[refs.grade_idx], np.full(m, priority[GRADES.index(notif_grade)]),
            np.full(k, priority[GRADES.index(sdc.staff_queue_as)])))
        staff_deadline = np.concatenate((
            refs.deadline,
            cal.deadline_hours(self.notif_created, notif_target.amount, notif_target.clock),
            refs.sd_deadline[:k]))
        service = np.concatenate((refs.service_hours, refs.notify_hours[notif],
                                  refs.sd_service_hours[:k]))
        self.degraded = np.zeros(n, dtype=bool)
        deg = sc.staffing.degraded_research
        self.handling_saved_hours = (refs.handling_minutes * (1.0 - deg.handling_factor) / 60.0
                                     ).tolist()
        self.staff_book = Book(service.tolist(), on_done=self._decided,
                               on_start=self._started if (deg.enabled or k) else None)
        ot = sc.staffing.overtime
        self.staff_src = Source(self.staff_book, make_queue(
            sc.queue.discipline, entry, staff_priority, staff_deadline),
            track_oldest=ot.enabled and ot.trigger == "oldest_waiting_hours")
        self.sd_entry = [math.nan] * n
        self.sd_book = Book(refs.sd_service_hours.tolist(), on_start=self._sd_started)
        self.sd_src = Source(self.sd_book, make_queue(
            sdc.discipline, self.sd_entry, priority[refs.grade_idx], refs.sd_deadline))
        self.sd_waiting = 0
        self._sd_needed = refs.sd_needed.tolist()
        self._sd_delay = refs.sd_delay_hours.tolist()
        self._degrade_threshold = deg.queue_threshold if deg.enabled else None

    def feed(self) -> None:
        jobs = np.concatenate((np.arange(self.n), self.n + np.arange(self.m)))
        times = self.entry[: self.n + self.m]
        order = np.argsort(times, kind="stable")
        offer, env = self.staff_src.offer, self.env
        Feeder(env, times[order].tolist(), jobs[order].tolist(), lambda j: offer(j, env.now))

    # -- event hooks ----------------------------------------------------------------

    def _started(self, job: int, src: Source) -> None:
        if job < self.n:
            if self._degrade_threshold is not None and len(src.queue) > self._degrade_threshold:
                self.staff_book.remaining[job] -= self.handling_saved_hours[job]
                self.degraded[job] = True
        elif job >= self.n + self.m:
            self.sd_waiting -= 1

    def _sd_started(self, job: int, src: Source) -> None:
        self.sd_waiting -= 1

    def _decided(self, job: int) -> None:
        if job >= self.n or not self._sd_needed[job]:
            return
        delay = self._sd_delay[job]
        if delay > 0:
            self.env.timeout(delay).callbacks.append(partial(self._sd_ready_after, job))
        else:
            self._sd_ready(job)

    def _sd_ready_after(self, job: int, _delay: simpy.Event) -> None:
        self._sd_ready(job)

    def _sd_ready(self, job: int) -> None:
        now = self.env.now
        self.sd_waiting += 1
        if self.sd_by_staff:
            sd_job = self.n + self.m + job
            self._entry_list[sd_job] = now
            self.staff_src.offer(sd_job, now)
        else:
            self.sd_entry[job] = now
            self.sd_src.offer(job, now)

    # -- results ----------------------------------------------------------------------

    def sd_held(self) -> np.ndarray:
        if self.sd_by_staff:
            lo = self.n + self.m
            return np.asarray(self.staff_book.end[lo:lo + self.n])
        return np.asarray(self.sd_book.end)

    def trigger(self, kind: str) -> Callable[[], float]:
        if kind == "staff_queue":
            return lambda: float(len(self.staff_src.queue))
        if kind == "oldest_waiting_hours":
            return lambda: self.staff_src.oldest_wait_hours(self.env.now)
        return lambda: float(self.sd_waiting)


