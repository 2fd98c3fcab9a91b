"""Issue 16 (continued): what a running hub and its metrics hold per referral.

A Python list of floats costs 32 bytes a slot (a pointer and a float object); the
engine keeps per-job slots in float arrays (8 bytes), flags in bytes (1) and stage
indices in byte arrays, and a hub's metrics read its record without copying it. These
tests pin the representation (no list as long as the hub's referrals) and the records'
lifetime (a hub's record is gone before the next hub runs), not timings.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mashsim import load_scenario
from mashsim.metrics.compute import reduce_replication
from mashsim.metrics.window import Window
from mashsim.model import wiring
from mashsim.model.engine import Book, float_array, small_ints
from mashsim.model.replication import HubRecord, replication_parts, run_replication

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
