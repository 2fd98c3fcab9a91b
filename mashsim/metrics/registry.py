"""Every metric, declared once: its name, kind, words, format and the function computing it.

Everything that shows or judges a metric reads it from here: the JSON and CSV (names and
order, via `metric_names`), the CI's bounds (from the metric's *kind*, never guessed from
its name), `run --list-metrics` and `--help`, the `run`/`sweep`/`plan` tables (scale to
%), figure and report labels, `plan`'s reading of a target (fraction or not) and its
breach warnings, and the README test (every name and unit in the README's metric table).

A metric is a `Metric`; a set of metrics with one definition and a suffix per member is
a `Family` — per risk grade (fixed: `GRADES`) or per scenario value (the
`reporting.wait_thresholds_hours`; later stages, roles), whose members exist only for a
scenario. To add a metric, declare it in `REGISTRY` below with the function that computes
it from a `Window` (the window's shared arrays), and document it in the README's metric
table (the README test checks the two agree).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mashsim.metrics import work as wk
from mashsim.metrics.window import (
    Window,
    masked_difference,
    max_open,
    overlap_hours,
    ratio,
    sorted_times,
)
from mashsim.scenario.schema import GRADES, Scenario

__all__ = [
    "COUNT", "DAYS", "FRACTION", "HOURS", "KINDS", "METRICS", "METRIC_INFO", "POUNDS",
    "REFERRALS",
    "REGISTRY", "STAFF_HOURS", "WAIT_OVER_PATTERN", "Family", "Kind", "Metric",
    "MetricInfo", "Registry", "hours_tag", "metric_info", "metrics_help",
]


@dataclass(frozen=True)
class Kind:
    """What a metric's value is: its README unit, the range it can take (a CI is cut to
    it), and how a reader sees it (`scale` × value in `symbol`: fractions in %)."""

    unit: str
    bounds: tuple[float, float]
    symbol: str
    scale: float = 1.0


FRACTION = Kind("fraction", (0.0, 1.0), "%", 100.0)
COUNT = Kind("count", (0.0, math.inf), "count")
HOURS = Kind("hours", (0.0, math.inf), "h")
DAYS = Kind("days", (0.0, math.inf), "days")
REFERRALS = Kind("referrals", (0.0, math.inf), "referrals")
STAFF_HOURS = Kind("staff-hours", (0.0, math.inf), "staff-h")
POUNDS = Kind("pounds", (0.0, math.inf), "£")
KINDS = (FRACTION, COUNT, HOURS, DAYS, REFERRALS, STAFF_HOURS, POUNDS)

WHEN = ("window", "end", "audit")  # over the window, at the end, at the audit moment


@dataclass(frozen=True)
class Metric:
    """One metric. label: words for a reader (`--list-metrics`); short: a figure's or
    report column's label; when: "window", "end" or "audit" (00:00 on
    `reporting.audit_date`); decimals: the default in tables; breach: a deadline-breach
    rate (a plan warns when a cut makes one worse)."""

    name: str
    kind: Kind
    label: str
    short: str
    compute: Callable[[Window], float] | None = None
    when: str = "window"
    decimals: int = 1
    breach: bool = False
    with_roles: bool = False  # exists only in scenarios describing stages or roles
    needs: Callable[[Scenario], bool] | None = None  # exists only where this holds

    @property
    def unit(self) -> str:
        return self.kind.unit

    @property
    def bounds(self) -> tuple[float, float]:
        return self.kind.bounds


MetricInfo = Metric  # the name this record had before it computed anything


@dataclass(frozen=True)
class Family:
    """Metrics with one definition and a suffix each: `pattern` holds `{placeholder}`
    where the suffix goes; `label` and `short` hold `{}` for the suffix as a reader
    reads it (`shown`). `members(scenario)` gives (suffix, parameter) pairs; `fixed`
    families (risk grades) have the same members in every scenario, so each member is
    listed and documented by name; the others only by their pattern. `compute(window,
    parameter)` computes one member."""

    pattern: str
    kind: Kind
    label: str
    short: str
    members: Callable[[Scenario | None], Sequence[tuple[str, Any]]]
    compute: Callable[[Window, Any], float]
    fixed: bool = True
    pattern_label: str = ""
    shown: Callable[[str], str] = str
    when: str = "window"
    decimals: int = 1
    breach: bool = False

    @property
    def placeholder(self) -> str:
        m = re.search(r"\{\w+\}", self.pattern)
        if m is None:
            raise ValueError(f"family pattern {self.pattern!r} has no {{placeholder}}")
        return m.group(0)

    def name(self, suffix: str) -> str:
        return self.pattern.replace(self.placeholder, suffix)

    def suffix(self, name: str) -> str | None:
        """The suffix of `name` if it is (or could be, for a scenario) a member."""
        head, tail = self.pattern.split(self.placeholder)
        m = re.fullmatch(re.escape(head) + r"(.+)" + re.escape(tail), name)
        if m is None:
            return None
        if self.fixed and m.group(1) not in {s for s, _ in self.members(None)}:
            return None
        return m.group(1)

    def member(self, suffix: str) -> Metric:
        """One member's metadata (the pattern itself: `pattern_label`)."""
        label = (self.pattern_label if suffix == self.placeholder and self.pattern_label
                 else self.label.format(self.shown(suffix)))
        return Metric(self.name(suffix), self.kind, label, self.short.format(self.shown(suffix)),
                      when=self.when, decimals=self.decimals, breach=self.breach)

    def expand(self, scenario: Scenario | None) -> Iterator[tuple[str, Callable[[Window], float]]]:
        for suffix, param in self.members(scenario):
            yield self.name(suffix), _bind(self.compute, param)


