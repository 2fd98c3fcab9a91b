"""One replication: the MASH model wired into a simpy environment.

`run_replication(scenario, seed, replication)` is a pure function: the same inputs
give the same records on any machine or worker. Everything random that does not depend
on the queue (referrals, rosters, absences) is drawn up front from named streams, so two
scenarios that differ only in staffing see the same referrals (common random numbers);
the event loop plays out only what depends on the queue: who is served when, overtime,
and research cut short under pressure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from mashsim.model.calendar import WorkingCalendar
from mashsim.model.engine import (
    Book,
    Feeder,
    Pool,
    Source,
    drive_capacity,
    earliest_head,
    longest_over,
)
from mashsim.model.overtime import OvertimeController
from mashsim.model.policies import DeadlineQueue, FifoQueue, make_queue
from mashsim.model.referrals import Referrals, draw_referrals
from mashsim.model.staffing import (
    CapacitySchedule,
    available_schedule,
    merge_schedules,
    roster_schedule,
    simulate_availability,
)
from mashsim.model.streams import Streams
from mashsim.scenario.schema import DAY_NAMES, GRADES, Roster, Scenario

__all__ = ["HubRecord", "Referrals", "TeamRecord", "build_calendar", "run_replication"]


@dataclass
class TeamRecord:
    """A pool of people: busy segments (k, 2) and rostered capacity."""

    busy: np.ndarray
    schedule: CapacitySchedule


@dataclass
class HubRecord:
    """What happened in one hub in one replication: inputs plus outcome times (hours)."""

    referrals: Referrals
    staff_start: np.ndarray  # first start of staff work (NaN: never started)
    staff_end: np.ndarray  # decision made (NaN: still open at the end)
    sd_held: np.ndarray  # strategy discussion finished (NaN: not held)
    degraded: np.ndarray  # decided with research cut short
    notifications_entered: np.ndarray
    staff: TeamRecord  # the pool serving this hub (shared by all hubs when pooled)
    pool_key: str  # which pool that is: the hub's name, or "pooled"
    sd: TeamRecord | None  # the strategy-discussion attendees (None: held by staff)
    overtime: np.ndarray  # (k, 2): block start hour, staff-hours
    paid_staff_hours_per_day: np.ndarray
    available_staff_hours_per_day: np.ndarray
    overflow_team: TeamRecord | None = field(default=None)


def build_calendar(scenario: Scenario) -> WorkingCalendar:
    cal = scenario.calendar
    return WorkingCalendar(
        scenario.run.start_date,
        math.ceil(scenario.run.duration_days),
        day_start_hour=cal.day_start_hour,
        day_end_hour=cal.day_end_hour,
        working_weekdays=tuple(DAY_NAMES.index(d) for d in cal.working_days),
        exclude_bank_holidays=cal.exclude_bank_holidays,
    )


def _segments(items: list[tuple[float, float]]) -> np.ndarray:
    return np.asarray(items, dtype=float).reshape(-1, 2)


class _Capacity:
    """Rosters turned into capacity schedules, with vacancies and absences drawn."""

    def __init__(self, sc: Scenario, cal: WorkingCalendar, streams: Streams) -> None:
        self.sc, self.cal, self.streams = sc, cal, streams
        self.n_days = math.ceil(sc.horizon_hours / 24.0) + 1
        self.holidays = frozenset(cal.bank_holidays())

    def base(self, roster: Roster) -> CapacitySchedule:
        return roster_schedule(roster, self.sc.run.start_date, self.sc.horizon_hours,
                               self.holidays)

    def build(self, roster: Roster, owner: str, absences: bool = True):
        """(schedule, paid staff-hours per day, available staff-hours per day)."""
        base = self.base(roster)
        if not absences:
            hours = base.hours_per_day(self.sc.horizon_hours)
            return base, hours, hours
        staffing = self.sc.staffing
        avail = simulate_availability(
            roster, staffing, self.cal, self.n_days,
            lambda name: self.streams.rng("staffing", name, owner))
        return available_schedule(base, avail, staffing.abstraction_share,
                                  self.sc.horizon_hours,
                                  self.streams.rng("staffing", "rounding", owner))


class _Hub:
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
        self.sd_src = Source(self.sd_book, DeadlineQueue(refs.sd_deadline.tolist(), self.sd_entry)
                             if sdc.discipline == "deadline" else FifoQueue(self.sd_entry))
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
            self.env.timeout(delay).callbacks.append(lambda _e, j=job: self._sd_ready(j))
        else:
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


def run_replication(scenario: Scenario, seed: int, replication: int) -> dict[str, HubRecord]:
    """Simulate one replication; returns each hub's record."""
    sc = scenario
    streams = Streams(seed, replication)
    cal = build_calendar(sc)
    env = simpy.Environment()
    cap = _Capacity(sc, cal, streams)
    at_end = sc.queue.at_shift_end
    hubs = {h: _Hub(env, sc, cal, h, draw_referrals(sc, streams, cal, h)) for h in sc.hubs}

    staff_cap = {h: cap.build(sc.hubs[h].staff, f"{h}/staff") for h in sc.hubs}
    pools: dict[str, Pool] = {}
    schedules: dict[str, CapacitySchedule] = {}
    if sc.pooling.mode == "pooled":
        shared = Pool(env, [hubs[h].staff_src for h in sc.hubs], earliest_head, at_end)
        schedules["pooled"] = merge_schedules([staff_cap[h][0] for h in sc.hubs])
        drive_capacity(env, shared, schedules["pooled"])
        pools = dict.fromkeys(sc.hubs, shared)
    else:
        for h in sc.hubs:
            pools[h] = Pool(env, [hubs[h].staff_src], at_shift_end=at_end)
            schedules[h] = staff_cap[h][0]
            drive_capacity(env, pools[h], schedules[h])
    team = None
    if sc.pooling.mode == "overflow":
        team = Pool(env, [hubs[h].staff_src for h in sc.hubs],
                    longest_over(sc.pooling.overflow_threshold), at_end)
        team_sched = cap.build(sc.pooling.overflow_team, "overflow_team")[0]
        drive_capacity(env, team, team_sched)

    sd_pools = {}  # attendee teams exist only when they hold the discussions
    for h in sc.hubs:
        if not hubs[h].sd_by_staff:
            sd_sched = cap.build(sc.hubs[h].sd_attendees, f"{h}/sd_attendees",
                                 absences=sc.staffing.absences_apply_to_sd_attendees)[0]
            sd_pools[h] = (Pool(env, [hubs[h].sd_src], at_shift_end=at_end), sd_sched)
            drive_capacity(env, *sd_pools[h])
        hubs[h].feed()

    overtime = {}
    ot = sc.staffing.overtime
    if ot.enabled and ot.weekly_cap_hours > 0:
        permitted = cap.base(Roster(headcount=1, shifts=ot.shifts))
        for h in sc.hubs:
            overtime[h] = OvertimeController(env, pools[h], ot, hubs[h].trigger(ot.trigger),
                                             permitted, sc.run.start_date)

    env.run(until=sc.horizon_hours)

    def busy(pool: Pool) -> np.ndarray:  # work still in progress counts up to the end
        return _segments(pool.busy_segments(sc.horizon_hours))

    team_record = TeamRecord(busy(team), team_sched) if team is not None else None
    records = {}
    for h, hub in hubs.items():
        n = hub.n
        key = "pooled" if sc.pooling.mode == "pooled" else h
        records[h] = HubRecord(
            referrals=hub.refs,
            staff_start=np.asarray(hub.staff_book.first_start[:n]),
            staff_end=np.asarray(hub.staff_book.end[:n]),
            sd_held=hub.sd_held(),
            degraded=hub.degraded,
            notifications_entered=hub.notif_created,
            staff=TeamRecord(busy(pools[h]), schedules[key]),
            pool_key=key,
            sd=TeamRecord(busy(sd_pools[h][0]), sd_pools[h][1]) if h in sd_pools else None,
            overtime=_segments(overtime[h].log if h in overtime else []),
            paid_staff_hours_per_day=staff_cap[h][1],
            available_staff_hours_per_day=staff_cap[h][2],
            overflow_team=team_record,
        )
    return records
