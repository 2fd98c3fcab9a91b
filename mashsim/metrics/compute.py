"""One replication's records → named metrics, by the registry's declarations.

The metrics themselves (name, kind, words, computing function) are declared once in
`mashsim.metrics.registry`; the arrays they share, in `mashsim.metrics.window`. This
module runs them for each scope and keeps the documented names: `METRICS` (display
order), `metric_names(scenario)` (with the scenario-dependent families),
`metric_bounds(name)` (from the metric's kind).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from mashsim.metrics.registry import METRICS, REGISTRY
from mashsim.metrics.window import (
    STAGES,
    ForceWideBuffers,
    MeasuredTeam,
    SlimRecord,
    Window,
    breach_flags,
    daily_backlog,
    slim_team,
)
from mashsim.model.replication import HubRecord, TeamRecord, trim_heap
from mashsim.scenario.schema import Scenario

__all__ = ["METRICS", "STAGES", "GroupOutcome", "breach_flags", "combine_groups",
           "daily_backlog", "metric_bounds", "metric_names", "reduce_group",
           "reduce_replication", "replication_metrics", "slim_record"]


def metric_bounds(name: str) -> tuple[float, float]:
    """The range a metric can take, from its kind: fractions lie in [0, 1], the rest ≥ 0."""
    return REGISTRY.info(name).bounds


def metric_names(scenario: Scenario) -> list[str]:
    """All metric names for a scenario in display order, the wait thresholds included."""
    return REGISTRY.names(scenario)


def replication_metrics(
    records: dict[str, HubRecord], scenario: Scenario
) -> dict[str, dict[str, float]]:
    """{"overall": {...}, hub: {...}} for one replication."""
    hubs = {hub: REGISTRY.compute(Window([rec], scenario, force_wide=False))
            for hub, rec in records.items()}
    recs = list(records.values())
    overall = (_as_hub(recs, hubs) if _one_hub(recs)
               else REGISTRY.compute(Window(recs, scenario, force_wide=True)))
    return {"overall": overall, **hubs}


def _one_hub(records: Sequence[HubRecord]) -> bool:
    """One hub and no overflow team: the force-wide window sees exactly the hub's
    records (being force-wide changes only whether the overflow team counts), so its
    figures are the hub's (`_as_hub`), not worth a second pass."""
    return len(records) == 1 and records[0].overflow_team is None


def _as_hub(records: Sequence[HubRecord], hubs: dict[str, dict[str, float]]) -> dict[str, float]:
    return dict(next(iter(hubs.values())))


# What the force-wide window reads of a referral; the rest of each hub's record goes once
# its own metrics are computed (a national run holds millions of referrals).
_FORCE_WIDE_FIELDS = frozenset({"created", "entered", "grade_idx", "handover", "deadline",
                                "sd_needed", "sd_deadline",
                                # the work streams' metrics (metrics/work.py)
                                "asm_needed", "asm_deadline", "repeat", "linked"})


def slim_record(rec: HubRecord, scenario: Scenario,
                teams: dict[int, MeasuredTeam] | None = None,
                window: Window | None = None) -> SlimRecord:
    """A hub's record with only what the force-wide metrics read (`Window`): the other
    referral attributes become empty, each stage keeps its waits (`window`: the hub's
    own, if already built) instead of entries, starts and ends, and each team its busy
    on-duty hours over the window instead of its busy spells (`slim_team`; `teams`
    shares one slim team per pool between the records of a group)."""
    teams = {} if teams is None else teams
    window = Window([rec], scenario, force_wide=False) if window is None else window

    def slim(team: TeamRecord) -> MeasuredTeam:
        if id(team) not in teams:  # the hub's utilisation may have computed the hours
            teams[id(team)] = slim_team(team, window.team_busy_hours(team),
                                        window.known_rostered_hours(team))
        return teams[id(team)]

    empty = np.empty(0)
    refs = dataclasses.replace(rec.referrals, **{
        f: empty for f in type(rec.referrals).__dataclass_fields__
        if f not in _FORCE_WIDE_FIELDS})
    fields = {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}
    fields.update(
        referrals=refs, stage_entry={}, stage_start={}, stage_end={},
        staff=slim(rec.staff), sd=None if rec.sd is None else slim(rec.sd),
        overflow_team=None if rec.overflow_team is None else slim(rec.overflow_team),
        roles={r: slim(t) for r, t in rec.roles.items()},
        stage_wait={s: window.stage_wait(s) for s in rec.stage_entry},
        # the staff waits (the hub's metrics computed them) in place of the starts
        staff_start=empty, staff_wait=window.wait,
        # its own copy (the force-wide window joins and drops its arrays), without the
        # start times no force-wide metric reads
        work=None if rec.work is None else dataclasses.replace(
            rec.work, partner_start=empty, notification_start=empty))
    return SlimRecord(**fields)


