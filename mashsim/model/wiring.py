"""Wiring one replication: who serves which queue, built one staffing mechanism at a time.

A `HubModel` starts as the hubs' queues (`HubQueues`, with their referrals drawn) in a
fresh simpy environment; each `build_*` function then adds one mechanism to it: the
staff pools (independent or pooled), the force-wide overflow team, the strategy-discussion
teams and the overtime controllers. A new staffing mechanism is one more builder and one
more field here, not another branch inside a long function. A hub's work is its stages'
queues (`HubQueues.stage_srcs`) plus the discussion queue; `build_role_pools` gives each
role a pool serving the queues of its skills, in its order of preference (a hub described
by `staff` alone: one stage, one role, `staff`, exactly as before roles).

The order of the builders is part of the model: simpy breaks ties between same-time
events in the order they were scheduled, and a pool's position in a source's pool list
is its priority (a hub's own pool first, the overflow team after it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from mashsim.model.calendar import WorkingCalendar
from mashsim.model.demand_memo import hub_demand
from mashsim.model.engine import (
    Env,
    Pool,
    Select,
    Source,
    by_preference,
    drive_capacity,
    earliest_head,
    first_with_work,
    longest_over,
    oldest_first,
    own_queue,
)
from mashsim.model.hub import HubQueues
from mashsim.model.overtime import OvertimeController
from mashsim.model.staffing import (
    CapacitySchedule,
    available_schedule,
    merge_schedules,
    roster_schedule,
    simulate_availability,
)
from mashsim.model.streams import Streams
from mashsim.scenario.schema import DAY_NAMES, STAFF_ROLE, Role, Roster, Scenario

__all__ = ["POOLED", "Capacity", "HubModel", "Team", "build_calendar", "build_discussion_teams",
           "build_hub_model", "build_overflow_team", "build_overtime", "build_role_pools",
           "build_staff_pools",
           "hub_groups", "start_hub_model"]

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
        staffing = (roster.absences(self.sc.staffing) if isinstance(roster, Role)
                    else self.sc.staffing)
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
    staff_capacity: dict[str, Staffed] = field(default_factory=dict)  # by hub, all roles
    role_capacity: dict[str, dict[str, Staffed]] = field(default_factory=dict)  # hub → role
    staff_teams: dict[str, Team] = field(default_factory=dict)  # by pool key, every role
    pool_key: dict[str, str] = field(default_factory=dict)  # hub → its first role's key
    role_key: dict[tuple[str, str], str] = field(default_factory=dict)  # (hub, role) → key
    overflow_team: Team | None = None
    sd_teams: dict[str, Team] = field(default_factory=dict)  # by hub; attendees only
    overtime: dict[str, OvertimeController] = field(default_factory=dict)  # by hub

    def staff_team(self, hub: str) -> Team:
        """The team of the hub's first role (its only one without roles)."""
        return self.staff_teams[self.pool_key[hub]]

    def role_team(self, hub: str, role: str) -> Team:
        return self.staff_teams[self.role_key[hub, role]]

    def team(self, roster: Roster, owner: str, sources: list[Source],
             select: Select = own_queue, absences: bool = True) -> Team:
        """A pool serving `sources`, its capacity driven by `roster` (absences drawn)."""
        schedule = self.capacity.build(roster, owner, absences)[0]
        pool = Pool(self.env, sources, select, self.sc.queue.at_shift_end)
        return self.drive(pool, schedule)

    def drive(self, pool: Pool, schedule: CapacitySchedule) -> Team:
        drive_capacity(self.env, pool, schedule)
        return Team(pool, schedule)


def start_hub_model(sc: Scenario, streams: Streams, hubs: Sequence[str] | None = None,
                    cal: WorkingCalendar | None = None) -> HubModel:
    """A fresh environment with each hub's queues and referrals; no one serving yet.

    `hubs`: only these (in scenario order), for hubs that share nothing with the others:
    each hub's draws come from its own named streams, so it sees the same referrals,
    absences and event order alone as beside the others (see `hub_groups`). The demand
    draws of a one-hub scenario come from this process's memo when another staffing
    drew them (`demand_memo`)."""
    cal = build_calendar(sc) if cal is None else cal
    env = Env()  # simpy's, with a tighter run loop
    names = sc.hubs if hubs is None else [h for h in sc.hubs if h in set(hubs)]
    queues = {h: HubQueues(env, sc, cal, h, *hub_demand(sc, streams, cal, h)) for h in names}
    return HubModel(sc, env, Capacity(sc, cal, streams), queues)


def hub_groups(sc: Scenario) -> list[list[str]]:
    """Hubs that can be simulated apart, each group in its own environment: every hub
    alone when they are independent; all together when pooled or with an overflow team
    (they share people)."""
    if sc.pooling.mode == "independent":
        return [[h] for h in sc.hubs]
    return [list(sc.hubs)]


def _role_key(hub: str, role: str, pooled: bool) -> str:
    """A role's pool key: the hub (or "pooled") for `staff`, as before roles."""
    base = POOLED if pooled else hub
    return base if role == STAFF_ROLE else f"{base}.{role}"


