"""Least-cost staffing: the cheapest posts per role (and shift pattern) per hub meeting
every target with 95 % confidence, as a pandas DataFrame (issue 14).

Targets come from `--target` or, when none is given, the scenario's `[targets]`
(`plan_targets`); a target is met when its 95 % CI clears the value. The search
(`plan_search`: queueing-theory first guess, coordinate descent over the hub's roles, sequential
replications with common random numbers, confirmation with fresh seeds) runs per hub on
the hub alone (`hub_scenario`): independent hubs do not interact (separate demand, staff
and random streams keyed by hub name), so a hub's results are exactly those of the full
scenario at a fraction of the cost; pooled hubs or an overflow team are simulated whole.

A plan that cuts a hub's posts is checked against the current staffing on every breach
metric, not only the targeted ones, with paired (common-random-number) differences: a cut
that makes any breach worse beyond its 95 % CI is reported as a warning. `HubPlan` (the
bracket-and-bisect search of one headcount, used before issue 14) is kept for callers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mashsim.errors import ScenarioError
from mashsim.experiment.plan_search import (
    OWN,
    HubSearch,
    Planner,
    Point,
    run_searches,
)
from mashsim.experiment.plan_targets import (
    Target,
    is_breach_metric,
    is_fraction_metric,
    plan_targets,
)
from mashsim.experiment.replications import confidence_interval
from mashsim.experiment.runner import replication_runner
from mashsim.experiment.shared_doc import SharedDoc
from mashsim.metrics.compute import metric_names
from mashsim.model.demand_memo import demand_memo
from mashsim.scenario.schema import STAFF_ROLE, Roster, Scenario, Shift

__all__ = [
    "OBJECTIVES",
    "HubPlan",
    "PlanTable",
    "Target",
    "breach_warnings",
    "default_objective",
    "headcount_path",
    "hub_scenario",
    "is_breach_metric",
    "is_fraction_metric",
    "parse_overtime_hours",
    "plan",
    "plan_summary",
    "staff_hours_per_week",
]

OBJECTIVES = ("cost", "posts")
MIN_HEADCOUNT = 1


def staff_hours_per_week(scenario: Scenario, hub: str, headcount: int,
                         role: str | None = None) -> float:
    """Rostered staff-hours in a week at `headcount` (`Roster.staff_hours_per_week`) of the
    hub's `staff` roster, or of one of its roles."""
    h = scenario.hubs[hub]
    roster = h.staff if role is None else h.roles[role]
    return roster.staff_hours_per_week(headcount)


def headcount_path(hub: str, role: str | None = None) -> str:
    """The scenario key a search varies: the hub's staff posts, or one role's."""
    return (f"hubs.{hub}.staff.headcount" if role is None
            else f"hubs.{hub}.roles.{role}.headcount")


def hub_scenario(scenario: Scenario, hub: str) -> Scenario:
    """`scenario` with only `hub`, at the same demand rate: same hub results, less work.

    Pooled hubs and an overflow team tie hubs together, so those scenarios are simulated
    whole.
    """
    if scenario.pooling.mode != "independent":
        return scenario
    try:
        return scenario.hub_alone(hub)
    except ScenarioError:  # the scenario ties hubs together: simulate them all
        return scenario