def _bind(compute: Callable[[Window, Any], float], parameter: Any) -> Callable[[Window], float]:
    """One family member's function: the family's with the member's parameter bound."""
    return lambda window: compute(window, parameter)


MetricFunctions = tuple[tuple[str, Callable[[Window], float]], ...]

# Scenarios whose metric lists a registry keeps: a replication's windows (each hub's and
# the force-wide one) share one scenario, a plan's or sweep's points each have their own.
_SCENARIOS_KEPT = 16


class Registry:
    """Metrics and families in display order (the JSON and CSV order)."""

    def __init__(self, entries: Sequence[Metric | Family]) -> None:
        self.entries = tuple(entries)
        # id(scenario) → (scenario, its metric list): the scenario is held so that its
        # id is not reused while the list is kept (scenarios are never changed in place)
        self._functions: dict[int, tuple[Scenario, MetricFunctions]] = {}
        self._lock = threading.Lock()

    def fixed_names(self) -> tuple[str, ...]:
        """Every name that exists in every scenario (fixed families' members included)."""
        return tuple(n for e in self.entries for n in (
            ([] if e.with_roles or e.needs else [e.name]) if isinstance(e, Metric) else
            [e.name(s) for s, _ in e.members(None)] if e.fixed else []))

    def documented_names(self) -> tuple[str, ...]:
        """What a reader's list shows: every fixed name, and the scenario-dependent
        families by their pattern (`staff_wait_over_{h}h`), in display order."""
        return tuple(n for e in self.entries for n in (
            [e.name] if isinstance(e, Metric) else
            [e.name(s) for s, _ in e.members(None)] if e.fixed else [e.pattern]))

    def functions(self, scenario: Scenario) -> MetricFunctions:
        """(name, compute) for every metric of `scenario`, in display order.

        Worked out once per scenario (the last `_SCENARIOS_KEPT` kept): every window of
        a replication asks, and evaluating each metric's `needs` and expanding each
        family cost ≈50 µs a window, ≈10 windows a replication of a 9-hub scenario."""
        with self._lock:
            kept = self._functions.get(id(scenario))
        if kept is not None and kept[0] is scenario:
            return kept[1]
        functions = tuple(self._expand(scenario))
        with self._lock:
            self._functions.pop(id(scenario), None)
            while len(self._functions) >= _SCENARIOS_KEPT:
                del self._functions[next(iter(self._functions))]  # the oldest
            self._functions[id(scenario)] = (scenario, functions)
        return functions

    def _expand(self, scenario: Scenario) -> Iterator[tuple[str, Callable[[Window], float]]]:
        for e in self.entries:
            if isinstance(e, Metric):
                if e.compute is not None and (scenario.has_roles or not e.with_roles) and (
                        e.needs is None or e.needs(scenario)):
                    yield e.name, e.compute
            else:
                yield from e.expand(scenario)

    def names(self, scenario: Scenario) -> list[str]:
        return [name for name, _ in self.functions(scenario)]

    def info(self, name: str) -> Metric:
        """Metadata of any metric name, a family's pattern or possible member included.

        A name two families could claim (`staff_wait_over_4h_high` fits both
        `staff_wait_over_{h}h` and `staff_wait_over_{h}h_high`) goes to the family whose
        pattern says more of it (the longer fixed text)."""
        claims: list[tuple[int, Metric]] = []
        for e in self.entries:
            if isinstance(e, Metric):
                if e.name == name:
                    return e
            elif name == e.pattern:
                return e.member(e.placeholder)
            elif (suffix := e.suffix(name)) is not None:
                claims.append((len(e.pattern), e.member(suffix)))
        if not claims:
            raise KeyError(f"unknown metric {name!r}")
        return max(claims, key=lambda c: c[0])[1]

    def compute(self, window: Window) -> dict[str, float]:
        return {name: f(window) for name, f in self.functions(window.scenario)}


