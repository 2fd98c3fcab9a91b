"""The staffing search of `plan`: posts per role (and a shift pattern) per hub, least cost.

Per hub, over the roles searched (every role of the hub, or those `--vary-staff` names;
the others stay as they are), by coordinate descent from the first guess
(`plan_guess`):

1. **Up**: while the staffing misses a target, try one more post of each searched role
   below the search limit, side by side; keep the cheapest that meets every target, else
   the one whose shortfall (targets' means on the wrong side of their values, relative,
   summed) falls most per pound (objective `posts`: per post) added. None left below the
   limit: infeasible.
2. **Down**: role by role (objective `cost`: the role whose post costs most a year first;
   `posts`: in the hub's role order), the least posts of that role still meeting every
   target with the others as they are, stepping 1, 2, 4, ... below until a staffing
   misses a target, then bisecting.

Every role's "one below" (the answer with one post fewer of it) is therefore simulated
and misses a target. With shift patterns, the search runs once per combination of the
searched roles' candidate rosters (their own shifts and `patterns.*`), keeping the
cheapest answer (objective `posts`: the fewest posts), ties broken by fewer posts (then
lower cost).

Each candidate staffing is judged with **sequential replications**: 3, then looks at
`LOOKS` until, for every target, the 95 % CI clears the value (met) or one lies wholly on
the wrong side (missed), or `replications` is reached (then met only if every CI clears);
a staffing that could not be met by then is stopped as missed sooner (`_futile`). A
staffing is simulated once per seed, however often the search meets it. Replication r
of every candidate uses the same seed streams (common random numbers), so comparisons
between candidates are paired. The answer and each one-below are then **confirmed** with
fresh seeds (no winner's curse). Hubs are searched side by side with no barrier between
them (`run_searches`): a hub's next replications are submitted as soon as its last ones
are back, so the workers stay busy (the largest hub's first when several wait) and each
hub's search sees its own results in the same order whatever the others do. Each hub is
simulated alone (`hub_scenario`), so a hub that does not change is never simulated again.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from mashsim.experiment.executors import Task
from mashsim.experiment.plan_guess import first_guess
from mashsim.experiment.plan_targets import Target
from mashsim.experiment.replications import confidence_interval
from mashsim.experiment.runner import ReplicationRunner, ReplicationStream
from mashsim.metrics.compute import metric_bounds
from mashsim.scenario.schema import Roster, Scenario, Shift
from mashsim.stats import half_width

__all__ = [
    "CONFIRM_SEED_OFFSET",
    "FIRST_BATCH",
    "OWN",
    "WEEKS_PER_YEAR",
    "HubSearch",
    "Planner",
    "Point",
    "run_searches",
]

FIRST_BATCH = 3  # replications before the first look at a candidate
#: replications at each look: few while the CI is already decisive (a staffing far from
#: a target), growing near one; BATCH more at a time after the last. Five looks, as
#: (3, 6, 10, 15, 20) before, but earlier: most staffings are decided at the second
#: (one post from the answer: the futility rule), so a second look at 5 saves a
#: replication on each. The default plan took 12–17 % fewer replications over seeds
#: 1–3, the same answers at seeds 2 and 3; at seed 1 two hubs whose answers fail their
#: fresh-seed confirmation either way moved (docs/planning.md)
LOOKS = (FIRST_BATCH, 5, 8, 12, 20)
BATCH = 5
CONFIRM_SEED_OFFSET = 1_000_003  # confirmation seed = seed + this: streams never used
WEEKS_PER_YEAR = 52.0
HOURS_PER_WEEK = 168.0
OWN = "own"  # the name of a role's own shifts among its candidate patterns
MIN_POSTS = 1

Posts = tuple[int, ...]  # posts per searched role, in the hub's role order
Patterns = tuple[str, ...]  # pattern name per searched role


@dataclass
class Point:
    """One candidate staffing judged: every metric's CI over the replications run."""

    posts: Posts
    patterns: Patterns
    seed: int
    meets: bool
    metrics: dict[str, dict[str, float | None]]
    values: dict[str, np.ndarray]

    @property
    def replications(self) -> int:
        return len(next(iter(self.values.values()), ()))


@dataclass
class Request:
    """Replications `reps` of `scenario` wanted by one hub's search."""

    scenario: Scenario
    seed: int
    reps: range


Search = Generator[list[Request], list[list[dict[str, float]]], Any]


