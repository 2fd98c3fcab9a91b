"""The per-process memo of a hub's demand draws (`mashsim.model.demand_memo`).

A hit must be exactly a fresh draw; the key must change with every input of the draws
and not with who works; the memo stays within its bound; its arrays cannot be written;
and a plan run with the memo is the plan run without it.
"""

from __future__ import annotations

import types
from dataclasses import fields
from typing import Any

import numpy as np
import pytest

from mashsim.experiment.executors import Task, run_task
from mashsim.experiment.plan import plan
from mashsim.experiment.simulate import simulate
from mashsim.model import demand_memo as dm
from mashsim.model.discussions import PartnerDiscussions, draw_partner_discussions
from mashsim.model.referrals import Referrals, draw_referrals
from mashsim.model.streams import Streams
from mashsim.model.wiring import build_calendar, start_hub_model
from mashsim.scenario.schema import Scenario, load_scenario

from .conftest import DEFAULT, ROOT, SHIPPED

SUMMER = ROOT / "scenarios" / "summer_2023.toml"
HUB = "oxfordshire"  # summer_2023's hub with a backlog
SHIFT = [{"days": ["Mon", "Tue", "Wed"], "start": "08:00", "end": "16:00"}]


@pytest.fixture(scope="module")
def shipped() -> Scenario:
    return load_scenario(SHIPPED)


@pytest.fixture(scope="module")
def summer() -> Scenario:
    """One hub with an initial backlog, linked referrals, adult meetings, MARAC and
    partner discussions (the memo keeps one-hub scenarios' draws)."""
    return load_scenario(SUMMER).hub_alone(HUB)


@pytest.fixture(autouse=True)
def _fresh_memo():
    """An empty memo, kept into (as `plan`'s replications do) unless a test says not."""
    dm.clear_demand_memo()
    with dm.keeping_demand():
        yield
    dm.clear_demand_memo()


def test_only_a_caller_that_asks_keeps_draws(summer: Scenario) -> None:
    """A run's replications are drawn once each: keeping them would only hold memory."""
    with dm.keeping_demand(False):
        simulate(summer, replications=2, seed=1, workers=1)
        dm.hub_demand(summer, Streams(1, 0), build_calendar(summer), HUB)
    assert len(dm.demand_memo()) == 0
    dm.hub_demand(summer, Streams(1, 0), build_calendar(summer), HUB)
    assert len(dm.demand_memo()) == 1


def test_a_plan_task_keeps_draws_and_a_run_task_does_not(summer: Scenario) -> None:
    with dm.keeping_demand(False):
        run_task(Task(summer, 1, 0))
        assert len(dm.demand_memo()) == 0
        run_task(Task(summer, 1, 0, keep_demand=True))
        assert len(dm.demand_memo()) == 1


def _arrays(part: Referrals | PartnerDiscussions) -> dict[str, np.ndarray]:
    return {f.name: getattr(part, f.name) for f in fields(part)}


def _key(sc: Scenario, hub: str = "reading", seed: int = 1, rep: int = 0) -> tuple[Any, ...]:
    return dm.demand_key(sc, Streams(seed, rep), build_calendar(sc), hub)


def test_a_hit_is_a_fresh_draw(summer: Scenario) -> None:
    cal = build_calendar(summer)
    first = dm.hub_demand(summer, Streams(3, 2), cal, HUB)
    again = dm.hub_demand(summer, Streams(3, 2), cal, HUB)
    memo = dm.demand_memo()
    assert (memo.hits, memo.misses) == (1, 1)
    fresh = (draw_referrals(summer, Streams(3, 2), cal, HUB),
             draw_partner_discussions(summer, Streams(3, 2), cal, HUB))
    assert len(fresh[1]) > 0 and fresh[0].linked.any() and (fresh[0].entered == 0).sum() == 150
    for hit, drawn in zip(again, fresh, strict=True):
        got, want = _arrays(hit), _arrays(drawn)
        assert got.keys() == want.keys()
        for name in want:
            assert got[name].dtype == want[name].dtype, name
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    # the same arrays, in new objects: replacing a field cannot reach the memo
    assert again[0] is not first[0] and again[0].created is first[0].created