# -- the metrics ---------------------------------------------------------------------


def _grades(_: Scenario | None) -> list[tuple[str, int]]:
    return [(g, i) for i, g in enumerate(GRADES)]


def hours_tag(hours: float) -> str:
    """Hours as metric names spell them: 4 → "4", 1.5 → "1p5" (a name has no dot)."""
    return f"{hours:g}".replace(".", "p")


def _thresholds(scenario: Scenario | None) -> list[tuple[str, float]]:
    hours = () if scenario is None else scenario.reporting.wait_thresholds_hours
    return [(hours_tag(h), h) for h in hours]


def _stages(scenario: Scenario | None) -> list[tuple[str, str]]:
    """Described stages only: a scenario without them keeps today's metric names."""
    return [] if scenario is None else [(s, s) for s in scenario.stages]


def _first_threshold_stages(scenario: Scenario | None) -> list[tuple[str, tuple[str, float]]]:
    if scenario is None or not scenario.stages:
        return []
    h = scenario.reporting.wait_thresholds_hours[0]
    return [(f"{hours_tag(h)}h_{s}", (s, h)) for s in scenario.stages]


def _roles(scenario: Scenario | None) -> list[tuple[str, str]]:
    """Described roles only, in order of first appearance across hubs."""
    if scenario is None:
        return []
    return [(r, r) for r in scenario.role_names]


def _grade_breach(w: Window, g: int) -> float:
    resolved, late = w.decision
    m = w.grade_mask(g)
    return ratio(np.count_nonzero(late & m), np.count_nonzero(resolved & m))


def _backlog_mean(w: Window) -> float:
    """Everything in the MASH at each moment of the window, whenever it arrived."""
    open_hours = overlap_hours(w.refs.entered, w.end_or_now, w.warmup, w.horizon, own=True)
    return float(open_hours.sum() / (w.horizon - w.warmup))


def _backlog_clear_days(w: Window) -> float:
    """Days from the run's start (when an initial backlog is there) until the backlog at
    midnight first falls within its normal band: at most the 95th percentile of the
    midnight backlog over the second half of the run. NaN: it never does."""
    days = np.arange(0.0, w.horizon + 1e-9, 24.0)
    if len(days) < 2:
        return math.nan
    # `count_open(entered, end, days)`, one sorted copy held at a time
    counts = np.searchsorted(sorted_times(w.refs.entered), days, side="right")
    end = np.where(np.isfinite(w.v.end), w.v.end, np.inf)
    end.sort(kind="stable")
    counts -= np.searchsorted(end, days, side="right")
    del end
    steady = counts[days >= w.horizon / 2]
    band = _count_percentile_95(steady) if len(steady) else math.inf
    within = np.flatnonzero(counts <= band)
    return float(days[within[0]] / 24.0) if len(within) else math.nan


