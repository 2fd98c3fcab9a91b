"""The plan's first guess: posts per role from each queue's offered load.

The search starts here rather than at today's posts so that it begins near the answer
(issue 14; rule documented in docs/planning.md). Every queue the model builds for a hub
counts: each stage's handling (linked child referrals as referrals of their own, repeats
at their handling factor, sharing time where the stage includes it), strategy
discussions of police referrals and of partners, adult strategy meetings, MARAC research
and, when they are extra work, early notifications. Each queue's weekly hours are sized
on the cheapest role skilled for it (ties: the role listing it earliest, then the first
role): the work the least-cost answer gives that role. A role's offered load is its
hours over the hours a post is on duty in a week, over the share of time not lost to
leave, sickness and abstraction (the role's planned shrinkage); its guess is the least
posts above load + β √load (square-root staffing, `GUESS_BETA`). It is only a start:
the simulation decides.
"""

from __future__ import annotations

import math

from mashsim.model.staffing import planned_shrinkage
from mashsim.model.workload import stage_work_hours_per_week
from mashsim.scenario.schema import (
    ASM_SKILL,
    EN_SKILL,
    SD_SKILL,
    Role,
    Roster,
    Scenario,
)

__all__ = ["GUESS_BETA", "availability", "first_guess"]

#: square-root staffing margin β (posts > load + β √load): a role holding deadline work
#: streams (strategy discussions, adult meetings: few people, a hard deadline, weekends
#: in between) is sized with a margin; the stages' long decision targets allow a role
#: near full load (calibrated on the default scenario's plans, docs/planning.md)
GUESS_BETA = {"deadline": 1.0, "stage": 0.0}
DEADLINE_SKILLS = (SD_SKILL, ASM_SKILL)
HOURS_PER_WEEK = 168.0
MIN_AVAILABILITY = 0.05  # a guess never assumes posts are away all the time


def availability(scenario: Scenario, role: Role | None = None) -> float:
    """Share of rostered time a post (of `role`, with its own absence settings) is at
    work: 1 − the planned shrinkage (`model.staffing.planned_shrinkage`), at least 5 %."""
    staffing = scenario.staffing if role is None else role.absences(scenario.staffing)
    return max(MIN_AVAILABILITY, 1.0 - planned_shrinkage(staffing))


def _owner(roles: dict[str, Role], skill: str) -> str | None:
    """The role whose posts a skill's work is sized on: the cheapest skilled for it
    (the least-cost staffing gives it that work), then the one listing it earliest
    among its skills, then the first."""
    skilled = [(role.hourly_cost, role.skills.index(skill), i, r)
               for i, (r, role) in enumerate(roles.items()) if skill in role.skills]
    return min(skilled)[3] if skilled else None


def _posts_for(load: float, avail: float, limit: int, beta: float) -> int:
    """Least posts above the offered load (`load` erlangs over the share `avail` of
    posts at work) by `beta` × its square root (square-root staffing)."""
    if load <= 0:
        return 1
    offered = load / avail
    return min(limit, max(1, math.floor(offered + beta * math.sqrt(offered)) + 1))


def _queued_work(scenario: Scenario, hub: str, roles: dict[str, Role]) -> dict[str, float]:
    """Weekly hours per queue as the model builds them: strategy discussions held by
    staff, and early notifications no role is skilled for, join the first stage's queue
    (`HubQueues`); work no role is skilled for goes to the hub's `sd_attendees`, which a
    plan does not vary, and is left out by `_owner`."""
    work = stage_work_hours_per_week(scenario, hub)
    first = scenario.stage_names[0]
    skilled = {sk for role in roles.values() for sk in role.skills}
    moved = [EN_SKILL] if EN_SKILL not in skilled else []
    if scenario.strategy_discussions.held_by == "staff":
        moved.append(SD_SKILL)
    for skill in moved:
        work[first] += work.pop(skill)
    return work


def first_guess(scenario: Scenario, hub: str, shifts: dict[str, Roster] | None = None,
                limit: int = 10_000) -> dict[str, int]:
    """Posts per role of `hub` (`staff` for a hub described by staff alone) at which the
    search starts; `shifts` replaces a role's roster (a candidate pattern)."""
    roles = scenario.hub_roles(hub)
    rosters: dict[str, Roster] = {r: role for r, role in roles.items()}
    rosters.update(shifts or {})
    work = _queued_work(scenario, hub, roles)
    owned = dict.fromkeys(roles, 0.0)
    deadline_work: set[str] = set()
    for skill, hours in work.items():
        owner = _owner(roles, skill)
        if owner is not None:
            owned[owner] += hours
            if skill in DEADLINE_SKILLS and hours > 0:
                deadline_work.add(owner)
    out = {}
    for r, hours in owned.items():
        avail = availability(scenario, roles[r])
        on_duty = rosters[r].staff_hours_per_week(100) / 100.0  # hours a post is on duty
        load = hours / on_duty if on_duty > 0 else 0.0
        beta = GUESS_BETA["deadline" if r in deadline_work else "stage"]
        out[r] = _posts_for(load, avail, limit, beta)
    return out
