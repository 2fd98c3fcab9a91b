"""Wiring one replication: who serves which queue, built one staffing mechanism at a time.

A `HubModel` starts as the hubs' queues (`HubQueues`, with their referrals drawn) in a
fresh simpy environment; each `build_*` function then adds one mechanism to it: the
staff pools (independent or pooled), the force-wide overflow team, the strategy-discussion
teams and the overtime controllers. A new staffing mechanism is one more builder and one
more field here, not another branch inside a long function. Today every hub has one
stage of work (its staff queue, plus the discussion queue) served by one kind of people
(its staff roster); stages and roles would replace `HubQueues` sources and
`build_staff_pools` respectively, and the other builders keep their shape.

The order of the builders is part of the model: simpy breaks ties between same-time
events in the order they were scheduled, and a pool's position in a source's pool list
is its priority (a hub's own pool first, the overflow team after it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import simpy

from mashsim.model.calendar import WorkingCalendar
from mashsim.model.engine import (
    Pool,
    Select,
    Source,
    drive_capacity,
    earliest_head,
    longest_over,
    own_queue,
)
from mashsim.model.hub import HubQueues
from mashsim.model.overtime import OvertimeController
from mashsim.model.referrals import draw_referrals
from mashsim.model.staffing import (
    CapacitySchedule,
    available_schedule,
    merge_schedules,
    roster_schedule,
    simulate_availability,
)
from mashsim.model.streams import Streams
from mashsim.scenario.schema import DAY_NAMES, Roster, Scenario

__all__ = ["POOLED", "Capacity", "HubModel", "Team", "build_calendar", "build_discussion_teams",
           "build_hub_model", "build_overflow_team", "build_overtime", "build_staff_pools",
           "start_hub_model"]

POOLED = "pooled"  # the key of the one staff pool that pooled hubs share


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


# (schedule, paid staff-hours per day, available staff-hours per day)
Staffed = tuple[CapacitySchedule, np.ndarray, np.ndarray]


class Capacity:
    """Rosters turned into capacity schedules, with vacancies and absences drawn."""

    def __init__(self, sc: Scenario, cal: WorkingCalendar, streams: Streams) -> None:
        self.sc, self.cal, self.streams = sc, cal, streams
        self.n_days = math.ceil(sc.horizon_hours / 24.0) + 1
        self.holidays = frozenset(cal.bank_holidays())

    def base(self, roster: Roster) -> CapacitySchedule:
        return roster_schedule(roster, self.sc.run.start_date, self.sc.horizon_hours,
                               self.holidays)

    def build(self, roster: Roster, owner: str, absences: bool = True) -> Staffed:
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


@dataclass
class Team:
    """People serving queues: the pool in the event loop and its rostered capacity."""

    pool: Pool
    schedule: CapacitySchedule


@dataclass
class HubModel:
    """One replication's simpy environment and everything wired into it, by mechanism."""

    sc: Scenario
    env: simpy.Environment
    capacity: Capacity
    hubs: dict[str, HubQueues]
    staff_capacity: dict[str, Staffed] = field(default_factory=dict)  # by hub
    staff_teams: dict[str, Team] = field(default_factory=dict)  # by pool key
    pool_key: dict[str, str] = field(default_factory=dict)  # hub → its staff team's key
    overflow_team: Team | None = None
    sd_teams: dict[str, Team] = field(default_factory=dict)  # by hub; attendees only
    overtime: dict[str, OvertimeController] = field(default_factory=dict)  # by hub

    def staff_team(self, hub: str) -> Team:
        return self.staff_teams[self.pool_key[hub]]

    def team(self, roster: Roster, owner: str, sources: list[Source],
             select: Select = own_queue, absences: bool = True) -> Team:
        """A pool serving `sources`, its capacity driven by `roster` (absences drawn)."""
        schedule = self.capacity.build(roster, owner, absences)[0]
        pool = Pool(self.env, sources, select, self.sc.queue.at_shift_end)
        return self.drive(pool, schedule)

    def drive(self, pool: Pool, schedule: CapacitySchedule) -> Team:
        drive_capacity(self.env, pool, schedule)
        return Team(pool, schedule)


def start_hub_model(sc: Scenario, streams: Streams) -> HubModel:
    """A fresh environment with each hub's queues and referrals; no one serving yet."""
    cal = build_calendar(sc)
    env = simpy.Environment()
    hubs = {h: HubQueues(env, sc, cal, h, draw_referrals(sc, streams, cal, h)) for h in sc.hubs}
    return HubModel(sc, env, Capacity(sc, cal, streams), hubs)


def build_staff_pools(model: HubModel) -> None:
    """Each hub's staff roster: a pool per hub, or one pool for all under pooling."""
    sc, hubs = model.sc, model.hubs
    model.staff_capacity = {h: model.capacity.build(sc.hubs[h].staff, f"{h}/staff")
                            for h in sc.hubs}
    at_end = sc.queue.at_shift_end
    if sc.pooling.mode == "pooled":
        shared = Pool(model.env, [hubs[h].staff_src for h in sc.hubs], earliest_head, at_end)
        schedule = merge_schedules([model.staff_capacity[h][0] for h in sc.hubs])
        model.staff_teams[POOLED] = model.drive(shared, schedule)
        model.pool_key = dict.fromkeys(sc.hubs, POOLED)
        return
    for h in sc.hubs:
        pool = Pool(model.env, [hubs[h].staff_src], at_shift_end=at_end)
        model.staff_teams[h] = model.drive(pool, model.staff_capacity[h][0])
        model.pool_key[h] = h


def build_overflow_team(model: HubModel) -> None:
    """A force-wide team taking the longest staff queue over a threshold (overflow mode)."""
    sc = model.sc
    if sc.pooling.mode != "overflow":
        return
    model.overflow_team = model.team(
        sc.pooling.overflow_team, "overflow_team",
        [model.hubs[h].staff_src for h in sc.hubs], longest_over(sc.pooling.overflow_threshold))


def build_discussion_teams(model: HubModel) -> None:
    """Each hub's strategy-discussion attendees (unless staff hold the discussions), then
    its referrals start arriving: team, arrivals, hub by hub, as the event order was set."""
    sc = model.sc
    for h, hub in model.hubs.items():
        if not hub.sd_by_staff:
            model.sd_teams[h] = model.team(
                sc.hubs[h].sd_attendees, f"{h}/sd_attendees", [hub.sd_src],
                absences=sc.staffing.absences_apply_to_sd_attendees)
        hub.feed()


def build_overtime(model: HubModel) -> None:
    """A controller per hub adding overtime blocks to its staff pool under pressure."""
    sc, ot = model.sc, model.sc.staffing.overtime
    if not (ot.enabled and ot.weekly_cap_hours > 0):
        return
    permitted = model.capacity.base(Roster(headcount=1, shifts=ot.shifts))
    for h, hub in model.hubs.items():
        model.overtime[h] = OvertimeController(
            model.env, model.staff_team(h).pool, ot, hub.trigger(ot.trigger), permitted,
            sc.run.start_date)


def build_hub_model(sc: Scenario, streams: Streams) -> HubModel:
    """Every mechanism wired, in the order that fixes the event order (see module doc)."""
    model = start_hub_model(sc, streams)
    build_staff_pools(model)
    build_overflow_team(model)
    build_discussion_teams(model)
    build_overtime(model)
    return model
