"""Minimum staffing: the least headcount per hub meeting every target with 95 % confidence.

A target `metric<=value` is met at a headcount when the upper 95 % CI bound of the hub's
metric is at or below the value (`>=`: the lower bound at or above it), so "met" means met
with 95 % confidence, not merely on average.

Search, per hub, without running the whole grid: evaluate the current headcount; if it
meets the targets step down (1, 2, 4, ... below), else step up (1, 2, 4, ... above, to the
search limit), until the answer is bracketed between a headcount that fails and one that
meets; then bisect. The answer and the headcount one below it are therefore both
simulated. Every headcount uses the same seeds (common random numbers), which makes the
breach rate close to monotone in headcount, so bisection is sound. Hubs are searched in
lock step so that one round's replications for all hubs run in parallel.

Only one hub's headcount changes at a time, the others staying at their current values.
In a hub described by roles (`hubs.<hub>.roles.<role>`) the search varies one role's
posts at a time (`--vary-staff HUB.ROLE`; `HUB` or `all` search each role of the hub in
turn), every other role staying at its current posts: the answer is the least posts of
that role meeting the targets with the rest of the hub as it is, which names the role
whose shortage breaks a target. A hub described by `staff` alone is one search, as before.
Independent hubs do not interact (separate demand, staff and random streams keyed by hub
name), so each hub is simulated on its own: a one-hub scenario with the hub's
demand rate, which gives that hub exactly the same results as the full scenario at a
fraction of the cost (`single_hub=False` simulates every hub instead; pooled hubs or an
overflow team always are).

Targets on fractions (breach rates, shares of waits, utilisation) are written 0.05 or 5%;
a bare 5 is an error rather than a target every headcount meets. A plan that cuts a hub's
headcount is checked against the current headcount on every breach metric, not only the
targeted one, with paired (common-random-number) differences: a cut that makes any breach
worse beyond its 95 % CI is reported as a warning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mashsim.errors import ScenarioError
from mashsim.experiment.precision import parse_fraction
from mashsim.experiment.replications import ReplicationResult, confidence_interval
from mashsim.experiment.runner import ReplicationRunner, replication_runner
from mashsim.experiment.sweep import run_points
from mashsim.metrics.compute import metric_bounds, metric_names
from mashsim.metrics.registry import FRACTION, Metric, metric_info
from mashsim.scenario.schema import STAFF_ROLE, Scenario

__all__ = [
    "HubPlan",
    "Target",
    "breach_warnings",
    "headcount_path",
    "hub_scenario",
    "is_breach_metric",
    "is_fraction_metric",
    "plan",
    "plan_summary",
    "staff_hours_per_week",
]

_TARGET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+%?)\s*$")
MIN_HEADCOUNT = 1


def _registered(name: str) -> Metric | None:
    try:
        return metric_info(name)
    except KeyError:  # an unknown target metric is reported with the known names later
        return None


def is_fraction_metric(name: str) -> bool:
    """Whether a metric is a fraction (0–1), from its kind in the metric registry: the
    one place a threshold's reading (0.05 or 5%) is decided."""
    m = _registered(name)
    return m is not None and m.kind == FRACTION


def is_breach_metric(name: str) -> bool:
    """A breach rate (a deadline missed), as the registry declares it, checked when a
    plan cuts a headcount."""
    m = _registered(name)
    return m is not None and m.breach


@dataclass(frozen=True)
class Target:
    """`metric op value`, judged on the CI bound on the far side (95 % confidence)."""

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Target:
        m = _TARGET.match(text)
        if m is None:
            raise ScenarioError([f"--target {text!r}: expected METRIC<=VALUE (or >=, <, >), "
                                 "e.g. 'sd_breach_72h<=0.05'"])
        metric, raw = m.group(1), m.group(3)
        if is_fraction_metric(metric):
            return cls(metric, m.group(2), parse_fraction(raw, f"--target {text!r}"))
        if raw.endswith("%"):
            raise ScenarioError([f"--target {text!r}: {metric} is not a fraction; write the "
                                 "value in its own unit, without %"])
        try:
            value = float(raw)
        except ValueError:
            raise ScenarioError([f"--target {text!r}: {raw!r} is not a number"]) from None
        return cls(metric, m.group(2), value)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def met(self, ci: dict[str, float | None]) -> bool:
        """Met with 95 % confidence; an unknown CI (no data) never meets a target."""
        if self.op in ("<=", "<"):
            bound = ci.get("ci_high")
            return bound is not None and (bound <= self.value if self.op == "<="
                                          else bound < self.value)
        bound = ci.get("ci_low")
        return bound is not None and (bound >= self.value if self.op == ">="
                                      else bound > self.value)


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


