"""Scenario loading, validation with key paths, overrides and the TOML round trip."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mashsim import Scenario, ScenarioError, load_scenario
from mashsim.errors import InputError
from mashsim.scenario.schema import display_label, parse_override

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


# -- answers nobody can misread: bounds, dates, names, shifts, messages, labels ------------

def _write(tmp_path: Path, old: str, new: str, name: str = "s.toml") -> Path:
    text = DEFAULT.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _problems_of(call, *args) -> list[str]:
    with pytest.raises(InputError) as err:
        call(*args)
    assert all("\n" not in p for p in err.value.problems)  # one line each
    return err.value.problems


def test_input_error_is_the_scenario_error() -> None:
    assert ScenarioError is InputError  # old `except ScenarioError` code still catches it


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(DEFAULT.read_text(encoding="utf-8").replace(
        'name = "Thames Valley', 'name = "Th\u00e9mes Valley', 1).encode("latin-1",
                                                                          "replace"))
    (problem,) = _problems_of(load_scenario, path)
    assert problem.startswith(f"{path}: not UTF-8 text: byte 0xe9 on line ")


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + DEFAULT.read_bytes())
    assert load_scenario(path) == load_scenario(DEFAULT)


def _numeric_leaves(node: object, prefix: str = "") -> list[str]:
    """Dotted paths of the numbers in a scenario dict (first hub, type and list item only)."""
    if isinstance(node, dict):
        items = list(node.items())
        if prefix in ("hubs.", "referral_types."):
            items = items[:1]
        return [p for k, v in items for p in _numeric_leaves(v, f"{prefix}{k}.")]
    if isinstance(node, list):
        return _numeric_leaves(node[0], f"{prefix}0.") if node else []
    is_number = isinstance(node, int | float) and not isinstance(node, bool)
    return [prefix[:-1]] if is_number else []


NUMERIC_PATHS = _numeric_leaves(load_scenario(DEFAULT).to_dict())
FUZZ_BASE = load_scenario(DEFAULT)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 1e300, 2**63],
                         ids=["inf", "-inf", "nan", "1e300", "2**63"])
def test_every_number_must_be_finite_and_bounded(default_scenario: Scenario, bad: float) -> None:
    assert len(NUMERIC_PATHS) > 60  # the walk really covers the scenario
    let_through = []
    for path in NUMERIC_PATHS:
        try:
            default_scenario.with_overrides({path: bad})
        except InputError as err:
            assert any(f": {path}: " in p or f": {path.rsplit('.', 1)[0]}: " in p
                       for p in err.problems), (path, err.problems)
        else:
            let_through.append(path)
    assert not let_through


def _numbers_without_upper_bound(schema: dict) -> list[str]:
    defs = schema.get("$defs", {})
    out = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("number", "integer") and not (
                    "maximum" in node or "exclusiveMaximum" in node):
                out.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(schema, "#")
    assert defs  # the distributions and sub-tables are in there
    return out


def test_every_numeric_field_has_an_upper_bound() -> None:
    """Distributions not in the default scenario (gamma, empirical) included."""
    assert _numbers_without_upper_bound(Scenario.model_json_schema()) == []


@pytest.mark.parametrize(("old", "new", "needle"), [
    ("referrals_per_day = 180", "referrals_per_day = inf", "arrivals.referrals_per_day: "),
    ("referrals_per_day = 180", "referrals_per_day = 1e300", "arrivals.referrals_per_day: "),
    ("headcount = 4", "headcount = 9223372036854775808", "hubs.reading.staff.headcount: "),
    ("min = 60, mode = 90", "min = 60, mode = nan", "grades.high.handling_minutes.mode: "),
])
def test_bad_numbers_in_a_file_name_the_key(tmp_path: Path, old: str, new: str,
                                            needle: str) -> None:
    path = _write(tmp_path, old, new)
    assert any(p.startswith(f"{path}: {needle}") for p in _problems_of(load_scenario, path))


@pytest.mark.parametrize("date", ["1899-12-31", "2201-01-01", "0001-01-01"])
def test_dates_outside_1900_2200_are_rejected(tmp_path: Path, date: str) -> None:
    path = _write(tmp_path, "start_date = 2025-04-07", f"start_date = {date}")
    (problem,) = _problems_of(load_scenario, path)
    assert problem.startswith(f"{path}: run.start_date: ") and "YYYY-MM-DD" in problem


@pytest.mark.parametrize("text", ["2025-13-01", "7 April 2025", "2025-04-07T10:30:00"])
def test_a_bad_date_names_the_format(default_scenario: Scenario, text: str) -> None:
    (problem,) = _problems_of(default_scenario.with_overrides, {"run.start_date": text})
    assert problem.startswith("--set: run.start_date: must be a date YYYY-MM-DD")
    assert repr(text) in problem


@pytest.mark.parametrize("table", ["hubs", "referral_types"])
def test_names_with_a_trailing_newline_are_rejected(default_scenario: Scenario,
                                                    table: str) -> None:
    data = default_scenario.to_dict()
    first = next(iter(data[table]))
    data[table][f"{first}\n"] = data[table].pop(first)
    (problem,) = _problems_of(Scenario.from_dict, data)
    assert f"{table}: name '{first}\\n' must be lower case" in problem


def test_a_trailing_newline_name_in_a_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[hubs.reading]", '[hubs."reading\\n"]')
    (problem,) = _problems_of(load_scenario, path)
    assert problem.startswith(f"{path}: hubs: name 'reading\\n'")


def test_overnight_slip_is_an_error_not_a_16_hour_shift(tmp_path: Path) -> None:
    """Reading's 09:00-17:00 typed as 17:00-09:00 validated as a 16-hour overnight shift."""
    old = ('headcount = 4, shifts = [{ days = ["Mon", "Tue", "Wed", "Thu", "Fri"], '
           'start = "09:00", end = "17:00" }]')
    path = _write(tmp_path, old, old.replace('start = "09:00", end = "17:00"',
                                             'start = "17:00", end = "09:00"'))
    (problem,) = _problems_of(load_scenario, path)
    assert problem.startswith(f"{path}: hubs.reading.staff.shifts.0: shift 17:00-09:00 is 16 "
                              "hours long (an end at or before the start runs past midnight)")
    assert "long_shift = true" in problem


