"""Named random streams: one generator per random source, per replication.

A stream's seed is derived from (seed, replication, hash of its name), never from
its position in a list, so adding a random source never shifts the others, and the
same (scenario, seed, replication) gives the same numbers on any worker. Streams are
also shared across scenarios (common random numbers): two staffing levels see the
same referrals.

A stream is `PCG64(SeedSequence(seed, spawn_key=(replication, crc32(name))))`. A
replication makes several hundred of them (≈85 a hub), and numpy's `SeedSequence` and
its `generate_state` cost ≈10 µs a stream, most of it converting and allocating small
arrays. `_SeedWords` computes the same four state words (numpy's documented hashing,
O'Neill's seed_seq, whose output numpy keeps stable) with the part that depends on
(seed, replication) done once per `Streams`, and hands them to `PCG64`: the same
generator, bit for bit, in about half the time. An import-time check compares it with
numpy's own on a few keys and falls back to `SeedSequence` should they ever differ.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

__all__ = ["Streams"]

_MASK = 0xFFFFFFFF
# numpy.random.SeedSequence's constants (bit_generator.pyx)
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4  # SeedSequence's default pool size, in 32-bit words


def _words32(n: int) -> list[int]:
    """A non-negative int as 32-bit words, least significant first (0: one word)."""
    if n == 0:
        return [0]
    out = []
    while n:
        out.append(n & _MASK)
        n >>= 32
    return out


def _hashmix(value: int, hash_const: int) -> tuple[int, int]:
    """(hashed value, next hash constant)."""
    value ^= hash_const
    hash_const = hash_const * _MULT_A & _MASK
    value = value * hash_const & _MASK
    return value ^ (value >> 16), hash_const


def _mix(x: int, y: int) -> int:
    r = (_MIX_L * x - _MIX_R * y) & _MASK
    return r ^ (r >> 16)


def _absorb(pool: list[int], hash_const: int, word: int) -> int:
    """Mix one more entropy word into every pool word; the next hash constant."""
    for d in range(_POOL):
        h, hash_const = _hashmix(word, hash_const)
        pool[d] = _mix(pool[d], h)
    return hash_const


def _prefix_pool(seed: int, replication: int) -> tuple[list[int], int]:
    """The pool and hash constant of `SeedSequence(seed, spawn_key=(replication, k))`
    after every entropy word but k's (k's come last, so this is shared by all keys)."""
    entropy = _words32(seed)
    entropy += [0] * (_POOL - len(entropy))  # padded: a spawn key follows
    pool, hash_const = [0] * _POOL, _INIT_A
    for i in range(_POOL):
        pool[i], hash_const = _hashmix(entropy[i], hash_const)
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                h, hash_const = _hashmix(pool[src], hash_const)
                pool[dst] = _mix(pool[dst], h)
    for word in entropy[_POOL:] + _words32(replication):
        hash_const = _absorb(pool, hash_const, word)
    return pool, hash_const


class _SeedWords(ISeedSequence):
    """A seed sequence whose state words are already known (what `PCG64` asks of one)."""

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        if n_words != 4 or dtype is not np.uint64:  # PCG64 asks for exactly this
            raise ValueError("precomputed seed words: 4 uint64 words only")
        return self.words


def _state_words(prefix: tuple[list[int], int], key: int) -> np.ndarray:
    """`SeedSequence(seed, spawn_key=(replication, key)).generate_state(4, np.uint64)`."""
    pool, hash_const = list(prefix[0]), prefix[1]
    for word in _words32(key):
        hash_const = _absorb(pool, hash_const, word)
    out, hash_const = [], _INIT_B
    for i in range(2 * _POOL):
        v = pool[i % _POOL] ^ hash_const
        hash_const = hash_const * _MULT_B & _MASK
        v = v * hash_const & _MASK
        out.append(v ^ (v >> 16))
    return np.array([out[0] | out[1] << 32, out[2] | out[3] << 32,
                     out[4] | out[5] << 32, out[6] | out[7] << 32], dtype=np.uint64)


def _agrees_with_numpy() -> bool:
    """Whether `_state_words` gives numpy's own words (checked once, at import)."""
    for seed, replication, key in ((0, 0, 0), (1, 3, 123456789), (2**40 + 7, 2**33, 2**32 - 1)):
        ours = _state_words(_prefix_pool(seed, replication), key)
        theirs = np.random.SeedSequence(seed, spawn_key=(replication, key)).generate_state(
            4, np.uint64)
        if not np.array_equal(ours, theirs):
            return False
    return True


_FAST = _agrees_with_numpy()


class Streams:
    """Factory of independent `numpy.random.Generator`s keyed by name."""

    def __init__(self, seed: int, replication: int) -> None:
        if seed < 0 or replication < 0:
            raise ValueError("seed and replication must be non-negative")
        self.seed = seed
        self.replication = replication
        self._prefix: tuple[list[int], int] | None = None  # computed at the first stream

    def rng(self, *name: str) -> np.random.Generator:
        """The generator for a source, e.g. `rng("arrivals", "reading")`."""
        key = zlib.crc32("/".join(name).encode("utf-8"))
        if _FAST:
            if self._prefix is None:
                self._prefix = _prefix_pool(self.seed, self.replication)
            # numpy takes any ISeedSequence here; its stubs name only SeedSequence
            words = _SeedWords(_state_words(self._prefix, key))
            return np.random.Generator(np.random.PCG64(words))  # type: ignore[arg-type]
        ss = np.random.SeedSequence(self.seed, spawn_key=(self.replication, key))
        return np.random.Generator(np.random.PCG64(ss))
