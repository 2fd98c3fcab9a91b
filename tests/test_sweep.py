"""Sweeps: CRN pairing, the tidy table, resuming after an interruption, precision."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from mashsim.cli import main
from mashsim.errors import ScenarioError
from mashsim.experiment.precision import k_limit, relative_half_width, sequential_replications
from mashsim.experiment.runner import run_replications
from mashsim.experiment.sweep import SWEEP_COLUMNS, parse_vary, sweep

from .conftest import DEFAULT

PATH = "hubs.reading.staff.headcount"


def test_parse_vary_reads_toml_values():
    assert parse_vary("hubs.reading.staff.headcount=3,4, 5") == (PATH, [3, 4, 5])
    assert parse_vary("queue.discipline=fifo,risk") == (
        "queue.discipline", ["fifo", "risk"])
    with pytest.raises(ScenarioError):
        parse_vary("no-equals-sign")


def test_table_shape_and_baseline(small_scenario):
    frame = sweep(small_scenario, {PATH: [3, 4], "queue.discipline": ["fifo", "risk"]},
                  replications=2, seed=1, workers=1)
    assert list(frame.columns) == ["point", PATH, "queue.discipline", *SWEEP_COLUMNS]
    # product, first --vary outermost; point 0 is the baseline
    points = frame.drop_duplicates("point")[["point", PATH, "queue.discipline"]]
    assert points.values.tolist() == [[0, 3, "fifo"], [1, 3, "risk"],
                                      [2, 4, "fifo"], [3, 4, "risk"]]
    assert set(frame["scope"]) == {"overall", "reading"}
    assert frame.loc[frame["point"] == 0, "diff_mean"].isna().all()
    assert frame.loc[frame["point"] > 0, "diff_mean"].notna().any()
    assert (frame["replications"] == 2).all()


def test_crn_paired_difference_is_tighter_than_unpaired(small_scenario):
    """CRN: the paired CI of (5 staff − 4 staff) is narrower than comparing independent runs."""
    n = 8
    assert small_scenario.hubs["reading"].staff.headcount == 4  # point 0 is the scenario
    frame = sweep(small_scenario, {PATH: [4, 5]}, replications=n, seed=11, workers=2)
    five = small_scenario.with_overrides({PATH: 5})
    base = run_replications(small_scenario, n, seed=11, workers=2)
    independent = run_replications(five, n, seed=12, workers=2)  # other seed: no CRN
    for metric in ("backlog_mean", "staff_wait_hours_mean"):
        row = frame[(frame["point"] == 1) & (frame["scope"] == "reading")
                    & (frame["metric"] == metric)].iloc[0]
        paired = row["diff_ci_high"] - row["diff_ci_low"]
        x0 = np.array([r.metrics["reading"][metric] for r in base])
        x1 = np.array([r.metrics["reading"][metric] for r in independent])
        se = math.sqrt(x0.var(ddof=1) / n + x1.var(ddof=1) / n)
        unpaired = 2 * stats.t.ppf(0.975, 2 * n - 2) * se
        assert paired < unpaired, (metric, paired, unpaired)


def test_parallel_equals_serial(small_scenario):
    kwargs = {"replications": 3, "seed": 4}
    serial = sweep(small_scenario, {PATH: [3, 5]}, workers=1, **kwargs)
    parallel = sweep(small_scenario, {PATH: [3, 5]}, workers=2, **kwargs)
    assert parallel.equals(serial)


def test_resume_after_interruption_is_byte_identical(small_scenario, tmp_path):
    vary = {PATH: [3, 4, 5]}
    whole = tmp_path / "whole"
    sweep(small_scenario, vary, replications=3, seed=9, workers=2, out=whole)

    part = tmp_path / "part"
    calls: list[int] = []

    def stop_after_four() -> None:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("simulated interruption")

    with pytest.raises(RuntimeError, match="simulated"):
        sweep(small_scenario, vary, replications=3, seed=9, workers=2, out=part,
              on_done=stop_after_four)
    assert not (part / "sweep.csv").exists()
    saved = len(list((part / "cache").rglob("r*.json")))
    assert saved >= 4
    rerun: list[int] = []
    sweep(small_scenario, vary, replications=3, seed=9, workers=1, out=part,
          on_done=lambda: rerun.append(1))
    assert len(rerun) == 9 - saved  # only the missing replications ran
    for name in ("sweep.csv", "sweep.json"):
        assert (part / name).read_bytes() == (whole / name).read_bytes()


def test_cli_sweep_writes_csv_and_json(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["sweep", str(DEFAULT), "--set", "run.duration_days=35",
               "--set", "run.warmup_days=7", "--vary", f"{PATH}=3,4", "--replications", "2",
               "--workers", "2", "--format", "json", "--out", str(out)])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["replications"] == 2 and doc["vary"] == {PATH: [3, 4]}
    header = (out / "sweep.csv").read_text().splitlines()[0].split(",")
    assert header == ["point", PATH, *SWEEP_COLUMNS]
    assert json.loads((out / "sweep.json").read_text()) == doc


def test_cli_sweep_bad_path_exits_2(capsys):
    rc = main(["sweep", str(DEFAULT), "--vary", "hubs.nowhere.staff.headcount=3,4"])
    assert rc == 2
    assert "nowhere" in capsys.readouterr().err


# -- precision (Hoad, Robinson & Davies) --------------------------------------------


def test_relative_half_width_edge_cases():
    assert relative_half_width(np.array([2.0, 2.0, 2.0])) == 0.0
    assert relative_half_width(np.array([math.nan, math.nan])) == 0.0
    assert relative_half_width(np.array([-1.0, 1.0])) == math.inf
    assert k_limit(10) == 5 and k_limit(400) == 20


def test_sequential_answer_does_not_depend_on_batch_size():
    rng = np.random.default_rng(3)
    values = rng.normal(10.0, 2.0, size=500)
    runs = []

    def series(n: int) -> list[np.ndarray]:
        runs.append(n)
        return [values[:n]]

    one = sequential_replications(series, 0.05, budget=500, batch=1)
    big = sequential_replications(lambda n: [values[: max(n, 40)]], 0.05, budget=500, batch=40)
    assert one == big
    assert one.met and one.achieved <= 0.05
    # the look-ahead confirmed it: precision held for the next k_limit replications
    n = one.replications
    assert all(relative_half_width(values[:m]) <= 0.05 for m in range(n, n + k_limit(n) + 1))
    assert relative_half_width(values[: n - 1]) > 0.05


def test_sequential_reports_budget_when_unmet():
    values = np.array([1.0, -1.0] * 50)
    out = sequential_replications(lambda n: [values[:n]], 0.05, budget=20)
    assert out == type(out)(20, False, 0.05, math.inf)


def test_sweep_with_precision(small_scenario):
    frame = sweep(small_scenario, {PATH: [4, 5]}, replications=40, seed=2, workers=2,
                  precision=0.05, precision_metrics=["backlog_mean"])
    prec = frame.attrs["precision"]
    n = frame.attrs["replications"]
    assert prec["met"] and 3 < n < 40
    assert (frame["replications"] == n).all()
    for p in (0, 1):
        row = frame[(frame.point == p) & (frame.scope == "overall")
                    & (frame.metric == "backlog_mean")].iloc[0]
        assert (row.ci_high - row.ci_low) / 2 <= 0.05 * abs(row["mean"]) + 1e-12


# -- one hub's change is not hidden in force-wide figures -------------------------------


def _small_sweep(*extra: str) -> list[str]:
    return ["sweep", str(DEFAULT), "--set", "run.duration_days=35", "--set",
            "run.warmup_days=7", "--vary", f"{PATH}=4,6", "--replications", "2",
            "--workers", "2", *extra]


def test_cli_sweep_table_shows_the_changed_hub_and_any_hub_asked_for(capsys):
    assert main(_small_sweep("--hub", "slough")) == 0
    lines = capsys.readouterr().out.splitlines()
    scopes = [line.split()[0] for line in lines[3:]]
    assert scopes == ["all", "all", "reading", "reading", "slough", "slough"]
    assert "reading (changed), slough" in lines[0]
    assert main(_small_sweep("--format", "json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["changed_hubs"] == ["reading"]
    reading = {(r["point"], r["metric"]): r for r in doc["rows"] if r["scope"] == "reading"}
    assert reading[(1, "backlog_mean")]["diff_mean"] < 0  # its own figures, paired


def test_changed_hubs_by_path_or_by_figures(default_scenario):
    from mashsim.experiment.replications import ReplicationResult
    from mashsim.experiment.sweep import changed_hubs

    def rep(r: int, reading: float, slough: float) -> ReplicationResult:
        return ReplicationResult(r, {"overall": {}, "reading": {"backlog_mean": reading},
                                     "slough": {"backlog_mean": slough}}, {})

    results = [[rep(0, 1.0, 2.0), rep(1, 1.5, 2.5)], [rep(0, 1.0, 2.0), rep(1, 1.6, 2.5)]]
    # a force-wide path: the hubs whose figures moved
    assert changed_hubs(default_scenario, {"queue.discipline": ["fifo", "risk"]},
                        results, 2) == ["reading"]
    # a hub's own path, even where its figures happen not to move
    assert changed_hubs(default_scenario, {"hubs.slough.staff.headcount": [4, 5]},
                        results, 2) == ["reading", "slough"]


def test_cli_sweep_bad_precision_and_hub_exit_2(capsys):
    assert main(_small_sweep("--precision", "5")) == 2
    err = capsys.readouterr().err
    assert err == ("mashsim: error: --precision: 5 is not a fraction; fractions are 0–1; "
                   "write 0.05 or 5%\n")
    assert main(_small_sweep("--hub", "atlantis")) == 2
    assert "--hub atlantis: no such hub" in capsys.readouterr().err


def test_parse_fraction_accepts_percent():
    from mashsim.experiment.precision import parse_fraction

    assert parse_fraction("5%", "--precision", exclusive=True) == pytest.approx(0.05)
    assert parse_fraction("0.05", "--precision", exclusive=True) == 0.05
    assert parse_fraction("1", "--target x", exclusive=False) == 1.0
    for bad in ("5", "120%", "-0.1", "nan", "0", "x"):
        with pytest.raises(ScenarioError, match="--precision"):
            parse_fraction(bad, "--precision", exclusive=True)
