"""Referrals: every queue-independent attribute, drawn up front from named streams.

Drawing arrivals, grades, officer delays and handling times before the event loop keeps
common random numbers aligned by referral index across scenarios (two staffing levels
see the same referrals) and lets numpy vectorise the sampling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mashsim.model.arrivals import draw_arrival_hours
from mashsim.model.calendar import WorkingCalendar
from mashsim.model.rpa import handover_offset_hours
from mashsim.model.streams import Streams
from mashsim.scenario.schema import GRADES, Scenario, Target

__all__ = ["Referrals", "draw_referrals", "target_deadline_hours"]


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
    stage_minutes: np.ndarray  # (n, stages): handling per stage, before sharing time
    stage_needed: np.ndarray  # (n, stages): whether the referral needs each stage
    sharing_minutes: np.ndarray  # time spent sharing with partners (0: not shared)

    def __len__(self) -> int:
        return len(self.created)

    @staticmethod
    def concat(parts: list[Referrals]) -> Referrals:
        fields = Referrals.__dataclass_fields__
        return Referrals(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


def _draw(
    sc: Scenario, streams: Streams, cal: WorkingCalendar, hub: str, source: str,
    created: np.ndarray, entered: np.ndarray, rpa_stage: bool,
    type_cum: np.ndarray | None = None,
) -> Referrals:
    """Draw every queue-independent attribute of a batch of referrals.

    `type_cum`: each referral's cumulative type probabilities where types vary in time
    (`draw_arrival_hours`); None: the types' fixed shares.
    """
    n = len(created)

    def rng(name: str) -> np.random.Generator:
        return streams.rng(source, name, hub)

    types = list(sc.referral_types.values())
    type_p = np.array([t.share for t in types])
    type_u = rng("type").random(n)
    if type_cum is None:
        type_idx = np.minimum(
            np.searchsorted(np.cumsum(type_p / type_p.sum()), type_u, side="right"),
            len(types) - 1,
        )
    else:
        type_idx = np.minimum((type_u[:, None] >= type_cum).sum(1), len(types) - 1)
    grade_cum = np.cumsum([t.grade_mix.probabilities() for t in types], axis=1)
    grade_idx = np.minimum((rng("grade").random(n)[:, None] >= grade_cum[type_idx]).sum(1), 2)

    if rpa_stage:
        delay = sc.officer_assessment.delay_hours.sample(rng("officer_delay"), n)
        if sc.officer_assessment.cap_hours is not None:
            delay = np.minimum(delay, sc.officer_assessment.cap_hours)
        handover = created + handover_offset_hours(sc.rpa, delay)
    else:
        delay = np.full(n, np.nan)
        handover = entered.astype(float, copy=True)
    notify_types = np.array([t.early_notification for t in types])
    notify = notify_types[type_idx] & sc.rpa.enabled & sc.rpa.early_notification & rpa_stage
    if sc.rpa.early_notification_mode == "early_handover":
        handover = np.where(notify, created, handover)  # staff start from the notification
        notify = np.zeros(n, dtype=bool)

    handling_min = np.zeros(n)
    deadline = np.zeros(n)
    for g, name in enumerate(GRADES):
        grade = sc.grades[name]
        mask = grade_idx == g
        handling_min[mask] = grade.handling_minutes.sample(rng(f"handling_{name}"), n)[mask]
        deadline[mask] = target_deadline_hours(cal, grade.decision_target, created[mask],
                                               handover[mask], sc.horizon_hours)
    shared = rng("sharing").random(n) < sc.sharing.share_with_partners
    sharing_min = sc.sharing.sharing_minutes.sample(rng("sharing_minutes"), n) * shared

    stage_minutes, stage_needed = _stage_work(sc, rng, type_idx, grade_idx, handling_min)

    sdc = sc.strategy_discussions
    sd_share = np.array([t.sd_share_by_grade() for t in types])  # (type, grade)
    sd_needed = rng("sd_need").random(n) < sd_share[type_idx, grade_idx]
    sd_service = (sdc.preparation_minutes.sample(rng("sd_preparation"), n)
                  + sdc.meeting_minutes.sample(rng("sd_meeting"), n)) / 60.0
    return Referrals(
        created=created,
        entered=entered,
        type_idx=type_idx.astype(np.int16),
        grade_idx=grade_idx.astype(np.int8),
        handover=handover,
        deadline=deadline,
        service_hours=(handling_min + sharing_min) / 60.0,
        sd_needed=sd_needed,
        sd_deadline=target_deadline_hours(cal, sdc.deadline, created, handover,
                                          sc.horizon_hours),
        sd_delay_hours=sdc.scheduling_delay_hours.sample(rng("sd_scheduling"), n),
        sd_service_hours=sd_service,
        notify=notify,
        notify_hours=sc.rpa.early_notification_minutes.sample(rng("notification"), n) / 60.0,
        officer_delay_hours=delay,
        handling_minutes=handling_min,
        shared=shared,
        stage_minutes=stage_minutes,
        stage_needed=stage_needed,
        sharing_minutes=sharing_min,
    )


def _stage_work(
    sc: Scenario, rng: Callable[[str], np.random.Generator], type_idx: np.ndarray,
    grade_idx: np.ndarray, grade_minutes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Handling minutes and need of each stage, (n, stages) each.

    A stage without its own handling time takes the grade's (`grade_minutes`, the same
    draw for every such stage: one piece of work, not several). Each stage draws from
    streams named after it, so adding a stage leaves the others' draws alone; the need
    is drawn even where the share is 0 or 1, so common random numbers hold across shares.
    """
    n = len(grade_idx)
    if not sc.stages:
        return grade_minutes[:, None].copy(), np.ones((n, 1), dtype=bool)
    minutes = np.empty((n, len(sc.stages)))
    needed = np.empty((n, len(sc.stages)), dtype=bool)
    types = list(sc.referral_types)
    for k, (name, st) in enumerate(sc.stages.items()):
        col = grade_minutes.copy()
        for g, grade in enumerate(GRADES):
            dist = st.handling_minutes_by_grade.get(grade, st.handling_minutes)
            if dist is not None:
                mask = grade_idx == g
                col[mask] = dist.sample(rng(f"stage_{name}_{grade}"), n)[mask]
        minutes[:, k] = col
        share = np.array([st.share(t) for t in types])  # (type, grade)
        needed[:, k] = rng(f"stage_need_{name}").random(n) < share[type_idx, grade_idx]
    return minutes, needed