def test_another_replication_seed_or_hub_is_another_entry(shipped: Scenario) -> None:
    base = _key(shipped)
    assert len({base, _key(shipped, rep=1), _key(shipped, seed=2),
                _key(shipped, hub="slough")}) == 4


@pytest.mark.parametrize("change", [
    {"arrivals.referrals_per_day": 181.0},
    {"arrivals.overdispersion": 0.1},
    {"referral_types.child.share": 0.31},
    {"stages.decision.handling_minutes_by_grade.high":
        {"dist": "triangular", "min": 20, "mode": 31, "max": 60}},
    {"grades.high.handling_minutes": {"dist": "triangular", "min": 30, "mode": 51, "max": 100}},
    {"hubs.oxfordshire.demand_share": 400.0},  # another hub: the shares are normalised
    {"hubs.reading.initial_backlog.count": 5},
    {"strategy_discussions.partner_initiated_per_day": 30.0},
    {"marac.research_minutes": {"dist": "fixed", "value": 61.0}},
    {"rpa.scan_hours": [0.0, 13.0]},
    {"calendar.day_end_hour": 17.5},
    {"calendar.exclude_bank_holidays": False},
    {"run.start_date": "2024-05-02"},
    {"run.duration_days": 183.0},
])
def test_a_demand_input_changes_the_key(shipped: Scenario, change: dict[str, Any]) -> None:
    assert _key(shipped.with_overrides(change)) != _key(shipped)


def test_a_calendar_other_than_the_scenarios_changes_the_key(shipped: Scenario) -> None:
    other = build_calendar(shipped.with_overrides({"calendar.day_start_hour": 8.0}))
    assert dm.demand_key(shipped, Streams(1, 0), other, "reading") != _key(shipped)


@pytest.mark.parametrize("change", [
    {"hubs.reading.roles.researcher.headcount": 7},
    {"hubs.reading.roles.trained_attendee.shifts": SHIFT},
    {"hubs.oxfordshire.roles.decision_maker.headcount": 1},
    {"staffing.overtime.enabled": True, "staffing.overtime.weekly_cap_hours": 20.0},
    {"staffing.overtime.threshold": 10.0},
])
def test_staffing_alone_keeps_the_key(shipped: Scenario, change: dict[str, Any]) -> None:
    assert _key(shipped.with_overrides(change)) == _key(shipped)


@pytest.mark.parametrize("change", [
    {"hubs.reading.staff.headcount": 9},
    {"hubs.reading.staff.shifts": SHIFT},
    {"hubs.reading.sd_attendees.headcount": 4},
])
def test_staff_alone_keeps_the_key(change: dict[str, Any]) -> None:
    one_role = load_scenario(DEFAULT)  # hubs described by `staff`
    assert _key(one_role.with_overrides(change)) == _key(one_role)


def _demand(n: int) -> dm.Demand:
    """n zeros in every field: only the arrays' bytes matter to the bound."""
    return (Referrals(**{f.name: np.zeros(n) for f in fields(Referrals)}),
            PartnerDiscussions(np.zeros(n), np.zeros(n), np.zeros(n)))


def test_the_bound_evicts_the_least_recently_used() -> None:
    one = len(fields(Referrals)) * 800 + 3 * 800  # bytes of _demand(100)
    memo = dm.DemandMemo(max_bytes=2 * one)
    memo.put("a", _demand(100))
    memo.put("b", _demand(100))
    assert memo.bytes == 2 * one and memo.get("a") is not None  # a: now the most recent
    memo.put("c", _demand(100))
    assert memo.get("b") is None and memo.get("a") is not None and memo.get("c") is not None
    assert len(memo) == 2 and memo.bytes == 2 * one
    memo.put("huge", _demand(1000))  # larger than the bound: not kept, nothing evicted
    assert memo.get("huge") is None and len(memo) == 2


def test_a_shared_array_is_counted_once() -> None:
    refs, partner = _demand(100)
    refs.entered = refs.created  # as `draw_referrals` does for new referrals
    memo = dm.DemandMemo()
    memo.put("k", (refs, partner))
    assert memo.bytes == (len(fields(Referrals)) - 1) * 800 + 3 * 800


