"""Named streams: the quick seeding is numpy's own `SeedSequence`, bit for bit."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mashsim.model import streams
from mashsim.model.streams import Streams


def _numpy_stream(seed: int, replication: int, *name: str) -> np.random.Generator:
    key = zlib.crc32("/".join(name).encode("utf-8"))
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(replication, key))))


def test_the_quick_seeding_is_in_use() -> None:
    assert streams._FAST  # numpy's hashing is what the module computes


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**130), replication=st.integers(0, 2**70),
       name=st.text(min_size=0, max_size=12))
def test_a_stream_is_numpys_seed_sequence_stream(seed: int, replication: int,
                                                 name: str) -> None:
    """Any seed and replication (one word or several) and any name's hash."""
    ours = Streams(seed, replication).rng("new", name, "hub")
    theirs = _numpy_stream(seed, replication, "new", name, "hub")
    assert ours.bit_generator.state == theirs.bit_generator.state
    assert np.array_equal(ours.random(8), theirs.random(8))


@pytest.mark.parametrize(("seed", "replication"), [(0, 0), (1, 0), (2**32 - 1, 2**32 - 1),
                                                   (2**32, 2**32), (2**64 + 3, 5)])
def test_word_boundaries_and_zero(seed: int, replication: int) -> None:
    s = Streams(seed, replication)
    for name in ("", "arrivals", "staffing/rounding/reading"):
        assert s.rng(name).bit_generator.state == _numpy_stream(
            seed, replication, name).bit_generator.state


def test_the_fallback_gives_the_same_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    quick = Streams(9, 4).rng("sharing", "slough").random(5)
    monkeypatch.setattr(streams, "_FAST", False)
    assert np.array_equal(Streams(9, 4).rng("sharing", "slough").random(5), quick)