def test_long_shift_opt_in_and_the_12_hour_limit(default_scenario: Scenario) -> None:
    base = "hubs.reading.staff.shifts.0"
    twelve = default_scenario.with_overrides({f"{base}.start": "08:00", f"{base}.end": "20:00"})
    assert twelve.hubs["reading"].staff.shifts[0].length_hours == 12
    _problems_of(default_scenario.with_overrides, {f"{base}.end": "21:01"})
    night = default_scenario.with_overrides({f"{base}.start": "17:00", f"{base}.end": "09:00",
                                             f"{base}.long_shift": True})
    assert night.hubs["reading"].staff.shifts[0].length_hours == 16


def test_got_is_not_doubled(default_scenario: Scenario) -> None:
    (problem,) = _problems_of(default_scenario.with_overrides,
                              {"hubs.reading.staff.shifts.0.start": "25:00"})
    assert problem.count("'25:00'") == 1, problem


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("[run]", "[run]\nduration_dys = 3", "run.duration_dys: unknown key; did you mean "
                                         "'duration_days'?"),
    ("min = 60, mode = 90", "min = 60, mod = 90, mode = 90",
     "grades.high.handling_minutes.mod: unknown key; did you mean 'mode'?"),
    ("[hubs.reading]\ndemand_share = 174", "[hubs.reading]\ndemand_shar = 174",
     "hubs.reading.demand_shar: unknown key; did you mean 'demand_share'?"),
])
def test_unknown_key_suggests_the_nearest(tmp_path: Path, old: str, new: str,
                                          expected: str) -> None:
    path = _write(tmp_path, old, new)
    assert f"{path}: {expected}" in _problems_of(load_scenario, path)


def test_unknown_override_key_suggests_the_nearest(default_scenario: Scenario) -> None:
    (problem,) = _problems_of(default_scenario.with_overrides,
                              {"hubs.reading.staf.headcount": 3})
    assert "unknown key 'staf'; did you mean 'staff'?" in problem


def test_hub_named_like_a_distribution_keeps_its_path(default_scenario: Scenario) -> None:
    data = default_scenario.to_dict()
    data["hubs"]["uniform"] = {**data["hubs"]["reading"], "demand_share": -1}
    (problem,) = _problems_of(Scenario.from_dict, data)
    assert problem.startswith("<scenario>: hubs.uniform.demand_share: ")


def test_set_without_equals_says_what_it_expects() -> None:
    (problem,) = _problems_of(parse_override, "hubs.reading.staff.headcount")
    assert "--set expects PATH=VALUE" in problem


def test_working_clock_target_beyond_the_calendar(default_scenario: Scenario) -> None:
    ok = default_scenario.with_overrides({"grades.high.decision_target.amount": 40})
    assert ok.grades["high"].decision_target.amount == 40
    (problem,) = _problems_of(default_scenario.with_overrides,
                              {"grades.high.decision_target.amount": 20_000})
    assert problem.startswith("--set: grades.high.decision_target: 20000 working_hours takes")


