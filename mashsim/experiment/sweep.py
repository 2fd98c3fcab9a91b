"""Sweeps: a grid of scenario overrides, each point run with the same seeds (CRN).

Every point runs replications 0..n-1 with the same base seed, so replication r of every
point sees the same referrals, delays and handling times wherever the model draws them
from the same named stream (common random numbers). The paired difference
(point − point 0) per replication then cancels most of the shared noise, and its CI is
much narrower than comparing two independent runs.

The result is one tidy table: a row per (point, scope, metric) with the mean and 95 % CI,
the paired difference against point 0 with its CI, and the replications used. Every hub
is a scope, and `changed_hubs` names the hubs the grid changes (a varied `hubs.NAME.` path,
or figures that differ from point 0), so one hub's change is never read off force-wide
figures alone.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mashsim._io import atomic_write_text, output_set
from mashsim.errors import ScenarioError
from mashsim.experiment.precision import PrecisionOutcome, sequential_replications
from mashsim.experiment.replications import ReplicationResult, confidence_interval
from mashsim.experiment.runner import Progress, replication_runner
from mashsim.experiment.shared_hubs import run_points, tasks_per_replication
from mashsim.metrics.compute import metric_bounds, metric_names
from mashsim.safe_text import csv_frame
from mashsim.scenario.schema import Scenario

__all__ = [
    "DEFAULT_PRECISION_METRICS",
    "SWEEP_COLUMNS",
    "Progress",
    "changed_hubs",
    "parse_vary",
    "point_scenarios",
    "run_points",
    "sweep",
    "sweep_json",
    "write_sweep",
]

#: Watched by `--precision` unless told otherwise (force-wide scope).
DEFAULT_PRECISION_METRICS = ("sd_breach_72h", "decision_target_breach")
#: Columns after the point and the varied paths.
SWEEP_COLUMNS = ("scope", "metric", "mean", "ci_low", "ci_high", "diff_mean", "diff_ci_low",
                 "diff_ci_high", "replications")


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """'PATH=V1,V2,...' → (PATH, [values]); values read as TOML, else as strings."""
    if "=" not in text:
        raise ScenarioError([f"--vary {text}: expected PATH=V1,V2,..."])
    path, raw = (s.strip() for s in text.split("=", 1))
    if not path or not raw:
        raise ScenarioError([f"--vary {text}: expected PATH=V1,V2,... with at least one value"])
    try:
        values = tomllib.loads(f"v = [{raw}]")["v"]
    except tomllib.TOMLDecodeError:
        values = [v.strip() for v in raw.split(",")]
    if not values:
        raise ScenarioError([f"--vary {text}: no values"])
    return path, list(values)


def point_scenarios(scenario: Scenario, vary: Mapping[str, Sequence[Any]]
                    ) -> tuple[list[dict[str, Any]], list[Scenario]]:
    """The grid (product of the varied values, first path outermost) and its scenarios."""
    paths = list(vary)
    grid = [dict(zip(paths, combo, strict=True))
            for combo in itertools.product(*(list(vary[p]) for p in paths))]
    problems: list[str] = []
    scenarios: list[Scenario] = []
    for i, values in enumerate(grid):
        try:
            scenarios.append(scenario.with_overrides(values, source=f"--vary point {i}"))
        except ScenarioError as err:
            problems += err.problems
    if problems:
        raise ScenarioError(list(dict.fromkeys(problems)))
    return grid, scenarios


def _values(runs: Sequence[ReplicationResult], scope: str, metric: str) -> np.ndarray:
    return np.array([run.metrics.get(scope, {}).get(metric, math.nan) for run in runs],
                    dtype=float)


def _frame(grid: list[dict[str, Any]], scenarios: Sequence[Scenario],
           results: list[list[ReplicationResult]], n: int):
    import pandas as pd

    rows = []
    for p, (values, sc) in enumerate(zip(grid, scenarios, strict=True)):
        for scope in ("overall", *sc.hub_names):
            for metric in metric_names(sc):
                x = _values(results[p][:n], scope, metric)
                ci = confidence_interval(x, bounds=metric_bounds(metric))
                diff: dict[str, float | None] = {"mean": None, "ci_low": None, "ci_high": None}
                if p > 0:
                    diff = confidence_interval(x - _values(results[0][:n], scope, metric))
                rows.append({"point": p, **values, "scope": scope, "metric": metric,
                             "mean": ci["mean"], "ci_low": ci["ci_low"],
                             "ci_high": ci["ci_high"], "diff_mean": diff["mean"],
                             "diff_ci_low": diff["ci_low"], "diff_ci_high": diff["ci_high"],
                             "replications": n})
    frame = pd.DataFrame(rows, columns=["point", *grid[0], *SWEEP_COLUMNS])
    for col in SWEEP_COLUMNS[2:-1]:
        frame[col] = frame[col].astype(float)
    return frame


def changed_hubs(scenario: Scenario, vary: Mapping[str, Sequence[Any]],
                 results: list[list[ReplicationResult]], n: int) -> list[str]:
    """Hubs the grid changes: named by a varied path (`hubs.NAME....`), or whose figures
    differ from point 0 in any replication (a force-wide change, pooled staff)."""
    named = {path.split(".")[1] for path in vary if path.startswith("hubs.")
             and len(path.split(".")) > 2}
    names = metric_names(scenario)

    def differs(hub: str) -> bool:
        base = [_values(results[0][:n], hub, m) for m in names]
        return any(not np.array_equal(_values(runs[:n], hub, m), b, equal_nan=True)
                   for runs in results[1:] for m, b in zip(names, base, strict=True))

    return [h for h in scenario.hub_names if h in named or differs(h)]


def sweep(
    scenario: Scenario,
    vary: Mapping[str, Sequence[Any]],
    replications: int = 10,
    seed: int = 1,
    workers: int | None = None,
    scheduler: Any = None,
    precision: float | None = None,
    precision_metrics: Sequence[str] = DEFAULT_PRECISION_METRICS,
    out: str | Path | None = None,
    progress: bool = False,
    on_done: Callable[[], None] | None = None,
):  # -> pandas.DataFrame
    """Run every point of the grid with common random numbers; one tidy DataFrame.

    `precision` (relative CI half-width, e.g. 0.05) chooses the number of replications
    by the sequential method, with `replications` as the budget, watching the force-wide
    `precision_metrics` at every point. `out` keeps each finished replication under
    `out/cache` (re-running resumes) and writes sweep.csv and sweep.json there.
    `frame.attrs` holds the scenario name, seed, grid, `changed_hubs` and precision outcome;
    rows with `scope == hub` are that hub's own figures.
    """
    if not vary:
        raise ScenarioError(["sweep: nothing to vary (give at least one --vary PATH=V1,V2)"])
    if replications < (2 if precision is not None else 1):
        raise ValueError("replications must be at least 1 (2 with a precision target)")
    grid, scenarios = point_scenarios(scenario, vary)
    if precision is not None:
        unknown = [m for m in precision_metrics if m not in metric_names(scenario)]
        if unknown:
            raise ScenarioError([f"--precision-metric {m}: unknown metric" for m in unknown])
    results: list[list[ReplicationResult]] = [[] for _ in scenarios]
    outcome: PrecisionOutcome | None = None
    with replication_runner(workers, scheduler, out, progress,
                            f"sweep {len(scenarios)} points", on_done) as runner:
        if precision is None:
            results = run_points(scenarios, seed, range(replications), runner)
            n = replications
        else:
            def series_up_to(k: int) -> list[np.ndarray]:
                have = len(results[0])
                if k > have:
                    more = run_points(scenarios, seed, range(have, k), runner)
                    for p, runs in enumerate(more):
                        results[p].extend(runs)
                return [_values(results[p], "overall", m)
                        for p in range(len(scenarios)) for m in precision_metrics]

            # enough replications a batch to give every worker a task
            batch = max(1, math.ceil(runner.workers / tasks_per_replication(scenarios)))
            outcome = sequential_replications(series_up_to, precision, replications,
                                              batch=batch)
            n = outcome.replications
    frame = _frame(grid, scenarios, results, n)
    frame.attrs.update({
        "scenario": scenario.name, "seed": seed, "replications": n,
        "vary": {k: list(v) for k, v in vary.items()},
        "changed_hubs": changed_hubs(scenario, vary, results, n),
        "precision": None if outcome is None else {
            "target": outcome.precision, "met": outcome.met, "achieved": outcome.achieved,
            "metrics": list(precision_metrics), "budget": replications},
    })
    if out is not None:
        write_sweep(frame, out)
    return frame


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return _clean(v.item())
    return v


def sweep_json(frame) -> str:
    """The JSON written to sweep.json and printed by `--format json`."""
    rows = [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    doc = {k: frame.attrs.get(k) for k in ("scenario", "seed", "replications", "vary",
                                           "changed_hubs", "precision")}
    doc["rows"] = rows
    return json.dumps(doc, indent=1, allow_nan=False, default=str)


def write_sweep(frame, out: str | Path) -> list[Path]:
    """sweep.csv and sweep.json under `out`, swapped in as one set (see `output_set`)."""
    folder = Path(out)
    buf = io.StringIO()
    csv_frame(frame).to_csv(buf, index=False)  # text cells never run as formulas
    with output_set(folder) as new:
        atomic_write_text(new / "sweep.csv", buf.getvalue())
        atomic_write_text(new / "sweep.json", sweep_json(frame) + "\n")
    return [folder / "sweep.csv", folder / "sweep.json"]
