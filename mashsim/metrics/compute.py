"""Records of one replication → named metrics and the daily backlog series.

Every metric is computed from per-referral times with vectorised numpy, after the run,
so measuring costs nothing inside the event loop. The window is [warm-up end, horizon].
Per-referral metrics (waits, breaches, time in the MASH) count the referrals that arrived
in the window; backlog figures (the daily series, `backlog_*`, the point-in-time counts)
count everything in the MASH at the moment, whenever it arrived, so the series does not
restart from empty at the warm-up end. Referrals still open at the end are counted by
their age, never dropped. The README's
metric table documents each name; `METRICS` lists them in display order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mashsim.model.replication import HubRecord, Referrals
from mashsim.model.staffing import CapacitySchedule
from mashsim.scenario.schema import GRADES, Scenario

__all__ = ["METRICS", "breach_flags", "daily_backlog", "metric_bounds", "metric_names",
           "replication_metrics"]

SD_72H_HOURS = 72.0
SD_14D_HOURS = 14 * 24.0
STAGES = ("awaiting_rpa", "staff_queue", "in_progress", "sd_pending")

METRICS = (
    "referrals_arrived",
    "referrals_completed",
    "referrals_open_at_end",
    "staff_wait_hours_mean",
    *(f"staff_wait_hours_mean_{g}" for g in GRADES),
    "time_in_mash_hours_mean",
    "decision_target_breach",
    *(f"decision_target_breach_{g}" for g in GRADES),
    "sd_breach_72h",
    "sd_held",
    "sd_pending_over_72h_at_end",
    "sd_pending_over_14d_at_end",
    "backlog_mean",
    "backlog_max",
    "oldest_waiting_days_at_end",
    "staff_utilisation",
    "early_notifications",
    "overtime_hours",
    "realised_shrinkage",
    "decisions_without_full_research",
    "audit_sd_pending_over_72h",
    "audit_sd_pending_over_14d",
    "audit_oldest_waiting_days",
)


def metric_bounds(name: str) -> tuple[float, float]:
    """The range a metric can take: fractions lie in [0, 1], everything else is ≥ 0."""
    fraction = ("breach" in name or name.startswith("staff_wait_over_")
                or name in ("staff_utilisation", "realised_shrinkage"))
    return (0.0, 1.0) if fraction else (0.0, np.inf)


def metric_names(scenario: Scenario) -> list[str]:
    """All metric names for a scenario, the wait thresholds included."""
    thresholds = [f"staff_wait_over_{_fmt(h)}h" for h in scenario.reporting.wait_thresholds_hours]
    i = METRICS.index(f"staff_wait_hours_mean_{GRADES[-1]}") + 1
    return [*METRICS[:i], *thresholds, *METRICS[i:]]


def _fmt(h: float) -> str:
    return f"{h:g}".replace(".", "p")


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


class _View:
    """Several hubs' records seen as one, for the force-wide figures."""

    def __init__(self, records: Sequence[HubRecord], force_wide: bool) -> None:
        self.refs = Referrals.concat([r.referrals for r in records])
        self.start = np.concatenate([r.staff_start for r in records])
        self.end = np.concatenate([r.staff_end for r in records])
        self.sd_held = np.concatenate([r.sd_held for r in records])
        self.notifications = np.concatenate([r.notifications_entered for r in records])
        self.degraded = np.concatenate([r.degraded for r in records])
        self.overtime = np.concatenate([r.overtime for r in records])
        self.paid_hours = np.sum([r.paid_staff_hours_per_day for r in records], axis=0)
        self.available_hours = np.sum([r.available_staff_hours_per_day for r in records], axis=0)
        pools = {r.pool_key: r.staff for r in records}  # a pooled team counts once
        if force_wide and records[0].overflow_team is not None:
            pools["overflow_team"] = records[0].overflow_team  # it serves every hub
        self.staff = [(t.busy, t.schedule) for t in pools.values()]


def breach_flags(
    deadline_hours: np.ndarray, done_hours: np.ndarray, end_hours: float
) -> tuple[np.ndarray, np.ndarray]:
    """(resolved, late) per item: done, or past its deadline, by `end_hours`; and late.

    The one definition of a breach for decisions and strategy discussions, so `run`
    and anything re-deriving it (a backtest) agree: an item done after its deadline,
    or still not done with the deadline passed; items not done and not yet due are
    left out. `done_hours` is NaN (or > end) for items not done by the end; deadlines
    come from `referrals.target_deadline_hours`, which honours `starts_at`.
    """
    done = np.asarray(done_hours, dtype=float)
    deadline = np.asarray(deadline_hours, dtype=float)
    finished = done <= end_hours  # NaN compares False
    resolved = finished | (deadline <= end_hours)
    late = resolved & (np.where(finished, done, end_hours) > deadline)
    return resolved, late