def test_initial_backlog_ages_must_be_bounded(default_scenario: Scenario) -> None:
    path = "hubs.reading.initial_backlog"
    (problem,) = _problems_of(default_scenario.with_overrides, {
        f"{path}.count": 5, f"{path}.age_days": {"dist": "exponential", "mean": 3}})
    assert problem.startswith(f"--set: {path}: age_days must stay within 0-365 days")


def test_display_labels_default_to_title_cased_ids(default_scenario: Scenario) -> None:
    assert display_label("summer_2023_recovery") == "Summer 2023 Recovery"
    assert default_scenario.hub_display_label("bracknell_forest") == "Bracknell Forest"
    assert default_scenario.hubs["reading"].display_label("reading") == "Reading"
    assert default_scenario.display_label == default_scenario.name  # already display text
    assert default_scenario.with_overrides({"name": "summer_2023"}).display_label == \
        "Summer 2023"


def test_labels_round_trip_through_toml(default_scenario: Scenario, tmp_path: Path) -> None:
    sc = default_scenario.with_overrides({"label": "Baseline, 2025",
                                          "hubs.reading.label": "Reading & Wokingham MASH"})
    sc.to_toml(tmp_path / "labelled.toml")
    again = load_scenario(tmp_path / "labelled.toml")
    assert again == sc
    assert again.display_label == "Baseline, 2025"
    assert again.hub_display_label("reading") == "Reading & Wokingham MASH"


@pytest.mark.parametrize(("label", "reason"), [
    ("", "at least 1 character"), ("two\nlines", "one line"), ("x" * 101, "at most 100")])
def test_bad_labels(default_scenario: Scenario, label: str, reason: str) -> None:
    (problem,) = _problems_of(default_scenario.with_overrides, {"hubs.reading.label": label})
    assert problem.startswith("--set: hubs.reading.label: ") and reason in problem


# -- fuzz: whatever the text, only InputError -------------------------------------------------

FUZZ_PATHS = [
    *NUMERIC_PATHS, "name", "label", "run.start_date", "hubs.reading.staff.shifts.0.start",
    "hubs.reading.staff.shifts.0.end", "hubs.reading.staff.shifts.0.days.0",
    "queue.discipline", "grades.high.decision_target.clock", "reporting.audit_date",
    "grades.high.handling_minutes", "hubs.reading", "arrivals.date_multipliers.0.start"]

fuzz_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([1e300, -1e300, 2**31, 2**63, 0, -1, 24, "25:00", "24:00", "17:00",
                     "2025-13-01", "1899-12-31", "reading\n", "", True, None]),
    st.text(max_size=12),
    st.dates(),
    st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.sampled_from(["dist", "min", "mode", "max", "mean", "value", "x"]),
                    st.one_of(st.floats(), st.integers(), st.sampled_from(["fixed", "gamma"])),
                    max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(FUZZ_PATHS), value=fuzz_values)
def test_fuzzed_overrides_raise_only_input_error(path: str, value: object) -> None:
    try:
        sc = FUZZ_BASE.with_overrides({path: value})
    except InputError as err:
        assert err.problems and all("\n" not in p for p in err.problems)
        return
    numbers = [_value_at(sc.to_dict(), p) for p in _numeric_leaves(sc.to_dict())]
    assert all(math.isfinite(x) and abs(x) <= 2e6 for x in numbers)  # what run can take


def _value_at(data: object, path: str) -> float:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


NUMBER_LITERAL = re.compile(r"(?<=[=,\[] )-?\d[\d_.eE+-]*(?=[ ,\]\n])")