def target_deadline_hours(
    cal: WorkingCalendar, target: Target, created_hours: np.ndarray,
    receipt_hours: np.ndarray, horizon_hours: float,
) -> np.ndarray:
    """When a target falls due, counted from creation or MASH receipt as it says.

    Shared by the model and anything that re-derives breaches (e.g. a backtest), so a
    target means the same everywhere. A clock that starts after the run never runs out.
    """
    origin = np.asarray(created_hours if target.starts_at == "creation" else receipt_hours,
                        dtype=float)
    out = np.full(len(origin), np.inf)
    inside = origin <= horizon_hours
    out[inside] = cal.deadline_hours(origin[inside], target.amount, target.clock)
    return out


def draw_referrals(
    sc: Scenario, streams: Streams, cal: WorkingCalendar, hub: str
) -> Referrals:
    """The hub's initial backlog (waiting for staff at time 0) and its new arrivals."""
    created, type_cum = draw_arrival_hours(sc, streams, hub)
    new = _draw(sc, streams, cal, hub, "new", created, created, rpa_stage=True,
                type_cum=type_cum)
    backlog = sc.hubs[hub].initial_backlog
    if backlog.count == 0:
        return new
    ages = backlog.age_days.sample(streams.rng("initial_backlog", "age", hub), backlog.count)
    old_created = np.sort(-24.0 * ages)
    old = _draw(sc, streams, cal, hub, "initial", old_created,
                np.zeros(backlog.count), rpa_stage=False)
    return Referrals.concat([old, new])


