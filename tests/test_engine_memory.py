"""Issue 16 (continued): what a running hub and its metrics hold per referral.

A Python list of floats costs 32 bytes a slot (a pointer and a float object); the
engine keeps per-job slots in float arrays (8 bytes), flags in bytes (1) and stage
indices in byte arrays, and a hub's metrics read its record without copying it. These
tests pin the representation (no list as long as the hub's referrals) and the records'
lifetime (a hub's record is gone before the next hub runs), not timings.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from mashsim import load_scenario
from mashsim.metrics import window as window_mod
from mashsim.metrics.compute import reduce_replication
from mashsim.metrics.window import Window
from mashsim.model import wiring
from mashsim.model.engine import Book, float_array, small_ints
from mashsim.model.replication import (
    HubRecord,
    build_records,
    replication_parts,
    run_replication,
)
from mashsim.validation import mmc_scenario

ROOT = Path(__file__).resolve().parent.parent


def _scenario(days: float = 28.0):
    sc = load_scenario(ROOT / "scenarios" / "thames_valley.toml")
    return sc.with_overrides({"run.duration_days": days, "run.warmup_days": 0.0,
                              "reporting.audit_date": None})


def _long_lists(obj: object, n: int, path: str, seen: set[int]) -> list[str]:
    """Attribute paths of lists or tuples with at least n items, in `obj` and the lists,
    dicts, books and queues it holds."""
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    found: list[str] = []
    if isinstance(obj, list | tuple):
        if len(obj) >= n:
            found.append(path)
        items = list(enumerate(obj))[:64]
    elif isinstance(obj, dict):
        items = list(obj.items())[:64]
    elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
        names = list(getattr(obj, "__dict__", {})) + list(getattr(obj, "__slots__", ()))
        items = [(k, getattr(obj, k)) for k in names if hasattr(obj, k)]
    else:
        return found
    for key, value in items:
        if isinstance(value, list | tuple | dict | Book) or type(value).__module__.startswith(
                "mashsim.scenario.disciplines"):
            found += _long_lists(value, n, f"{path}.{key}", seen)
    return found


def test_a_running_hub_holds_no_list_as_long_as_its_referrals() -> None:
    """Entries, deadlines, delays, needs and routes: arrays, not lists of Python objects
    (before: `_entry_list`, `stage_entry`, `sd_entry`, `_sd_delay`, `_next`, the
    deadline queues' deadlines, ... were lists, ≈100 bytes a referral of the hub)."""
    sc = _scenario()
    model = wiring.build_hub_model(sc, wiring.Streams(3, 0), ["reading"])
    model.env.run(until=sc.horizon_hours)
    hub = model.hubs["reading"]
    assert hub.n > 200
    found = _long_lists(hub, hub.n // 2, "hub", set())
    assert found == []


def test_a_stream_no_referral_needs_has_no_slots_but_its_record_has_a_nan_each() -> None:
    """M/M/c needs no discussion, adult meeting or MARAC case: those books hold no slot
    (before: a dozen arrays as long as the referrals, most of the build's page faults),
    and the record still has a NaN per referral for each, as it had."""
    sc = mmc_scenario(9.0, 1.0, 10, horizon_hours=200.0, warmup_hours=0.0)
    model = wiring.build_hub_model(sc, wiring.Streams(3, 0), ["mmc"])
    model.env.run(until=sc.horizon_hours)
    hub = model.hubs["mmc"]
    assert hub.n > 1000
    assert len(hub.sd_book.end) == len(hub.asm_book.end) == len(hub.marac.book.end) == 0
    assert len(hub.sd_entry) == len(hub.asm_entry) == len(hub.marac.listed) == 0
    assert len(hub.staff_book.end) == hub.n  # the staff book: referrals only
    rec = build_records(model)["mmc"]
    work = rec.work
    assert work is not None
    for a in (rec.sd_held, work.asm_held, work.marac_listed, work.marac_heard,
              work.marac_first_meeting, work.marac_researched):
        assert a.shape == (hub.n,) and np.isnan(a).all()
    assert np.isfinite(rec.staff_end).mean() > 0.9


def test_compact_arrays_hold_the_values() -> None:
    values = np.array([0.1, np.nan, np.inf, -3.5])
    assert float_array(values).tolist()[::2] == [0.1, np.inf]
    assert list(small_ints(np.array([-1, 0, 3]))) == [-1, 0, 3]
    assert small_ints(np.array([1, 500])).typecode == "q"  # too big for a byte


def test_a_hubs_window_reads_its_record_without_copying_it() -> None:
    sc = _scenario()
    rec = run_replication(sc.with_overrides({}), 3, 0)["reading"]
    w = Window([rec], sc, force_wide=False)
    assert w.refs.created is rec.referrals.created
    assert w.v.end is rec.staff_end
    assert w.v.stage_entry["research"] is rec.stage_entry["research"]


def test_a_hubs_record_is_gone_before_the_next_hub_runs() -> None:
    """`reduce_replication` keeps only the slim record of a finished hub: the full one
    (its loop variable, before) is freed before the next group is simulated."""
    sc = _scenario(14.0)
    refs: list[weakref.ref[HubRecord]] = []
    alive_when_next_ran: list[bool] = []

    def parts() -> Iterator[dict[str, HubRecord]]:
        for part in replication_parts(sc, 2, 0):
            if refs:
                gc.collect()
                alive_when_next_ran.append(refs[-1]() is not None)
            refs.extend(weakref.ref(r) for r in part.values())
            yield part
            del part

    reduce_replication(parts(), sc)
    assert len(alive_when_next_ran) == len(sc.hubs) - 1
    assert not any(alive_when_next_ran)


def test_work_metrics_read_one_record_without_copying_it() -> None:
    """A hub's work metrics read its `WorkRecord` as it is; the force-wide window joins
    the hubs' work records field by field into one, each hub's array dropped once
    copied, so the work metrics hold one copy of every hub's work, not two."""
    from mashsim.metrics import work as work_metrics
    from mashsim.metrics.compute import slim_record

    sc = _scenario(14.0)
    records = run_replication(sc, 4, 0)
    rec = records["reading"]
    assert work_metrics.work(Window([rec], sc, force_wide=False)) is rec.work
    lengths = sum(len(r.work.asm_held) for r in records.values() if r.work is not None)
    slim = [slim_record(r, sc) for r in records.values()]
    w = Window(slim, sc, force_wide=True, release=True)
    joined = work_metrics.work(w)
    assert len(joined.asm_held) == lengths
    held = [r.work for r in slim if r.work is not None]
    assert held == [joined]  # one record left, the joined one: no per-hub copies


def test_force_wide_buffers_hold_the_join_and_drop_each_hubs_arrays() -> None:
    """The force-wide arrays written hub by hub (`ForceWideBuffers`) are exactly each
    field's concatenation, of its type; a hub's arrays are not kept alive by the empty
    ones left in its slim record (a `[:0]` view would hold its whole array)."""
    from mashsim.metrics.compute import slim_record
    from mashsim.metrics.window import ForceWideBuffers

    sc = _scenario(days=35.0)
    records = run_replication(sc, 3, 0)
    slims = [slim_record(rec, sc) for rec in records.values()]
    expected = {f: np.concatenate([getattr(s.referrals, f) for s in slims])
                for f in ("entered", "sd_needed", "grade_idx")}
    expected["staff_end"] = np.concatenate([s.staff_end for s in slims])
    gone = weakref.ref(slims[1].staff_end)
    joined = ForceWideBuffers()
    for s in slims:
        joined.take(s)
    del records
    gc.collect()
    assert gone() is None
    joined.restore(slims)
    for f in ("entered", "sd_needed", "grade_idx"):
        got = getattr(slims[0].referrals, f)
        assert got.dtype == expected[f].dtype and np.array_equal(got, expected[f])
        assert all(len(getattr(s.referrals, f)) == 0 for s in slims[1:])
    assert np.array_equal(slims[0].staff_end, expected["staff_end"], equal_nan=True)


def _traced_peak_bytes(f: Callable[[], object]) -> int:
    """Peak bytes that tracemalloc saw allocated above the level at the call (numpy's
    arrays included; the force-wide buffers, in mapped memory, are not)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        f()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_force_wide_metrics_hold_few_arrays_of_the_force_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every force-wide metric, once the hubs' arrays are joined: at most 4 float arrays
    of the force's length in temporaries and caches at any moment (before: 7 — the
    staff-wait and end-or-now caches held to the end, peak backlog's four arrays, ...).
    Small blocks stand for a national run's, whose arrays are millions long."""
    from mashsim.metrics.compute import slim_record
    from mashsim.metrics.registry import REGISTRY
    from mashsim.metrics.window import ForceWideBuffers

    monkeypatch.setattr(window_mod, "_BLOCK", 256)
    sc = _scenario()
    slims = [slim_record(rec, sc) for rec in run_replication(sc, 3, 0).values()]
    joined = ForceWideBuffers()
    for s in slims:
        joined.take(s)
    joined.restore(slims)
    n = len(slims[0].referrals.entered)
    assert n > 4000
    window = Window(slims, sc, force_wide=True, release=True)
    assert _traced_peak_bytes(lambda: REGISTRY.compute(window)) <= 4 * 8 * n


def test_utilisation_sorts_a_hubs_spells_with_few_arrays_of_them() -> None:
    """Busy on-duty hours: at most 4.5 float arrays of the points (every spell's start
    and end, the roster's changes) at once (before: 6)."""
    sc = _scenario()
    team = max((rec.staff for rec in run_replication(sc, 3, 0).values()),
               key=lambda t: len(t.busy))
    points = 2 * len(team.busy) + len(team.schedule.times_hours) + 2
    assert points > 2000
    peak = _traced_peak_bytes(lambda: window_mod._busy_on_duty_hours(
        team.busy, team.schedule, sc.warmup_hours, sc.horizon_hours))
    assert peak <= 4.5 * 8 * points


@pytest.mark.parametrize("seed", [0, 1])
def test_block_wise_figures_are_those_of_whole_arrays(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Peak count, overlap hours and masked differences a block at a time (blocks of 7,
    so that every boundary is crossed) give the very figures of whole-array numpy."""
    rng = np.random.default_rng(seed)
    n = 1000
    a = np.round(rng.uniform(-20, 400, n), 1)
    b = np.round(a + rng.exponential(3.0, n), 1)
    b[rng.random(n) < 0.1] = np.nan
    mask = rng.random(n) < 0.6
    lo, hi = 0.0, 350.0
    end = np.where(np.isfinite(b), b, hi)
    whole = (window_mod.max_open(a, b, lo, hi), window_mod.overlap_hours(a, end, lo, hi),
             window_mod.masked_difference(end, a, mask))
    monkeypatch.setattr(window_mod, "_BLOCK", 7)
    assert window_mod.max_open(a, b, lo, hi) == whole[0]
    hours = window_mod.overlap_hours(a, end.copy(), lo, hi, own=True)
    assert hours.tobytes() == whole[1].tobytes()
    want = np.clip(np.minimum(end, hi) - np.maximum(a, lo), 0.0, None)
    assert hours.tobytes() == want.tobytes()
    diff = window_mod.masked_difference(end, a, mask)
    assert diff.tobytes() == whole[2].tobytes() == (end - a)[mask].tobytes()