def _overlap(a: np.ndarray, b: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0.0, None)


def _busy_on_duty_hours(
    segments: np.ndarray, schedule: CapacitySchedule, lo: float, hi: float
) -> float:
    """∫ min(people busy, people rostered) dt over [lo, hi].

    The segments are on-duty busy spells (a leaver's overrun is already cut off, work in
    progress runs to the end); the cap against the roster leaves out overtime, which is
    not rostered time, so utilisation never exceeds 1.
    """
    if len(segments) == 0:
        return 0.0
    pts = np.unique(np.clip(np.concatenate(
        (segments[:, 0], segments[:, 1], schedule.times_hours, [lo, hi])), lo, hi))
    mid = (pts[:-1] + pts[1:]) / 2.0
    busy = _count_open(segments[:, 0], segments[:, 1], mid)
    return float(np.sum(np.minimum(busy, schedule.at(mid)) * np.diff(pts)))


def _window_max(starts: np.ndarray, ends: np.ndarray, lo: float, hi: float) -> float:
    """Largest number of [start, end) intervals open at once at any moment of [lo, hi]
    (ends NaN: still open); those open at `lo` count from `lo`."""
    finite = np.isfinite(ends)
    keep = (starts <= hi) & (~finite | (ends > lo))
    return _step_max(np.maximum(starts[keep], lo), ends[keep & finite])


def _step_max(starts: np.ndarray, ends: np.ndarray) -> float:
    """Largest number of [start, end) intervals open at once (ends before starts at ties)."""
    if len(starts) == 0:
        return 0.0
    t = np.concatenate((starts, ends))
    d = np.concatenate((np.ones(len(starts)), -np.ones(len(ends))))
    order = np.lexsort((d, t))
    return float(max(0.0, np.cumsum(d[order]).max()))


def _metrics(v: _View, sc: Scenario) -> dict[str, float]:
    w, horizon = sc.warmup_hours, sc.horizon_hours
    r = v.refs
    incl = r.entered >= w
    done = np.isfinite(v.end) & incl
    out: dict[str, float] = {
        "referrals_arrived": float(incl.sum()),
        "referrals_completed": float(done.sum()),
        "referrals_open_at_end": float((incl & ~np.isfinite(v.end)).sum()),
    }
    queued = incl & (r.handover <= horizon)
    wait = np.where(np.isfinite(v.start), v.start, horizon) - r.handover
    out["staff_wait_hours_mean"] = float(wait[queued].mean()) if queued.any() else np.nan
    for g, name in enumerate(GRADES):  # the same wait, one grade at a time
        q = queued & (r.grade_idx == g)
        out[f"staff_wait_hours_mean_{name}"] = float(wait[q].mean()) if q.any() else np.nan
    for h in sc.reporting.wait_thresholds_hours:
        out[f"staff_wait_over_{_fmt(h)}h"] = _ratio((wait[queued] > h).sum(), queued.sum())
    end_or_now = np.where(np.isfinite(v.end), v.end, horizon)
    out["time_in_mash_hours_mean"] = (
        float((end_or_now - r.created)[incl].mean()) if incl.any() else np.nan
    )

    resolved, late = breach_flags(r.deadline, v.end, horizon)
    resolved, late = resolved & incl, late & incl
    out["decision_target_breach"] = _ratio(late.sum(), resolved.sum())
    for g, name in enumerate(GRADES):
        m = r.grade_idx == g
        out[f"decision_target_breach_{name}"] = _ratio((late & m).sum(), (resolved & m).sum())

    need = incl & r.sd_needed
    held = np.isfinite(v.sd_held)
    sd_resolved, sd_late = breach_flags(r.sd_deadline, v.sd_held, horizon)
    sd_resolved, sd_late = sd_resolved & need, sd_late & need
    out["sd_breach_72h"] = _ratio(sd_late.sum(), sd_resolved.sum())
    out["sd_held"] = float((need & held).sum())
    (out["sd_pending_over_72h_at_end"], out["sd_pending_over_14d_at_end"],
     out["oldest_waiting_days_at_end"]) = _point_in_time(v, horizon)

    # backlog: everything in the MASH at each moment of the window, whenever it arrived
    out["backlog_mean"] = float(_overlap(r.entered, end_or_now, w, horizon).sum()
                                / (horizon - w))
    out["backlog_max"] = _window_max(r.entered, v.end, w, horizon)

    busy = sum(_busy_on_duty_hours(seg, sched, w, horizon) for seg, sched in v.staff)
    rostered = sum(sched.staff_hours(w, horizon) for _, sched in v.staff)
    out["staff_utilisation"] = _ratio(busy, rostered)
    out["early_notifications"] = float((v.notifications >= w).sum())
    out["overtime_hours"] = float(v.overtime[v.overtime[:, 0] >= w, 1].sum())
    first_day = int(np.ceil(w / 24.0))
    out["realised_shrinkage"] = 1.0 - _ratio(v.available_hours[first_day:].sum(),
                                             v.paid_hours[first_day:].sum())
    out["decisions_without_full_research"] = float((done & v.degraded).sum())
    out.update(_audit(v, sc.audit_hours))
    return out