@dataclass
class HubSearch:
    """One hub's search: what is searched, and what it found."""

    hub: str
    roles: list[str | None]  # searched roles; [None]: the hub's staff roster
    now: Posts
    limit: int
    candidates: dict[str, list[tuple[str, list[Shift]]]]  # role → [(pattern, shifts)]
    base: Scenario  # the hub alone (or the whole scenario where hubs are tied)
    cost_rate: dict[str, float]  # role → pounds per rostered hour
    #: `plan --overtime-hours`: the weekly overtime cap this search ran at (None: the
    #: scenario's overtime as it is) and pounds per overtime staff-hour (premium included)
    overtime_cap_hours: float | None = None
    overtime_rate: float = 0.0
    #: every cap's outcome for this hub (`plan._cheapest_cap`), for the JSON
    overtime_options: list[dict[str, Any]] | None = None
    answer: Point | None = None
    last: Point | None = None  # where the search stopped (at the limit if infeasible)
    now_point: Point | None = None
    one_below: dict[str | None, Point] = field(default_factory=dict)
    confirmed: dict[str, Any] | None = None
    replications_used: int = 0
    #: replications run per search phase (start, up, down, one_below, confirm), for
    #: profiling and benchmarks/plan.py
    replications_by_phase: dict[str, int] = field(default_factory=dict)
    #: every judgement: (phase, posts, patterns, seed, replications, meets)
    trace: list[tuple[str, Posts, Patterns, int, int, bool]] = field(default_factory=list)
    _cache: dict[tuple[Posts, Patterns, int], list[dict[str, float]]] = field(
        default_factory=dict)
    _scenarios: dict[tuple[Posts, Patterns], Scenario] = field(default_factory=dict)

    @property
    def now_patterns(self) -> Patterns:
        return tuple(OWN for _ in self.roles)

    def label(self, role: str | None) -> str:
        return self.hub if role is None else f"{self.hub}.{role}"

    def path(self, role: str | None, key: str) -> str:
        return (f"hubs.{self.hub}.staff.{key}" if role is None
                else f"hubs.{self.hub}.roles.{role}.{key}")

    def shifts(self, role: str | None, pattern: str) -> list[Shift]:
        return dict(self.candidates[role or ""])[pattern]

    def role_cost_per_year(self, role: str | None, posts: int, pattern: str) -> float:
        """Pounds a year: posts × hourly cost × rostered hours (`staff_hours_per_week`)."""
        rate = self.cost_rate.get(role or "", 0.0)
        roster = Roster(headcount=posts, shifts=self.shifts(role, pattern))
        return rate * roster.staff_hours_per_week() * WEEKS_PER_YEAR

    def cost_per_year(self, posts: Posts, patterns: Patterns) -> float:
        return sum(self.role_cost_per_year(r, x, p)
                   for r, x, p in zip(self.roles, posts, patterns, strict=True))

    def overtime_cost_per_year(self, point: Point | None) -> float | None:
        """Expected overtime pounds a year at `point`: its mean `overtime_hours` in the
        window, scaled from the window's weeks to 52, × the overtime rate."""
        if point is None:
            return None
        hours = point.metrics.get("overtime_hours", {}).get("mean") or 0.0
        weeks = (self.base.horizon_hours - self.base.warmup_hours) / HOURS_PER_WEEK
        return float(hours) * self.overtime_rate * WEEKS_PER_YEAR / weeks

    def scenario(self, posts: Posts, patterns: Patterns) -> Scenario:
        """The hub's scenario at a staffing (validated once per staffing)."""
        key = (posts, patterns)
        if key not in self._scenarios:
            self._scenarios[key] = self._build(posts, patterns)
        return self._scenarios[key]

    def _build(self, posts: Posts, patterns: Patterns) -> Scenario:
        changes: dict[str, Any] = {}
        for r, x, p in zip(self.roles, posts, patterns, strict=True):
            changes[self.path(r, "headcount")] = x
            if p != OWN:
                changes[self.path(r, "shifts")] = [s.model_dump() for s in self.shifts(r, p)]
        text = ",".join(f"{self.label(r)}={x}" + ("" if p == OWN else f"@{p}")
                        for r, x, p in zip(self.roles, posts, patterns, strict=True))
        return self.base.with_overrides(changes, source=f"plan {text}")


def _judge(targets: Sequence[Target], metrics: dict[str, dict[str, float | None]],
           final: bool, futile: bool = False) -> bool | None:
    """True: every target met; False: one missed (or, `futile`, one cannot be met by
    the last look); None: undecided (run more)."""
    if any(t.failed(metrics[t.metric]) for t in targets):
        return False
    if all(t.met(metrics[t.metric]) for t in targets):
        return True
    return False if final or futile else None