def _hub_values(runs: Sequence[ReplicationResult], hub: str, names: Sequence[str]
                ) -> dict[str, np.ndarray]:
    return {m: np.array([r.metrics[hub].get(m, math.nan) for r in runs], dtype=float)
            for m in names}


def _hub_metrics(values: dict[str, np.ndarray]) -> dict[str, dict[str, float | None]]:
    return {m: confidence_interval(x, bounds=metric_bounds(m)) for m, x in values.items()}


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


def plan(
    scenario: Scenario,
    targets: Sequence[str | Target],
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
):  # -> pandas.DataFrame
    """Least headcount per hub (or per role of a hub) meeting every target with 95 %
    confidence; a DataFrame.

    `hubs`: "all", hub names, or "hub.role" for one role of a hub described by roles (a
    hub name alone searches each of its roles in turn). One row per hub (per hub and
    role, with a `role` column, where the scenario has roles): headcount now and needed
    (None when no headcount up to the limit meets the targets), staff-hours per week at
    each, and every metric's mean and CI now, at the answer and one below (target
    metrics first). `frame.attrs["plan"]` is the JSON document (`plan_summary`), whose
    "warnings" list every breach metric a cut makes worse beyond its 95 % CI. The search
    limit is `max_headcount`, else max(3 × now, now + 20). `out` caches each replication
    there, so an interrupted plan resumes.
    """
    parsed = [t if isinstance(t, Target) else Target.parse(t) for t in targets]
    if not parsed:
        raise ScenarioError(["plan: give at least one --target, e.g. 'sd_breach_72h<=0.05'"])
    names = metric_names(scenario)
    unknown = [f"--target {t}: unknown metric {t.metric!r} (known: {', '.join(names)})"
               for t in parsed if t.metric not in names]
    if unknown:
        raise ScenarioError(unknown)
    if replications < 2:
        raise ValueError("plan needs at least 2 replications for a confidence interval")
    searches = []
    for hub, role in _resolve_units(scenario, hubs):
        now = _posts_now(scenario, hub, role)
        limit = max_headcount if max_headcount is not None else max(3 * now, now + 20)
        searches.append(HubPlan(hub, now, max(limit, MIN_HEADCOUNT), role=role))
    base = {s.hub: hub_scenario(scenario, s.hub) if single_hub else scenario for s in searches}
    with replication_runner(workers, scheduler, out, progress, "plan", on_done) as runner:
        while True:
            round_ = [(s, h) for s in searches if (h := s.next_headcount()) is not None]
            if not round_:
                break
            scenarios = [base[s.hub].with_overrides(
                {s.path: h}, source=f"plan {s.name}={h}")
                for s, h in round_]
            results = run_points(scenarios, seed, range(replications), runner)
            for (s, h), runs in zip(round_, results, strict=True):
                values = _hub_values(runs, s.hub, names)
                metrics = _hub_metrics(values)
                s.observe(h, all(t.met(metrics[t.metric]) for t in parsed), metrics,
                          values)
        _simulate_now(searches, base, seed, replications, names, runner)
    return _frame(scenario, parsed, searches, replications, seed)


