"""MARAC-style scheduled meetings of one hub: a calendar, a waiting list, research jobs.

A case is listed at its referral's decision for the next meeting and needs research
(skill `marac_research`) done before a meeting can hear it. Each meeting hears up to
`cases_per_meeting` researched cases, oldest listing first; the others roll over to the
next meeting (at capacity, or not yet researched). Meetings fall every `every_days` from
the first `weekday` on or after the run start, at `hour`, bank holidays included.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque

import numpy as np
import simpy

from mashsim.model.engine import Book, Feeder, Source, nans
from mashsim.scenario.disciplines import make_queue
from mashsim.scenario.schema import DAY_NAMES, Scenario

__all__ = ["MaracMeetings", "meeting_hours"]


def meeting_hours(sc: Scenario, hub: str) -> np.ndarray:
    """A hub's meeting times (hours from the run start) inside the run."""
    every_days, weekday, hour, _ = sc.marac_calendar(hub)
    first_day = (DAY_NAMES.index(weekday) - sc.run.start_date.weekday()) % 7
    return np.arange(first_day * 24.0 + hour, sc.horizon_hours, every_days * 24.0)


class MaracMeetings:
    """One hub's MARAC: research book and queue, waiting list, and per-case times."""

    def __init__(self, env: simpy.Environment, sc: Scenario, hub: str,
                 research_hours: np.ndarray, start: bool) -> None:
        n = len(research_hours)
        self.env, self.capacity = env, sc.marac_calendar(hub)[3]
        self.meetings = meeting_hours(sc, hub) if start else np.empty(0)
        self._meetings = self.meetings.tolist()  # for `bisect`: a numpy call a case cost more
        # Per-case slots as float arrays, built from bytes (not lists of n floats: the
        # slots exist, NaN, in every hub, MARAC switched on or not).
        self.listed = nans(n)  # entry to the research queue = listing
        self.first_meeting = np.full(n, np.nan)
        self.heard = np.full(n, np.nan)
        self.book = Book(research_hours)
        # first in, first out reads neither a priority nor a deadline: none are made
        self.src = Source(self.book, make_queue("fifo", self.listed, np.zeros(0, dtype=int),
                                                np.zeros(0)))
        self.waiting: deque[int] = deque()
        self._next = 0  # index of the next meeting
        if len(self.meetings):
            Feeder(env, self._meetings, range(len(self.meetings)), self._meeting)

    def list_case(self, job: int) -> None:
        now = self.env.now
        self.listed[job] = now
        k = bisect_right(self._meetings, now)  # np.searchsorted(meetings, now, "right")
        self.first_meeting[job] = self._meetings[k] if k < len(self._meetings) else math.inf
        self.waiting.append(job)
        self.src.offer(job, now)

    def _meeting(self, _k: int) -> None:
        now, end, heard = self.env.now, self.book.end, 0
        kept: deque[int] = deque()
        for job in self.waiting:
            if heard < self.capacity and end[job] <= now:  # NaN: research not done
                self.heard[job] = now
                heard += 1
            else:
                kept.append(job)
        self.waiting = kept

    def research_end(self) -> np.ndarray:
        return np.asarray(self.book.end, dtype=float)
