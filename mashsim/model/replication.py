"""One replication: the MASH model wired into a simpy environment, run, and recorded.

`run_replication(scenario, seed, replication)` is a pure function: the same inputs
give the same records on any machine or worker. Everything random that does not depend
on the queue (referrals, rosters, absences) is drawn up front from named streams, so two
scenarios that differ only in staffing see the same referrals (common random numbers);
the event loop plays out only what depends on the queue: who is served when, overtime,
and research cut short under pressure. `wiring` builds the model, mechanism by mechanism;
`build_records` reads it back after the run.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from mashsim.model.calendar import WorkingCalendar
from mashsim.model.referrals import Referrals
from mashsim.model.staffing import CapacitySchedule
from mashsim.model.streams import Streams
from mashsim.model.wiring import HubModel, Team, build_calendar, build_hub_model, hub_groups
from mashsim.model.work import WorkRecord, work_record
from mashsim.scenario.schema import Scenario

__all__ = ["HubRecord", "Referrals", "TeamRecord", "build_calendar", "build_records",
           "replication_groups", "replication_parts", "run_replication", "trim_heap"]


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
    # by stage name: entry to its queue, first start, end (NaN: not needed or not reached)
    stage_entry: dict[str, np.ndarray] = field(default_factory=dict)
    stage_start: dict[str, np.ndarray] = field(default_factory=dict)
    stage_end: dict[str, np.ndarray] = field(default_factory=dict)
    roles: dict[str, TeamRecord] = field(default_factory=dict)  # by role name
    role_keys: dict[str, str] = field(default_factory=dict)  # role → pool key (pooled: shared)
    role_paid_hours_per_day: dict[str, np.ndarray] = field(default_factory=dict)
    role_hourly_cost: dict[str, float] = field(default_factory=dict)
    overtime_hourly_cost: float = 0.0  # pounds per overtime staff-hour (role cost × premium)
    work: WorkRecord | None = field(default=None)  # the work streams (issue 13)


def _segments(items: list[tuple[float, float]]) -> np.ndarray:
    return np.asarray(items, dtype=float).reshape(-1, 2)


def _team_record(team: Team, horizon_hours: float) -> TeamRecord:
    """Busy spells (work still in progress counts up to the end) and the roster."""
    return TeamRecord(team.pool.busy_array(horizon_hours), team.schedule)


def build_records(model: HubModel) -> dict[str, HubRecord]:
    """Each hub's record, read from a model that has run to the scenario's horizon."""
    horizon = model.sc.horizon_hours
    overflow = (_team_record(model.overflow_team, horizon)
                if model.overflow_team is not None else None)
    records = {}
    teams: dict[int, TeamRecord] = {}  # one record per pool: a hub's staff is its first role

    def team_record(team: Team) -> TeamRecord:
        key = id(team.pool)
        if key not in teams:
            teams[key] = _team_record(team, horizon)
        return teams[key]

    for h, hub in model.hubs.items():
        staff = model.staff_team(h)
        _, paid, available = model.staff_capacity[h]
        entry_k, start_k, end_k = stages = hub.stage_times()
        start, end = hub.staff_times(stages)
        names = model.sc.stage_names
        roles = model.sc.hub_roles(h)
        records[h] = HubRecord(
            referrals=hub.refs,
            staff_start=start,
            staff_end=end,
            sd_held=hub.sd_held(),
            degraded=hub.degraded,
            notifications_entered=hub.notif_created,
            staff=team_record(staff),
            pool_key=model.pool_key[h],
            sd=_team_record(model.sd_teams[h], horizon) if h in model.sd_teams else None,
            overtime=_segments(model.overtime[h].log if h in model.overtime else []),
            paid_staff_hours_per_day=paid,
            available_staff_hours_per_day=available,
            overflow_team=overflow,
            stage_entry=dict(zip(names, entry_k, strict=True)),
            stage_start=dict(zip(names, start_k, strict=True)),
            stage_end=dict(zip(names, end_k, strict=True)),
            roles={r: team_record(model.role_team(h, r)) for r in roles},
            role_keys={r: model.role_key[h, r] for r in roles},
            role_paid_hours_per_day={r: model.role_capacity[h][r][1] for r in roles},
            role_hourly_cost={r: role.hourly_cost for r, role in roles.items()},
            overtime_hourly_cost=model.sc.overtime_hourly_cost(h),
            work=work_record(hub),
        )
    return records


def replication_parts(scenario: Scenario, seed: int,
                      replication: int) -> Iterator[dict[str, HubRecord]]:
    """Simulate one replication a group of hubs at a time (`hub_groups`: each
    independent hub alone, in its own environment; hubs that share people together),
    yielding each group's records as it finishes, so that memory follows one group.

    A hub alone has the event order it had beside the others (simpy breaks same-time
    ties by scheduling order, and a hub's events are scheduled in the same order relative
    to each other), so its records are identical."""
    for _, run in replication_groups(scenario, seed, replication):
        yield run()


def replication_groups(scenario: Scenario, seed: int, replication: int
                       ) -> Iterator[tuple[list[str], Callable[[], dict[str, HubRecord]]]]:
    """`replication_parts` with each group's simulation left to the caller: (the
    group's hubs, a call that simulates them), so a caller that already has a group's
    outcome (a sweep point that leaves the group as it was) need not run it again."""
    streams = Streams(seed, replication)
    cal = build_calendar(scenario)
    for hubs in hub_groups(scenario):
        yield hubs, partial(_run_group, scenario, streams, hubs, cal)


def _run_group(scenario: Scenario, streams: Streams, hubs: list[str],
               cal: WorkingCalendar) -> dict[str, HubRecord]:
    """Build, run and record one group of hubs with the cyclic garbage collector paused.

    While the group runs, the collector would only walk what cannot be garbage: the
    records of the groups before and this one's growing books (at 387 hubs it cost
    ≈16 % of the run). Everything the group made while paused is in the youngest
    generation, so one young collection after it frees the model's cycles (its hooks
    refer back to it) before the next group starts: memory follows one group. A
    collector the caller had disabled stays disabled (and nothing is collected)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        model = build_hub_model(scenario, streams, hubs, cal)
        model.env.run(until=scenario.horizon_hours)
        records = build_records(model)
        del model
    finally:
        if was_enabled:
            gc.enable()
    if was_enabled:
        gc.collect(0)
    if len(scenario.hubs) > 1:
        trim_heap()
    return records


def _libc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None (another C library, or none found)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def trim_heap() -> None:
    """Give the system back the free pages of the C heap (glibc: `malloc_trim`).

    A group's model frees its books and events when it ends, but glibc keeps the freed
    pages resident, between the few blocks still live, for the next allocations: the
    next groups' smaller models and the force-wide arrays then grew the resident set on
    top of the largest group's heap (≈130 bytes a referral on the default). Results are
    untouched; elsewhere (no glibc) this does nothing. A one-hub scenario is not
    trimmed (`_run_group`): nothing follows its one group in the replication, and its
    next replication would fault the same pages straight back in (≈1 ms a replication
    of a plan's one-hub runs)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def run_replication(scenario: Scenario, seed: int, replication: int) -> dict[str, HubRecord]:
    """Simulate one replication; returns each hub's record."""
    records: dict[str, HubRecord] = {}
    for part in replication_parts(scenario, seed, replication):
        records.update(part)
    return records
