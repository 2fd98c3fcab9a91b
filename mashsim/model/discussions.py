"""Partner-initiated strategy discussions: social care asks police to a discussion.

A force-wide rate (`strategy_discussions.partner_initiated_per_day`) split by the hubs'
demand shares, over the referrals' hour-of-week and date profile (the same
non-homogeneous Poisson process as referrals, from streams of its own). Each needs
research (`partner_research_minutes`) then the usual preparation and meeting, as one job
of the attendee or skilled role holding it, due by `strategy_discussions.deadline`
counted from the request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mashsim.model.arrivals import hourly_rate_per_hour, poisson_arrival_hours
from mashsim.model.calendar import WorkingCalendar
from mashsim.model.streams import Streams
from mashsim.scenario.schema import Scenario

__all__ = ["PartnerDiscussions", "draw_partner_discussions"]


@dataclass
class PartnerDiscussions:
    created: np.ndarray  # the partner's request (hours)
    deadline: np.ndarray
    service_hours: np.ndarray  # research + preparation + meeting

    def __len__(self) -> int:
        return len(self.created)


def draw_partner_discussions(sc: Scenario, streams: Streams, cal: WorkingCalendar,
                             hub: str) -> PartnerDiscussions:
    sdc = sc.strategy_discussions
    total = sum(h.demand_share for h in sc.hubs.values())
    per_day = sdc.partner_initiated_per_day * sc.hubs[hub].demand_share / total
    if per_day <= 0:
        return PartnerDiscussions(np.empty(0), np.empty(0), np.empty(0))
    rate = hourly_rate_per_hour(sc.arrivals, per_day, sc.run.start_date, sc.horizon_hours)
    created = poisson_arrival_hours(streams.rng("partner_sd", "arrivals", hub), rate)
    created = created[created < sc.horizon_hours]
    n = len(created)

    def rng(name: str) -> np.random.Generator:
        return streams.rng("partner_sd", name, hub)

    hours = (sdc.partner_research_minutes.sample(rng("research"), n)
             + sdc.preparation_minutes.sample(rng("preparation"), n)
             + sdc.meeting_minutes.sample(rng("meeting"), n)) / 60.0
    origin = created  # a partner's request has no separate MASH receipt
    deadline = cal.deadline_hours(origin, sdc.deadline.amount, sdc.deadline.clock) \
        if n else np.empty(0)
    return PartnerDiscussions(created, np.asarray(deadline, dtype=float), hours)
