"""Backtest: a scenario fitted to a simulated log reproduces that log's history."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from mashsim import Scenario, default_scenario_path, load_scenario
from mashsim.calibrate.backtest import BACKTEST_METRICS, backtest
from mashsim.calibrate.eventlog import simulated_log_frame, write_event_log
from mashsim.calibrate.fit import fit_event_log
from mashsim.cli import main
from mashsim.model.replication import run_replication

from .conftest import DEFAULT


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scenario]:
    truth = load_scenario(DEFAULT).with_overrides(  # one role: the test halves its staff
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


@pytest.fixture(scope="module")
def truth_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scenario, dict]:
    """A log simulated from the default scenario (targets from MASH receipt), and `run`'s
    metrics of the very replication that wrote it."""
    from mashsim.metrics.compute import replication_metrics

    truth = load_scenario(DEFAULT).with_overrides(  # one role: the test halves its staff
        {"run.duration_days": 56, "run.warmup_days": 14})
    records = run_replication(truth, 21, 0)
    log = tmp_path_factory.mktemp("bt_truth") / "log.csv"
    write_event_log(log, [simulated_log_frame(truth, records, truth.warmup_hours,
                                              truth.horizon_hours)])
    return log, truth, replication_metrics(records, truth)["overall"]


def test_breach_means_what_run_means_with_targets_from_mash_receipt(truth_case) -> None:
    log, truth, run_metrics = truth_case
    assert {g.decision_target.starts_at for g in truth.grades.values()} == {"mash_receipt"}
    res = backtest(log, truth, replications=2, seed=2)
    observed = res["metrics"]["decision_target_breach"]["observed"]
    # The same referrals and definitions; only the extract end (the log's last event,
    # just before the horizon) can move a deadline falling in between: < 0.5 points.
    assert observed == pytest.approx(run_metrics["decision_target_breach"], abs=0.005)


def test_bands_stay_inside_each_metrics_range(truth_case) -> None:
    log, truth, _ = truth_case
    res = backtest(log, truth, replications=3, seed=2)
    cells = [res["metrics"], *(h["metrics"] for h in res["hubs"].values()),
             *(w["metrics"] for w in res["weeks"])]
    for metrics in cells:
        for name, m in metrics.items():
            hi = 1.0 if name in ("decision_target_breach", "sd_over_72h") else float("inf")
            for key in ("ci_low", "ci_high", "band_low", "band_high"):
                v = m["simulated"][key]
                assert v is None or 0.0 <= v <= hi, (name, key, v)


def _one_hub_log(path: Path) -> Path:
    """Two referrals created Mon 10:00, assessed +30 h (RPA hands over at the 48 h
    scan), strategy discussion +100 h: late from creation (72 h), in time from
    receipt (48 + 72 = 120 h), except the child type, handed over early at creation."""
    head = ("referral_id,hub,referral_type,created_at,risk_grade,officer_assessment_at,"
            "staff_start_at,decision_at,shared_with_partners,strategy_discussion_at,"
            "handling_minutes")
    rows = [f"{i},reading,{kind},2025-04-07T10:00:00,high,2025-04-08T16:00:00,"
            "2025-04-09T10:30:00,2025-04-09T11:00:00,yes,2025-04-11T14:00:00,60"
            for i, kind in ((1, "domestic_abuse"), (2, "child"))]
    path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("starts_at", "late_share"), [("creation", 1.0),
                                                       ("mash_receipt", 0.5)])
def test_sd_deadline_counts_from_where_the_scenario_says(tmp_path: Path, starts_at: str,
                                                         late_share: float) -> None:
    sc = load_scenario(default_scenario_path()).with_overrides({
        "run.duration_days": 14, "run.warmup_days": 0,
        "strategy_discussions.deadline.starts_at": starts_at})
    res = backtest(_one_hub_log(tmp_path / "l.csv"), sc, replications=1, seed=1)
    assert res["metrics"]["sd_over_72h"]["observed"] == late_share


def test_the_sample_log_fits_and_backtests(tmp_path: Path, capsys) -> None:
    """examples/referrals_sample.csv lets a newcomer try `fit` and `backtest` at once."""
    sample = Path(__file__).resolve().parents[1] / "examples" / "referrals_sample.csv"
    rows = len(sample.read_text(encoding="utf-8").splitlines()) - 1
    assert 300 <= rows <= 5000
    assert main(["fit", str(sample), "--out", str(tmp_path / "f.toml")]) == 0
    assert f"fitted {rows} referrals" in capsys.readouterr().out
    assert main(["backtest", str(sample), str(tmp_path / "f.toml"), "--replications", "2",
                 "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["metrics"]["arrivals"]["observed"] == rows and res["bad_rows"]["bad_rows"] == 0