# how near a whole number an interpolated index or count must be to leave it undecided
_UNDECIDED = 1e-6


def _count_percentile_95(counts: np.ndarray) -> float:
    """A number that integer `counts` compare with (`<=`) as with `np.percentile(counts,
    95)`: the largest whole number at or below it, worked out from the two counts it
    interpolates between where that is beyond doubt, else `np.percentile` itself (≈45 µs
    a call, a call a window: most of the figure's cost).

    The default ("linear") percentile is a + (b − a)·g: a and b the sorted counts at
    ⌊i⌋ and ⌊i⌋ + 1, i = (n − 1)·0.95, g = i − ⌊i⌋; a whole count is at or below it iff
    at or below a + ⌊(b − a)·g⌋. Only where i or (b − a)·g lies within `_UNDECIDED` of
    a whole number could numpy's rounding put the figure on the other side of it."""
    n = len(counts)
    if n == 1:
        return float(counts[0])
    index = (n - 1) * 0.95
    lo = math.floor(index)
    g = index - lo
    if _UNDECIDED < g < 1.0 - _UNDECIDED:
        part = np.partition(counts, (lo, lo + 1))
        a, b = int(part[lo]), int(part[lo + 1])
        step = (b - a) * g
        if b == a or _UNDECIDED < step - math.floor(step) < 1.0 - _UNDECIDED:
            return float(a + math.floor(step))
    return float(np.percentile(counts, 95))


def _shrinkage(w: Window) -> float:
    d = w.first_day
    return 1.0 - ratio(w.v.available_hours[d:].sum(), w.v.paid_hours[d:].sum())


def _overtime(w: Window) -> float:
    return float(w.v.overtime[w.v.overtime[:, 0] >= w.warmup, 1].sum())


def _partner(sc: Scenario) -> bool:
    return sc.strategy_discussions.partner_initiated_per_day > 0


def _asm(sc: Scenario) -> bool:
    return sc.adult_strategy_meetings.enabled


def _marac(sc: Scenario) -> bool:
    return sc.marac.enabled


def _repeats(sc: Scenario) -> bool:
    return any(t.repeat_share > 0 for t in sc.referral_types.values())


def _linked(sc: Scenario) -> bool:
    return any(t.linked_child_share > 0 for t in sc.referral_types.values())


