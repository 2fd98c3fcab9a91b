"""Named random streams: one generator per random source, per replication.

A stream's seed is derived from (seed, replication, hash of its name), never from
its position in a list, so adding a random source never shifts the others, and the
same (scenario, seed, replication) gives the same numbers on any worker. Streams are
also shared across scenarios (common random numbers): two staffing levels see the
same referrals.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Streams"]


class Streams:
    """Factory of independent `numpy.random.Generator`s keyed by name."""

    def __init__(self, seed: int, replication: int) -> None:
        if seed < 0 or replication < 0:
            raise ValueError("seed and replication must be non-negative")
        self.seed = seed
        self.replication = replication

    def rng(self, *name: str) -> np.random.Generator:
        """The generator for a source, e.g. `rng("arrivals", "reading")`."""
        key = zlib.crc32("/".join(name).encode("utf-8"))
        ss = np.random.SeedSequence(self.seed, spawn_key=(self.replication, key))
        return np.random.Generator(np.random.PCG64(ss))
