"""Metrics of the work streams (issue 13): discussions by source, adult strategy
meetings, MARAC, repeat and linked referrals.

Functions of a `Window` (one scope over the reporting window), kept apart from the
window's own arrays: they read the hubs' `WorkRecord`s, concatenated once per window.
Per-item metrics count items that arose in the window (a partner's request, a referral
arriving); pending counts take everything open at the end, warm-up arrivals included.
"""

from __future__ import annotations

import numpy as np

from mashsim.metrics.window import SD_14D_HOURS, SD_72H_HOURS, Window, breach_flags, ratio
from mashsim.model.work import WorkRecord

__all__ = ["asm_breach", "asm_held", "asm_pending_over_deadline_at_end", "marac_listed",
           "marac_researched_in_time", "marac_rolled_over", "partner_pending",
           "sd_breach_all", "sd_breach_partner", "sd_breach_police", "sd_held_all",
           "sd_held_partner", "sd_held_police", "work"]

def work(w: Window) -> WorkRecord:
    """The scope's work records as one (hubs concatenated in record order), joined once
    per window (kept in `w.work_shared`)."""
    rec: WorkRecord | None = w.work_shared.get("work")
    if rec is None:
        parts = [r.work for r in w.v.records if r.work is not None]
        # one record (a hub's own, or the force-wide one `Window` joined) as it is: no copy
        rec = parts[0] if len(parts) == 1 else WorkRecord.concat(parts)
        w.work_shared["work"] = rec
    return rec


def _partner_flags(w: Window) -> tuple[np.ndarray, np.ndarray]:
    """(resolved, late) of the partner discussions asked for in the window, computed once
    per window (two metrics read them; a flag per discussion)."""
    flags: tuple[np.ndarray, np.ndarray] | None = w.work_shared.get("partner_flags")
    if flags is None:
        wr = work(w)
        resolved, late = breach_flags(wr.partner_deadline, wr.partner_held, w.horizon)
        inside = wr.partner_created >= w.warmup
        flags = w.work_shared["partner_flags"] = (resolved & inside, late & inside)
    return flags


def sd_breach_police(w: Window) -> float:
    return ratio(np.count_nonzero(w.strategy[1]), np.count_nonzero(w.strategy[0]))


def sd_breach_partner(w: Window) -> float:
    resolved, late = _partner_flags(w)
    return ratio(np.count_nonzero(late), np.count_nonzero(resolved))


def sd_breach_all(w: Window) -> float:
    """Every source: police referrals' discussions and partners'."""
    resolved, late = _partner_flags(w)
    return ratio(np.count_nonzero(w.strategy[1]) + np.count_nonzero(late),
                 np.count_nonzero(w.strategy[0]) + np.count_nonzero(resolved))


def sd_held_police(w: Window) -> float:
    return float(np.count_nonzero(w.incl & w.refs.sd_needed & np.isfinite(w.v.sd_held)))


def sd_held_partner(w: Window) -> float:
    wr = work(w)
    return float(np.count_nonzero((wr.partner_created >= w.warmup)
                                  & np.isfinite(wr.partner_held)))


def sd_held_all(w: Window) -> float:
    return sd_held_police(w) + sd_held_partner(w)


def partner_pending(w: Window, at: float, older_than_hours: float) -> float:
    """Partner-initiated discussions asked for but not held at `at`, older than the age."""
    wr = work(w)
    pending = (wr.partner_created <= at) & ~(wr.partner_held <= at)
    return float(np.count_nonzero(pending & (at - wr.partner_created > older_than_hours)))


def pending_72h(w: Window, at: float) -> float:
    return partner_pending(w, at, SD_72H_HOURS)


def pending_14d(w: Window, at: float) -> float:
    return partner_pending(w, at, SD_14D_HOURS)


def _asm(w: Window) -> tuple[np.ndarray, np.ndarray]:
    need = w.incl & w.refs.asm_needed
    resolved, late = breach_flags(w.refs.asm_deadline, work(w).asm_held, w.horizon)
    return resolved & need, late & need


def asm_breach(w: Window) -> float:
    resolved, late = _asm(w)
    return ratio(np.count_nonzero(late), np.count_nonzero(resolved))


def asm_held(w: Window) -> float:
    return float(np.count_nonzero(w.incl & w.refs.asm_needed & np.isfinite(work(w).asm_held)))


def asm_pending_over_deadline_at_end(w: Window) -> float:
    """Meetings called (decision made) but not held at the end, past their deadline."""
    called = w.refs.asm_needed & (w.v.end <= w.horizon)
    open_ = called & ~(work(w).asm_held <= w.horizon)
    return float(np.count_nonzero(open_ & (w.refs.asm_deadline < w.horizon)))


def _listed(w: Window) -> np.ndarray:
    return w.incl & (work(w).marac_listed <= w.horizon)


def marac_listed(w: Window) -> float:
    return float(np.count_nonzero(_listed(w)))


def marac_researched_in_time(w: Window) -> float:
    """Share of the listed cases whose first meeting came in the run that had their
    research done by it."""
    wr = work(w)
    due = _listed(w) & (wr.marac_first_meeting <= w.horizon)
    return ratio(np.count_nonzero(due & (wr.marac_researched <= wr.marac_first_meeting)),
                 np.count_nonzero(due))


def marac_rolled_over(w: Window) -> float:
    """Listed cases not heard at the first meeting they were listed for (heard later, or
    still waiting after it at the end)."""
    wr = work(w)
    due = _listed(w) & (wr.marac_first_meeting <= w.horizon)
    return float(np.count_nonzero(due & ~(wr.marac_heard <= wr.marac_first_meeting)))


def repeat_referrals(w: Window) -> float:
    return float(np.count_nonzero(w.incl & w.refs.repeat))


def linked_referrals(w: Window) -> float:
    """Referrals arrived in the window that are one of a linked pair."""
    return float(np.count_nonzero(w.incl & w.refs.linked))
