"""What each metric name means to a reader: its unit, a label in words, and when it is measured.

One place for the CLI's `run --help`, `run --list-metrics` and the `run` table, so that a
metric's unit is written once. Units are those of the README's metric reference (a test
keeps the two equal); `mashsim.metrics.METRICS` is the list of names.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from mashsim.scenario.schema import GRADES

__all__ = ["METRIC_INFO", "WAIT_OVER_PATTERN", "MetricInfo", "metric_info", "metrics_help"]


class MetricInfo(NamedTuple):
    """unit: as in the README (count, fraction, hours, days, referrals, staff-hours);
    label: words for a reader; kind: when it is measured — "window" (over the reporting
    window after the warm-up), "end" (at the end of the run) or "audit" (at 00:00 on
    `reporting.audit_date`)."""

    unit: str
    label: str
    kind: str


METRIC_INFO: dict[str, MetricInfo] = {
    "referrals_arrived": MetricInfo("count", "referrals arrived in the window", "window"),
    "referrals_completed": MetricInfo("count", "of those, decided by the end", "window"),
    "referrals_open_at_end": MetricInfo("count", "of those, still undecided at the end", "end"),
    "staff_wait_hours_mean": MetricInfo("hours", "mean wait for staff", "window"),
    **{f"staff_wait_hours_mean_{g}": MetricInfo("hours", f"mean wait for staff, {g} risk",
                                                "window") for g in GRADES},
    "time_in_mash_hours_mean": MetricInfo("hours", "mean time in the MASH, creation to "
                                          "decision", "window"),
    "decision_target_breach": MetricInfo("fraction", "decision-target breach, all grades",
                                         "window"),
    **{f"decision_target_breach_{g}": MetricInfo("fraction", f"decision-target breach, {g} "
                                                 "risk", "window") for g in GRADES},
    "sd_breach_72h": MetricInfo("fraction", "strategy discussions past their deadline "
                                "(72 h by default)", "window"),
    "sd_held": MetricInfo("count", "strategy discussions held", "window"),
    "sd_pending_over_72h_at_end": MetricInfo("count", "strategy discussions pending > 72 h "
                                             "at end", "end"),
    "sd_pending_over_14d_at_end": MetricInfo("count", "strategy discussions pending > 14 days "
                                             "at end", "end"),
    "backlog_mean": MetricInfo("referrals", "mean backlog (referrals in the MASH)", "window"),
    "backlog_max": MetricInfo("referrals", "peak backlog", "window"),
    "oldest_waiting_days_at_end": MetricInfo("days", "oldest referral waiting for a decision "
                                             "at end", "end"),
    "staff_utilisation": MetricInfo("fraction", "staff utilisation (busy share of rostered "
                                    "time)", "window"),
    "early_notifications": MetricInfo("count", "early notifications sent", "window"),
    "overtime_hours": MetricInfo("staff-hours", "overtime worked", "window"),
    "realised_shrinkage": MetricInfo("fraction", "realised shrinkage (rostered time of filled "
                                     "posts lost to absence)", "window"),
    "decisions_without_full_research": MetricInfo("count", "decisions with research cut short",
                                                  "window"),
    "audit_sd_pending_over_72h": MetricInfo("count", "strategy discussions pending > 72 h at "
                                            "the audit date", "audit"),
    "audit_sd_pending_over_14d": MetricInfo("count", "strategy discussions pending > 14 days "
                                            "at the audit date", "audit"),
    "audit_oldest_waiting_days": MetricInfo("days", "oldest referral waiting for a decision at "
                                            "the audit date", "audit"),
}
# One metric per `reporting.wait_thresholds_hours` entry; 1.5 h is written 1p5.
WAIT_OVER_PATTERN = "staff_wait_over_{h}h"
_WAIT_OVER = re.compile(r"staff_wait_over_(.+)h")


def metric_info(name: str) -> MetricInfo:
    """The unit, label and kind of any metric name, the wait-threshold ones included."""
    if name in METRIC_INFO:
        return METRIC_INFO[name]
    m = _WAIT_OVER.fullmatch(name)
    if m is None:
        raise KeyError(f"unknown metric {name!r}")
    if name == WAIT_OVER_PATTERN:
        return MetricInfo("fraction", "share waiting for staff over h hours (one per "
                          "reporting.wait_thresholds_hours)", "window")
    hours = m.group(1).replace("p", ".")
    return MetricInfo("fraction", f"share waiting for staff over {hours} hours", "window")


def metrics_help(order: list[str] | tuple[str, ...]) -> str:
    """One line per metric name: name, unit, label (the wait thresholds as their pattern)."""
    names = list(order)
    after = names.index("staff_wait_hours_mean") + 1 if "staff_wait_hours_mean" in names else 0
    if not any(_WAIT_OVER.fullmatch(n) for n in names):
        names.insert(after, WAIT_OVER_PATTERN)
    width = max(len(n) for n in names)
    unit_width = max(len(metric_info(n).unit) for n in names)
    return "\n".join(f"{n.ljust(width)}  {metric_info(n).unit.ljust(unit_width)}  "
                     f"{metric_info(n).label}" for n in names)