def _audit(v: _View, at: float | None) -> dict[str, float]:
    """The inspection's point-in-time counts at 00:00 on the audit date (NaN: no audit)."""
    names = ("audit_sd_pending_over_72h", "audit_sd_pending_over_14d",
             "audit_oldest_waiting_days")
    if at is None:
        return dict.fromkeys(names, np.nan)
    return dict(zip(names, _point_in_time(v, at), strict=True))


def _point_in_time(v: _View, at: float) -> tuple[float, float, float]:
    """At one moment: strategy discussions identified but not held whose referral is older
    than 72 h and than 14 days, and the age in days of the oldest referral undecided.
    Everything in the MASH then counts, warm-up arrivals included."""
    r = v.refs
    present = r.entered <= at
    decided = present & (v.end <= at)  # NaN compares False: open
    waiting = present & ~decided
    sd_pending = decided & r.sd_needed & ~(v.sd_held <= at)
    age = at - r.created
    return (float((sd_pending & (age > SD_72H_HOURS)).sum()),
            float((sd_pending & (age > SD_14D_HOURS)).sum()),
            float(age[waiting].max() / 24.0) if waiting.any() else 0.0)


def replication_metrics(
    records: dict[str, HubRecord], scenario: Scenario
) -> dict[str, dict[str, float]]:
    """{"overall": {...}, hub: {...}} for one replication."""
    out = {"overall": _metrics(_View(list(records.values()), force_wide=True), scenario)}
    for hub, rec in records.items():
        out[hub] = _metrics(_View([rec], force_wide=False), scenario)
    return out


def _count_open(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How many [a, b) intervals contain each time in t (b may be inf)."""
    return np.searchsorted(np.sort(a), t, side="right") - np.searchsorted(np.sort(b), t,
                                                                           side="right")


def daily_backlog(rec: HubRecord, scenario: Scenario) -> dict[str, np.ndarray]:
    """Counts by stage at the end of each day (midnight) inside the window: everything in
    the MASH at that moment, warm-up arrivals included."""
    w, horizon = scenario.warmup_hours, scenario.horizon_hours
    r = rec.referrals
    first_day = int(np.ceil(w / 24.0))
    t = 24.0 * np.arange(max(first_day, 1), int(horizon // 24.0) + 1)
    inf = np.inf
    start = np.where(np.isfinite(rec.staff_start), rec.staff_start, inf)
    end = np.where(np.isfinite(rec.staff_end), rec.staff_end, inf)
    held = np.where(np.isfinite(rec.sd_held), rec.sd_held, inf)
    sd = r.sd_needed & np.isfinite(end)
    received = np.maximum(r.handover, r.entered)
    counts = {
        "awaiting_rpa": _count_open(r.entered, received, t),
        "staff_queue": _count_open(received, start, t),
        "in_progress": _count_open(start[np.isfinite(start)], end[np.isfinite(start)], t),
        "sd_pending": _count_open(end[sd], held[sd], t),
    }
    counts["backlog"] = counts["awaiting_rpa"] + counts["staff_queue"] + counts["in_progress"]
    counts["day_end_hours"] = t
    return counts
