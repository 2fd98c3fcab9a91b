"""The `mashsim` command: output contracts and clean rejection of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mashsim.cli import main

from .conftest import DEFAULT, ROOT

SHORT = ["--set", "run.duration_days=35", "--set", "run.warmup_days=7"]


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_default_prints_a_table_per_hub(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_cli(capsys, "run", "--replications", "2", "--workers", "1", *SHORT)
    assert code == 0
    for hub in ("oxfordshire", "reading", "bracknell_forest", "ALL HUBS"):
        assert hub in out
    assert "high-risk" in out and "Window 2025-" in out


def test_run_json_contract(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_cli(capsys, "run", str(DEFAULT), "--replications", "3", "--seed", "4",
                           "--format", "json", "--workers", "1", *SHORT)
    assert code == 0
    doc = json.loads(out)
    assert {"scenario", "seed", "replications", "metrics", "hubs"} <= set(doc)
    assert doc["seed"] == 4 and doc["replications"] == 3
    for name in ("referrals_arrived", "referrals_completed", "referrals_open_at_end",
                 "staff_wait_hours_mean", "staff_wait_over_1h", "staff_wait_over_4h",
                 "staff_wait_over_24h", "staff_wait_over_72h", "decision_target_breach",
                 "decision_target_breach_high", "decision_target_breach_medium",
                 "decision_target_breach_standard", "sd_breach_72h", "sd_held",
                 "sd_pending_over_72h_at_end", "sd_pending_over_14d_at_end", "backlog_mean",
                 "backlog_max", "oldest_waiting_days_at_end", "staff_utilisation"):
        ci = doc["metrics"][name]
        assert set(ci) == {"mean", "ci_low", "ci_high"}
        assert ci["ci_low"] <= ci["mean"] <= ci["ci_high"]
        assert set(doc["hubs"]["reading"]["metrics"][name]) == {"mean", "ci_low", "ci_high"}
    assert len(doc["hubs"]) == 9


def test_same_seed_identical_json(capsys: pytest.CaptureFixture) -> None:
    args = ["run", "--replications", "2", "--format", "json", *SHORT]
    _, first, _ = run_cli(capsys, *args, "--workers", "1")
    _, second, _ = run_cli(capsys, *args, "--workers", "2")
    assert first == second


def test_out_dir_gets_summary_and_daily_backlog(capsys: pytest.CaptureFixture,
                                                tmp_path: Path) -> None:
    code, _, _ = run_cli(capsys, "run", "--replications", "2", "--workers", "1", *SHORT,
                         "--out", str(tmp_path / "res"))
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "res").iterdir())
    # cache/: each replication, kept so that the same command resumes
    assert names == ["backlog_daily.csv", "cache", "replications.csv", "summary.csv",
                     "summary.json"]
    header = (tmp_path / "res" / "backlog_daily.csv").read_text().splitlines()[0]
    assert header == "replication,hub,date,awaiting_rpa,staff_queue,in_progress,sd_pending,backlog"


def test_validate_ok(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_cli(capsys, "validate", str(DEFAULT))
    assert code == 0 and "valid" in out


def _variant(tmp_path: Path, old: str, new: str) -> str:
    text = DEFAULT.read_text()
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return str(path)


BAD_FILES = [  # (old text, new text, expected key path in the message)
    ("[run]", "[run\n", "not valid TOML"),
    ("[run]", "[run]\nspeed = 2", "run.speed: unknown key"),
    ("duration_days = 182", 'duration_days = "long"', "run.duration_days"),
    ("referrals_per_day = 180", "referrals_per_day = -5", "arrivals.referrals_per_day"),
    ('start = "09:00", end = "17:00" }] }', 'start = "17:00", end = "17:00" }] }',
     "impossible shift"),
    ('days = ["Mon", "Tue", "Wed", "Thu", "Fri"], start = "09:00", end = "17:00" }] }',
     'days = ["Mon", "Funday"], start = "09:00", end = "17:00" }] }',
     "hubs.oxfordshire.staff.shifts.0.days.1"),
    ("headcount = 15", "headcount = -2", "hubs.oxfordshire.staff.headcount"),
]


@pytest.mark.parametrize(("old", "new", "needle"), BAD_FILES, ids=[b[2] for b in BAD_FILES])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_scenario_exit_2_names_file_and_key(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                command: str, old: str, new: str,
                                                needle: str) -> None:
    path = _variant(tmp_path, old, new)
    code, out, err = run_cli(capsys, command, path, "--replications", "1") if command == "run" \
        else run_cli(capsys, command, path)
    assert code == 2
    assert out == ""
    assert path in err and needle in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ("hubs.reading.staff.headcount=-3", "hubs.reading.staff.headcount"),
        ("hubs.nowhere.staff.headcount=3", "unknown key 'nowhere'"),
        ("no_equals_sign", "--set expects PATH=VALUE"),
        ("queue.discipline=lifo", "queue.discipline"),
    ],
)
def test_bad_set_exit_2(capsys: pytest.CaptureFixture, tmp_path: Path, setting: str,
                        needle: str) -> None:
    code, out, err = run_cli(capsys, "run", "--set", setting, "--out", str(tmp_path / "o"))
    assert code == 2 and out == "" and needle in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_bad_flags_exit_2(capsys: pytest.CaptureFixture) -> None:
    for args in (["run", "--replications", "0"], ["run", "--format", "xml"],
                 ["run", "--seed", "-1"], ["frobnicate"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        assert "Traceback" not in capsys.readouterr().err


def test_console_script_end_to_end(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it: json on stdout, nothing on a bad file."""
    proc = subprocess.run(
        [sys.executable, "-m", "mashsim.cli", "run", str(ROOT / "scenarios/validation/mmc.toml"),
         "--replications", "2", "--format", "json", "--set", "run.duration_days=20",
         "--set", "run.warmup_days=2"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hubs"].keys() == {"mmc"}
    bad = tmp_path / "x.toml"
    bad.write_text("name = 3\n")
    proc = subprocess.run([sys.executable, "-m", "mashsim.cli", "validate", str(bad)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and str(bad) in proc.stderr


def test_set_with_a_space_instead_of_equals(capsys: pytest.CaptureFixture) -> None:
    """`--set key 5` makes 5 the scenario file; the answer is about --set, not about '5'."""
    code, out, err = run_cli(capsys, "run", "--set", "hubs.reading.staff.headcount", "5")
    assert code == 2 and out == ""
    assert err.splitlines() == ["mashsim: error: --set hubs.reading.staff.headcount: --set "
                                "expects PATH=VALUE as one argument, e.g. "
                                "--set hubs.reading.staff.headcount=12"]


def _staff_hours_lines(out: str) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[1]) for line in out.splitlines()
            if line.startswith("  ")}


def test_validate_prints_staff_hours_per_week(capsys: pytest.CaptureFixture,
                                              tmp_path: Path) -> None:
    from mashsim import load_scenario

    code, out, _ = run_cli(capsys, "validate", str(DEFAULT))
    assert code == 0 and "rostered staff-hours per week" in out
    hours = _staff_hours_lines(out)
    sc = load_scenario(DEFAULT)
    assert hours.keys() == set(sc.hub_names)
    for hub, h in sc.hubs.items():  # the default rosters: one shift, every week alike
        (shift,) = h.staff.shifts
        assert hours[hub] == pytest.approx(h.staff.headcount * len(shift.days)
                                           * shift.length_hours, abs=0.05)
    # the issue's slip, made deliberate with long_shift: it doubles Reading's figure
    old = ('headcount = 4, shifts = [{ days = ["Mon", "Tue", "Wed", "Thu", "Fri"], '
           'start = "09:00", end = "17:00" }]')
    path = _variant(tmp_path, old, old.replace('start = "09:00", end = "17:00"',
                                               'start = "17:00", end = "09:00", long_shift = true'))
    code, out, _ = run_cli(capsys, "validate", path)
    assert code == 0 and _staff_hours_lines(out)["reading"] == 2 * hours["reading"]


@pytest.mark.parametrize(("old", "new", "needle"), [
    ('start = "09:00", end = "17:00" }] }', 'start = "17:00", end = "09:00" }] }',
     "hubs.oxfordshire.staff.shifts.0: shift 17:00-09:00 is 16 hours long"),
    ("referrals_per_day = 180", "referrals_per_day = inf", "arrivals.referrals_per_day: "),
    ("headcount = 15", "headcount = 1e300", "hubs.oxfordshire.staff.headcount: "),
    ("start_date = 2025-04-07", "start_date = 1066-10-14", "run.start_date: must be a date "
                                                           "YYYY-MM-DD"),
    ("[run]", "[run]\nduration_dys = 3", "run.duration_dys: unknown key; did you mean "
                                         "'duration_days'?"),
])
def test_issue_inputs_exit_2_with_one_line(capsys: pytest.CaptureFixture, tmp_path: Path,
                                           old: str, new: str, needle: str) -> None:
    path = _variant(tmp_path, old, new)
    code, out, err = run_cli(capsys, "validate", path)
    assert code == 2 and out == ""
    assert err.splitlines() == [line for line in err.splitlines() if needle in line]
    assert err.startswith(f"mashsim: error: {path}: ") and len(err.splitlines()) == 1


def test_non_utf8_scenario_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "cp1252.toml"
    bad.write_bytes(DEFAULT.read_bytes().replace(b"name = \"Thames", b"name = \"Tham\x92s", 1))
    proc = subprocess.run([sys.executable, "-m", "mashsim.cli", "validate", str(bad)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"mashsim: error: {bad}: not UTF-8 text: byte 0x92 on line 13; save the file as UTF-8"]