def _futile(targets: Sequence[Target], values: dict[str, np.ndarray], max_reps: int) -> bool:
    """Would some target still be missed at `max_reps` replications? A staffing is met
    only if every CI clears its value at the last look, so stop (a futility rule) when a
    target's mean is on the wrong side of its value from the second look on, or, from
    the third, when its mean and spread as they are would leave the CI at `max_reps`
    straddling the value."""
    for t in targets:
        x = values[t.metric]
        x = x[~np.isnan(x)]
        if len(x) < LOOKS[1] or len(x) >= max_reps:
            continue
        mean = float(np.mean(x))
        half = 0.0 if len(x) < LOOKS[2] else half_width(np.std(x, ddof=1), max_reps)
        if (mean + half > t.value) if t.op in ("<=", "<") else (mean - half < t.value):
            return True
    return False


class Planner:
    """Every hub's search, as a generator of replication requests (`run_searches`)."""

    def __init__(self, targets: Sequence[Target], names: Sequence[str], replications: int,
                 seed: int, objective: str, sequential: bool = True) -> None:
        self.targets = list(targets)
        #: replications in a staffing's first look; all of them (`replications`) when
        #: not sequential, the fixed-count baseline benchmarks/plan.py compares with
        self.first_batch = FIRST_BATCH if sequential else replications
        self.sequential = sequential
        self.names = list(names)
        self.max_reps = replications
        self.seed = seed
        self.objective = objective
        #: the metrics a look judges (the targets'); every one's CI once decided
        self._judged = list(dict.fromkeys(t.metric for t in self.targets))
        self._bounds: dict[str, tuple[float, float]] = {}

    # -- candidates -----------------------------------------------------------------

    def evaluate_many(self, s: HubSearch, staffings: Sequence[tuple[Posts, Patterns]],
                      seed: int | None = None, phase: str = "search") -> Search:
        """Judge staffings side by side with sequential replications (cached per seed):
        each undecided one gets its next batch in the same round; a staffing named twice
        is simulated once."""
        seed = self.seed if seed is None else seed
        unique = list(dict.fromkeys(staffings))
        done: dict[tuple[Posts, Patterns], Point] = {}
        while True:
            wanted: list[tuple[tuple[Posts, Patterns], Request]] = []
            for posts, patterns in unique:
                if (posts, patterns) in done:
                    continue
                runs = s._cache.setdefault((posts, patterns, seed), [])
                # judged on the targets' CIs; every metric's only once decided
                point = self._point(s, posts, patterns, seed, runs, self._judged)
                verdict = None if point is None else _judge(
                    self.targets, point.metrics, len(runs) >= self.max_reps,
                    self.sequential and _futile(self.targets, point.values,
                                                self.max_reps))
                if verdict is not None and point is not None:
                    point.metrics = self._cis(point.values, self.names)
                    point.meets = verdict
                    done[posts, patterns] = point
                    s.trace.append((phase, posts, patterns, seed, len(runs), verdict))
                    continue
                n = len(runs)
                wanted.append(((posts, patterns), Request(
                    s.scenario(posts, patterns), seed, range(n, self._next_look(n)))))
            if not wanted:
                return [done[x] for x in staffings]
            got = yield [req for _, req in wanted]
            for ((posts, patterns), _), results in zip(wanted, got, strict=True):
                s._cache[(posts, patterns, seed)].extend(results)
                s.replications_used += len(results)
                s.replications_by_phase[phase] = (s.replications_by_phase.get(phase, 0)
                                                  + len(results))

    def _next_look(self, n: int) -> int:
        """Replications at the next look of a staffing that has run `n`."""
        if n == 0:
            return min(self.first_batch, self.max_reps)
        later = [k for k in LOOKS if k > n]
        return min(later[0] if later else n + BATCH, self.max_reps)

    def evaluate(self, s: HubSearch, posts: Posts, patterns: Patterns,
                 seed: int | None = None, phase: str = "search") -> Search:
        points = yield from self.evaluate_many(s, [(posts, patterns)], seed, phase)
        return points[0]

    def _point(self, s: HubSearch, posts: Posts, patterns: Patterns, seed: int,
               runs: list[dict[str, float]], names: Sequence[str]) -> Point | None:
        """The staffing's values so far, with the CIs of `names` (None: under 2 runs)."""
        if len(runs) < 2:
            return None
        values = {m: np.array([r.get(m, math.nan) for r in runs], dtype=float)
                  for m in self.names}
        return Point(posts, patterns, seed, False, self._cis(values, names), values)

    def _cis(self, values: dict[str, np.ndarray], names: Sequence[str]
             ) -> dict[str, dict[str, float | None]]:
        """Each metric's CI, cut to its bounds (looked up once per metric)."""
        for m in names:
            if m not in self._bounds:
                self._bounds[m] = metric_bounds(m)
        return {m: confidence_interval(values[m], bounds=self._bounds[m]) for m in names}

    # -- one hub --------------------------------------------------------------------

    def _shortfall(self, point: Point) -> float:
        """How far the targets' means are on the wrong side, each relative to its value,
        summed (a target met on average adds nothing)."""
        total = 0.0
        for t in self.targets:
            mean = point.metrics[t.metric].get("mean")
            if mean is None:
                return math.inf
            gap = mean - t.value if t.op in ("<=", "<") else t.value - mean
            total += max(0.0, gap / max(abs(t.value), 1e-9))
        return total

    def _step_value(self, s: HubSearch, point: Point, probe: Point) -> tuple[float, ...]:
        """Order of the up phase's probes: the largest fall in shortfall per pound added
        (objective cost) or per post (posts) first; then the smallest shortfall, then
        the cheapest. A post that moves no missed target is never preferred to one that
        does, however cheap."""
        gain = self._shortfall(point) - self._shortfall(probe)
        extra = self._key(s, probe)[0] - self._key(s, point)[0]
        rate = gain / extra if extra > 0 and math.isfinite(gain) else 0.0
        return (-max(rate, 0.0), self._shortfall(probe), *self._key(s, probe))

    def _removal_order(self, s: HubSearch, patterns: Patterns) -> list[int]:
        idx = list(range(len(s.roles)))
        if self.objective != "cost":
            return idx
        return sorted(idx, key=lambda i: -s.role_cost_per_year(s.roles[i], 1, patterns[i]))

    def _key(self, s: HubSearch, point: Point) -> tuple[float, ...]:
        cost, posts = s.cost_per_year(point.posts, point.patterns), float(sum(point.posts))
        return (cost, posts) if self.objective == "cost" else (posts, cost)

    def climb(self, s: HubSearch, patterns: Patterns, point: Point) -> Search:
        """Up: while a target is missed, try one more post of each searched role below
        the limit side by side, and keep the cheapest that meets every target, else the
        one whose shortfall falls most per pound (per post) added (`_step_value`)."""
        while not point.meets:
            x = point.posts
            steps = [tuple(v + (j == i) for j, v in enumerate(x))
                     for i in range(len(x)) if x[i] < s.limit]
            if not steps:
                return point, False
            probes = yield from self.evaluate_many(s, [(y, patterns) for y in steps],
                                                  phase="up")
            meeting = [p for p in probes if p.meets]
            here = point
            point = (min(meeting, key=lambda p: self._key(s, p)) if meeting
                     else min(probes, key=lambda p: self._step_value(s, here, p)))
        return point, True

    def trim(self, s: HubSearch, patterns: Patterns, point: Point) -> Search:
        """Down: role by role (objective cost: the dearest post first), the least posts of
        that role still meeting every target with the others as they are — stepping 1, 2,
        4, ... below until a staffing misses, then bisecting."""
        for i in self._removal_order(s, patterns):
            meets, fails, step = point, None, 1
            while True:
                m = meets.posts[i]
                if fails is None:  # stepping down
                    if m <= MIN_POSTS:
                        break
                    h = max(MIN_POSTS, m - step)
                else:  # bisecting between a miss and a meet
                    if m - fails <= 1:
                        break
                    h = (fails + m) // 2
                y = tuple(h if j == i else v for j, v in enumerate(meets.posts))
                trial = yield from self.evaluate(s, y, patterns, phase="down")
                if trial.meets:
                    meets, step = trial, 2 * step
                else:
                    fails = h
            point = meets
        return point

    def descend(self, s: HubSearch, patterns: Patterns, start: Point) -> Search:
        """Coordinate descent from `start` (rule in the module docstring)."""
        point, ok = yield from self.climb(s, patterns, start)
        if not ok:
            return point, False
        point = yield from self.trim(s, patterns, point)
        return point, True

    def search(self, s: HubSearch) -> Search:
        """Every pattern combination's descent, the best kept, then its confirmation."""
        options = [[p for p, _ in s.candidates[r or ""]] for r in s.roles]
        combos = [tuple(c) for c in itertools.product(*options)]
        firsts = yield from self.evaluate_many(
            s, [(s.now, s.now_patterns), *((self._start(s, c), c) for c in combos)],
            phase="start")
        s.now_point = firsts[0]
        best: Point | None = None
        for start in firsts[1:]:
            point, ok = yield from self.descend(s, start.patterns, start)
            if not ok and s.last is None:
                s.last = point
            if ok and (best is None or self._key(s, point) < self._key(s, best)):
                best = point
        s.answer = best
        if best is None:
            return
        below = {r: tuple(x - (j == i) for j, x in enumerate(best.posts))
                 for i, r in enumerate(s.roles) if best.posts[i] > MIN_POSTS}
        points = yield from self.evaluate_many(s, [(y, best.patterns) for y in below.values()],
                                               phase="one_below")
        s.one_below = dict(zip(below, points, strict=True))
        yield from self.confirm(s, best)

    def _start(self, s: HubSearch, patterns: Patterns) -> Posts:
        shifts = {r: Roster(headcount=1, shifts=s.shifts(r, p))
                  for r, p in zip(s.roles, patterns, strict=True) if r is not None}
        guess = first_guess(s.base, s.hub, shifts, s.limit)
        return tuple(min(s.limit, max(MIN_POSTS, guess.get(r or "staff", x)))
                     for r, x in zip(s.roles, s.now, strict=True))

    def confirm(self, s: HubSearch, best: Point) -> Search:
        """The answer and every one-below again, side by side, with seeds the search
        never used."""
        seed = self.seed + CONFIRM_SEED_OFFSET
        points = yield from self.evaluate_many(
            s, [(best.posts, best.patterns), *((p.posts, p.patterns)
                                               for p in s.one_below.values())], seed,
            phase="confirm")
        at, rest = points[0], points[1:]
        below = {s.label(r): not q.meets for r, q in zip(s.one_below, rest, strict=True)}
        s.confirmed = {"seed": seed, "replications": at.replications,
                       "needed_meets": at.meets, "one_below_fails": below,
                       "confirmed": at.meets and all(below.values())}


