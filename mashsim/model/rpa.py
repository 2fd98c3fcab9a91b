"""The automation (RPA) stage between an incident and the MASH staff queue.

The robot scans a referral at fixed offsets after creation (default 0, 24, 48, 72 h).
At the first scan at or after the officer's risk assessment is submitted it grades
the referral and hands it to staff; after the last scan it hands over regardless.
Without RPA, staff receive a referral the moment the officer submits. With
`staff_need_assessment`, a referral handed over before the assessment exists cannot be
decided until it arrives, so it waits as long as the officer takes. With early
notification, child referrals also put an ungraded notification in the staff queue
at creation: it costs staff time and does not complete the referral.
"""

from __future__ import annotations

import numpy as np

from mashsim.scenario.schema import Rpa

__all__ = ["handover_offset_hours"]


def handover_offset_hours(rpa: Rpa, officer_delay_hours: np.ndarray) -> np.ndarray:
    """Hours from creation to entering the staff queue, for each referral."""
    if not rpa.enabled:
        return officer_delay_hours.astype(float, copy=True)
    scans = np.asarray(rpa.scan_hours, dtype=float)
    idx = np.searchsorted(scans, officer_delay_hours, side="left")
    offset = scans[np.minimum(idx, len(scans) - 1)]
    if rpa.staff_need_assessment:
        return np.maximum(offset, officer_delay_hours)
    return offset
