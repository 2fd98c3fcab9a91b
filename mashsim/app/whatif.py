"""The what-if controls: which inputs a planner changes, and the overrides they make.

Each control names a scenario key path, its baseline value and its bounds; the page
draws it and `changes()` turns the chosen values into `Scenario.with_overrides` input
(only what differs from the baseline), so a what-if is validated exactly like a file
and can never build a scenario a file could not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mashsim.scenario import Scenario
from mashsim.scenario.schema import Roster

__all__ = [
    "DEFAULT_REPLICATIONS",
    "Control",
    "RunSettings",
    "changes",
    "controls",
    "horizon_options",
    "post_controls",
    "run_scenario",
    "scenario_token",
    "what_if",
]

DEFAULT_REPLICATIONS = 5  # quick enough to feel interactive; the CI shows the precision
MAX_POSTS = 10_000  # the schema's bound on posts in one roster
SHORT_HORIZON_DAYS = 91.0  # 13 weeks: half the default run, for quicker answers

Kind = Literal["int", "float", "choice", "optional_float"]


@dataclass(frozen=True)
class Control:
    """One input a planner can change.

    `key` is the scenario key path (and the widget's key); a `*` in it stands for every
    item of a list (all leave peaks at once). `also` is applied with any change (giving a
    vacancy count clears a `vacancy_share`, since a roster takes one or the other).
    """

    key: str
    label: str
    kind: Kind
    value: Any  # the baseline's value
    group: str
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    options: tuple[str, ...] = ()
    help: str = ""
    also: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    subject: str = ""  # the scenario's text inside `label` (a hub's name): shown as data
    items: int = 0  # list length where `key` has a `*`


@dataclass(frozen=True)
class RunSettings:
    """How to run, not what to model: applied alike to the baseline and the what-if."""

    replications: int = DEFAULT_REPLICATIONS
    seed: int = 1
    duration_days: float | None = None  # None: the scenario's own horizon


def _rosters(scenario: Scenario) -> list[tuple[str, str, str, Roster]]:
    """(hub, key prefix, label, roster) for every roster whose posts a planner sets: the
    hub's `staff`, or each of its roles (`hubs.<hub>.roles.<role>`) where it has them."""
    out = []
    for hub, h in scenario.hubs.items():
        name = scenario.hub_display_label(hub)
        if not h.roles:
            out.append((hub, f"hubs.{hub}.staff", name, h.staff))
        out += [(hub, f"hubs.{hub}.roles.{r}", f"{name} {role.label or r.replace('_', ' ')}",
                 role)
                for r, role in h.roles.items()]
    return out


def post_controls(scenario: Scenario) -> list[Control]:
    """Posts per hub (`hubs.<hub>.staff.headcount`), or per role per hub
    (`hubs.<hub>.roles.<role>.headcount`) for a hub described by roles.

    The one place that decides which posts can be changed.
    """
    return [Control(key=f"{prefix}.headcount", label=f"{label}: posts",
                    kind="int", value=roster.headcount, group="posts",
                    minimum=0, maximum=MAX_POSTS, step=1,
                    help="funded caseworker posts on the roster" if prefix.endswith(".staff")
                    else "funded posts of this role",
                    subject=label)
            for _, prefix, label, roster in _rosters(scenario)]


def _vacancy_controls(scenario: Scenario) -> list[Control]:
    out = []
    for _, prefix, label, roster in _rosters(scenario):
        also = (("vacancy_share", None),) if roster.vacancy_share is not None else ()
        out.append(Control(
            key=f"{prefix}.vacancies",
            label=f"{label}: vacant posts",
            kind="int", value=roster.vacant_posts, group="vacancies",
            minimum=0, maximum=MAX_POSTS, step=1,
            help="posts unfilled at the start (at most the posts)",
            also=tuple((f"{prefix}.{k}", v) for k, v in also),
            subject=label))
    return out


def _leave_peak_control(scenario: Scenario) -> list[Control]:
    peaks = scenario.staffing.leave.peaks
    if not peaks:
        return []
    return [Control(key="staffing.leave.peaks.*.factor",
                    label="Leave peak: leave taken in peak weeks (× the usual rate)",
                    kind="float", value=max(p.factor for p in peaks), group="process",
                    minimum=0.0, maximum=5.0, step=0.1, items=len(peaks),
                    help="sets every leave peak (school holidays) to this factor")]


def controls(scenario: Scenario) -> list[Control]:
    """Every what-if control for this scenario, baseline values filled in."""
    sc = scenario
    return [
        *post_controls(sc),
        *_vacancy_controls(sc),
        *_leave_peak_control(sc),
        Control(key="queue.discipline", label="Queue discipline", kind="choice",
                value=sc.queue.discipline, group="process", options=("fifo", "risk", "deadline"),
                help="fifo: first come first served; risk: high risk first; deadline: "
                     "earliest decision deadline first"),
        Control(key="rpa.early_notification_mode", label="Early notification mode",
                kind="choice", value=sc.rpa.early_notification_mode, group="process",
                options=("extra_work", "early_handover"),
                help="extra_work: the notification is extra work and the referral still "
                     "waits for the RPA; early_handover: staff take the case on from it"),
        Control(key="officer_assessment.cap_hours",
                label="Officer assessment cap (hours; empty: no cap)",
                kind="optional_float", value=sc.officer_assessment.cap_hours, group="process",
                minimum=0.5, maximum=720.0, step=1.0,
                help="officers submit their risk assessment within this many hours"),
        Control(key="arrivals.growth_per_year",
                label="Demand growth per year (fraction: 0.05 is 5 %)", kind="float",
                value=sc.arrivals.growth_per_year, group="process",
                minimum=-0.9, maximum=10.0, step=0.01,
                help="referral demand grows (or falls) at this rate over the run"),
    ]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) < 1e-12
    return a == b


def changes(scenario: Scenario, chosen: Mapping[str, Any]) -> dict[str, Any]:
    """Key path → value for every control whose chosen value differs from the baseline."""
    out: dict[str, Any] = {}
    for c in controls(scenario):
        if c.key not in chosen or _same(chosen[c.key], c.value):
            continue
        value = chosen[c.key]
        if c.items:
            out.update({c.key.replace("*", str(i)): value for i in range(c.items)})
        else:
            out[c.key] = value
        out.update(dict(c.also))
    return out


def run_scenario(scenario: Scenario, settings: RunSettings) -> Scenario:
    """The scenario with the run settings applied (the horizon), validated."""
    if settings.duration_days is None or settings.duration_days == scenario.run.duration_days:
        return scenario
    return scenario.with_overrides({"run.duration_days": settings.duration_days},
                                   source="horizon")


def what_if(scenario: Scenario, chosen: Mapping[str, Any], settings: RunSettings) -> Scenario:
    """The what-if scenario: the baseline's run settings, then the changed controls."""
    base = run_scenario(scenario, settings)
    delta = changes(scenario, chosen)
    return base.with_overrides(delta, source="what-if") if delta else base


def horizon_options(scenario: Scenario) -> dict[str, float | None]:
    """Label → duration_days: the scenario's own run, and a 13-week one where it fits."""
    days = scenario.run.duration_days
    out: dict[str, float | None] = {f"full run ({days:g} days)": None}
    if scenario.run.warmup_days < SHORT_HORIZON_DAYS < days:
        out[f"13 weeks ({SHORT_HORIZON_DAYS:g} days, quicker)"] = SHORT_HORIZON_DAYS
    return out


def scenario_token(scenario: Scenario) -> str:
    """A short fingerprint of every input: equal scenarios, equal tokens (cache keys)."""
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()[:16]