def test_memo_arrays_are_read_only(summer: Scenario) -> None:
    refs, partner = dm.hub_demand(summer, Streams(1, 0), build_calendar(summer), HUB)
    for part in (refs, partner):
        for name, a in _arrays(part).items():
            assert not a.flags.writeable, name
    with pytest.raises(ValueError, match="read-only"):
        refs.service_hours[0] = 0.0


def test_the_model_starts_from_the_memo(summer: Scenario) -> None:
    start_hub_model(summer, Streams(1, 0))
    start_hub_model(summer.with_overrides({f"hubs.{HUB}.sd_attendees.headcount": 9}),
                    Streams(1, 0))
    assert (dm.demand_memo().hits, dm.demand_memo().misses) == (1, 1)


def test_a_force_is_drawn_not_kept(shipped: Scenario) -> None:
    """Several hubs: every hub's draws kept at once would hold ≈178 bytes a referral."""
    for _ in range(2):
        start_hub_model(shipped, Streams(1, 0))
    assert len(dm.demand_memo()) == 0 and dm.demand_memo().hits == 0


# -- the draws read nothing that the digest leaves out ------------------------------------

class _Reader:
    """Stands for a scenario (or a hub) and notes each field read through it; its
    properties and methods run with the reader as `self`, so their reads are noted too."""

    def __init__(self, obj: Any, path: str, seen: set[str]) -> None:
        self._obj, self._path, self._seen = obj, path, seen

    def __getattr__(self, name: str) -> Any:
        obj = self._obj
        if name in type(obj).model_fields:
            self._seen.add(f"{self._path}{name}")
            value = getattr(obj, name)
            if self._path == "" and name == "hubs":
                return {h: _Reader(hub, "hubs.*.", self._seen) for h, hub in value.items()}
            return value
        attr = getattr(type(obj), name)
        if isinstance(attr, property):
            return attr.fget(self)  # type: ignore[misc]
        if isinstance(attr, types.FunctionType):
            return types.MethodType(attr, self)
        return getattr(obj, name)


def _blind() -> set[str]:
    out = set()
    for key, value in dm.DRAW_BLIND.items():
        if value is True:
            out.add(key)
        else:
            out |= {f"{key}.*.{k}" for k in value["__all__"]}
    return out


def test_the_draws_read_nothing_the_digest_leaves_out(shipped: Scenario,
                                                      summer: Scenario) -> None:
    varied = shipped.with_overrides({
        "arrivals.overdispersion": 0.2, "referral_types.child.repeat_share": 0.3,
        "referral_types.child.month_of_year_weights": [1.0] * 11 + [2.0]})
    seen: set[str] = set()
    for sc in (shipped, summer, varied, load_scenario(DEFAULT)):
        reader: Any = _Reader(sc, "", seen)
        cal = build_calendar(sc)
        hub = next(iter(sc.hubs))
        draw_referrals(reader, Streams(1, 0), cal, hub)
        draw_partner_discussions(reader, Streams(1, 0), cal, hub)
    assert {"arrivals", "referral_types", "hubs.*.demand_share",
            "hubs.*.initial_backlog", "run"} <= seen  # the reader does see reads
    assert not seen & _blind()


# -- results with the memo are results without it ----------------------------------------

def test_a_plan_with_the_memo_is_the_plan_without_it(shipped: Scenario,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sc = shipped.hub_alone("reading").with_overrides({"run.duration_days": 35.0,
                                                      "run.warmup_days": 7.0})

    def planned() -> Any:
        frame = plan(sc, ("sd_breach_72h<=0.2",), "reading.trained_attendee",
                     replications=4, workers=1)
        return frame.attrs["plan"]

    with_memo = planned()
    assert dm.demand_memo().hits > 0  # staffings shared their draws
    assert len(dm.demand_memo()) == 0 == dm.demand_memo().bytes  # and the plan let go
    monkeypatch.setattr(dm, "_MEMO", dm.DemandMemo(max_bytes=0))  # keeps nothing
    without = planned()
    assert dm.demand_memo().hits == 0 and len(dm.demand_memo()) == 0
    assert with_memo == without
