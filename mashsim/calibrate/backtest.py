"""Backtest: does a (fitted) scenario reproduce the history in an event log?

The observed log and each simulated replication go through the *same* code: the
replication is turned into an event log of the same window and extract end
(`simulated_log_frame`), and both are reduced to per-day, per-hub sums in one streamed
pass. So "wait" and "breach" mean exactly the same on both sides:

* `arrivals`: referrals created;
* `time_to_start_hours_mean`, `time_to_decision_hours_mean`: from creation to staff
  start / decision; items still open at the extract end count with their age then;
* `decision_target_breach`: as `run`'s metric of that name (`metrics.breach_flags`):
  decided after the grade's decision target, or still open with the target passed,
  over all such resolved referrals. The target counts on its clock from where its
  `starts_at` says: creation, or MASH receipt (the RPA hand-over, derived from the
  officer's assessment time and the scenario's RPA scans, as the model does);
* `sd_over_72h`: strategy discussions held after `strategy_discussions.deadline`
  (72 h from creation by default; its clock and `starts_at` honoured), over those held:
  unlike `run`'s `sd_breach_72h`, a pending discussion is invisible in the log format,
  so it is left out on both sides.

Simulated figures are summarised across replications by the mean with its 95 % CI and
a 95 % prediction band, mean ± t·sd·√(1 + 1/R): where one more history (the observed
one) should fall if the model is right. Both are cut to the metric's range (fractions
0–1, counts and hours ≥ 0).

Replications run on the same runner as `run`'s (`--workers`, `--scheduler`, resumable
under `--out DIR/cache`); each returns only its reduced sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mashsim.calibrate.eventlog import (
    EventLogReader,
    epoch_hours,
    hours_to_date,
    simulated_log_frame,
)
from mashsim.errors import ScenarioError
from mashsim.experiment.executors import Job, Task
from mashsim.experiment.replications import default_workers
from mashsim.experiment.runner import replication_runner
from mashsim.metrics.compute import breach_flags
from mashsim.metrics.registry import COUNT, FRACTION, HOURS, Kind, metric_info
from mashsim.model.referrals import target_deadline_hours
from mashsim.model.replication import build_calendar, run_replication
from mashsim.model.rpa import handover_offset_hours
from mashsim.safe_text import terminal
from mashsim.scenario.schema import GRADES, Scenario, Target
from mashsim.stats import mean_ci, prediction_interval

__all__ = ["BACKTEST_METRICS", "backtest", "format_backtest_table"]

# name → kind (the registry's kinds: bounds and display scale); `decision_target_breach`
# is `run`'s metric of that name, so its kind is read from the registry
BACKTEST_METRICS: dict[str, Kind] = {
    "arrivals": COUNT, "time_to_start_hours_mean": HOURS,
    "time_to_decision_hours_mean": HOURS,
    "decision_target_breach": metric_info("decision_target_breach").kind,
    "sd_over_72h": FRACTION,
}
_SUMS = ("arrivals", "start_sum", "decision_sum", "resolved", "late", "sd_n", "sd_late")


class _DaySums:
    """Per (day, hub) sums of one log; open items kept until the extract end is known."""

    def __init__(self, scenario: Scenario) -> None:
        self.sc = scenario
        self.cal = build_calendar(scenario)
        self.origin = epoch_hours(scenario.run.start_date)
        self.parts: list[pd.DataFrame] = []
        self.sums = pd.DataFrame(columns=["day", "hub", *_SUMS]).set_index(["day", "hub"])
        self.open_parts: list[pd.DataFrame] = []

    def _receipt(self, f: pd.DataFrame, created_model: np.ndarray) -> np.ndarray:
        """MASH receipt (model hours) as the model derives it (referrals.py): the RPA's
        first scan at or after the officer's assessment; at creation for types it hands
        over early. An assessment not yet submitted counts as never submitted."""
        delay = f["officer"].to_numpy() - f["created"].to_numpy()
        delay = np.where(np.isfinite(delay), delay, np.inf)
        receipt = created_model + handover_offset_hours(self.sc.rpa, delay)
        rpa = self.sc.rpa
        if rpa.enabled and rpa.early_notification and rpa.early_notification_mode == \
                "early_handover":
            early = [n for n, t in self.sc.referral_types.items() if t.early_notification]
            receipt = np.where(f["referral_type"].isin(early).to_numpy(), created_model,
                               receipt)
        return receipt

    def _due(self, target: Target, created_model: np.ndarray, receipt_model: np.ndarray
             ) -> np.ndarray:
        """When `target` falls due (model hours): the model's own rule, shared."""
        return target_deadline_hours(self.cal, target, created_model, receipt_model,
                                     self.sc.horizon_hours)

    def _deadlines(self, f: pd.DataFrame, created_model: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Decision and strategy-discussion deadlines, in the log's hours."""
        receipt = self._receipt(f, created_model)
        grade = f["grade"].to_numpy()
        decision = np.full(len(created_model), np.nan)
        for g, name in enumerate(GRADES):
            m = grade == g
            decision[m] = self._due(self.sc.grades[name].decision_target, created_model[m],
                                    receipt[m])
        sd = self._due(self.sc.strategy_discussions.deadline, created_model, receipt)
        return decision + self.origin, sd + self.origin

    def add(self, f: pd.DataFrame) -> None:
        created = f["created"].to_numpy()
        cm = created - self.origin
        if len(cm) and (cm.min() < 0 or cm.max() > self.sc.horizon_hours):
            raise ScenarioError([
                f"the log's referrals ({hours_to_date(created.min())} to "
                f"{hours_to_date(created.max())}) fall outside the scenario's run "
                f"({self.sc.run.start_date}, {self.sc.run.duration_days:g} days): backtest a "
                "scenario fitted to this log (mashsim fit)"])
        deadline, sd_deadline = self._deadlines(f, cm)
        start, dec, sd = (f[c].to_numpy() for c in ("staff_start", "decision", "sd"))
        started, decided, held = np.isfinite(start), np.isfinite(dec), np.isfinite(sd)
        # Everything in the log happened by its end; open items wait for `finish`.
        late = breach_flags(deadline, dec, np.inf)[1] & decided
        sd_late = breach_flags(sd_deadline, sd, np.inf)[1] & held
        day = np.floor(created / 24.0).astype(np.int64)
        rows = pd.DataFrame({
            "day": day, "hub": f["hub"].to_numpy(), "arrivals": 1.0,
            "start_sum": np.where(started, start - created, 0.0),
            "decision_sum": np.where(decided, dec - created, 0.0),
            "resolved": decided.astype(float),
            "late": late.astype(float),
            "sd_n": held.astype(float),
            "sd_late": sd_late.astype(float),
        })
        self.sums = self.sums.add(rows.groupby(["day", "hub"]).sum(), fill_value=0.0)
        still = ~started | ~decided
        self.open_parts.append(pd.DataFrame({
            "day": day[still], "hub": f["hub"].to_numpy()[still], "created": created[still],
            "started": started[still], "decided": decided[still],
            "deadline": deadline[still]}))

    def finish(self, extract_end: float) -> pd.DataFrame:
        sums = self.sums.copy()
        if self.open_parts:
            o = pd.concat(self.open_parts, ignore_index=True)
            age = extract_end - o["created"].to_numpy()
            resolved, late = breach_flags(o["deadline"].to_numpy(), np.full(len(o), np.nan),
                                          extract_end)
            open_ = ~o["decided"].to_numpy()
            extra = pd.DataFrame({
                "day": o["day"], "hub": o["hub"],
                "start_sum": np.where(o["started"].to_numpy(), 0.0, age),
                "decision_sum": np.where(o["decided"].to_numpy(), 0.0, age),
                "resolved": (resolved & open_).astype(float),
                "late": (late & open_).astype(float)})
            sums = sums.add(extra.groupby(["day", "hub"]).sum(), fill_value=0.0)
        return sums.fillna(0.0)


def _metrics(s: pd.Series | pd.DataFrame) -> dict[str, float]:
    t = s.sum() if isinstance(s, pd.DataFrame) else s
    n = t["arrivals"]

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b > 0 else math.nan

    return {"arrivals": float(n), "time_to_start_hours_mean": ratio(t["start_sum"], n),
            "time_to_decision_hours_mean": ratio(t["decision_sum"], n),
            "decision_target_breach": ratio(t["late"], t["resolved"]),
            "sd_over_72h": ratio(t["sd_late"], t["sd_n"])}


def _reduce(sums: pd.DataFrame, first_day: int) -> dict[str, Any]:
    """Overall, per-hub and per-week metrics of one log's day sums."""
    s = sums.reset_index()
    s["week"] = (s["day"].astype(np.int64) - first_day) // 7
    return {"overall": _metrics(s[list(_SUMS)]),
            "hubs": {h: _metrics(g[list(_SUMS)]) for h, g in s.groupby("hub")},
            "weeks": {int(w): _metrics(g[list(_SUMS)]) for w, g in s.groupby("week")}}


@dataclass(frozen=True)
class _SimulatedSums(Job):
    """One replication as the backtest sees it: its event log over the observed window,
    reduced like the observed log (`_reduce`); a pure function of the replication."""

    w0: float
    w1: float
    end: float
    first_day: int

    def __call__(self, scenario: Scenario, seed: int, replication: int) -> dict[str, Any]:
        records = run_replication(scenario, seed, replication)
        origin = epoch_hours(scenario.run.start_date)
        frame = simulated_log_frame(scenario, records, self.w0 - origin, self.end - origin,
                                    self.w1 - origin)
        acc = _DaySums(scenario)
        acc.add(frame)
        return _reduce(acc.finish(self.end), self.first_day)

    def cache_key(self) -> str:
        return f"backtest {self.w0!r} {self.w1!r} {self.end!r} {self.first_day}"

    def encode(self, result: dict[str, Any]) -> dict[str, Any]:
        return {**result, "weeks": {str(w): m for w, m in result["weeks"].items()}}

    def decode(self, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "weeks": {int(w): m for w, m in data["weeks"].items()}}


def _bounds(metric: str) -> tuple[float, float]:
    return BACKTEST_METRICS[metric].bounds


def _band(values: list[float], bounds: tuple[float, float]) -> dict[str, float | None]:
    """Mean, 95 % CI and 95 % prediction band, both cut to the metric's range `bounds`."""
    lo, hi = prediction_interval(values, bounds=bounds)  # mean ± t·sd·√(1+1/R)
    return {**mean_ci(values, bounds=bounds), "band_low": _f(lo), "band_high": _f(hi)}


def _f(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _compare(obs: dict[str, float], sims: list[dict[str, float]]) -> dict[str, Any]:
    out = {}
    for m in BACKTEST_METRICS:
        sim = _band([s.get(m, math.nan) if s else math.nan for s in sims], _bounds(m))
        o = _f(obs.get(m, math.nan))
        low, high = sim["band_low"], sim["band_high"]
        inside = (None if o is None or low is None or high is None
                  else bool(low <= o <= high))
        out[m] = {"observed": o, "simulated": sim, "within_band": inside}
    return out


def backtest(
    log_path: str | Path,
    scenario: Scenario,
    replications: int = 10,
    seed: int = 1,
    *,
    timezone: str | None = None,
    skip_bad_rows: bool = False,
    workers: int | None = 1,
    chunk_rows: int = 50_000,
    scheduler: Any = None,
    out: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Simulated vs observed arrivals, waits and breach rates, overall, by hub and week.

    Replications run on the shared runner: `workers` local processes or a Dask
    `scheduler`; `out` keeps each one under `out/cache`, so an interrupted backtest
    resumes.
    """
    reader = EventLogReader(log_path, timezone, known_hubs=scenario.hub_names,
                            known_types=scenario.type_names, chunk_rows=chunk_rows)
    acc = _DaySums(scenario)
    first, last = math.inf, -math.inf
    for chunk in reader.chunks():
        acc.add(chunk)
        first, last = min(first, chunk["created"].min()), max(last, chunk["created"].max())
    warnings = reader.check(skip_bad_rows)
    if not math.isfinite(first):
        raise ScenarioError([f"{log_path}: no usable rows"])
    end = reader.max_time_hours
    origin = epoch_hours(scenario.run.start_date)
    if end - origin > scenario.horizon_hours + 1e-6:
        raise ScenarioError([f"{log_path}: the extract ends ({hours_to_date(end)}) after the "
                             "scenario's run: backtest a scenario fitted to this log"])
    first_day, last_day = int(first // 24), int(last // 24)
    w0, w1 = first_day * 24.0, (last_day + 1) * 24.0
    obs = _reduce(acc.finish(end), first_day)
    job = _SimulatedSums(w0, w1, end, first_day)
    tasks = [Task(scenario, seed, r, job=job) for r in range(replications)]
    workers = min(workers or default_workers(), replications)
    with replication_runner(workers, scheduler, out, progress, "backtest",
                            delay_s=1.0) as runner:
        sims = runner.run_all(tasks)
    weeks = []
    for w, o in sorted(obs["weeks"].items()):
        start = hours_to_date((first_day + 7 * w) * 24.0)
        weeks.append({"week_start": str(start),
                      "metrics": _compare(o, [s["weeks"].get(w) for s in sims])})
    coverage = {}
    for m in BACKTEST_METRICS:
        flags = [wk["metrics"][m]["within_band"] for wk in weeks  # type: ignore[index]
                 if wk["metrics"][m]["within_band"] is not None]  # type: ignore[index]
        coverage[m] = (sum(flags) / len(flags)) if flags else None
    return {
        "log": str(log_path), "scenario": scenario.name, "seed": seed,
        "replications": replications,
        "window": {"first_day": str(hours_to_date(w0)), "last_day": str(hours_to_date(last)),
                   "extract_end": str(pd.Timestamp(end * 3.6e12))},
        "metrics": _compare(obs["overall"], [s["overall"] for s in sims]),
        "hubs": {h: {"metrics": _compare(o, [s["hubs"].get(h) for s in sims])}
                 for h, o in obs["hubs"].items()},
        "weeks": weeks, "weekly_coverage": coverage,
        "bad_rows": reader.problems.to_dict(), "warnings": warnings,
    }


def _cell(m: dict[str, Any], scale: float, dec: int) -> str:
    o, s = m["observed"], m["simulated"]
    if o is None and s["mean"] is None:
        return "n/a"
    ot = "n/a" if o is None else f"{o * scale:.{dec}f}"
    if s["mean"] is None:
        return f"{ot} | n/a"
    band = ("" if s["band_low"] is None
            else f" [{s['band_low'] * scale:.{dec}f}, {s['band_high'] * scale:.{dec}f}]")
    flag = "" if m["within_band"] is None or m["within_band"] else " *"
    return f"{ot} | {s['mean'] * scale:.{dec}f}{band}{flag}"


_COLS = tuple((m, head, BACKTEST_METRICS[m].scale, dec) for m, head, dec in (
    ("arrivals", "arrivals", 0), ("time_to_start_hours_mean", "to start h", 1),
    ("time_to_decision_hours_mean", "to decision h", 1),
    ("decision_target_breach", "breach %", 1), ("sd_over_72h", "SD>72h %", 1)))


def format_backtest_table(result: dict[str, Any]) -> str:
    """Observed | simulated mean [95 % prediction band]; * marks observed outside it."""
    head = ["", *(c[1] for c in _COLS)]
    rows = [["ALL (window)", *(_cell(result["metrics"][c[0]], c[2], c[3]) for c in _COLS)]]
    rows += [[h, *(_cell(v["metrics"][c[0]], c[2], c[3]) for c in _COLS)]
             for h, v in result["hubs"].items()]
    rows.append(["", *[""] * len(_COLS)])
    rows += [[f"week {w['week_start']}", *(_cell(w["metrics"][c[0]], c[2], c[3])
                                           for c in _COLS)] for w in result["weeks"]]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join
    cov = ", ".join(f"{k} {v:.0%}" for k, v in result["weekly_coverage"].items()
                    if v is not None)
    out = [f"backtest of {result['scenario']!r} on {terminal(result['log'])} — "
           f"{result['replications']} replication(s), seed {result['seed']}",
           "cells: observed | simulated mean [95% prediction band]; * = outside",
           fmt(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out += [fmt(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    out.append(f"weeks inside the band: {cov}")
    return "\n".join(out)
