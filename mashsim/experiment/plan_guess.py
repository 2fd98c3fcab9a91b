"""The plan's first guess: posts per role from Erlang C on each stage's offered load.

The search starts here rather than at today's posts so that it begins near the answer.
Rule (documented in docs/planning.md): each stage's weekly work (arrival rate × share
needing the stage × mean handling, plus sharing time where the stage includes it, and
strategy discussions for the role holding them) goes to the role that lists the stage
earliest among its skills (ties: the first role). A role's offered load is its weekly
work over the hours it is on duty in a week (its roster at one post), and its guess is
the least posts giving an Erlang C probability of waiting of at most one half at that
load over the share of time not lost to leave, sickness and abstraction —
the middle of square-root staffing. It is only a start: the simulation decides.
"""

from __future__ import annotations

import math

from mashsim.scenario.schema import GRADES, SD_SKILL, STAFF_ROLE, Roster, Scenario
from mashsim.validation import erlang_c

__all__ = ["GUESS_P_WAIT", "availability", "first_guess", "stage_work_hours_per_week"]

GUESS_P_WAIT = 0.5  # Erlang C probability of waiting at the guess
HOURS_PER_WEEK = 168.0
WORKING_DAYS_PER_YEAR = 260.0


def _grade_shares(scenario: Scenario) -> list[tuple[str, int, float]]:
    """(type, grade index, share of all referrals)."""
    total = sum(t.share for t in scenario.referral_types.values())
    return [(name, g, t.share / total * t.grade_mix.probabilities()[g])
            for name, t in scenario.referral_types.items() for g in range(len(GRADES))]


def stage_work_hours_per_week(scenario: Scenario, hub: str) -> dict[str, float]:
    """Staff-hours of work a week per stage of `hub` (and `strategy_discussion`)."""
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
            hours += share * need * (dist.mean / 60.0 + (sharing if st.includes_sharing
                                                          else 0.0))
        work[name] = per_week * hours
    sd = scenario.strategy_discussions
    sd_share = sum(share * scenario.referral_types[t].sd_share_by_grade()[g]
                   for t, g, share in mix)
    work[SD_SKILL] = per_week * sd_share * (sd.preparation_minutes.mean
                                            + sd.meeting_minutes.mean) / 60.0
    return work


def availability(scenario: Scenario) -> float:
    """Share of rostered time a post is at work: not on leave, sick or abstracted."""
    st = scenario.staffing
    sick_days = st.sickness.episodes_per_year * st.sickness.duration_days.mean * 5 / 7
    lost = (st.abstraction_share + st.leave.entitlement_days_per_year / WORKING_DAYS_PER_YEAR
            + sick_days / WORKING_DAYS_PER_YEAR)
    return min(1.0, max(0.05, 1.0 - lost))


def _owner(roles: dict[str, list[str]], skill: str) -> str | None:
    skilled = [(skills.index(skill), i, r) for i, (r, skills) in enumerate(roles.items())
               if skill in skills]
    return min(skilled)[2] if skilled else None


def _posts_for(load: float, avail: float, limit: int) -> int:
    """Least posts with Erlang C P(wait) ≤ GUESS_P_WAIT at `load` (erlangs) over the
    share `avail` of posts at work."""
    if load <= 0:
        return 1
    offered = load / avail
    for posts in range(max(1, math.floor(offered)), limit + 1):
        if posts > offered and erlang_c(offered, 1.0, posts).p_wait <= GUESS_P_WAIT:
            return posts
    return limit


def first_guess(scenario: Scenario, hub: str, shifts: dict[str, Roster] | None = None,
                limit: int = 10_000) -> dict[str, int]:
    """Posts per role of `hub` (`staff` for a hub described by staff alone) at which the
    search starts; `shifts` replaces a role's roster (a candidate pattern)."""
    roles = scenario.hub_roles(hub)
    rosters: dict[str, Roster] = {r: role for r, role in roles.items()}
    rosters.update(shifts or {})
    work = stage_work_hours_per_week(scenario, hub)
    skills = {r: list(role.skills) for r, role in roles.items()}
    if scenario.strategy_discussions.held_by == "staff" or STAFF_ROLE in roles:
        skills = {r: [*s, SD_SKILL] if SD_SKILL not in s else s for r, s in skills.items()}
    owned = dict.fromkeys(roles, 0.0)
    for skill, hours in work.items():
        owner = _owner(skills, skill)
        if owner is not None:
            owned[owner] += hours
    avail = availability(scenario)
    out = {}
    for r, hours in owned.items():
        on_duty = rosters[r].staff_hours_per_week(100) / 100.0  # hours a post is on duty
        load = hours / on_duty if on_duty > 0 else 0.0
        out[r] = _posts_for(load, avail, limit)
    return out
