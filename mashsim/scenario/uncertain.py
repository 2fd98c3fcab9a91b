"""Uncertain inputs: a number a scenario is unsure of, given as a range or a distribution.

Any number-valued key (a distribution parameter such as
`grades.standard.handling_minutes.median`, or a scalar such as
`arrivals.referrals_per_day`) may be written as a table instead of a number:

    median = { low = 15, high = 35 }                              # uniform
    referrals_per_day = { dist = "triangular", low = 150, mode = 180, high = 230 }

Validation moves each such table into `uncertainty.inputs` (keyed by its dotted path, the
path `--set` uses) and leaves the nominal value at its place (uniform: the midpoint;
triangular: the mode), so everything that reads one number (validate, plan, the report's
inputs table) reads the nominal. A replication draws every uncertain input first
(`draw_point`), from its own stream, then runs the point scenario: the other streams, and
so common random numbers, are untouched. Replications come in groups of
`uncertainty.replications_per_draw` that share one draw (a nested design), so the spread
of a metric can be split into input uncertainty and run-to-run noise.
"""

from __future__ import annotations

import copy
import functools
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mashsim.scenario.distributions import FAMILIES, MAX_PARAMETER

# The scenario (`mashsim.scenario.schema.Scenario`), which imports this module: named
# here only by what is used of it, so the two modules do not import each other.
Scenario = Any

__all__ = ["InputRange", "Uncertainty", "check_uncertain", "draw_index", "draw_point",
           "field_annotation", "forget_overridden", "get_path", "has_uncertainty",
           "split_uncertain",
           "unwrap_type"]

Bound = Annotated[float, Field(ge=-MAX_PARAMETER, le=MAX_PARAMETER)]
MAX_REPLICATIONS_PER_DRAW = 1000


class InputRange(BaseModel):
    """One uncertain number: uniform on [low, high], or triangular with a mode."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    dist: Literal["uniform", "triangular"] = "uniform"
    low: Bound
    high: Bound
    mode: Bound | None = None

    @model_validator(mode="after")
    def _ordered(self) -> InputRange:
        if self.high < self.low:
            raise ValueError(f"needs low <= high, got low {self.low:g}, high {self.high:g}")
        if self.dist == "triangular":
            if self.mode is None or not self.low <= self.mode <= self.high:
                raise ValueError("a triangular range needs low <= mode <= high")
        elif self.mode is not None:
            raise ValueError('mode is for dist = "triangular" only')
        return self

    @property
    def nominal(self) -> float:
        """The one value shown where a single number is read: midpoint or mode."""
        if self.dist == "triangular":
            return float(self.mode or 0.0)  # never None here: checked in _ordered
        return (self.low + self.high) / 2.0

    @property
    def is_point(self) -> bool:
        return self.low == self.high

    def draw(self, rng: np.random.Generator) -> float:
        """One value; a point range gives its value exactly (and draws nothing)."""
        if self.is_point:
            return self.low
        if self.dist == "triangular":
            return float(rng.triangular(self.low, self.nominal, self.high))
        return float(rng.uniform(self.low, self.high))


class Uncertainty(BaseModel):
    """The scenario's `[uncertainty]` table: what is unsure and the nested design."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replications_per_draw: int = Field(default=2, ge=1, le=MAX_REPLICATIONS_PER_DRAW)
    inputs: dict[str, InputRange] = Field(default_factory=dict)


def has_uncertainty(sc: Scenario) -> bool:
    """Whether any input of `sc` is a range wider than a point (what changes outputs)."""
    u = sc.uncertainty
    return u is not None and any(not r.is_point for r in u.inputs.values())


def draw_index(sc: Scenario, replication: int) -> int:
    """Which input draw replication `replication` runs with (groups share one draw)."""
    u = sc.uncertainty
    return replication // (u.replications_per_draw if u is not None else 1)


def draw_point(sc: Scenario, rng: np.random.Generator) -> Scenario:
    """`sc` with every uncertain input drawn (in sorted path order) and no uncertainty
    left; `sc` itself when it has none."""
    u = sc.uncertainty
    if u is None:
        return sc
    values: dict[str, Any] = {path: u.inputs[path].draw(rng) for path in sorted(u.inputs)}
    return sc.with_overrides({**values, "uncertainty": None},
                             source="uncertainty.inputs draw")