def reduce_replication(
    parts: Iterable[dict[str, HubRecord]], scenario: Scenario,
    each: Callable[[str, HubRecord], None] | None = None,
) -> dict[str, dict[str, float]]:
    """`replication_metrics` of a replication arriving a group of hubs at a time
    (`mashsim.model.replication.replication_parts`): each hub's metrics, and `each(hub,
    record)` (its daily backlog, say), as its group finishes; then the force-wide ones
    from the slim records (`slim_record`), the hubs in the same order, so the figures
    are exactly those of `replication_metrics`."""
    per_hub: dict[str, dict[str, float]] = {}
    slim: list[SlimRecord] = []
    joined = ForceWideBuffers()  # the force-wide arrays, written as each hub finishes
    # One hub: its slim record's own arrays are the force-wide ones (the window reads
    # them as they are), not worth copying (≈0.1 µs a referral, a plan's one-hub runs).
    several = len(scenario.hubs) > 1
    for part in parts:
        teams: dict[int, MeasuredTeam] = {}
        for hub, rec in part.items():
            metrics, slimmed = _reduce_hub(rec, scenario, teams)
            per_hub[hub] = metrics
            if each is not None:
                each(hub, rec)
            slim.append(slimmed)
            if several:
                # The freed temporaries of the hub's metrics stay resident in the C heap
                # (its top is not trimmed by itself), and the buffers take fresh pages
                # outside it: give them back first (≈2 MiB at summer_2023's largest hub).
                trim_heap()
                joined.take(slimmed)
            del rec  # the loop variable would hold the record while the next runs
        del part, teams
    if several:
        joined.restore(slim)
    overall = (_as_hub(slim, per_hub) if _one_hub(slim)
               else REGISTRY.compute(Window(slim, scenario, force_wide=True, release=True)))
    return {"overall": overall, **per_hub}


def _reduce_hub(rec: HubRecord, scenario: Scenario, teams: dict[int, MeasuredTeam]
                ) -> tuple[dict[str, float], SlimRecord]:
    """A hub's own metrics and its slim record (one window for both)."""
    window = Window([rec], scenario, force_wide=False)
    return REGISTRY.compute(window), slim_record(rec, scenario, teams, window)


@dataclasses.dataclass
class GroupOutcome:
    """One group of hubs' share of a replication's figures: each hub's metrics and its
    slim record (what the force-wide figures read), to be combined with the other
    groups' (`combine_groups`) by every sweep point that leaves the group as it was."""

    per_hub: dict[str, dict[str, float]]
    slim: list[SlimRecord]


def reduce_group(part: dict[str, HubRecord], scenario: Scenario) -> GroupOutcome:
    """A group's records (one item of `replication_parts`) reduced, the slim records
    kept whole (not joined into force-wide buffers): they may serve several points."""
    teams: dict[int, MeasuredTeam] = {}
    per_hub: dict[str, dict[str, float]] = {}
    slim: list[SlimRecord] = []
    for hub, rec in part.items():
        per_hub[hub], slimmed = _reduce_hub(rec, scenario, teams)
        slim.append(slimmed)
    return GroupOutcome(per_hub, slim)


def combine_groups(groups: Sequence[GroupOutcome], scenario: Scenario
                   ) -> dict[str, dict[str, float]]:
    """A replication's metrics from its groups' outcomes, in the scenario's group order:
    exactly `reduce_replication`'s (the force-wide window joins the same arrays in the
    same order; it leaves the slim records as they are, for the next point)."""
    per_hub = {hub: dict(m) for g in groups for hub, m in g.per_hub.items()}
    slim = [s for g in groups for s in g.slim]
    overall = (_as_hub(slim, per_hub) if _one_hub(slim)
               else REGISTRY.compute(Window(slim, scenario, force_wide=True)))
    return {"overall": overall, **per_hub}
