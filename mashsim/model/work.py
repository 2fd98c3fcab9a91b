"""What one hub's work streams did in one replication (issue 13), read after the run.

Kept apart from `HubRecord`'s fields of old so that a scenario without the streams
records, and so reports, exactly what it did before they existed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from mashsim.model.engine import nan_view
from mashsim.model.hub import HubQueues

__all__ = ["WorkRecord", "work_record"]


@dataclass
class WorkRecord:
    """Times in hours; NaN: not (yet) happened. Per referral unless said otherwise."""

    partner_created: np.ndarray  # per partner-initiated discussion
    partner_deadline: np.ndarray
    partner_start: np.ndarray
    partner_held: np.ndarray
    asm_held: np.ndarray
    marac_listed: np.ndarray
    marac_first_meeting: np.ndarray  # inf: listed after the last meeting of the run
    marac_heard: np.ndarray
    marac_researched: np.ndarray
    notification_start: np.ndarray  # per early notification (own queue only; else NaN)

    @staticmethod
    def concat(parts: list[WorkRecord]) -> WorkRecord:
        return WorkRecord(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                             for f in fields(WorkRecord)})


def work_record(hub: HubQueues) -> WorkRecord:
    partner = hub.partner
    none = np.empty(0)
    marac = hub.marac
    n = hub.n

    def per_referral(a: np.ndarray) -> np.ndarray:
        # a stream no referral needed has no slots (`HubQueues`): NaN for each referral
        return a if len(a) == n else nan_view(n)

    return WorkRecord(
        partner_created=partner.created if partner is not None else none,
        partner_deadline=partner.deadline if partner is not None else none,
        partner_start=hub.partner_start(),
        partner_held=hub.partner_held(),
        asm_held=per_referral(np.asarray(hub.asm_book.end, dtype=float)),
        marac_listed=per_referral(np.asarray(marac.listed, dtype=float)),
        marac_first_meeting=per_referral(marac.first_meeting),
        marac_heard=per_referral(marac.heard),
        marac_researched=per_referral(marac.research_end()),
        notification_start=(np.asarray(hub.en_book.first_start, dtype=float)
                            if hub.en_separate else np.full(len(hub.en_entry), np.nan)),
    )