def _role_select(role: Role, groups: list[list[Source]]) -> Select:
    """How a role's free person picks a queue (see `Role.dispatch`)."""
    if len(groups) == 1:  # one skill: as before roles
        return own_queue if len(groups[0]) == 1 else earliest_head
    if role.dispatch == "oldest_first":
        return oldest_first
    # each skill one queue (a hub's own): the first with work, as `by_preference` picks
    return first_with_work if all(len(g) == 1 for g in groups) else by_preference(groups)


def _summed(parts: list[Staffed]) -> Staffed:
    """Several roles' capacity seen as a hub's staff (one role: itself)."""
    if len(parts) == 1:
        return parts[0]
    return (merge_schedules([p[0] for p in parts]), np.sum([p[1] for p in parts], axis=0),
            np.sum([p[2] for p in parts], axis=0))


def build_role_pools(model: HubModel) -> None:
    """Each role a pool serving its skills' queues in its order of preference: one per
    hub, or under pooling one per role name across the hubs that have it (their
    schedules summed; within a skill, the earliest head across hubs). Where a job could go
    to several roles with someone free, the role listed first takes it."""
    sc, hubs = model.sc, model.hubs
    names_in = list(hubs)  # the scenario's hubs, or those simulated in this environment
    pooled = sc.pooling.mode == "pooled"
    roles = {h: sc.hub_roles(h) for h in names_in}
    model.role_capacity = {h: {r: model.capacity.build(role, f"{h}/{r}")
                               for r, role in roles[h].items()} for h in names_in}
    model.staff_capacity = {h: _summed(list(model.role_capacity[h].values())) for h in names_in}
    at_end = sc.queue.at_shift_end
    for h in names_in:
        model.pool_key[h] = _role_key(h, next(iter(roles[h])), pooled)
        for r in roles[h]:
            model.role_key[h, r] = _role_key(h, r, pooled)
    names = list(dict.fromkeys(r for h in names_in for r in roles[h]))
    for r in names if pooled else []:
        members = [h for h in names_in if r in roles[h]]
        role = roles[members[0]][r]
        groups = [[hubs[h].skill_source(sk) for h in members
                   if sk in roles[h][r].skills] for sk in role.skills]
        pool = Pool(model.env, [src for g in groups for src in g],
                    _role_select(role, groups), at_end)
        schedule = merge_schedules([model.role_capacity[h][r][0] for h in members])
        model.staff_teams[_role_key("", r, True)] = model.drive(pool, schedule)
    for h in names_in if not pooled else []:
        for r, role in roles[h].items():
            groups = [[hubs[h].skill_source(sk)] for sk in role.skills]
            pool = Pool(model.env, [g[0] for g in groups], _role_select(role, groups), at_end)
            model.staff_teams[model.role_key[h, r]] = model.drive(
                pool, model.role_capacity[h][r][0])


build_staff_pools = build_role_pools  # the name before roles


def build_overflow_team(model: HubModel) -> None:
    """A force-wide team taking the longest queue over a threshold (overflow mode), among
    the stages it is skilled for (`pooling.overflow_skills`; the first stage by default)."""
    sc = model.sc
    if sc.pooling.mode != "overflow":
        return
    stages = [sc.stage_names.index(s) for s in sc.pooling.overflow_skills] or [0]
    model.overflow_team = model.team(
        sc.pooling.overflow_team, "overflow_team",
        [model.hubs[h].stage_srcs[i] for h in sc.hubs for i in stages],
        longest_over(sc.pooling.overflow_threshold))


def build_discussion_teams(model: HubModel) -> None:
    """Each hub's strategy-discussion attendees (unless staff hold the discussions), then
    its referrals start arriving: team, arrivals, hub by hub, as the event order was set."""
    sc = model.sc
    for h, hub in model.hubs.items():
        if not hub.sd_by_staff and not hub.sd_src.pools:  # no role skilled for them
            model.sd_teams[h] = model.team(
                sc.hubs[h].sd_attendees, f"{h}/sd_attendees", *hub.attendee_work(),
                absences=sc.staffing.absences_apply_to_sd_attendees)
        hub.feed()


def build_overtime(model: HubModel) -> None:
    """A controller per hub adding overtime blocks under pressure to the pool of
    `overtime.role` (the hub's first role by default), reading `overtime.stages`."""
    sc, ot = model.sc, model.sc.staffing.overtime
    if not (ot.enabled and ot.weekly_cap_hours > 0):
        return
    permitted = model.capacity.base(Roster(headcount=1, shifts=ot.shifts))
    stages = [sc.stage_names.index(s) for s in ot.stages] or None
    for h, hub in model.hubs.items():
        team = model.role_team(h, ot.role) if ot.role else model.staff_team(h)
        watched = hub.stage_srcs if stages is None else [hub.stage_srcs[i] for i in stages]
        model.overtime[h] = OvertimeController(
            model.env, team.pool, ot, hub.trigger(ot.trigger, stages), permitted,
            sc.run.start_date, watch=watched if ot.trigger == "staff_queue" else ())


def build_hub_model(sc: Scenario, streams: Streams, hubs: Sequence[str] | None = None,
                    cal: WorkingCalendar | None = None) -> HubModel:
    """Every mechanism wired, in the order that fixes the event order (see module doc);
    `hubs`: only these (`start_hub_model`)."""
    model = start_hub_model(sc, streams, hubs, cal)
    build_role_pools(model)
    build_overflow_team(model)
    build_discussion_teams(model)
    build_overtime(model)
    return model