def _simulate_now(searches: Sequence[HubPlan], base: dict[str, Scenario], seed: int,
                  replications: int, names: Sequence[str], runner: ReplicationRunner
                  ) -> None:
    """Simulate the current headcount where a cut must be compared with it but the search
    never tried it (current headcount above --max-headcount)."""
    todo = [(s, h) for s in searches if (h := s.now_to_compare) is not None]
    if not todo:
        return
    scenarios = [base[s.hub].with_overrides({s.path: h},
                                            source=f"plan {s.name}={h}") for s, h in todo]
    results = run_points(scenarios, seed, range(replications), runner)
    for (s, h), runs in zip(todo, results, strict=True):
        values = _hub_values(runs, s.hub, names)
        s.record(h, _hub_metrics(values), values)


def _search_summary(s: HubPlan) -> dict[str, Any]:
    return {
        "headcount_now": s.now,
        "headcount_needed": s.needed,
        "metrics_now": s.metrics.get(s.now),
        "metrics_at_needed": None if s.needed is None else s.metrics[s.needed],
        "metrics_one_below": None if s.one_below is None else s.metrics.get(s.one_below),
    }


def _hubs_summary(searches: Sequence[HubPlan]) -> dict[str, dict[str, Any]]:
    """Per hub: a staff search's keys as they always were; for a hub described by roles,
    `roles` {role: the same keys}, and the same keys at the hub's level too when one role
    of it was searched (so that readers of one-search hubs need not know about roles)."""
    out: dict[str, dict[str, Any]] = {}
    for s in searches:
        if s.role is None:
            out[s.hub] = _search_summary(s)
        else:
            out.setdefault(s.hub, {"roles": {}})["roles"][s.role] = _search_summary(s)
    for hub in out.values():
        if len(hub.get("roles", ())) == 1:
            hub.update({**next(iter(hub["roles"].values())), "roles": hub.pop("roles")})
    return out


def plan_summary(targets: Sequence[Target], searches: Sequence[HubPlan]) -> dict[str, Any]:
    """{"targets": [...], "hubs": {hub: {headcount_now, headcount_needed, metrics_now,
    metrics_at_needed, metrics_one_below}}, "warnings": [...]}; metrics dicts hold every
    metric as {metric: {mean, ci_low, ci_high}}; `metrics_now` is null when the current
    headcount was not simulated. A hub described by roles holds those keys per searched
    role under `roles` (`hubs[hub]["roles"][role]`), and at the hub's level only when one
    of its roles was searched."""
    return {
        "targets": [str(t) for t in targets],
        "hubs": _hubs_summary(searches),
        "warnings": [w for s in searches
                     for w in breach_warnings(s, [t.metric for t in targets])],
    }


def _metric_order(targets: Sequence[Target], names: Sequence[str]) -> list[str]:
    """Target metrics first, then every other metric in the README's order."""
    return list(dict.fromkeys([*(t.metric for t in targets), *names]))


def _frame(scenario: Scenario, targets: Sequence[Target], searches: Sequence[HubPlan],
           replications: int, seed: int):
    import pandas as pd

    names = metric_names(scenario)
    with_roles = any(s.role is not None for s in searches)
    rows = []
    for s in searches:
        row: dict[str, Any] = {"hub": s.hub, **({"role": s.role} if with_roles else {})}
        row.update({
            "headcount_now": s.now, "headcount_needed": s.needed,
            "feasible": s.needed is not None, "search_limit": s.limit,
            "staff_hours_per_week_now": staff_hours_per_week(scenario, s.hub, s.now, s.role),
            "staff_hours_per_week_needed": None if s.needed is None
            else staff_hours_per_week(scenario, s.hub, s.needed, s.role),
        })
        at = {"now": s.now, "at_needed": s.needed, "one_below": s.one_below,
              "at_limit": s.limit if s.needed is None else None}
        for t in _metric_order(targets, names):
            for label, h in at.items():
                ci = s.metrics.get(h, {}).get(t, {}) if h is not None else {}
                for k in ("mean", "ci_low", "ci_high"):
                    row[f"{t}_{label}_{k}"] = ci.get(k)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs.update({"plan": plan_summary(targets, searches), "replications": replications,
                        "seed": seed, "scenario": scenario.name,
                        "targets": [str(t) for t in targets]})
    if with_roles:  # what the table needs to show roles and cost
        frame.attrs["costed"] = scenario.costed
    return frame
