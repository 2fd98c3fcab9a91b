"""One replication: the MASH model wired into a simpy environment.

`run_replication(scenario, seed, replication)` is a pure function: the same inputs
give the same records on any machine or worker. Everything random that does not depend
on the queue (arrivals, grades, officer delays, handling times, rosters) is drawn up
front from named streams, so two scenarios that differ only in staffing see the same
referrals (common random numbers); the event loop then plays out only what depends on
the queue: who is served when.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from .arrivals import hourly_rate_per_hour, poisson_arrival_hours
from .calendar import WorkingCalendar
from .engine import Feeder, Pool, drive_capacity
from .policies import DeadlineQueue, FifoQueue, make_queue
from .rpa import handover_offset_hours
from .scenario import DAY_NAMES, GRADES, Scenario
from .staffing import CapacitySchedule, roster_schedule
from .streams import Streams

__all__ = ["HubRecord", "Referrals", "build_calendar", "run_replication"]

MARGIN_DAYS = 400


@dataclass
class Referrals:
    """Attributes of a hub's referrals, index-aligned arrays (times in hours)."""

    created: np.ndarray
    entered: np.ndarray  # when the model first holds it: creation, or 0 for initial backlog
    type_idx: np.ndarray
    grade_idx: np.ndarray
    handover: np.ndarray  # entry to the staff queue
    deadline: np.ndarray  # decision target
    service_hours: np.ndarray
    sd_needed: np.ndarray
    sd_deadline: np.ndarray
    sd_delay_hours: np.ndarray
    sd_service_hours: np.ndarray
    notify: np.ndarray  # early notification sent at creation
    notify_hours: np.ndarray
    officer_delay_hours: np.ndarray  # creation → officer's assessment (NaN: not modelled)
    handling_minutes: np.ndarray  # staff handling, before any sharing time
    shared: np.ndarray  # passed to partner agencies

    def __len__(self) -> int:
        return len(self.created)

    @staticmethod
    def concat(parts: list[Referrals]) -> Referrals:
        fields = Referrals.__dataclass_fields__
        return Referrals(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


@dataclass
class HubRecord:
    """What happened in one hub in one replication: inputs plus outcome times."""

    referrals: Referrals
    staff_start: np.ndarray  # first start of staff work (NaN: never started)
    staff_end: np.ndarray  # decision made (NaN: still open at the end)
    sd_held: np.ndarray  # strategy discussion finished (NaN: not held)
    notifications_entered: np.ndarray
    staff_busy: np.ndarray  # (k, 2) busy segments, any job
    staff_schedule: CapacitySchedule
    sd_busy: np.ndarray
    sd_schedule: CapacitySchedule


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


def _draw(
    sc: Scenario, streams: Streams, cal: WorkingCalendar, hub: str, source: str,
    created: np.ndarray, entered: np.ndarray, rpa_stage: bool,
) -> Referrals:
    """Draw every queue-independent attribute of a batch of referrals."""
    n = len(created)

    def rng(name: str) -> np.random.Generator:
        return streams.rng(source, name, hub)

    types = list(sc.referral_types.values())
    type_p = np.array([t.share for t in types])
    type_idx = np.minimum(
        np.searchsorted(np.cumsum(type_p / type_p.sum()), rng("type").random(n), side="right"),
        len(types) - 1,
    )
    grade_cum = np.cumsum([t.grade_mix.probabilities() for t in types], axis=1)
    grade_idx = np.minimum((rng("grade").random(n)[:, None] >= grade_cum[type_idx]).sum(1), 2)

    if rpa_stage:
        delay = sc.officer_assessment.delay_hours.sample(rng("officer_delay"), n)
        handover = created + handover_offset_hours(sc.rpa, delay)
    else:
        delay = np.full(n, np.nan)
        handover = entered.astype(float, copy=True)

    handling_min = np.zeros(n)
    deadline = np.zeros(n)
    for g, name in enumerate(GRADES):
        grade = sc.grades[name]
        mask = grade_idx == g
        handling_min[mask] = grade.handling_minutes.sample(rng(f"handling_{name}"), n)[mask]
        t = grade.decision_target
        origin = created if t.starts_at == "creation" else handover
        deadline[mask] = cal.deadline_hours(origin[mask], t.amount, t.clock)
    shared = rng("sharing").random(n) < sc.sharing.share_with_partners
    sharing_min = sc.sharing.sharing_minutes.sample(rng("sharing_minutes"), n) * shared

    sdc = sc.strategy_discussions
    sd_share = np.array([t.strategy_discussion_share for t in types])
    sd_needed = rng("sd_need").random(n) < sd_share[type_idx]
    sd_service = (sdc.preparation_minutes.sample(rng("sd_preparation"), n)
                  + sdc.meeting_minutes.sample(rng("sd_meeting"), n)) / 60.0
    notify_types = np.array([t.early_notification for t in types])
    notify = notify_types[type_idx] & sc.rpa.enabled & sc.rpa.early_notification & rpa_stage
    return Referrals(
        created=created,
        entered=entered,
        type_idx=type_idx.astype(np.int16),
        grade_idx=grade_idx.astype(np.int8),
        handover=handover,
        deadline=deadline,
        service_hours=(handling_min + sharing_min) / 60.0,
        sd_needed=sd_needed,
        sd_deadline=cal.deadline_hours(created, sdc.deadline.amount, sdc.deadline.clock),
        sd_delay_hours=sdc.scheduling_delay_hours.sample(rng("sd_scheduling"), n),
        sd_service_hours=sd_service,
        notify=notify,
        notify_hours=sc.rpa.early_notification_minutes.sample(rng("notification"), n) / 60.0,
        officer_delay_hours=delay,
        handling_minutes=handling_min,
        shared=shared,
    )


def draw_referrals(
    sc: Scenario, streams: Streams, cal: WorkingCalendar, hub: str
) -> Referrals:
    """The hub's initial backlog (waiting for staff at time 0) and its new arrivals."""
    rate = hourly_rate_per_hour(
        sc.arrivals, sc.hub_rate_per_day(hub), sc.run.start_date, sc.horizon_hours
    )
    created = poisson_arrival_hours(streams.rng("arrivals", hub), rate)
    created = created[created < sc.horizon_hours]
    new = _draw(sc, streams, cal, hub, "new", created, created, rpa_stage=True)
    backlog = sc.hubs[hub].initial_backlog
    if backlog.count == 0:
        return new
    ages = backlog.age_days.sample(streams.rng("initial_backlog", "age", hub), backlog.count)
    old_created = np.sort(-24.0 * ages)
    old = _draw(sc, streams, cal, hub, "initial", old_created,
                np.zeros(backlog.count), rpa_stage=False)
    return Referrals.concat([old, new])


def _segments(pool: Pool) -> np.ndarray:
    return np.asarray(pool.segments, dtype=float).reshape(-1, 2)


def _run_hub(
    env: simpy.Environment, sc: Scenario, cal: WorkingCalendar, hub: str, refs: Referrals
) -> callable:
    """Wire one hub's staff and strategy-discussion pools; returns a record builder."""
    n = len(refs)
    notif = np.flatnonzero(refs.notify)
    m = len(notif)
    priority = np.array([sc.grades[g].priority for g in GRADES])
    as_grade = GRADES.index(sc.rpa.early_notification_queue_as)
    notif_target = sc.grades[sc.rpa.early_notification_queue_as].decision_target
    notif_created = refs.created[notif]
    entry = np.concatenate((refs.handover, notif_created))
    staff_queue = make_queue(
        sc.queue.discipline,
        entry.tolist(),
        np.concatenate((priority[refs.grade_idx], np.full(m, priority[as_grade]))),
        np.concatenate((refs.deadline, cal.deadline_hours(
            notif_created, notif_target.amount, notif_target.clock))),
    )
    service = np.concatenate((refs.service_hours, refs.notify_hours[notif])).tolist()

    sd_entry = [math.nan] * n
    sd_queue = (DeadlineQueue(refs.sd_deadline.tolist(), sd_entry)
                if sc.strategy_discussions.discipline == "deadline" else FifoQueue())
    sd_pool = Pool(env, sd_queue, refs.sd_service_hours.tolist(),
                   at_shift_end=sc.queue.at_shift_end)
    sd_needed = refs.sd_needed.tolist()
    sd_delay = refs.sd_delay_hours.tolist()

    def sd_start(job: int) -> None:
        sd_pool.offer(job)

    def decided(job: int) -> None:
        if job < n and sd_needed[job]:
            ready = env.now + sd_delay[job]
            sd_entry[job] = ready
            if ready <= env.now:
                sd_pool.offer(job)
            else:
                env.timeout(sd_delay[job]).callbacks.append(lambda _e, j=job: sd_start(j))

    staff = Pool(env, staff_queue, service, on_done=decided,
                 at_shift_end=sc.queue.at_shift_end)
    order = np.argsort(entry, kind="stable")
    Feeder(env, entry[order].tolist(), order.tolist(), staff.offer)

    h = sc.hubs[hub]
    staff_sched = roster_schedule(h.staff, sc.run.start_date, sc.horizon_hours)
    sd_sched = roster_schedule(h.sd_attendees, sc.run.start_date, sc.horizon_hours)
    drive_capacity(env, staff, staff_sched)
    drive_capacity(env, sd_pool, sd_sched)

    def record() -> HubRecord:
        return HubRecord(
            referrals=refs,
            staff_start=np.asarray(staff.first_start[:n]),
            staff_end=np.asarray(staff.end[:n]),
            sd_held=np.asarray(sd_pool.end),
            notifications_entered=notif_created,
            staff_busy=_segments(staff),
            staff_schedule=staff_sched,
            sd_busy=_segments(sd_pool),
            sd_schedule=sd_sched,
        )

    return record


def run_replication(scenario: Scenario, seed: int, replication: int) -> dict[str, HubRecord]:
    """Simulate one replication; returns each hub's record."""
    streams = Streams(seed, replication)
    cal = build_calendar(scenario)
    env = simpy.Environment()
    builders = {}
    for hub in scenario.hubs:
        refs = draw_referrals(scenario, streams, cal, hub)
        builders[hub] = _run_hub(env, scenario, cal, hub, refs)
    env.run(until=scenario.horizon_hours)
    return {hub: build() for hub, build in builders.items()}
