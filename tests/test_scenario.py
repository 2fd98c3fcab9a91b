"""Scenario loading, validation with key paths, overrides and the TOML round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from mashsim import Scenario, ScenarioError, load_scenario
from mashsim.scenario import parse_override

from .conftest import DEFAULT, ROOT


def test_default_scenario_has_nine_hubs(default_scenario: Scenario) -> None:
    assert len(default_scenario.hubs) == 9
    assert set(default_scenario.type_names) >= {"domestic_abuse", "child", "vulnerable_adult"}


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").rglob("*.toml")), ids=str)
def test_every_shipped_scenario_validates(path: Path) -> None:
    assert isinstance(load_scenario(path), Scenario)


def test_round_trip_through_toml(default_scenario: Scenario, tmp_path: Path) -> None:
    sc = default_scenario.with_overrides({"hubs.reading.staff.headcount": 12})
    sc.to_toml(tmp_path / "what_if.toml")
    again = load_scenario(tmp_path / "what_if.toml")
    assert again == sc
    assert again.hubs["reading"].staff.headcount == 12


def test_override_changes_only_its_path(default_scenario: Scenario) -> None:
    sc = default_scenario.with_overrides({"queue.discipline": "risk"})
    assert sc.queue.discipline == "risk"
    assert sc.hubs == default_scenario.hubs
    assert default_scenario.queue.discipline == "fifo"  # the original is untouched (frozen)


def test_override_into_list_by_index(default_scenario: Scenario) -> None:
    sc = default_scenario.with_overrides({"hubs.slough.staff.shifts.0.end": "19:00"})
    assert sc.hubs["slough"].staff.shifts[0].end == "19:00"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"hubs.reading.staff.headcount": -2}, "hubs.reading.staff.headcount"),
        ({"hubs.nowhere.staff.headcount": 2}, "unknown key 'nowhere'"),
        ({"arrivals.referrals_per_day": -1}, "arrivals.referrals_per_day"),
        ({"queue.discipline": "lifo"}, "queue.discipline"),
        ({"hubs.reading.staff.shifts.0.start": "25:00"}, "hubs.reading.staff.shifts.0.start"),
        ({"hubs.reading.staff.shifts.0.end": "09:00"}, "impossible shift"),
        ({"grades.high.handling_minutes.mode": 500}, "grades.high.handling_minutes"),
        ({"run.warmup_days": 500}, "warmup_days"),
        ({"rpa.scan_hours": [24, 0]}, "rpa.scan_hours"),
    ],
)
def test_bad_overrides_name_the_key(
    default_scenario: Scenario, overrides: dict, needle: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        default_scenario.with_overrides(overrides)
    assert any(needle in p for p in err.value.problems), err.value.problems


def test_every_problem_is_reported_at_once(default_scenario: Scenario) -> None:
    with pytest.raises(ScenarioError) as err:
        default_scenario.with_overrides(
            {"hubs.reading.staff.headcount": -1, "hubs.slough.demand_share": "lots", "x.y": 1}
        )
    assert len(err.value.problems) == 3


def test_unknown_key_in_file(tmp_path: Path) -> None:
    text = DEFAULT.read_text().replace("[run]", "[run]\nspeed = 3", 1)
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "s.toml")
    assert err.value.problems == [f"{tmp_path / 's.toml'}: run.speed: unknown key"]


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[run\nduration_days = 3\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "bad.toml")
    assert "bad.toml: not valid TOML" in err.value.problems[0]


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario("no/such/file.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.b=12", ("a.b", 12)),
        ("a.b = 1.5", ("a.b", 1.5)),
        ("a.b=fifo", ("a.b", "fifo")),
        ('a.b="x y"', ("a.b", "x y")),
        ("a.b=[0, 24]", ("a.b", [0, 24])),
        ("a.b=true", ("a.b", True)),
    ],
)
def test_parse_override_reads_toml_values(text: str, expected: tuple) -> None:
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["no_equals", "=3"])
def test_parse_override_rejects_malformed(text: str) -> None:
    with pytest.raises(ScenarioError):
        parse_override(text)
