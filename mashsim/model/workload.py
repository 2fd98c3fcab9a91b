"""Expected work: the staff-hours a week each queue of a hub receives, at mean rates.

One home for the arithmetic of offered load, read by the plan's first guess (Erlang C per
role) and by the report's staff-time balance. Every piece of work the model queues
(`HubQueues.skill_source`) is counted: each stage (linked child referrals and repeats
included), strategy discussions from police referrals and from partners, adult strategy
meetings, MARAC research and, when they are extra work, early notifications.
"""

from __future__ import annotations

from mashsim.scenario.schema import (
    ASM_SKILL,
    EN_SKILL,
    GRADES,
    MARAC_SKILL,
    SD_SKILL,
    Scenario,
)

__all__ = ["referrals_per_week", "stage_work_hours_per_week"]


def referrals_per_week(scenario: Scenario, hub: str) -> float:
    """Referrals a week reaching `hub`, its linked child referrals included."""
    return scenario.hub_rate_per_day(hub) * 7.0 * sum(s for _, _, s in _grade_shares(scenario))


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
