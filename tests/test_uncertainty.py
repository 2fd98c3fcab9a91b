"""Uncertain inputs: ranges in a scenario, drawn per replication group, and the split of a
metric's spread into input uncertainty and run-to-run noise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mashsim.cli import main
from mashsim.errors import ScenarioError
from mashsim.experiment.replications import point_scenario
from mashsim.experiment.simulate import simulate
from mashsim.experiment.uncertainty import variance_shares
from mashsim.scenario.schema import Scenario, load_scenario
from mashsim.scenario.uncertain import draw_index, draw_point, has_uncertainty
from tests.conftest import one_hub

RATE = "arrivals.referrals_per_day"
MEDIAN = "officer_assessment.delay_hours.median"


def _with_ranges(sc: Scenario, ranges: dict[str, dict]) -> Scenario:
    """`sc` with inline ranges set at dotted paths, as a scenario file would write them."""
    data = sc.to_dict()
    for path, spec in ranges.items():
        *head, last = path.split(".")
        node = data
        for part in head:
            node = node[part]
        node[last] = spec
    return Scenario.from_dict(data, source="test.toml")


@pytest.fixture(scope="module")
def tiny(default_scenario: Scenario) -> Scenario:
    """Reading alone for 4 weeks after a 1-week warm-up."""
    return one_hub(default_scenario, **{"run.duration_days": 35.0, "run.warmup_days": 7.0})


def test_inline_range_moves_to_uncertainty_and_leaves_nominal(tiny: Scenario) -> None:
    sc = _with_ranges(tiny, {RATE: {"low": 10, "high": 30},
                             MEDIAN: {"dist": "triangular", "low": 6, "mode": 12,
                                      "high": 40}})
    assert sc.arrivals.referrals_per_day == 20.0  # uniform: the midpoint
    assert sc.officer_assessment.delay_hours.median == 12.0  # triangular: the mode
    assert set(sc.uncertainty.inputs) == {RATE, MEDIAN}
    assert has_uncertainty(sc) and not has_uncertainty(tiny)


def test_round_trip_through_toml(tiny: Scenario, tmp_path: Path) -> None:
    sc = _with_ranges(tiny, {RATE: {"low": 10, "high": 30}})
    sc.to_toml(tmp_path / "u.toml")
    assert load_scenario(tmp_path / "u.toml") == sc


def test_set_on_an_uncertain_input_replaces_its_range(tiny: Scenario) -> None:
    sc = _with_ranges(tiny, {RATE: {"low": 10, "high": 30}, MEDIAN: {"low": 6, "high": 30}})
    fixed = sc.with_overrides({RATE: 25})
    assert fixed.arrivals.referrals_per_day == 25 and set(fixed.uncertainty.inputs) == {MEDIAN}
    wider = sc.with_overrides({RATE: {"low": 5, "high": 50}})
    assert wider.uncertainty.inputs[RATE].high == 50


def test_draws_stay_in_range_and_groups_share_a_draw(tiny: Scenario) -> None:
    sc = _with_ranges(tiny, {RATE: {"low": 10, "high": 30}})
    rates = [point_scenario(sc, 7, r).arrivals.referrals_per_day for r in range(6)]
    assert all(10 <= x <= 30 for x in rates)
    assert rates[0] == rates[1] and rates[2] == rates[3] and rates[0] != rates[2]
    assert [draw_index(sc, r) for r in range(5)] == [0, 0, 1, 1, 2]
    assert draw_point(sc, np.random.default_rng(0)).uncertainty is None


@pytest.mark.parametrize("spec, message", [
    ({"low": 30, "high": 10}, "needs low <= high"),
    ({"low": 1, "high": 2, "mode": 1}, "mode is for"),
    ({"dist": "triangular", "low": 1, "high": 2}, "low <= mode <= high"),
    ({"low": -5, "high": 10}, "greater than or equal to 0"),
    ({"low": 1, "hgh": 2}, RATE),
])
def test_bad_range_names_its_key(tiny: Scenario, spec: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        _with_ranges(tiny, {RATE: spec})
    assert len(err.value.problems) == 1
    assert message in err.value.problems[0] and RATE in err.value.problems[0]


def test_listed_input_must_be_a_decimal_number(tiny: Scenario) -> None:
    data = tiny.to_dict()
    data["uncertainty"] = {"inputs": {"hubs.reading.staff.headcount": {"low": 1, "high": 3}}}
    with pytest.raises(ScenarioError, match="headcount: not a number the scenario holds"):
        Scenario.from_dict(data)
    data["uncertainty"] = {"inputs": {"hubs.nowhere.demand_share": {"low": 1, "high": 3}}}
    with pytest.raises(ScenarioError, match=r"uncertainty\.inputs\.hubs\.nowhere\.demand_share"):
        Scenario.from_dict(data)


def test_ranges_at_a_point_give_todays_results_exactly(tiny: Scenario) -> None:
    """Every replication draws (the "inputs" stream only) and runs the drawn scenario;
    with every range a point that is today's scenario, byte for byte."""
    rate, median = tiny.arrivals.referrals_per_day, tiny.officer_assessment.delay_hours.median
    point = _with_ranges(tiny, {RATE: {"low": rate, "high": rate},
                                MEDIAN: {"dist": "triangular", "low": median,
                                         "mode": median, "high": median}})
    assert point.uncertainty is not None and not has_uncertainty(point)
    today = simulate(tiny, replications=3, seed=5).to_json()
    assert simulate(point, replications=3, seed=5).to_json() == today


