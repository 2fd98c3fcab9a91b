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
leave, sickness and abstraction; its guess is the least posts above load + β √load
(square-root staffing, `GUESS_BETA`). It is only a start: the simulation decides.
"""

from __future__ import annotations

import math

from mashsim.scenario.schema import (
    ASM_SKILL,
    EN_SKILL,
    GRADES,
    MARAC_SKILL,
    SD_SKILL,
    Role,
    Roster,
    Scenario,
)

__all__ = ["GUESS_BETA", "availability", "first_guess", "stage_work_hours_per_week"]

#: square-root staffing margin β (posts > load + β √load): a role holding deadline work
#: streams (strategy discussions, adult meetings: few people, a hard deadline, weekends
#: in between) is sized with a margin; the stages' long decision targets allow a role
#: near full load (calibrated on the default scenario's plans, docs/planning.md)
GUESS_BETA = {"deadline": 1.0, "stage": 0.0}
DEADLINE_SKILLS = (SD_SKILL, ASM_SKILL)
HOURS_PER_WEEK = 168.0
WORKING_DAYS_PER_YEAR = 260.0


def _grade_shares(scenario: Scenario) -> list[tuple[str, int, float]]:
    """(type, grade index, referrals of that type and grade per referral drawn): the
    type mix plus the linked child referrals of the types that make them (which is why
    the shares can sum to more than 1)."""
    total = sum(t.share for t in scenario.referral_types.values())
    per_type = {name: t.share / total for name, t in scenario.referral_types.items()}
    for t in scenario.referral_types.values():
        if t.linked_child_share > 0 and t.linked_child_type in per_type:
            per_type[t.linked_child_type] += t.share / total * t.linked_child_share
    return [(name, g, per_type[name] * t.grade_mix.probabilities()[g])
            for name, t in scenario.referral_types.items() for g in range(len(GRADES))]


def _repeat_factor(scenario: Scenario, type_name: str) -> float:
    """Mean handling factor of a type: its repeats take `repeat_handling_factor`."""
    t = scenario.referral_types[type_name]
    return 1.0 - t.repeat_share + t.repeat_share * t.repeat_handling_factor


def stage_work_hours_per_week(scenario: Scenario, hub: str) -> dict[str, float]:
    """Staff-hours of work a week of `hub` per stage and per work stream (the skills
    `strategy_discussion`, `adult_strategy_meeting`, `marac_research` and, when the RPA's
    notifications are extra work, `early_notification`): every piece of work the model
    queues (`HubQueues.skill_source`), at the scenario's mean rates."""
    per_week = scenario.hub_rate_per_day(hub) * 7.0
    mix = _grade_shares(scenario)
    sharing = (scenario.sharing.share_with_partners
               * scenario.sharing.sharing_minutes.mean / 60.0)
    work: dict[str, float] = {}
    for name in scenario.stage_names:
        st = scenario.stage(name)
        hours = 0.0
        for type_name, g, share in mix:
            need = st.share(type_name)[g]
            grade = GRADES[g]
            dist = (st.handling_minutes_by_grade.get(grade) or st.handling_minutes
                    or scenario.grades[grade].handling_minutes)
            hours += share * need * (dist.mean / 60.0 * _repeat_factor(scenario, type_name)
                                     + (sharing if st.includes_sharing else 0.0))
        work[name] = per_week * hours
    for skill, hours in _stream_hours(scenario, mix).items():
        work[skill] = per_week * hours
    sd = scenario.strategy_discussions
    partner_per_week = (sd.partner_initiated_per_day * scenario.hub_share(hub) * 7.0
                        if scenario.hubs else 0.0)
    work[SD_SKILL] += partner_per_week * (sd.partner_research_minutes.mean
                                          + sd.preparation_minutes.mean
                                          + sd.meeting_minutes.mean) / 60.0
    return work


def _stream_hours(scenario: Scenario, mix: list[tuple[str, int, float]]
                  ) -> dict[str, float]:
    """Hours per referral drawn of each work stream fed by referrals."""
    sd, asm, marac = (scenario.strategy_discussions, scenario.adult_strategy_meetings,
                      scenario.marac)
    sd_hours = (sd.preparation_minutes.mean + sd.meeting_minutes.mean) / 60.0
    asm_hours = (asm.preparation_minutes.mean + asm.meeting_minutes.mean) / 60.0
    rpa = scenario.rpa
    notify = (rpa.enabled and rpa.early_notification
              and rpa.early_notification_mode == "extra_work")
    out = {SD_SKILL: 0.0, ASM_SKILL: 0.0, MARAC_SKILL: 0.0, EN_SKILL: 0.0}
    for t, g, share in mix:
        rt = scenario.referral_types[t]
        out[SD_SKILL] += share * rt.sd_share_by_grade()[g] * sd_hours
        out[ASM_SKILL] += share * asm.share(t)[g] * asm_hours
        out[MARAC_SKILL] += share * marac.share(t)[g] * marac.research_minutes.mean / 60.0
        if notify and rt.early_notification:
            out[EN_SKILL] += share * rpa.early_notification_minutes.mean / 60.0
    return out


def availability(scenario: Scenario) -> float:
    """Share of rostered time a post is at work: not on leave, sick or abstracted."""
    st = scenario.staffing
    sick_days = st.sickness.episodes_per_year * st.sickness.duration_days.mean * 5 / 7
    lost = (st.abstraction_share + st.leave.entitlement_days_per_year / WORKING_DAYS_PER_YEAR
            + sick_days / WORKING_DAYS_PER_YEAR)
    return min(1.0, max(0.05, 1.0 - lost))


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
    avail = availability(scenario)
    out = {}
    for r, hours in owned.items():
        on_duty = rosters[r].staff_hours_per_week(100) / 100.0  # hours a post is on duty
        load = hours / on_duty if on_duty > 0 else 0.0
        beta = GUESS_BETA["deadline" if r in deadline_work else "stage"]
        out[r] = _posts_for(load, avail, limit, beta)
    return out
