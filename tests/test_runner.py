"""The one replication runner under run, sweep, plan, report and backtest.

Each command resumes: interrupted after k replications (a fake Ctrl-C from the progress
hook, which the runner calls after saving each one), then run again with the same
--out, it runs only the rest and writes exactly what an uninterrupted run writes.
"""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mashsim.cli import build_parser, main
from mashsim.experiment.cache import ReplicationCache
from mashsim.experiment.executors import SerialExecutor, Task
from mashsim.experiment.replications import single_run
from mashsim.experiment.runner import Progress, ReplicationRunner
from mashsim.experiment.simulate import simulate
from mashsim.model import replication as model_replication
from mashsim.report import plots

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "tests" / "data" / "one_role" / "thames_valley.toml"  # one-role form (conftest)
SAMPLE_LOG = ROOT / "examples" / "referrals_sample.csv"
SHORT = ["--set", "run.duration_days=35", "--set", "run.warmup_days=7"]


def _files(folder: Path) -> dict[str, bytes]:
    """Every output file under `folder` (its own name made OUT: the report quotes the
    command), the replication cache left out."""
    return {str(p.relative_to(folder)): p.read_bytes().replace(str(folder).encode(), b"OUT")
            for p in sorted(folder.rglob("*"))
            if p.is_file() and "cache" not in p.relative_to(folder).parts}


class _Counter:
    """Counts replications run (not taken from the cache); Ctrl-C after `stop_after`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stop_after: int | None = None):
        self.ran = 0
        real = Progress.done

        def done(bar: Progress, n: int = 1) -> None:
            self.ran += n
            real(bar, n)
            if stop_after is not None and self.ran >= stop_after:
                raise KeyboardInterrupt

        monkeypatch.setattr(Progress, "done", done)


def _command(name: str, out: Path, tmp_path: Path) -> list[str]:
    if name == "run":
        return ["run", str(DEFAULT), "--replications", "3", "--format", "json", *SHORT,
                "--out", str(out)]
    if name == "sweep":
        return ["sweep", str(DEFAULT), "--vary", "hubs.reading.staff.headcount=3,4",
                "--replications", "2", "--format", "json", *SHORT, "--out", str(out)]
    if name == "plan":
        return ["plan", str(DEFAULT), "--target", "decision_target_breach<=0.5",
                "--vary-staff", "reading", "--max-headcount", "6", "--replications", "2",
                "--format", "json", *SHORT, "--out", str(out)]
    if name == "report":
        return ["report", str(DEFAULT), "--replications", "3", *SHORT, "--out", str(out)]
    fitted = tmp_path / "fitted.toml"
    if not fitted.exists():
        assert main(["fit", str(SAMPLE_LOG), "--out", str(fitted)]) == 0
    return ["backtest", str(SAMPLE_LOG), str(fitted), "--replications", "3", "--format",
            "json", "--out", str(out)]


@pytest.mark.parametrize("name", ["run", "sweep", "plan", "report", "backtest"])
def test_each_command_resumes_to_the_uninterrupted_output(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    whole, part = tmp_path / "whole", tmp_path / "part"
    with monkeypatch.context() as m:
        total = _Counter(m)
        assert main([*_command(name, whole, tmp_path), "--workers", "1"]) == 0
    capsys.readouterr()
    with monkeypatch.context() as m:
        _Counter(m, stop_after=2)
        assert main([*_command(name, part, tmp_path), "--workers", "1"]) == 130
    err = capsys.readouterr().err
    assert "2 of" in err and "Run the same command with the same --out" in err
    with monkeypatch.context() as m:
        rest = _Counter(m)
        code = main([*_command(name, part, tmp_path), "--workers", "2"])
    assert code in (0, 2)  # a plan may end in "no headcount meets": exit 2 both times
    assert rest.ran == total.ran - 2  # only the missing replications ran
    resumed = capsys.readouterr().out
    expected = _files(whole)
    assert expected and _files(part) == expected
    if name != "report":  # the report's stdout names its folder
        capsys.readouterr()
        assert main([*_command(name, whole, tmp_path), "--workers", "1"]) in (0, 2)
        assert capsys.readouterr().out == resumed


def test_every_command_takes_workers_and_scheduler(tmp_path: Path) -> None:
    parser = build_parser()
    for name in ("run", "sweep", "plan", "report", "backtest"):
        args = parser.parse_args([*_command(name, tmp_path / "o", tmp_path), "--workers", "3",
                                  "--scheduler", "tcp://127.0.0.1:8786"])
        assert (args.workers, args.scheduler) == (3, "tcp://127.0.0.1:8786"), name


def test_every_command_states_the_resume_rule_in_help(capsys: pytest.CaptureFixture) -> None:
    for name in ("run", "sweep", "plan", "report", "backtest"):
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "saved in DIR/cache" in text and "resumes" in text, name


def test_run_on_a_dask_local_cluster_equals_serial(capsys: pytest.CaptureFixture) -> None:
    distributed = pytest.importorskip("distributed")
    args = ["run", str(DEFAULT), "--replications", "2", "--format", "json", *SHORT]
    assert main([*args, "--workers", "1"]) == 0
    serial = capsys.readouterr().out
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    assert capsys.readouterr().out == serial


def test_report_never_runs_the_model_after_the_runner(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The figures read the outcomes the runner kept: the model is not run again."""
    from mashsim.cli import report as report_cli

    calls: list[str] = []
    real_stage = report_cli.stage

    def boom(*_: object, **__: object) -> None:
        calls.append("run_replication")
        raise AssertionError("the report re-ran the model")

    def model_off(message: str) -> None:  # called once the runner has run
        for module in [m for n, m in sys.modules.items() if n.startswith("mashsim")]:
            if getattr(module, "run_replication", None) is model_replication.run_replication:
                monkeypatch.setattr(module, "run_replication", boom)
        real_stage(message)

    monkeypatch.setattr(report_cli, "stage", model_off)
    code = main(["report", str(DEFAULT), "--replications", "2", "--workers", "1", *SHORT,
                 "--out", str(tmp_path / "r.html")])
    assert code == 0 and not calls
    assert (tmp_path / "r.html").read_text(encoding="utf-8").count("<img") >= 4