@dataclass
class HubPlan:
    """One hub's search: evaluated headcounts and the bracket [fails, meets]."""

    hub: str
    now: int
    limit: int
    fails: int | None = None  # largest headcount seen failing
    meets: int | None = None  # smallest headcount seen meeting
    metrics: dict[int, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    #: per-replication values (replication order) for paired comparisons
    values: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    #: the role whose posts are searched; None: the hub's `staff` roster
    role: str | None = None

    @property
    def name(self) -> str:
        """`hub`, or `hub.role` as --vary-staff names it."""
        return self.hub if self.role is None else f"{self.hub}.{self.role}"

    @property
    def path(self) -> str:
        return headcount_path(self.hub, self.role)

    def next_headcount(self) -> int | None:
        """The next headcount to simulate, or None when the search is over."""
        if self.fails is None and self.meets is None:
            return min(max(self.now, MIN_HEADCOUNT), self.limit)
        if self.meets is None:  # stepping up
            assert self.fails is not None
            if self.fails >= self.limit:
                return None
            return min(self.limit, self.fails + max(1, self.fails - self.now + 1))
        if self.fails is None:  # stepping down
            if self.meets <= MIN_HEADCOUNT:
                return None
            return max(MIN_HEADCOUNT, self.meets - max(1, self.now - self.meets + 1))
        if self.meets - self.fails <= 1:
            return None
        return (self.fails + self.meets) // 2

    def observe(self, headcount: int, ok: bool,
                metrics: dict[str, dict[str, float | None]],
                values: dict[str, np.ndarray] | None = None) -> None:
        self.record(headcount, metrics, values)
        if ok:
            self.meets = headcount if self.meets is None else min(self.meets, headcount)
        else:
            self.fails = headcount if self.fails is None else max(self.fails, headcount)

    def record(self, headcount: int, metrics: dict[str, dict[str, float | None]],
               values: dict[str, np.ndarray] | None = None) -> None:
        """Keep a headcount's results without moving the search bracket."""
        self.metrics[headcount] = metrics
        if values is not None:
            self.values[headcount] = values

    @property
    def now_to_compare(self) -> int | None:
        """The current headcount, when a cut needs it simulated and the search skipped it
        (current headcount above the search limit)."""
        if (self.needed is not None and self.needed < self.now
                and self.now not in self.metrics):
            return self.now
        return None

    @property
    def needed(self) -> int | None:
        return self.meets

    @property
    def one_below(self) -> int | None:
        return None if self.meets is None or self.meets - 1 < MIN_HEADCOUNT else self.meets - 1


def _worse(now: np.ndarray | None, new: np.ndarray | None,
           ci_now: dict[str, float | None], ci_new: dict[str, float | None]
           ) -> tuple[bool, dict[str, float | None], bool]:
    """Is `new` higher than `now` beyond the 95 % CI? (worse, difference CI, paired).

    Paired over replications (common random numbers) when both have at least two
    replications with data; otherwise the two intervals must not overlap.
    """
    if now is not None and new is not None and len(now) == len(new):
        diff = confidence_interval(new - now)  # NaN pairs (no data) are skipped
        if diff["ci_low"] is not None:
            return diff["ci_low"] > 0.0, diff, True
    low_new, high_now = ci_new.get("ci_low"), ci_now.get("ci_high")
    mean_new, mean_now = ci_new.get("mean"), ci_now.get("mean")
    diff = {"mean": None if mean_new is None or mean_now is None else mean_new - mean_now,
            "ci_low": None, "ci_high": None}
    return (low_new is not None and high_now is not None and low_new > high_now), diff, False


def breach_warnings(s: HubPlan, targeted: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Breach metrics that a cut (needed < now) makes worse beyond their 95 % CI.

    Metrics in `targeted` are left out: the user's own target bounds how far they may rise.
    """
    if s.needed is None or s.needed >= s.now or s.now not in s.metrics:
        return []
    out = []
    now, new = s.metrics[s.now], s.metrics[s.needed]
    for m in (m for m in new if is_breach_metric(m) and m not in targeted):
        worse, diff, paired = _worse(s.values.get(s.now, {}).get(m),
                                     s.values.get(s.needed, {}).get(m),
                                     now.get(m, {}), new.get(m, {}))
        if not worse:
            continue
        before, after = now[m]["mean"], new[m]["mean"]
        if paired:  # a paired interval has all three parts
            mean, low, high = (float(diff[k] or 0.0) for k in ("mean", "ci_low", "ci_high"))
            how = (f"paired difference +{100 * mean:.1f} points, 95% CI "
                   f"{100 * low:+.1f} to {100 * high:+.1f}")
        else:
            how = "the 95% CIs do not overlap"
        out.append({
            "hub": s.hub, **({} if s.role is None else {"role": s.role}), "metric": m,
            "headcount_now": s.now, "headcount_needed": s.needed,
            "now": now[m], "needed": new[m], "difference": diff, "paired": paired,
            "message": f"{s.name}: cutting {s.now} → {s.needed} raises {m} from "
                       f"{_pct(before)} to {_pct(after)} ({how})",
        })
    return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


Unit = tuple[str, str | None]  # (hub, role); role None: the hub's staff roster


def _hub_units(scenario: Scenario, hub: str) -> list[Unit]:
    """Every search of a hub: one per role, or the staff roster."""
    roles = scenario.hubs[hub].roles
    return [(hub, r) for r in roles] if roles else [(hub, None)]


def _resolve_units(scenario: Scenario, hubs: str | Sequence[str] | None) -> list[Unit]:
    """`all`, `HUB` (each of its roles, or its staff) or `HUB.ROLE` → (hub, role) pairs."""
    chosen = ["all"] if hubs is None else [hubs] if isinstance(hubs, str) else list(hubs)
    if "all" in chosen:
        return [u for h in scenario.hub_names for u in _hub_units(scenario, h)]
    units: list[Unit] = []
    problems = []
    for text in chosen:
        hub, dot, role = text.partition(".")
        if hub not in scenario.hubs:
            known = ", ".join(scenario.hub_names)
            problems.append(f"--vary-staff {text}: no such hub (known: {known}, or all)")
        elif not dot:
            units += _hub_units(scenario, hub)
        elif role in scenario.hubs[hub].roles:
            units.append((hub, role))
        elif role == STAFF_ROLE and not scenario.hubs[hub].roles:
            units.append((hub, None))
        else:
            known = ", ".join(scenario.hubs[hub].roles) or STAFF_ROLE
            problems.append(f"--vary-staff {text}: hub {hub} has no role {role!r} "
                            f"(known: {known})")
    if problems:
        raise ScenarioError(problems)
    return list(dict.fromkeys(units))


def _posts_now(scenario: Scenario, hub: str, role: str | None) -> int:
    h = scenario.hubs[hub]
    return h.staff.headcount if role is None else h.roles[role].headcount




def default_objective(scenario: Scenario) -> str:
    """`cost` when any role has an hourly cost, else `posts`."""
    return "cost" if scenario.costed else "posts"


def _candidates(scenario: Scenario, hub: str, role: str | None,
                extra: dict[str, list[Shift]]) -> list[tuple[str, list[Shift]]]:
    """A searched role's candidate rosters: its own shifts, then the scenario's patterns
    (those the role names, else all) and `extra` (`--patterns`)."""
    h = scenario.hubs[hub]
    if role is None:
        return [(OWN, list(h.staff.shifts))]
    r = h.roles[role]
    pool = {**{n: list(p.shifts) for n, p in scenario.patterns.items()}, **extra}
    names = r.patterns if r.patterns is not None else list(pool)
    return [(OWN, list(r.shifts)), *((n, pool[n]) for n in names if n in pool)]


def _searches(scenario: Scenario, hubs: str | Sequence[str] | None,
              max_headcount: int | None, single_hub: bool,
              patterns: dict[str, list[Shift]]) -> list[HubSearch]:
    """One HubSearch per hub, over the roles `hubs` names (in the hub's role order)."""
    by_hub: dict[str, list[str | None]] = {}
    for hub, role in _resolve_units(scenario, hubs):
        by_hub.setdefault(hub, []).append(role)
    out = []
    for hub, roles in by_hub.items():
        h = scenario.hubs[hub]
        order: list[str | None] = [*h.roles] or [None]
        roles = [r for r in order if r in roles]
        now = tuple(_posts_now(scenario, hub, r) for r in roles)
        top = max(now)
        limit = max_headcount if max_headcount is not None else max(3 * top, top + 20)
        out.append(HubSearch(
            hub=hub, roles=roles, now=now, limit=max(limit, MIN_HEADCOUNT),
            candidates={r or "": _candidates(scenario, hub, r, patterns) for r in roles},
            base=hub_scenario(scenario, hub) if single_hub else scenario,
            cost_rate={r: role.hourly_cost for r, role in h.roles.items()}))
    return out


def plan(
    scenario: Scenario,
    targets: Sequence[str | Target] = (),
    hubs: str | Sequence[str] | None = "all",
    replications: int = 20,
    seed: int = 1,
    workers: int | None = None,
    scheduler: Any = None,
    max_headcount: int | None = None,
    out: str | Path | None = None,
    single_hub: bool = True,
    progress: bool = False,
    on_done: Callable[[], None] | None = None,
    objective: str | None = None,
    patterns: dict[str, list[Shift]] | None = None,
    source: str | None = None,
    sequential: bool = True,
    overtime_hours: Sequence[float] | None = None,
    as_frame: bool = True,
):  # -> pandas.DataFrame (a PlanTable when not `as_frame`)
    """Least-cost (or fewest-post) staffing per hub meeting every target with 95 %
    confidence; a DataFrame, one row per hub and searched role (`as_frame=False`: the
    same rows and attrs as a `PlanTable`, without importing pandas).

    `targets`: METRIC<=VALUE texts or Targets; none: the scenario's `[targets]`.
    `hubs`: "all" (every role of every hub), hub names (each of the hub's roles), or
    "hub.role" (that role; the hub's other roles stay as they are). `objective`: "cost"
    or "posts" (default `default_objective`). `replications`: the most per candidate
    (sequential: fewer where the CI decides sooner). `patterns`: extra candidate rosters
    ({name: shifts}, as `plan --patterns`). Columns: headcount now and needed (None when
    nothing up to the limit meets the targets), pattern, cost per year and staff-hours
    per week at each, and every metric's mean and CI now, at the answer and one below
    (this role one post fewer; target metrics first). `frame.attrs["plan"]` is the JSON
    document (`plan_summary`). The search limit per role is `max_headcount`, else
    max(3 × now, now + 20). `out` caches each replication there, so a plan resumes.
    `sequential=False` runs every staffing tried to `replications` (a baseline).
    `overtime_hours` (`plan --overtime-hours`): weekly overtime caps to try per hub; the
    search runs once per cap with `staffing.overtime` enabled at that cap, and each hub
    keeps the cheapest answer counting expected overtime pounds a year (`_cheapest_cap`).
    """
    parsed = plan_targets(scenario, targets, source)
    objective = objective or default_objective(scenario)
    if objective not in OBJECTIVES:
        raise ScenarioError([f"--objective {objective}: expected one of "
                             f"{', '.join(OBJECTIVES)}"])
    if replications < 2:
        raise ValueError("plan needs at least 2 replications for a confidence interval")
    names = metric_names(scenario)
    if overtime_hours is None:
        searches = _searches(scenario, hubs, max_headcount, single_hub, patterns or {})
        tried = [searches]
    else:
        tried = [_cap_searches(scenario, cap, hubs, max_headcount, single_hub,
                               patterns or {}) for cap in _overtime_caps(overtime_hours)]
    planner = Planner(parsed, names, replications, seed, objective, sequential)
    try:
        with replication_runner(workers, scheduler, out, progress, "plan", on_done) as runner:
            run_searches(planner, [s for group in tried for s in group], runner,
                         lambda s: s.hub)
    finally:  # draws kept for this plan's staffings (in this process when serial) go
        demand_memo().drop()
    if overtime_hours is not None:
        searches = [_cheapest_cap(planner, [g[i] for g in tried])
                    for i in range(len(tried[0]))]
    table = _table(scenario, parsed, searches, replications, seed, objective)
    return table.frame() if as_frame else table


# -- overtime caps as a decision (plan --overtime-hours) --------------------------------


def parse_overtime_hours(text: str) -> list[float]:
    """`--overtime-hours 0,8,16` → [0.0, 8.0, 16.0]; an input error otherwise."""
    try:
        caps = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ScenarioError([f"--overtime-hours {text}: expected weekly staff-hours "
                             "H1,H2,..., e.g. 0,8,16"]) from None
    return _overtime_caps(caps)


def _overtime_caps(caps: Sequence[float]) -> list[float]:
    """The caps to try, each once, in the order given. A negative or non-finite one is an
    input error here; one above the schema's limit fails the scenario's validation."""
    bad = [c for c in caps if not (math.isfinite(c) and c >= 0.0)]
    if bad or not caps:
        shown = ", ".join(f"{c:g}" for c in bad) or "(none)"
        raise ScenarioError([f"--overtime-hours {shown}: expected weekly staff-hours, "
                             "0 or more"])
    return list(dict.fromkeys(float(c) for c in caps))


def _cap_searches(scenario: Scenario, cap: float, hubs: str | Sequence[str] | None,
                  max_headcount: int | None, single_hub: bool,
                  patterns: dict[str, list[Shift]]) -> list[HubSearch]:
    """Every hub's search with overtime enabled at `cap` staff-hours a week (the
    scenario's other overtime settings kept)."""
    capped = scenario.with_overrides({"staffing.overtime.enabled": True,
                                      "staffing.overtime.weekly_cap_hours": cap},
                                     source=f"plan --overtime-hours {cap:g}")
    searches = _searches(capped, hubs, max_headcount, single_hub, patterns)
    for s in searches:
        s.overtime_cap_hours = cap
        s.overtime_rate = capped.overtime_hourly_cost(s.hub)
    return searches


def _total_key(planner: Planner, s: HubSearch) -> tuple[float, ...]:
    """A cap's answer by the objective, overtime pounds a year counted in the cost."""
    a = s.answer
    if a is None:
        return (math.inf,)
    cost = s.cost_per_year(a.posts, a.patterns) + (s.overtime_cost_per_year(a) or 0.0)
    posts = float(sum(a.posts))
    return (cost, posts) if planner.objective == "cost" else (posts, cost)


def _cheapest_cap(planner: Planner, options: Sequence[HubSearch]) -> HubSearch:
    """One hub's searches at each cap → the cheapest answer (ties: the first cap given);
    it carries every cap's replications and outcome (`overtime_options`)."""
    best = min(options, key=lambda s: _total_key(planner, s))
    best.overtime_options = [{
        "overtime_cap_hours": s.overtime_cap_hours, "feasible": s.answer is not None,
        "cost_per_year_needed": None if s.answer is None
        else s.cost_per_year(s.answer.posts, s.answer.patterns),
        "overtime_cost_per_year": s.overtime_cost_per_year(s.answer),
    } for s in options]
    best.replications_used = sum(s.replications_used for s in options)
    return best


# -- the answer as JSON and a frame ----------------------------------------------------


def _posts_of(s: HubSearch, point: Point | None, role: str | None) -> int | None:
    return None if point is None else point.posts[s.roles.index(role)]


def _pattern_of(s: HubSearch, point: Point | None, role: str | None) -> str | None:
    return None if point is None else point.patterns[s.roles.index(role)]


def _role_summary(s: HubSearch, role: str | None) -> dict[str, Any]:
    """Today's keys for one searched role, plus pattern and cost."""
    a = s.answer
    below = s.one_below.get(role)
    i = s.roles.index(role)
    return {
        "headcount_now": s.now[i],
        "headcount_needed": _posts_of(s, a, role),
        "metrics_now": None if s.now_point is None else s.now_point.metrics,
        "metrics_at_needed": None if a is None else a.metrics,
        "metrics_one_below": None if below is None else below.metrics,
        "pattern_now": OWN,
        "pattern_needed": _pattern_of(s, a, role),
        "cost_per_year_now": s.role_cost_per_year(role, s.now[i], OWN),
        "cost_per_year_needed": None if a is None
        else s.role_cost_per_year(role, a.posts[i], a.patterns[i]),
    }


ONE_ROLE_KEYS = ("headcount_now", "headcount_needed", "metrics_now", "metrics_at_needed",
                 "metrics_one_below")


def _hub_summary(s: HubSearch) -> dict[str, Any]:
    """A staff search's keys as they always were; with roles, `roles` {role: the same
    keys, pattern and cost}, and today's keys at the hub's level when one role was
    searched (outside checks read them)."""
    a = s.answer
    hub: dict[str, Any] = {}
    if s.roles == [None]:
        hub.update({k: v for k, v in _role_summary(s, None).items() if k in ONE_ROLE_KEYS})
    else:
        roles = {r: _role_summary(s, r) for r in s.roles if r is not None}
        if len(roles) == 1:
            only = next(iter(roles.values()))
            hub.update({k: only[k] for k in ONE_ROLE_KEYS})
        hub["roles"] = roles
    hub.update({
        "feasible": a is not None,
        "cost_per_year_now": s.cost_per_year(s.now, s.now_patterns),
        "cost_per_year_needed": None if a is None else s.cost_per_year(a.posts, a.patterns),
        "metrics_at_limit": None if a is not None or s.last is None else s.last.metrics,
        "replications_used": s.replications_used,
        "confirmed": s.confirmed,
    })
    if s.overtime_cap_hours is not None:  # plan --overtime-hours
        hub.update({"overtime_cap_hours": s.overtime_cap_hours,
                    "overtime_cost_per_year": s.overtime_cost_per_year(a),
                    "overtime_options": s.overtime_options})
    return hub


def _warning_plan(s: HubSearch) -> HubPlan | None:
    """The cut now → answer as a HubPlan of total posts, paired over the replications
    both have (common random numbers), for `breach_warnings`."""
    a, now = s.answer, s.now_point
    if a is None or now is None:
        return None
    before, after = sum(s.now), sum(a.posts)
    name = s.roles[0] if len(s.roles) == 1 else None
    hp = HubPlan(s.hub, before, s.limit, role=name)
    n = min(now.replications, a.replications)
    for h, p in ((before, now), (after, a)):
        hp.record(h, p.metrics, {m: x[:n] for m, x in p.values.items()})
    hp.meets = after
    return hp


def plan_summary(targets: Sequence[Target], searches: Sequence[HubSearch],
                 objective: str = "posts") -> dict[str, Any]:
    """{"targets", "objective", "hubs": {hub: {...}}, "cost_per_year_now",
    "cost_per_year_needed", "replications_used", "confirmed", "warnings"}: see
    docs/planning.md for every key."""
    hubs = {s.hub: _hub_summary(s) for s in searches}
    feasible = all(h["feasible"] for h in hubs.values())
    warned = [w for s in searches if (hp := _warning_plan(s)) is not None
              for w in breach_warnings(hp, [t.metric for t in targets])]
    return {
        "targets": [str(t) for t in targets],
        "objective": objective,
        "hubs": hubs,
        "cost_per_year_now": sum(h["cost_per_year_now"] for h in hubs.values()),
        "cost_per_year_needed": sum(h["cost_per_year_needed"] for h in hubs.values())
        if feasible else None,
        "replications_used": sum(s.replications_used for s in searches),
        "confirmed": all((h["confirmed"] or {}).get("confirmed", False)
                         for h in hubs.values()),
        "warnings": warned,
        **_overtime_total(hubs),
    }


def _overtime_total(hubs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """With `--overtime-hours`: the answer's overtime pounds a year over all hubs (None
    where a hub has no answer); nothing otherwise, so the JSON is as before."""
    if not any("overtime_cap_hours" in h for h in hubs.values()):
        return {}
    costs = [h.get("overtime_cost_per_year") for h in hubs.values()]
    return {"overtime_cost_per_year": None if None in costs else sum(costs)}


def _metric_order(targets: Sequence[Target], names: Sequence[str]) -> list[str]:
    """Target metrics first, then every other metric in the README's order."""
    return list(dict.fromkeys([*(t.metric for t in targets), *names]))


@dataclass
class PlanTable:
    """A plan's rows (one per hub and searched role, every row the same keys) and its
    attrs, before pandas: `frame()` is what `plan` returns; the CLI prints the table
    from the rows without importing pandas (≈0.26 s of a 9-second plan)."""

    rows: list[dict[str, Any]]
    attrs: dict[str, Any]

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []

    def frame(self):  # -> pandas.DataFrame
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        frame.attrs.update(self.attrs)
        return frame


def _table(scenario: Scenario, targets: Sequence[Target], searches: Sequence[HubSearch],
           replications: int, seed: int, objective: str) -> PlanTable:
    names = _metric_order(targets, metric_names(scenario))
    with_roles = any(r is not None for s in searches for r in s.roles)
    rows = []
    for s in searches:
        for role in s.roles:
            rows.append(_row(scenario, s, role, names, with_roles))
    attrs = {"plan": SharedDoc(plan_summary(targets, searches, objective)),
             "replications": replications, "seed": seed,
             "scenario": scenario.name, "objective": objective,
             "targets": [str(t) for t in targets],
             # where the replications went (search phase per hub), for
             # profiling and benchmarks/plan.py; not in the JSON
             "replications_by_phase": {s.hub: dict(s.replications_by_phase)
                                       for s in searches}}
    if with_roles:  # what the table needs to show roles and cost
        attrs["costed"] = scenario.costed
    return PlanTable(rows, attrs)


def _row(scenario: Scenario, s: HubSearch, role: str | None, names: Sequence[str],
         with_roles: bool) -> dict[str, Any]:
    a, i = s.answer, s.roles.index(role)
    summary = _role_summary(s, role)
    needed = summary["headcount_needed"]
    row: dict[str, Any] = {"hub": s.hub, **({"role": role} if with_roles else {})}
    row.update({
        "headcount_now": s.now[i], "headcount_needed": needed,
        "feasible": a is not None, "search_limit": s.limit,
        "pattern_now": OWN, "pattern_needed": summary["pattern_needed"],
        "cost_per_year_now": summary["cost_per_year_now"],
        "cost_per_year_needed": summary["cost_per_year_needed"],
        "staff_hours_per_week_now": staff_hours_per_week(scenario, s.hub, s.now[i], role),
        "staff_hours_per_week_needed": None if a is None
        else _hours(s, role, needed, a.patterns[i]),
        "replications_used": s.replications_used,
        "confirmed": (s.confirmed or {}).get("confirmed"),
    })
    if s.overtime_cap_hours is not None:  # plan --overtime-hours: the hub's choice
        row.update({"overtime_cap_hours": s.overtime_cap_hours,
                    "overtime_cost_per_year": s.overtime_cost_per_year(a)})
    below = s.one_below.get(role)
    at = {"now": s.now_point, "at_needed": a, "one_below": below,
          "at_limit": s.last if a is None else None}
    for t in names:
        for label, p in at.items():
            ci = p.metrics.get(t, {}) if p is not None else {}
            for k in ("mean", "ci_low", "ci_high"):
                row[f"{t}_{label}_{k}"] = ci.get(k)
    return row


def _hours(s: HubSearch, role: str | None, posts: int, pattern: str) -> float:
    """Rostered staff-hours a week of `posts` on a candidate pattern."""
    return Roster(headcount=posts, shifts=s.shifts(role, pattern)).staff_hours_per_week()
