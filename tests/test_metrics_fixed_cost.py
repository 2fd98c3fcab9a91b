"""Issue 16 (fixed cost): what every hub's metrics cost whatever its size, cut without
changing a figure — the metric list worked out once per scenario, each team's rostered
hours and each hub's stage waits computed once, the force-wide buffers mapped only when
written, the backlog band's percentile without `np.percentile` where it is beyond doubt.
The figures themselves are compared bit for bit with the reference set (`baseline.sh`)
and, here, with what the slower way gives."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

from mashsim import load_scenario
from mashsim.metrics import registry as registry_mod
from mashsim.metrics import window as window_mod
from mashsim.metrics.compute import reduce_replication, replication_metrics, slim_record
from mashsim.metrics.registry import (
    COUNT,
    REGISTRY,
    Family,
    Metric,
    Registry,
    _count_percentile_95,
)
from mashsim.metrics.window import ForceWideBuffers, MeasuredTeam, Window
from mashsim.model.replication import replication_parts, run_replication
from mashsim.model.staffing import CapacitySchedule

ROOT = Path(__file__).resolve().parent.parent


def _scenario(days: float = 14.0):
    sc = load_scenario(ROOT / "scenarios" / "thames_valley.toml")
    return sc.with_overrides({"run.duration_days": days, "run.warmup_days": 2.0,
                              "reporting.audit_date": None})


def test_windows_of_one_scenario_share_its_metric_list_and_others_get_their_own() -> None:
    """The list (each metric's `needs`, each family expanded) is worked out once per
    scenario, not once per window; a scenario whose family has other members gets its
    own list, and so does an equal scenario that is another object."""
    expanded: list[object] = []

    def members(scenario):
        expanded.append(scenario)
        return [] if scenario is None else [
            (f"{h:g}", h) for h in scenario.reporting.wait_thresholds_hours]

    reg = Registry([
        Metric("referrals_arrived", COUNT, "arrived", "arrived",
               lambda w: float(np.count_nonzero(w.incl))),
        Family("over_{h}h", COUNT, "over {} h", "over {} h", members,
               lambda w, h: float(np.count_nonzero(w.wait[w.queued] > h)), fixed=False),
    ])
    sc = _scenario().with_overrides({"reporting.wait_thresholds_hours": [1, 4]})
    records = run_replication(sc, 2, 0)
    first, second = (Window([r], sc, force_wide=False) for r in list(records.values())[:2])
    a, b = reg.compute(first), reg.compute(second)
    assert expanded == [sc]  # once, for both windows
    assert list(a) == list(b) == ["referrals_arrived", "over_1h", "over_4h"]
    assert reg.functions(sc) is reg.functions(sc)

    other = sc.with_overrides({"reporting.wait_thresholds_hours": [2, 8, 24]})
    assert reg.names(other) == ["referrals_arrived", "over_2h", "over_8h", "over_24h"]
    assert reg.names(sc) == ["referrals_arrived", "over_1h", "over_4h"]
    equal = sc.with_overrides({})
    assert equal is not sc and reg.names(equal) == reg.names(sc)
    assert expanded == [sc, other, equal]


def test_the_metric_lists_kept_are_few_and_each_holds_its_scenario(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan's many scenarios do not pile up: the oldest list goes past the limit; a
    kept list holds its scenario, whose id therefore cannot name another one."""
    monkeypatch.setattr(registry_mod, "_SCENARIOS_KEPT", 3)
    reg = Registry(REGISTRY.entries)
    scenarios = [_scenario(days) for days in (10.0, 11.0, 12.0, 13.0)]
    for sc in scenarios:
        reg.functions(sc)
    assert [kept[0] for kept in reg._functions.values()] == scenarios[1:]
    assert reg.names(scenarios[0]) == REGISTRY.names(scenarios[0])  # worked out again


def test_the_force_wide_utilisation_reads_the_rostered_hours_the_hubs_computed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each team's rostered hours are integrated once, in its hub's window, and carried
    by its slim team: the force-wide window integrates no schedule again, and its
    figures are those of the full records."""
    sc = _scenario()
    whole = replication_metrics(run_replication(sc, 3, 0), sc)
    calls: list[CapacitySchedule] = []
    original = CapacitySchedule.staff_hours

    def counted(self: CapacitySchedule, lo: float, hi: float) -> float:
        calls.append(self)
        return original(self, lo, hi)

    monkeypatch.setattr(CapacitySchedule, "staff_hours", counted)
    slims = []
    for rec in run_replication(sc, 3, 0).values():
        window = Window([rec], sc, force_wide=False)
        REGISTRY.compute(window)
        slims.append(slim_record(rec, sc, {}, window))
    per_hub_calls = len(calls)
    assert per_hub_calls == len({id(s) for s in calls})  # each schedule once per window
    slim_teams = [t for s in slims for t in s.roles.values()]
    assert all(isinstance(t, MeasuredTeam) and t.rostered_hours is not None
               for t in slim_teams)
    overall = REGISTRY.compute(Window(slims, sc, force_wide=True))
    assert len(calls) == per_hub_calls  # none more
    for name in ("staff_utilisation", "utilisation_researcher", "staff_hours_cost"):
        assert overall[name] == whole["overall"][name], name


def test_a_hubs_stage_waits_are_computed_once_for_its_metrics_and_slim_record(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sc = _scenario()
    rec = run_replication(sc, 3, 0)["reading"]
    computed: list[str] = []
    original = Window._compute_stage_wait

    def counted(self: Window, stage: str) -> np.ndarray:
        computed.append(stage)
        return original(self, stage)

    monkeypatch.setattr(Window, "_compute_stage_wait", counted)
    window = Window([rec], sc, force_wide=False)
    REGISTRY.compute(window)
    slim = slim_record(rec, sc, {}, window)
    assert sorted(computed) == sorted(sc.stages)
    for stage in sc.stages:
        assert slim.stage_wait[stage] is window.stage_wait(stage)


def test_a_windows_cached_figures_are_computed_once_and_kept() -> None:
    sc = _scenario()
    rec = run_replication(sc, 3, 0)["reading"]
    window = Window([rec], sc, force_wide=False)
    assert window.incl is window.incl and "incl" in vars(window)
    np.testing.assert_array_equal(window.incl, rec.referrals.entered >= sc.warmup_hours)
    assert window.grade_mask(1) is window.grade_mask(1)
    np.testing.assert_array_equal(window.grade_mask(1), rec.referrals.grade_idx == 1)


def test_a_buffer_written_only_empty_arrays_holds_nothing_and_types_as_concatenate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A slim record's dropped fields are empty: their buffers hold no memory. Types
    still follow `np.concatenate` (an empty float array after bytes makes floats), and
    a buffer grown in the heap, then mapped, then past its first mapping, holds every
    value in order."""
    monkeypatch.setattr(window_mod, "_FIRST_HEAP_BYTES", 64)  # bytes, then doubling
    monkeypatch.setattr(window_mod, "_HEAP_BYTES", 1024)  # then mapped
    monkeypatch.setattr(window_mod, "_FIRST_MAP_BYTES", mmap.PAGESIZE)
    empty = window_mod._Buffer(np.dtype(float))
    for _ in range(3):
        empty.append(np.empty(0))
    assert empty.mem is None and empty.array.nbytes == 0
    assert empty.view(0, empty.n).dtype == float

    rng = np.random.default_rng(1)
    parts = [rng.random(k) < 0.5 for k in (3, 0, 700)] + [np.empty(0)] + [
        rng.integers(0, 9, k).astype(np.int16) for k in (5, 2000)]
    buf = window_mod._Buffer(parts[0].dtype)
    mapped = []
    for p in parts:
        buf.append(p)
        mapped.append(buf.mem is not None)
    assert mapped == [False, False, False, True, True, True]  # 703 bytes fit, 703 floats not
    want = np.concatenate(parts)
    got = buf.view(0, buf.n)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert buf.mem is not None and len(buf.mem) >= len(want) * want.dtype.itemsize


def test_force_wide_figures_through_the_buffers_are_those_of_all_records() -> None:
    sc = _scenario()
    streamed = reduce_replication(replication_parts(sc, 4, 0), sc)
    whole = replication_metrics(run_replication(sc, 4, 0), sc)
    for scope in whole:
        assert list(streamed[scope]) == list(whole[scope])
        np.testing.assert_array_equal(list(streamed[scope].values()),
                                      list(whole[scope].values()), err_msg=scope)
    joined = ForceWideBuffers()
    assert joined._bufs == {}


def _compares_alike(counts: np.ndarray) -> bool:
    band, mine = float(np.percentile(counts, 95)), _count_percentile_95(counts)
    probe = np.arange(int(counts.min()) - 2, int(counts.max()) + 3)
    return np.array_equal(probe <= band, probe <= mine)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_backlog_band_compares_with_counts_as_np_percentile(seed: int) -> None:
    """Random counts (lengths 1–400, some all equal, some sorted, wide and narrow
    ranges) and the cases nearest a whole number: lengths where (n − 1)·0.95 is one,
    neighbours one apart with the index's fraction near 1."""
    rng = np.random.default_rng(seed)
    for _ in range(1500):
        n = int(rng.integers(1, 400))
        c = rng.integers(0, int(rng.choice([1, 2, 5, 100, 10**6])) + 1, n)
        assert _compares_alike(np.sort(c) if rng.random() < 0.3 else c), c
    for n in (2, 3, 20, 21, 41, 61, 101, 181, 183, 201, 366):
        for top in (0, 1, 2, 7):
            c = rng.integers(0, top + 1, n)
            assert _compares_alike(c), c
            c[np.argsort(c)[-1]] += 1  # the highest one apart from the next
            assert _compares_alike(c), c


def test_the_backlog_band_needs_no_np_percentile_where_it_is_beyond_doubt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = np.percentile
    monkeypatch.setattr(registry_mod.np, "percentile",
                        lambda a, q: calls.append(len(a)) or original(a, q))
    assert _count_percentile_95(np.array([5, 9, 7, 8])) == 8.0  # 7·0.15 + 8·0.85 = 8 - 0.15
    assert _count_percentile_95(np.array([3])) == 3.0
    assert calls == []
    assert _count_percentile_95(np.arange(21)) == 19.0  # index 19.0: let numpy say
    assert calls == [21]