def test_stored_outcomes_give_the_waits_a_rerun_gives(small_scenario) -> None:
    kept = simulate(small_scenario, replications=3, seed=4, outcomes=2)
    assert [r.outcomes is not None for r in kept.runs] == [True, True, False]
    bare = simulate(small_scenario, replications=3, seed=4)  # waits re-run for these
    pd.testing.assert_frame_equal(plots.wait_records(kept, 2), plots.wait_records(bare, 2))
    assert plots.wait_records(kept, 2)["replication"].unique().tolist() == [0, 1]


def test_cache_keeps_outcomes_only_for_tasks_that_ask(small_scenario, tmp_path: Path) -> None:
    cache = ReplicationCache(tmp_path)
    plain, rich = Task(small_scenario, 2, 0), Task(small_scenario, 2, 0, outcomes=True)
    cache.put(plain, single_run(small_scenario, 2, 0))
    assert cache.get(rich) is None  # saved without outcomes: a miss, run it again
    full = single_run(small_scenario, 2, 0, outcomes=True)
    cache.put(rich, full)
    back = cache.get(rich)
    assert back is not None and back.outcomes is not None
    for hub, cols in full.outcomes.items():
        for name, arr in cols.items():
            np.testing.assert_array_equal(back.outcomes[hub][name], arr)
            assert back.outcomes[hub][name].dtype == arr.dtype
    assert cache.get(plain).outcomes is None  # as a fresh run without outcomes gives it
    assert cache.rejected == 0


def test_runner_yields_as_results_finish_and_a_caller_may_stop_early(
        small_scenario, tmp_path: Path) -> None:
    """A sequential caller takes results one by one and stops: what ran is saved."""
    tasks = [Task(small_scenario, 9, r) for r in range(6)]
    with SerialExecutor() as ex:
        runner = ReplicationRunner(ex, ReplicationCache(tmp_path))
        seen = []
        with closing(runner.run(tasks)) as stream:  # closing it stops the run
            for i, _ in stream:
                seen.append(i)
                if len(seen) == 2:
                    break
    assert seen == [0, 1]
    assert len(list((tmp_path / "cache").rglob("r*.json"))) == 2
    ran: list[int] = []
    with SerialExecutor() as ex:
        runner = ReplicationRunner(ex, ReplicationCache(tmp_path),
                                   Progress(False, "", lambda: ran.append(1)))
        results = runner.run_all(tasks)
    assert len(ran) == 4
    for r, res in enumerate(results):
        np.testing.assert_equal(res.metrics, single_run(small_scenario, 9, r).metrics)
