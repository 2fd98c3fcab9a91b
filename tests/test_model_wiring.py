"""The wiring of one replication: one builder per staffing mechanism, one discipline table."""

from __future__ import annotations

import typing

import numpy as np
import pytest

from mashsim import Scenario
from mashsim.model import policies
from mashsim.model.replication import build_records, run_replication
from mashsim.model.streams import Streams
from mashsim.model.wiring import (
    POOLED,
    HubModel,
    build_discussion_teams,
    build_hub_model,
    build_overflow_team,
    build_overtime,
    build_staff_pools,
    start_hub_model,
)
from mashsim.scenario import disciplines, schema
from mashsim.scenario.disciplines import (
    DISCIPLINES,
    QUEUES,
    SD_DISCIPLINES,
    DeadlineQueue,
    FifoQueue,
    PriorityQueue,
    make_queue,
)

SHORT = {"run.duration_days": 14.0, "run.warmup_days": 0.0}


@pytest.fixture(scope="module")
def short(default_scenario: Scenario) -> Scenario:
    """All nine hubs for two weeks: the builders wire every hub."""
    return default_scenario.with_overrides(SHORT)


def _built(sc: Scenario) -> HubModel:
    return build_hub_model(sc, Streams(3, 0))


# ------------------------------------------------------------------ builders


def test_independent_hubs_each_get_their_own_staff_pool(short: Scenario) -> None:
    model = _built(short)
    assert model.pool_key == {h: h for h in short.hubs}
    for h, hub in model.hubs.items():
        assert hub.staff_src.pools == [model.staff_team(h).pool]
    assert model.overflow_team is None and model.overtime == {}


def test_pooled_hubs_share_one_staff_pool(short: Scenario) -> None:
    model = _built(short.with_overrides({"pooling.mode": "pooled"}))
    assert list(model.staff_teams) == [POOLED]
    shared = model.staff_teams[POOLED].pool
    assert all(hub.staff_src.pools == [shared] for hub in model.hubs.values())
    rostered = sum(model.staff_capacity[h][0].staff_hours(0, 168) for h in short.hubs)
    assert model.staff_teams[POOLED].schedule.staff_hours(0, 168) == pytest.approx(rostered)


def test_overflow_team_comes_after_each_hubs_own_pool(short: Scenario) -> None:
    sc = short.with_overrides({"pooling.mode": "overflow",
                               "pooling.overflow_team.headcount": 3})
    model = _built(sc)
    assert model.overflow_team is not None
    for h, hub in model.hubs.items():  # a source's first pool is the one it prefers
        assert hub.staff_src.pools == [model.staff_team(h).pool, model.overflow_team.pool]


def test_discussion_teams_only_where_attendees_hold_them(short: Scenario) -> None:
    attendees = _built(short.with_overrides({"strategy_discussions.held_by": "attendees"}))
    assert set(attendees.sd_teams) == set(short.hubs)
    by_staff = _built(short.with_overrides({"strategy_discussions.held_by": "staff"}))
    assert by_staff.sd_teams == {}


def test_overtime_controller_per_hub_only_when_enabled(short: Scenario) -> None:
    sc = short.with_overrides({"staffing.overtime.enabled": True,
                               "staffing.overtime.weekly_cap_hours": 10.0})
    assert set(_built(sc).overtime) == set(short.hubs)
    capped_at_zero = sc.with_overrides({"staffing.overtime.weekly_cap_hours": 0.0})
    assert _built(capped_at_zero).overtime == {}


def test_each_builder_adds_only_its_own_mechanism(short: Scenario) -> None:
    sc = short.with_overrides({"pooling.mode": "overflow", "staffing.overtime.enabled": True,
                               "staffing.overtime.weekly_cap_hours": 10.0,
                               "strategy_discussions.held_by": "attendees"})
    model = start_hub_model(sc, Streams(3, 0))
    assert not (model.staff_teams or model.overflow_team or model.sd_teams or model.overtime)
    build_staff_pools(model)
    assert set(model.staff_teams) == set(sc.hubs) and model.overflow_team is None
    build_overflow_team(model)
    assert model.overflow_team is not None and not model.sd_teams
    build_discussion_teams(model)
    assert set(model.sd_teams) == set(sc.hubs) and not model.overtime
    build_overtime(model)
    assert set(model.overtime) == set(sc.hubs)


def test_run_replication_is_build_run_record(small_scenario: Scenario) -> None:
    """Built by hand from the builders, a replication records what run_replication does."""
    model = build_hub_model(small_scenario, Streams(5, 1))
    model.env.run(until=small_scenario.horizon_hours)
    by_hand = build_records(model)["reading"]
    ran = run_replication(small_scenario, 5, 1)["reading"]
    np.testing.assert_array_equal(by_hand.staff_end, ran.staff_end)
    np.testing.assert_array_equal(by_hand.sd_held, ran.sd_held)
    np.testing.assert_array_equal(by_hand.staff.busy, ran.staff.busy)


# ------------------------------------------------------------------ disciplines


def test_every_discipline_the_schema_accepts_has_a_queue() -> None:
    """One table: a name added to the Literal without a queue (or back) fails here."""
    assert set(QUEUES) == set(DISCIPLINES)
    assert typing.get_args(schema.Queue.model_fields["discipline"].annotation) == DISCIPLINES
    assert set(typing.get_args(
        schema.StrategyDiscussions.model_fields["discipline"].annotation)) == set(SD_DISCIPLINES)
    assert set(SD_DISCIPLINES) <= set(DISCIPLINES)
    assert policies.make_queue is disciplines.make_queue  # the old path, the same table


@pytest.mark.parametrize(("name", "kind"), [("fifo", FifoQueue), ("risk", PriorityQueue),
                                            ("deadline", DeadlineQueue)])
def test_make_queue_builds_each_discipline(name: str, kind: type) -> None:
    entry = [0.0, 1.0, 2.0]
    queue = make_queue(name, entry, np.array([2, 0, 1]), np.array([9.0, 8.0, 1.0]))
    assert isinstance(queue, kind)
    for job in range(3):
        queue.push(job)
    expected = {"fifo": [0, 1, 2], "risk": [1, 2, 0], "deadline": [2, 1, 0]}[name]
    assert [queue.pop() for _ in range(3)] == expected


def test_unknown_discipline_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'lifo'.*fifo.*risk.*deadline"):
        make_queue("lifo", [0.0], np.array([0]), np.array([0.0]))


@pytest.mark.parametrize("discipline", SD_DISCIPLINES)
def test_discussion_queue_follows_its_discipline(small_scenario: Scenario,
                                                 discipline: str) -> None:
    sc = small_scenario.with_overrides({"strategy_discussions.discipline": discipline})
    hub = _built(sc).hubs["reading"]
    assert isinstance(hub.sd_src.queue, {"fifo": FifoQueue, "deadline": DeadlineQueue}[discipline])
