"""Backtest: a scenario fitted to a simulated log reproduces that log's history."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mashsim import Scenario, default_scenario_path, load_scenario
from mashsim.backtest import BACKTEST_METRICS, backtest
from mashsim.cli import main
from mashsim.eventlog import simulated_log_frame, write_event_log
from mashsim.fit import fit_event_log
from mashsim.model import run_replication


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scenario]:
    truth = load_scenario(default_scenario_path()).with_overrides(
        {"run.duration_days": 56, "run.warmup_days": 14})
    folder = tmp_path_factory.mktemp("bt")
    frame = simulated_log_frame(truth, run_replication(truth, 21, 0), truth.warmup_hours,
                                truth.horizon_hours)
    write_event_log(folder / "log.csv", [frame])
    fitted = fit_event_log(folder / "log.csv", truth).scenario
    fitted.to_toml(folder / "fitted.toml")
    return folder, fitted


def test_fitted_scenario_backtest_matches_history(case) -> None:
    folder, fitted = case
    res = backtest(folder / "log.csv", fitted, replications=6, seed=2)
    m = res["metrics"]
    assert set(m) == set(BACKTEST_METRICS)
    for name in ("arrivals", "time_to_start_hours_mean", "decision_target_breach"):
        assert m[name]["within_band"], (name, m[name])
        sim = m[name]["simulated"]
        assert sim["ci_low"] <= sim["mean"] <= sim["ci_high"]
    assert len(res["weeks"]) == 6
    # A wrong scenario does not match: half the staff makes waits far longer.
    half = fitted.with_overrides({f"hubs.{h}.staff.headcount":
                                  max(1, fitted.hubs[h].staff.headcount // 2)
                                  for h in fitted.hubs})
    bad = backtest(folder / "log.csv", half, replications=3, seed=2)
    assert not bad["metrics"]["time_to_start_hours_mean"]["within_band"]


def test_cli_backtest_json_and_files(case, tmp_path: Path,
                                     capsys: pytest.CaptureFixture) -> None:
    folder, _ = case
    rc = main(["backtest", str(folder / "log.csv"), str(folder / "fitted.toml"),
               "--replications", "2", "--format", "json", "--out", str(tmp_path / "o")])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert {"log", "scenario", "seed", "replications", "metrics", "hubs", "weeks",
            "weekly_coverage"} <= set(res)
    assert {"backtest.json", "backtest.txt", "backtest_weekly.png"} <= {
        p.name for p in (tmp_path / "o").iterdir()}


def test_cli_backtest_reports_hubs_the_scenario_lacks(case, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    folder, _ = case
    lines = (folder / "log.csv").read_text().splitlines()
    cells = lines[5].split(",")
    cells[1] = "atlantis"
    lines[5] = ",".join(cells)
    (tmp_path / "l.csv").write_text("\n".join(lines) + "\n")
    args = ["backtest", str(tmp_path / "l.csv"), str(folder / "fitted.toml"),
            "--replications", "2"]
    assert main(args) == 2
    assert "unknown hub (not in the scenario): line(s) 6" in capsys.readouterr().err
    assert main([*args, "--skip-bad-rows"]) == 0


def test_log_outside_the_scenarios_run_is_bad_input(case, tmp_path: Path, capsys) -> None:
    folder, fitted = case
    fitted.with_overrides({"run.start_date": dt.date(2023, 1, 2)}).to_toml(tmp_path / "o.toml")
    rc = main(["backtest", str(folder / "log.csv"), str(tmp_path / "o.toml"),
               "--replications", "2"])
    assert rc == 2
    assert "fall outside the scenario's run" in capsys.readouterr().err


def test_cli_fit_and_simulate_log(tmp_path: Path, capsys) -> None:
    assert main(["simulate-log", str(default_scenario_path()), "--out",
                 str(tmp_path / "s.csv"), "--seed", "4", "--set", "run.duration_days=42",
                 "--set", "run.warmup_days=14"]) == 0
    assert main(["fit", str(tmp_path / "s.csv"), "--out", str(tmp_path / "f.toml"),
                 "--report", str(tmp_path / "rep")]) == 0
    assert "referrals_per_day" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "f.toml")]) == 0
    report = (tmp_path / "rep" / "fit_report.md").read_text()
    assert "Kept from the base scenario" in report and "arrivals_profile.png" in report
    assert (tmp_path / "rep" / "dist_grades_high_handling_minutes.png").stat().st_size > 1000


def test_every_backtest_option_has_help_text() -> None:
    from mashsim.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    bt = sub.choices["backtest"]
    for action in bt._actions:
        assert action.help, action.option_strings or action.dest