REGISTRY = Registry([
    Metric("referrals_arrived", COUNT, "referrals arrived in the window",
           "referrals arrived", lambda w: float(np.count_nonzero(w.incl)), decimals=0),
    Metric("referrals_completed", COUNT, "of those, decided by the end", "referrals decided",
           lambda w: float(np.count_nonzero(w.done))),
    Metric("referrals_open_at_end", COUNT, "of those, still undecided at the end",
           "referrals open at end",
           lambda w: float(np.count_nonzero(w.incl & ~np.isfinite(w.v.end))), when="end"),
    Metric("staff_wait_hours_mean", HOURS, "mean wait for staff", "mean wait for staff",
           lambda w: w.mean_wait(w.queued)),
    Family("staff_wait_hours_mean_{grade}", HOURS, "mean wait for staff, {} risk",
           "mean wait for staff, {} risk", _grades,
           lambda w, g: w.mean_wait(w.queued & w.grade_mask(g))),
    Family("staff_wait_over_{h}h", FRACTION, "share waiting for staff over {} hours",
           "waits over {}h", _thresholds,
           lambda w, h: ratio(np.count_nonzero(w.wait[w.queued] > h),
                              np.count_nonzero(w.queued)), fixed=False,
           pattern_label="share waiting for staff over h hours (one per "
                         "reporting.wait_thresholds_hours)",
           shown=lambda s: s.replace("p", ".")),
    Metric("time_in_mash_hours_mean", HOURS, "mean time in the MASH, creation to decision",
           "mean time in MASH",
           lambda w: float(masked_difference(w.end_or_now, w.refs.created, w.incl).mean())
           if w.incl.any() else np.nan),
    Metric("decision_target_breach", FRACTION, "decision-target breach, all grades",
           "decision-target breach",
           lambda w: ratio(np.count_nonzero(w.decision[1]), np.count_nonzero(w.decision[0])),
           breach=True),
    Family("decision_target_breach_{grade}", FRACTION, "decision-target breach, {} risk",
           "target breach, {} risk", _grades, _grade_breach, breach=True),
    Metric("sd_breach_72h", FRACTION, "strategy discussions past their deadline (72 h by "
           "default), every source", "strategy discussions > 72 h", wk.sd_breach_all,
           breach=True),
    Metric("sd_breach_72h_police_referral", FRACTION, "strategy discussions from police "
           "referrals past their deadline", "SDs > 72 h, police referrals",
           wk.sd_breach_police, breach=True, needs=_partner),
    Metric("sd_breach_72h_partner", FRACTION, "partner-initiated strategy discussions past "
           "their deadline", "SDs > 72 h, partner-initiated", wk.sd_breach_partner,
           breach=True, needs=_partner),
    Metric("sd_held", COUNT, "strategy discussions held, every source",
           "strategy discussions held", wk.sd_held_all),
    Metric("sd_held_police_referral", COUNT, "strategy discussions from police referrals "
           "held", "SDs held, police referrals", wk.sd_held_police, needs=_partner),
    Metric("sd_held_partner", COUNT, "partner-initiated strategy discussions held",
           "SDs held, partner-initiated", wk.sd_held_partner, needs=_partner),
    Metric("sd_pending_over_72h_at_end", COUNT, "strategy discussions pending > 72 h at end",
           "SDs pending > 72 h at end",
           lambda w: w.at_end[0] + wk.pending_72h(w, w.horizon), when="end"),
    Metric("sd_pending_over_14d_at_end", COUNT, "strategy discussions pending > 14 days at "
           "end", "SDs pending > 14 d at end",
           lambda w: w.at_end[1] + wk.pending_14d(w, w.horizon), when="end"),
    Metric("asm_breach", FRACTION, "adult strategy meetings past their deadline",
           "adult meetings past deadline", wk.asm_breach, breach=True, needs=_asm),
    Metric("asm_held", COUNT, "adult strategy meetings held", "adult meetings held",
           wk.asm_held, needs=_asm),
    Metric("asm_pending_over_deadline_at_end", COUNT, "adult strategy meetings pending past "
           "their deadline at end", "adult meetings overdue at end",
           wk.asm_pending_over_deadline_at_end, when="end", needs=_asm),
    Metric("marac_listed", COUNT, "cases listed for MARAC", "MARAC cases listed",
           wk.marac_listed, decimals=0, needs=_marac),
    Metric("marac_researched_in_time", FRACTION, "MARAC cases researched by their first "
           "meeting", "MARAC researched in time", wk.marac_researched_in_time,
           needs=_marac),
    Metric("marac_rolled_over", COUNT, "MARAC cases not heard at their first meeting "
           "(rolled over)", "MARAC cases rolled over", wk.marac_rolled_over, needs=_marac),
    Metric("repeat_referrals", COUNT, "repeat referrals arrived in the window",
           "repeat referrals", wk.repeat_referrals, decimals=0, needs=_repeats),
    Metric("linked_referrals", COUNT, "referrals arrived in the window that are one of a "
           "linked pair", "linked referrals", wk.linked_referrals, decimals=0,
           needs=_linked),
    Metric("backlog_mean", REFERRALS, "mean backlog (referrals in the MASH)", "mean backlog",
           _backlog_mean),
    Metric("backlog_max", REFERRALS, "peak backlog", "peak backlog",
           lambda w: max_open(w.refs.entered, w.v.end, w.warmup, w.horizon)),
    Metric("backlog_clear_days", DAYS, "days from the start until the backlog is back "
           "within its normal band", "days to clear backlog", _backlog_clear_days),
    Metric("oldest_waiting_days_at_end", DAYS, "oldest referral waiting for a decision at "
           "end", "oldest waiting at end", lambda w: w.at_end[2], when="end"),
    Metric("staff_utilisation", FRACTION, "staff utilisation (busy share of rostered time)",
           "staff utilisation", lambda w: w.utilisation(), decimals=0),
    Metric("early_notifications", COUNT, "early notifications sent", "early notifications",
           lambda w: float(np.count_nonzero(w.v.notifications >= w.warmup))),
    Metric("overtime_hours", STAFF_HOURS, "overtime worked", "overtime", _overtime),
    Metric("realised_shrinkage", FRACTION, "realised shrinkage (rostered time of filled "
           "posts lost to absence)", "realised shrinkage", _shrinkage),
    Metric("decisions_without_full_research", COUNT, "decisions with research cut short",
           "decisions without full research",
           lambda w: float(np.count_nonzero(w.done & w.v.degraded))),
    Family("stage_wait_hours_mean_{stage}", HOURS, "mean wait in the {} stage's queue",
           "mean wait, {} stage", _stages, lambda w, s: w.stage_wait_mean(s), fixed=False,
           pattern_label="mean wait in a stage's queue (one per stages.<stage>)"),
    Family("stage_wait_over_{h_stage}", FRACTION, "share waiting over {} in a stage's queue",
           "waits over {}", _first_threshold_stages,
           lambda w, p: w.stage_wait_over(p[0], p[1]), fixed=False,
           pattern_label="share waiting in a stage's queue over the first of "
                         "reporting.wait_thresholds_hours: stage_wait_over_<h>h_<stage>",
           shown=lambda s: s.replace("p", ".").replace("h_", " h, stage ", 1)),
    Family("utilisation_{role}", FRACTION, "utilisation of the {} role (busy share of "
           "rostered time)", "{} utilisation", _roles, lambda w, r: w.role_utilisation(r),
           fixed=False, decimals=0,
           pattern_label="utilisation of a role (one per hubs.<hub>.roles.<role>)"),
    Metric("staff_hours_cost", POUNDS, "staff cost in the "
           "window: rostered (paid) staff-hours and overtime × each role's hourly cost",
           "staff cost", lambda w: w.cost(), decimals=0, with_roles=True),
    Metric("audit_sd_pending_over_72h", COUNT, "strategy discussions pending > 72 h at the "
           "audit date", "SDs pending > 72 h on the audit date", lambda w: w.at_audit[0],
           when="audit"),
    Metric("audit_sd_pending_over_14d", COUNT, "strategy discussions pending > 14 days at "
           "the audit date", "SDs pending > 14 d on the audit date", lambda w: w.at_audit[1],
           when="audit"),
    Metric("audit_oldest_waiting_days", DAYS, "oldest referral waiting for a decision at "
           "the audit date", "oldest waiting on the audit date", lambda w: w.at_audit[2],
           when="audit"),
])

# The names every scenario has, in display order (scenario-dependent families left out).
METRICS = REGISTRY.fixed_names()
METRIC_INFO: dict[str, Metric] = {n: REGISTRY.info(n) for n in METRICS}
WAIT_OVER_PATTERN = "staff_wait_over_{h}h"


def metric_info(name: str) -> Metric:
    """The kind, unit, labels and timing of any metric name (family members included)."""
    return REGISTRY.info(name)


def metrics_help(order: Sequence[str] | None = None) -> str:
    """One line per metric: name, unit, label (scenario-dependent families as their
    pattern), in display order."""
    names = list(REGISTRY.documented_names() if order is None else order)
    width = max(len(n) for n in names)
    unit_width = max(len(metric_info(n).unit) for n in names)
    return "\n".join(f"{n.ljust(width)}  {metric_info(n).unit.ljust(unit_width)}  "
                     f"{metric_info(n).label}" for n in names)