def check_uncertain(sc: Scenario) -> None:
    """Each listed input is a number of the scenario, and the scenario is valid with every
    input at its low end and at its high end (ValueError naming the path otherwise)."""
    from mashsim.errors import ScenarioError

    u = sc.uncertainty
    if u is None:
        return
    data = sc.to_dict()
    for path in u.inputs:
        try:
            value = get_path(data, path)
        except (KeyError, IndexError, ValueError, TypeError):
            raise ValueError(f"uncertainty.inputs.{path}: no such key in the scenario"
                             ) from None
        if not isinstance(value, float):
            raise ValueError(f"uncertainty.inputs.{path}: not a number the scenario holds "
                             "(a range goes where a decimal number does)")
    for end in ("low", "high"):
        ends = {path: getattr(r, end) for path, r in u.inputs.items()}
        try:
            sc.with_overrides({**ends, "uncertainty": None}, source=f"uncertainty {end} ends")
        except ScenarioError as err:
            raise ValueError(f"uncertainty.inputs: with every range at its {end} end: "
                             f"{err.problems[0]}") from None


def forget_overridden(data: dict[str, Any], paths: typing.Iterable[str]) -> None:
    """A `--set` on an uncertain input replaces its range (by a number, or a new range)."""
    table = data.get("uncertainty")
    if isinstance(table, dict) and isinstance(table.get("inputs"), dict):
        for path in paths:
            table["inputs"].pop(path, None)


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path in raw scenario data (list items by index)."""
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


# -- moving inline ranges into `uncertainty.inputs` --------------------------------------


def split_uncertain(data: Any, model: type[BaseModel]) -> Any:
    """Raw scenario data with every range at a number's place replaced by its nominal and
    listed under `uncertainty.inputs` (a copy; `data` itself when there is none)."""
    if not isinstance(data, Mapping):
        return data
    found: dict[str, Any] = {}
    out = _walk(dict(data), model, [], found)
    if not found:
        return data
    table = dict(out.get("uncertainty") or {})
    table["inputs"] = {**dict(table.get("inputs") or {}), **found}
    out["uncertainty"] = table
    return out


def _walk(value: Any, tp: Any, path: list[str], found: dict[str, Any]) -> Any:
    """`value` with ranges replaced (copied only where something changes)."""
    tp = unwrap_type(tp)
    if tp is float and isinstance(value, Mapping):
        return _take(value, ".".join(path), found)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        tag = value.get("dist") if isinstance(value, Mapping) else None
        tp = FAMILIES.get(tag) if isinstance(tag, str) else None
    if isinstance(value, Mapping):
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            kinds = {k: field_annotation(tp, k) for k in value}
        elif origin is dict:
            kinds = dict.fromkeys(value, typing.get_args(tp)[-1])
        else:
            return value
        new = {k: _walk(v, kinds[k], [*path, str(k)], found) for k, v in value.items()}
        changed = any(new[k] is not value[k] for k in value)
        return new if changed else value
    if isinstance(value, list) and origin is list:
        item = typing.get_args(tp)[0]
        items = [_walk(v, item, [*path, str(i)], found) for i, v in enumerate(value)]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def unwrap_type(tp: Any) -> Any:
    """Strip Annotated and Optional: the type a value at this place must have (memoised:
    every scenario validated walks the schema's types, a few thousand places)."""
    try:
        return _unwrap_cached(tp)
    except TypeError:  # an unhashable annotation
        return _unwrap(tp)


@functools.lru_cache(maxsize=4096)
def _unwrap_cached(tp: Any) -> Any:
    return _unwrap(tp)


def _unwrap(tp: Any) -> Any:
    while True:
        if typing.get_origin(tp) is Annotated:
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def field_annotation(model: type[BaseModel], key: Any) -> Any:
    """The annotation of `model`'s field called `key` (by name or alias); None: no such."""
    try:
        return _annotations(model).get(key)
    except TypeError:  # an unhashable key names no field
        return None


@functools.cache
def _annotations(model: type[BaseModel]) -> dict[Any, Any]:
    """Field name and alias → annotation, the first field in order winning (as a scan)."""
    out: dict[Any, Any] = {}
    for name, info in model.model_fields.items():
        out.setdefault(name, info.annotation)
        if info.alias is not None:
            out.setdefault(info.alias, info.annotation)
    return out


def _take(spec: Mapping[str, Any], path: str, found: dict[str, Any]) -> float:
    """Record a range found at `path`; its nominal goes in its place."""
    try:
        rng = InputRange.model_validate(dict(spec))
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise ValueError(f"{path}: a range {{ low, high }} or {{ dist = \"triangular\", "
                         f"low, mode, high }}: {where + ': ' if where else ''}{msg}") from None
    found[path] = copy.deepcopy(dict(spec))
    return rng.nominal