def test_cli_range_error_exits_2(tiny: Scenario, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    tiny.to_toml(path)
    text = path.read_text().replace(f"referrals_per_day = {tiny.arrivals.referrals_per_day}",
                                    "referrals_per_day = { low = 30, high = 10 }")
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"mashsim: error: {path}: {RATE}: ")


# -- the decomposition ---------------------------------------------------------------------


def _nested(rng: np.random.Generator, k: int, m: int, sd_input: float,
            sd_noise: float) -> tuple[np.ndarray, np.ndarray]:
    groups = np.repeat(np.arange(k), m)
    values = rng.normal(0, sd_input, k)[groups] + rng.normal(0, sd_noise, k * m)
    return values, groups


@pytest.mark.parametrize("sd_input, truth", [(0.0, 0.0), (1.0, 0.5)])
def test_share_ci_covers_the_truth(sd_input: float, truth: float) -> None:
    """Over 400 data sets the 95 % CI covers the true input share about 95 % of the
    time: at least 91 % (3 binomial sd below 95 % with n = 400 is 91.7 %)."""
    rng = np.random.default_rng(15)
    covered = 0
    for _ in range(400):
        values, groups = _nested(rng, k=10, m=3, sd_input=sd_input, sd_noise=1.0)
        s = variance_shares(values, groups)
        covered += s["input_share_ci_low"] <= truth <= s["input_share_ci_high"]
        assert s["input_share"] + s["noise_share"] == pytest.approx(1.0)
    assert covered / 400 >= 0.91


def test_shares_not_estimable_without_replicated_draws() -> None:
    assert variance_shares([1.0, 2.0, 3.0], [0, 1, 2])["input_share"] is None
    assert variance_shares([1.0, 1.0, 1.0, 1.0], [0, 0, 1, 1])["input_share"] is None


def test_model_only_noise_gives_input_share_zero_within_ci(tiny: Scenario) -> None:
    """Referrals arrived cannot depend on how partners share information: the input share
    of its spread is 0 within its CI, while the arrival rate's range explains most of it."""
    idle = _with_ranges(tiny, {"sharing.share_with_partners": {"low": 0.1, "high": 0.9}})
    s = simulate(idle, replications=12, seed=3).summary()
    arrived = s["uncertainty"]["referrals_arrived"]
    assert arrived["input_share_ci_low"] == 0.0
    assert s["uncertainty_design"] == {
        "method": s["uncertainty_design"]["method"], "inputs": ["sharing.share_with_partners"],
        "draws": 6, "replications_per_draw": 2}
    busy = _with_ranges(tiny, {RATE: {"low": 10, "high": 40}})
    arrived = simulate(busy, replications=12, seed=3).summary()["uncertainty"][
        "referrals_arrived"]
    assert arrived["input_share_ci_low"] > 0.5


def test_run_json_and_table_say_so(tiny: Scenario, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "u.toml"
    _with_ranges(tiny, {RATE: {"low": 10, "high": 40}}).to_toml(path)
    assert main(["run", str(path), "--replications", "4", "--workers", "1",
                 "--format", "json"]) == 0
    shares = json.loads(capsys.readouterr().out)["uncertainty"]["sd_breach_72h"]
    assert set(shares) == {"input_share", "noise_share", "input_share_ci_low",
                           "input_share_ci_high"}
    assert main(["run", str(path), "--replications", "4", "--workers", "1"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "Uncertain inputs" in ln]
    assert len(lines) == 1 and "2 draws × 2 replications" in lines[0]


def test_hub_alone_keeps_its_own_ranges_and_cuts_force_wide_rates(
        default_scenario: Scenario) -> None:
    """A hub cut out (as `plan` does) keeps ranges on its own keys, drops the other hubs'
    (their keys are gone) and scales a range on the force-wide rate to its share, as the
    nominal rate is; it once failed validation on the other hubs' keys."""
    sc = _with_ranges(default_scenario, {
        RATE: {"low": 150, "high": 210},
        "hubs.reading.demand_share": {"low": 0.5, "high": 1.5},
        "hubs.oxfordshire.demand_share": {"low": 1.0, "high": 3.0}})
    alone = sc.hub_alone("reading")
    share = sc.hub_share("reading")
    assert set(alone.uncertainty.inputs) == {RATE}
    r = alone.uncertainty.inputs[RATE]
    assert (r.low, r.high) == pytest.approx((150 * share, 210 * share))
    assert alone.arrivals.referrals_per_day == pytest.approx(180 * share)
