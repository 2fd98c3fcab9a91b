"""`mashsim sensitivity`: SALib indices rank an input that cannot touch the metric last;
bad keys and ranges exit 2 naming them; the report names the inputs that matter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mashsim.cli import main
from mashsim.errors import ScenarioError
from mashsim.experiment.runner import replication_runner
from mashsim.experiment.sensitivity import check_inputs, parse_vary, run_sensitivity
from mashsim.scenario.schema import Scenario
from tests.conftest import one_hub

RATE = "arrivals.referrals_per_day=15:35"
HANDLING = "grades.standard.handling_minutes.mode=20:40"
# overtime is switched off in the default, so its trigger cannot touch any wait
IDLE = "staffing.overtime.threshold=10:100"
METRIC = "staff_wait_hours_mean"


@pytest.fixture(scope="module")
def tiny(default_scenario: Scenario) -> Scenario:
    """Reading alone for 4 weeks after a 1-week warm-up."""
    return one_hub(default_scenario, **{"run.duration_days": 35.0, "run.warmup_days": 7.0})


@pytest.fixture(scope="module")
def tiny_path(tiny: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sens") / "tiny.toml"
    tiny.to_toml(path)
    return path


@pytest.mark.parametrize("method, n, index", [("morris", 4, "mu_star"), ("sobol", 8, "ST")])
def test_irrelevant_input_ranks_last(tiny: Scenario, method: str, n: int, index: str) -> None:
    """Demand moves the wait for staff most, handling time next; the overtime trigger
    (overtime off) not at all: with common random numbers its index is exactly 0."""
    varies = [parse_vary(t) for t in (IDLE, HANDLING, RATE)]
    with replication_runner(1, None, None) as runner:
        res = run_sensitivity(tiny, varies, METRIC, runner, method, n, replications=1,
                              seed=2)
    keys = [r["key"] for r in res["inputs"]]
    assert keys[-1] == "staffing.overtime.threshold"
    assert keys[0] == "arrivals.referrals_per_day"
    assert res["inputs"][-1][index] == 0.0
    assert res["inputs"][0][f"{index}_ci_low"] > 0.0


@pytest.mark.parametrize("argv, needle", [
    (["--vary", "arrivals.referals_per_day=1:2"], "arrivals.referals_per_day: no such key"),
    (["--vary", "arrivals.referrals_per_day=30:10"], "needs finite LOW < HIGH"),
    (["--vary", "arrivals.referrals_per_day"], "expected KEY=LOW:HIGH"),
    (["--vary", "arrivals.referrals_per_day=-5:10"], "arrivals.referrals_per_day"),
    (["--vary", "arrivals.mode=1:2"], "arrivals.mode: not a number"),
    (["--vary", "hubs.reading.staff.headcount=2.5:6"], "takes whole numbers"),
    (["--vary", RATE, "--metric", "nonsense"], "--metric nonsense: unknown metric"),
    (["--vary", RATE, "--method", "sobol", "--samples", "6"], "power of two"),
    ([], "at least one"),
])
def test_bad_input_exits_2_naming_it(tiny_path: Path, argv: list[str], needle: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sensitivity", str(tiny_path), *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines and all(ln.startswith("mashsim: error: ") for ln in lines)
    assert needle in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_cli_writes_json_and_tornado(tiny_path: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sens"
    assert main(["sensitivity", str(tiny_path), "--vary", RATE, "--vary", IDLE,
                 "--metric", METRIC, "--trajectories", "2", "--replications", "1",
                 "--workers", "1", "--out", str(out), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "sensitivity.json").read_text())
    assert [r["key"] for r in printed["inputs"]] == ["arrivals.referrals_per_day",
                                                     "staffing.overtime.threshold"]
    assert (out / "tornado.png").read_bytes().startswith(b"\x89PNG")


def test_check_inputs_reports_every_problem(tiny: Scenario) -> None:
    with pytest.raises(ScenarioError) as err:
        check_inputs(tiny, [parse_vary("nope.x=1:2"), parse_vary(RATE), parse_vary(RATE)],
                     "nonsense")
    assert len(err.value.problems) == 3


def test_report_names_the_three_inputs_that_matter(tiny_path: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["report", str(tiny_path), "--replications", "2", "--workers", "1",
                 "--sensitivity", IDLE, "--sensitivity", RATE, "--sensitivity", HANDLING,
                 "--sensitivity", "grades.medium.handling_minutes.mode=30:70",
                 "--sensitivity-metric", METRIC, "--out", str(out)]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text()
    section = page.split("<h2>Which inputs matter</h2>")[1].split("<h2>")[0]
    first = section.split("<figure")[0]  # the sentence naming the three
    assert first.count("<code>") == 3 and "staffing.overtime.threshold" not in first
    assert first.index("arrivals.referrals_per_day") < first.index("handling_minutes.mode")
    assert (out / "tornado.png").exists() and (out / "sensitivity.csv").exists()
    assert "--sensitivity staffing.overtime.threshold=10:100" in page  # the reproduce line


def test_report_bad_sensitivity_exits_2(tiny_path: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tiny_path), "--sensitivity", "nope.x=1:2",
                 "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "--sensitivity nope.x=1:2: nope.x: no such key" in err
    assert not (tmp_path / "r.html").exists()