fuzz_literals = st.one_of(
    st.sampled_from(["inf", "-inf", "nan", "1e300", "9223372036854775808", "2147483648",
                     "1" * 5000, "0", "-1", "1e-300", '"x"', "[[[[1]]]]", "true",
                     "1979-05-27T07:32:00", "2025-13-01", '"\\u0000"', "\udcff"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=-(2**66), max_value=2**66).map(str),
    st.text(max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzzed_files_raise_only_input_error(tmp_path_factory: pytest.TempPathFactory,
                                             data: st.DataObject) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    spots = list(NUMBER_LITERAL.finditer(text))
    spot = data.draw(st.sampled_from(spots))
    literal = data.draw(fuzz_literals)
    path = tmp_path_factory.mktemp("fuzz") / "s.toml"
    mutated = text[: spot.start()] + literal + text[spot.end():]
    path.write_bytes(mutated.encode("utf-8", "surrogateescape"))  # "\udcff": a bad byte
    try:
        load_scenario(path)
    except InputError as err:
        assert err.problems and all("\n" not in p for p in err.problems)


def test_scenario_wide_check_names_its_key(default_scenario: Scenario) -> None:
    (problem,) = _problems_of(default_scenario.with_overrides,
                              {"reporting.audit_date": "2020-01-01"})
    assert problem.startswith("--set: reporting.audit_date: 2020-01-01 must fall between")


# ------------------------------------------------------------ one home per list of names


def test_lists_of_names_are_read_from_the_schemas_literals() -> None:
    import typing

    from mashsim.model import calendar
    from mashsim.scenario import schema

    assert typing.get_args(schema.GradeName) == schema.GRADES
    assert typing.get_args(schema.DayName) == schema.DAY_NAMES
    assert calendar.CLOCKS is schema.CLOCKS == typing.get_args(schema.Clock)
    fields = schema.Scenario.model_fields
    assert typing.get_args(fields["grades"].annotation)[0] is schema.GradeName
    for model, key in ((schema.Rpa, "early_notification_queue_as"),
                       (schema.StrategyDiscussions, "staff_queue_as")):
        assert model.model_fields[key].annotation is schema.GradeName, key
    for table in (schema.GradeMix, schema.GradeShares):  # per-grade tables: one field a grade
        assert tuple(table.model_fields) == schema.GRADES, table


def test_grade_tables_read_in_grades_order() -> None:
    from mashsim.scenario.schema import GradeMix, ReferralType

    assert GradeMix(high=1, medium=2, standard=5).probabilities() == (0.125, 0.25, 0.625)
    typed = ReferralType.model_validate({"share": 1, "strategy_discussion_share_by_grade": {
        "high": 0.9, "medium": 0.5, "standard": 0.1}})
    assert typed.sd_share_by_grade() == (0.9, 0.5, 0.1)


def test_distribution_families_are_read_from_the_union() -> None:
    import typing

    from mashsim.scenario.distributions import FAMILIES, Distribution

    members = typing.get_args(typing.get_args(Distribution)[0])
    assert tuple(FAMILIES.values()) == members
    assert all(cls.model_fields["dist"].default == name for name, cls in FAMILIES.items())


@pytest.mark.parametrize(("table", "largest"), [
    ({"dist": "fixed", "value": 3.0}, 3.0),
    ({"dist": "uniform", "low": 1.0, "high": 4.0}, 4.0),
    ({"dist": "triangular", "min": 1.0, "mode": 2.0, "max": 6.0}, 6.0),
    ({"dist": "empirical", "values": [2.0, 9.0, 4.0]}, 9.0),
    ({"dist": "lognormal", "median": 3.0, "sigma": 0.5}, math.inf),
    ({"dist": "exponential", "mean": 3.0}, math.inf),
    ({"dist": "gamma", "shape": 2.0, "scale": 1.0}, math.inf),
])
def test_each_family_states_its_largest_value(table: dict, largest: float) -> None:
    import numpy as np
    from pydantic import TypeAdapter

    from mashsim.scenario.distributions import Distribution

    dist = TypeAdapter(Distribution).validate_python(table)
    assert dist.largest == largest
    assert dist.sample(np.random.default_rng(0), 2000).max() <= largest


def test_an_unbounded_backlog_age_is_refused_with_its_path(default_scenario: Scenario) -> None:
    with pytest.raises(ScenarioError, match=r"initial_backlog: age_days must stay within"):
        default_scenario.with_overrides({
            "hubs.reading.initial_backlog.count": 5,
            "hubs.reading.initial_backlog.age_days": {"dist": "exponential", "mean": 2.0}})


def test_a_bad_distribution_key_is_reported_without_the_union_tag(
        default_scenario: Scenario) -> None:
    with pytest.raises(ScenarioError) as err:
        default_scenario.with_overrides({
            "grades.high.handling_minutes": {"dist": "lognormal", "median": 3.0, "sigmaa": 1}})
    assert any("grades.high.handling_minutes.sigmaa: unknown key; did you mean 'sigma'?" in p
               for p in err.value.problems), err.value.problems


# ------------------------------------------------------------ one hub alone


def test_hub_alone_keeps_the_hubs_own_demand(default_scenario: Scenario) -> None:
    from .conftest import one_hub

    alone = default_scenario.hub_alone("slough")
    assert alone.hub_names == ["slough"]
    assert alone.hub_rate_per_day("slough") == pytest.approx(
        default_scenario.hub_rate_per_day("slough"), rel=1e-12)
    assert alone.hubs["slough"].staff == default_scenario.hubs["slough"].staff
    assert one_hub(default_scenario, "slough") == alone  # the tests' helper is this rule
