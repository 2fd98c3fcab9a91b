"""Sampling distributions built from scenario config.

Each class is a frozen, validated config value (pydantic) that can also draw samples.
Parameters are in the units of the field that holds the distribution: a
`handling_minutes` distribution has its `mean` in minutes. Sampling is vectorised
(`sample(rng, n)`) because the model draws every referral's attributes up front,
which keeps common random numbers aligned by referral index across scenarios.
"""

from __future__ import annotations

import math
import typing
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FAMILIES",
    "MAX_PARAMETER",
    "Distribution",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Triangular",
    "Uniform",
]

# Every parameter is finite and at most this, in the field's unit (a million minutes is
# nearly two years): a typo such as 1e300 is an input error, not an overflow in the run.
MAX_PARAMETER = 1e6
MAX_SIGMA = 10.0  # log-scale sd of a lognormal: e^10 is already a factor of 22,000
Param = Annotated[float, Field(ge=0, le=MAX_PARAMETER)]
PositiveParam = Annotated[float, Field(gt=0, le=MAX_PARAMETER)]


class _Dist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @property
    def mean(self) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def largest(self) -> float:
        """The largest value a draw can take (infinity: unbounded above)."""
        return math.inf

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class Fixed(_Dist):
    """A constant: the degenerate case used to switch a delay off."""

    dist: Literal["fixed"] = "fixed"
    value: Param

    @property
    def mean(self) -> float:
        return self.value

    @property
    def largest(self) -> float:
        return self.value

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value, dtype=float)


class Exponential(_Dist):
    """Memoryless times: the M/M/c textbook case."""

    dist: Literal["exponential"] = "exponential"
    mean_value: float = Field(gt=0, le=MAX_PARAMETER, alias="mean")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True,
                              allow_inf_nan=False)

    @property
    def mean(self) -> float:
        return self.mean_value

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_value, n)


class Triangular(_Dist):
    """Min / most likely / max: how experts state handling times without data."""

    dist: Literal["triangular"] = "triangular"
    min: Param
    mode: Param
    max: PositiveParam

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.min <= self.mode <= self.max or self.min == self.max:
            raise ValueError(
                f"needs min <= mode <= max and min < max, got {self.min}, {self.mode}, {self.max}"
            )
        return self

    @property
    def mean(self) -> float:
        return (self.min + self.mode + self.max) / 3.0

    @property
    def largest(self) -> float:
        return self.max

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.triangular(self.min, self.mode, self.max, n)


class Lognormal(_Dist):
    """Right-skewed delays; `median` in the field's units, `sigma` the log-scale sd."""

    dist: Literal["lognormal"] = "lognormal"
    median: PositiveParam
    sigma: float = Field(gt=0, le=MAX_SIGMA)

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2.0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(math.log(self.median), self.sigma, n)


class Gamma(_Dist):
    """Shape/scale gamma: skewed times with a lighter tail than the lognormal."""

    dist: Literal["gamma"] = "gamma"
    shape: PositiveParam
    scale: PositiveParam

    @property
    def mean(self) -> float:
        return self.shape * self.scale

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.gamma(self.shape, self.scale, n)


class Uniform(_Dist):
    """Equally likely in [low, high]: ages of an initial backlog, say."""

    dist: Literal["uniform"] = "uniform"
    low: Param
    high: Param

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"needs low <= high, got {self.low}, {self.high}")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2.0

    @property
    def largest(self) -> float:
        return self.high

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)


class Empirical(_Dist):
    """Resample observed values with equal weight: for a force's own timings."""

    dist: Literal["empirical"] = "empirical"
    values: list[Param] = Field(min_length=1)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def largest(self) -> float:
        return max(self.values)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.values, dtype=float), n)


# The one list of families: a new family is a class above and a member here.
Distribution = Annotated[
    Fixed | Exponential | Triangular | Lognormal | Gamma | Uniform | Empirical,
    Field(discriminator="dist"),
]
# family name (the `dist` tag a scenario writes) → class, read from the union above
FAMILIES: dict[str, type[_Dist]] = {
    member.model_fields["dist"].default: member
    for member in typing.get_args(typing.get_args(Distribution)[0])
}