def run_searches(planner: Planner, searches: Sequence[HubSearch], runner: ReplicationRunner,
                 hub_of: Callable[[HubSearch], str]) -> None:
    """Drive every hub's search with no barrier between hubs: a hub's requested
    replications are submitted as soon as it asks, and as soon as all of one step's
    are back its generator takes them (in its own request order) and asks again. When
    several hubs' replications wait, the largest hub's start first (`_size`)."""
    gens = [planner.search(s) for s in searches]
    steps: dict[int, _Step] = {}
    with runner.stream() as stream:
        for i in sorted(range(len(searches)), key=lambda i: -_size(searches[i])):
            _next_step(stream, steps, i, searches[i], gens[i], None)
        while len(stream):
            key, res = stream.next_done()
            i, n, k, j = cast(tuple[int, int, int, int], key)  # (hub, step, request, rep)
            step = steps[i]
            if n != step.number:
                raise AssertionError(f"a result of step {n} came back in step {step.number}")
            step.got[k][j] = res.metrics[hub_of(searches[i])]
            step.left -= 1
            if not step.left:
                _next_step(stream, steps, i, searches[i], gens[i], step.got)


@dataclass
class _Step:
    """One hub's pending step: its results by request, as they come back."""

    number: int
    got: list[list[Any]]
    left: int


def _next_step(stream: ReplicationStream, steps: dict[int, _Step], i: int, s: HubSearch,
               gen: Search, got: list[list[Any]] | None) -> None:
    """Advance hub `i`'s search with `got` and submit its next requests (none: done)."""
    number = steps[i].number + 1 if i in steps else 0
    while (reqs := _advance(gen, got)) is not None:
        step = _Step(number, [[None] * len(req.reps) for req in reqs],
                     sum(len(req.reps) for req in reqs))
        steps[i] = step
        for k, req in enumerate(reqs):
            for j, r in enumerate(req.reps):
                # every staffing of the hub runs replication r: keep its draws
                stream.submit((i, number, k, j),
                              Task(req.scenario, req.seed, r, keep_demand=True), _size(s))
        if step.left:
            return
        got, number = step.got, number + 1  # nothing to run: advance at once
    steps.pop(i, None)


def _size(s: HubSearch) -> float:
    """Referrals a day simulated for a hub: what a replication's run time follows."""
    return s.base.arrivals.referrals_per_day


def _advance(gen: Search, value: list[list[dict[str, float]]] | None) -> list[Request] | None:
    try:
        return gen.send(value)  # type: ignore[arg-type]
    except StopIteration:
        return None
