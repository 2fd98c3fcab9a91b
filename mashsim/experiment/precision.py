"""How many replications? Enough for a target CI precision (Hoad, Robinson & Davies 2010).

The sequential method, as in sim-tools' `ReplicationsAlgorithm`: start with `initial`
replications; after each further replication compute the relative precision
d_n = (95 % CI half-width) / |mean| of every watched series; the first n with d_n ≤ target
for all of them is a candidate, accepted only if the precision still holds for each of the
next `k_limit(n)` replications (the look-ahead, which guards against a lucky early
estimate). It stops at `budget` replications if no candidate is confirmed.

Replication i is the same whatever the batch it ran in, so running replications in
batches (to keep workers busy) and scanning the prefixes gives exactly the answer a
one-at-a-time run gives; only the surplus replications of the last batch are wasted.

`parse_fraction` reads every fraction a user types on the command line (`--precision`,
a plan target on a fraction metric) by one rule: 0.05 or 5%, never 5, which would
otherwise be read silently as 500 %.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mashsim.stats import relative_half_width

__all__ = ["FRACTION_HINT", "PrecisionOutcome", "k_limit", "parse_fraction",
           "relative_half_width", "sequential_replications"]

FRACTION_HINT = "fractions are 0–1; write 0.05 or 5%"


def parse_fraction(text: str, what: str, exclusive: bool = False) -> float:
    """`text` as a fraction: '0.05' or '5%'; anything outside 0–1 is an error.

    `exclusive` also rejects 0 and 1 themselves (e.g. a relative precision). Raises
    ScenarioError naming `what` (the option as typed), so the CLI exits 2 with one line.
    """
    from mashsim.errors import ScenarioError

    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1] if percent else raw)
    except ValueError:
        raise ScenarioError([f"{what}: expected a number such as 0.05 or 5%, got {text!r}"]
                            ) from None
    if percent:
        value /= 100.0
    if not 0.0 <= value <= 1.0:  # NaN too
        raise ScenarioError([f"{what}: {raw} is not a fraction; {FRACTION_HINT}"])
    if exclusive and value in (0.0, 1.0):
        raise ScenarioError([f"{what}: {raw} must be above 0 and below 1, e.g. 0.05 or 5%"])
    return value


@dataclass(frozen=True)
class PrecisionOutcome:
    """The replications to use, whether the precision was met and confirmed, and d_n."""

    replications: int
    met: bool
    precision: float
    achieved: float  # worst relative half-width over the watched series at `replications`


def k_limit(n: int, look_ahead: int = 5) -> int:
    """Look-ahead length: `look_ahead` replications up to n = 100, then that % of n."""
    return int(look_ahead / 100 * max(n, 100))


def _worst(series: Sequence[np.ndarray], n: int, level: float) -> float:
    return max((relative_half_width(s[:n], level) for s in series), default=0.0)


def sequential_replications(
    series_up_to: Callable[[int], Sequence[np.ndarray]],
    precision: float,
    budget: int,
    initial: int = 3,
    look_ahead: int = 5,
    batch: int = 1,
    level: float = 0.95,
) -> PrecisionOutcome:
    """Run the sequential algorithm.

    `series_up_to(n)` must make sure at least n replications exist and return the watched
    series, each with one value per replication run so far (at least n). `batch` is the
    smallest number of replications to add at a time.
    """
    if precision <= 0:
        raise ValueError("precision must be positive")
    budget = max(int(budget), 2)
    n = min(max(int(initial), 2), budget)
    series = series_up_to(n)
    candidate: int | None = None
    while n <= budget:
        have = min(len(s) for s in series) if series else n
        if have < n:
            # Ask for enough to finish the look-ahead if the precision holds from here.
            want = n + (k_limit(candidate, look_ahead) if candidate else 0)
            series = series_up_to(min(budget, max(n, want, have + batch)))
        d = _worst(series, n, level)
        if d <= precision:
            if candidate is None:
                candidate = n
            if n - candidate >= k_limit(candidate, look_ahead):
                return PrecisionOutcome(candidate, True, precision,
                                        _worst(series, candidate, level))
        else:
            candidate = None
        n += 1
    return PrecisionOutcome(budget, False, precision, _worst(series, budget, level))
