"""Planning targets: `METRIC<=VALUE` from the command line or the scenario's `[targets]`.

A target is met when the 95 % CI bound on its far side clears the value (`<=`: the upper
bound at or below it), so "met" means met with 95 % confidence, not merely on average.
Targets on fractions (breach rates, shares of waits, utilisation) are written 0.05 or 5%;
a bare 5 is an error rather than a target every headcount meets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mashsim.errors import ScenarioError
from mashsim.experiment.precision import parse_fraction
from mashsim.metrics.compute import metric_names
from mashsim.metrics.registry import FRACTION, Metric, metric_info
from mashsim.scenario.schema import Pattern, Scenario, Shift

__all__ = ["Target", "is_breach_metric", "is_fraction_metric", "load_patterns",
           "plan_targets", "scenario_targets"]

_TARGET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+%?)\s*$")


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
    def parse(cls, text: str, where: str | None = None) -> Target:
        """`where` names the source in errors (default `--target 'TEXT'`)."""
        where = where or f"--target {text!r}"
        m = _TARGET.match(text)
        if m is None:
            raise ScenarioError([f"{where}: expected METRIC<=VALUE (or >=, <, >), "
                                 "e.g. 'sd_breach_72h<=0.05'"])
        metric, raw = m.group(1), m.group(3)
        if is_fraction_metric(metric):
            return cls(metric, m.group(2), parse_fraction(raw, where))
        if raw.endswith("%"):
            raise ScenarioError([f"{where}: {metric} is not a fraction; write the "
                                 "value in its own unit, without %"])
        try:
            value = float(raw)
        except ValueError:
            raise ScenarioError([f"{where}: {raw!r} is not a number"]) from None
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

    def failed(self, ci: dict[str, float | None]) -> bool:
        """Missed with 95 % confidence: the CI lies wholly on the wrong side, so more
        replications would not meet it (what stops a candidate's replications early)."""
        if self.op in ("<=", "<"):
            bound = ci.get("ci_low")
            return bound is not None and bound > self.value
        bound = ci.get("ci_high")
        return bound is not None and bound < self.value


def scenario_targets(scenario: Scenario, source: str | None = None) -> list[Target]:
    """The scenario's `[targets]` as Targets; an unknown metric or a bad value is an
    error naming `targets.<metric>` (after `source:` when given)."""
    names = metric_names(scenario)
    prefix = "" if source is None else f"{source}: "
    out, problems = [], []
    for metric, text in scenario.targets.items():
        where = f"{prefix}targets.{metric}"
        if metric not in names:
            problems.append(f"{where}: unknown metric {metric!r} (known: {', '.join(names)})")
            continue
        try:
            out.append(Target.parse(f"{metric}{text}", where))
        except ScenarioError as err:
            problems += err.problems
    if problems:
        raise ScenarioError(problems)
    return out


def plan_targets(scenario: Scenario, targets: Sequence[str | Target] = (),
                 source: str | None = None) -> list[Target]:
    """The targets a plan meets: those given, else the scenario's `[targets]`; checked
    against the scenario's metric names. None at all is an error."""
    if not targets:
        parsed = scenario_targets(scenario, source)
        if not parsed:
            raise ScenarioError(["plan: give at least one --target, e.g. "
                                 "'sd_breach_72h<=0.05', or a [targets] table in the "
                                 "scenario"])
        return parsed
    parsed = [t if isinstance(t, Target) else Target.parse(t) for t in targets]
    names = metric_names(scenario)
    unknown = [f"--target {t}: unknown metric {t.metric!r} (known: {', '.join(names)})"
               for t in parsed if t.metric not in names]
    if unknown:
        raise ScenarioError(unknown)
    return parsed


def load_patterns(path: str | Path) -> dict[str, list[Shift]]:
    """`plan --patterns FILE`: a TOML file of `[patterns.<name>]` tables (`shifts = [...]`,
    as in a scenario), each a candidate roster for every searched role. Errors name
    `FILE: patterns.<name>...`."""
    import tomllib

    from pydantic import ValidationError

    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ScenarioError([f"{where}: cannot read patterns: {err}"]) from None
    tables = data.get("patterns")
    extra = sorted(set(data) - {"patterns"})
    problems = [f"{where}: {k}: unknown key (a patterns file holds [patterns.<name>])"
                for k in extra]
    if not isinstance(tables, dict) or not tables:
        problems.append(f"{where}: patterns: no [patterns.<name>] table")
        raise ScenarioError(problems)
    out = {}
    for name, table in tables.items():
        try:
            out[name] = list(Pattern.model_validate(table).shifts)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            problems.append(f"{where}: patterns.{name}{'.' + loc if loc else ''}: "
                            f"{first['msg']}")
    if problems:
        raise ScenarioError(problems)
    return out
