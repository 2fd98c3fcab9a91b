"""Figures for reports and notebooks: each function returns a matplotlib Figure.

Figures are built on `matplotlib.figure.Figure` with an Agg canvas, never through
pyplot, so they hold no global state, work in worker threads and headless machines, and
are freed when dropped. In Jupyter, run `%matplotlib inline` (or `display(fig)`) to see
them. Colours come from the Okabe–Ito palette, which stays distinguishable with the
common colour-vision deficiencies; heatmaps use cividis and a purple–orange diverging
map. This module is the only one that imports matplotlib; the core never imports it.

The data helpers (`wait_records`, `paired_differences`, `read_sweep`) return pandas
frames, so a notebook can tabulate what a figure shows.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mashsim.errors import ScenarioError
from mashsim.experiment.executors import SerialExecutor, Task
from mashsim.experiment.replications import ReplicationResult, confidence_interval
from mashsim.experiment.results import Results
from mashsim.experiment.runner import ReplicationRunner
from mashsim.metrics.compute import metric_bounds
from mashsim.metrics.registry import metric_info
from mashsim.report.labels import display_label, hub_label
from mashsim.report.stress import StaffBalance, per_clock_hour, staff_balance
from mashsim.safe_text import plot_label
from mashsim.scenario.schema import DAY_NAMES, GRADES, Scenario
from mashsim.stats import fixed, format_ci, half_width

__all__ = [
    "GRADE_COLOURS",
    "KEY_METRICS",
    "OKABE_ITO",
    "SWEEP_COLUMNS",
    "backlog_over_time",
    "breach_by_hub",
    "changed_hubs",
    "clock_start_text",
    "comparison_chart",
    "demand_capacity_heatmap",
    "metric_label",
    "metrics_by_hub",
    "new_figure",
    "paired_differences",
    "read_sweep",
    "realised_shrinkage",
    "roles_and_stages",
    "sweep_axes",
    "sweep_chart",
    "sweep_paths",
    "to_png",
    "wait_distribution",
    "wait_records",
]

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9",
    "bluish_green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
    "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
}
_CYCLE = [OKABE_ITO[k] for k in ("blue", "vermillion", "bluish_green", "orange",
                                 "reddish_purple", "sky_blue", "black", "yellow")]
GRADE_COLOURS = {"high": OKABE_ITO["vermillion"], "medium": OKABE_ITO["orange"],
                 "standard": OKABE_ITO["blue"]}

KEY_METRICS = ("decision_target_breach", "sd_breach_72h", "staff_wait_hours_mean",
               "backlog_mean", "oldest_waiting_days_at_end", "staff_utilisation")

SWEEP_COLUMNS = ("point", "scope", "metric", "mean", "ci_low", "ci_high", "diff_mean",
                 "diff_ci_low", "diff_ci_high", "replications")


def metric_label(name: str) -> tuple[str, str, float]:
    """(readable label, unit, display scale) for a metric name, from the metric registry;
    shares become %. A name outside the registry is shown as its words."""
    try:
        m = metric_info(name)
    except KeyError:
        return (name.replace("_", " "), "", 1.0)
    return (m.short, m.kind.symbol, m.kind.scale)


def _plain(text: Any) -> str:
    """Scenario text as matplotlib shows it literally (`$` would start mathtext)."""
    return plot_label(str(text))


def _hub(sc: Scenario, hub: str) -> str:
    """A hub's display name, safe for matplotlib."""
    return _plain(hub_label(sc, hub))


def clock_start_text(target: Any) -> str:
    """Where a decision target starts counting, in words ("creation", "MASH receipt")."""
    return getattr(target, "starts_at", "creation").replace("mash_receipt", "MASH receipt")


def new_figure(width_in: float, height_in: float) -> Figure:
    """A figure drawn off-screen (Agg), sized in inches: the one way every chart starts."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (no timestamp in the metadata: same input, same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _scale_ci(ci: Mapping[str, Any], scale: float) -> tuple[float, float, float]:
    def f(x: Any) -> float:
        return math.nan if x is None else float(x) * scale
    return f(ci["mean"]), f(ci["ci_low"]), f(ci["ci_high"])


def _t_band(frame: pd.DataFrame, by: str, value: str, level: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t CI of `value` across replications, for each `by`."""
    g = frame.groupby(by)[value].agg(["mean", "std", "count"])
    half = half_width(g["std"], g["count"], level)
    return g.assign(ci_low=g["mean"] - half, ci_high=g["mean"] + half)


# -- backlog -----------------------------------------------------------------------


def backlog_over_time(results: Results, hubs: Sequence[str] | None = None,
                      ncols: int = 3) -> Figure:
    """End-of-day backlog per hub: mean line with a 95 % CI band across replications.

    The grey dashed line is the backlog that equals 72 hours of the hub's demand: by
    Little's law, a backlog above it means the average referral spends more than 72 h
    in the MASH. Each panel states the hub's decision-target and strategy-discussion
    breach rates with CIs.
    """
    sc, summary = results.scenario, results.summary()
    frame = results.backlog_daily()
    scopes = ["overall", *(hubs if hubs is not None else sc.hub_names)]
    totals = frame.groupby(["replication", "date"], as_index=False)[
        ["backlog", "staff_queue"]].sum()
    nrows = math.ceil(len(scopes) / ncols)
    fig = new_figure(4.0 * ncols, 2.9 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, scope in zip(axes, scopes, strict=False):
        data = totals if scope == "overall" else frame[frame["hub"] == scope]
        metrics = summary["metrics"] if scope == "overall" else summary["hubs"][scope]["metrics"]
        rate = sc.arrivals.referrals_per_day if scope == "overall" else sc.hub_rate_per_day(scope)
        _backlog_panel(ax, data, metrics, rate,
                       "all hubs" if scope == "overall" else _hub(sc, scope))
    for ax in axes[len(scopes):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if labels:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8,
                   frameon=False)
    fig.suptitle(f"Backlog at the end of each day — mean and 95 % CI band over "
                 f"{results.replications} replications", fontsize=11)
    return fig


def _backlog_panel(ax: Any, data: pd.DataFrame, metrics: Mapping[str, Any], rate_per_day: float,
                   title: str) -> None:
    if data.empty:
        ax.text(0.5, 0.5, "no days after warm-up", ha="center", transform=ax.transAxes)
    else:
        band = _t_band(data, "date", "backlog")
        dates = pd.to_datetime(band.index)
        ax.fill_between(dates, band["ci_low"], band["ci_high"], color=OKABE_ITO["sky_blue"],
                        alpha=0.45, linewidth=0, label="95 % CI")
        ax.plot(dates, band["mean"], color=OKABE_ITO["blue"], lw=1.4, label="backlog (mean)")
        queue = data.groupby("date")["staff_queue"].mean()
        ax.plot(pd.to_datetime(queue.index), queue.to_numpy(), color=OKABE_ITO["orange"],
                lw=1.0, label="of which waiting for staff")
        ax.axhline(rate_per_day * 3.0, color="0.45", ls="--", lw=1.0,
                   label="72 h of demand (Little's law)")
        locator = AutoDateLocator(maxticks=5)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_ylim(bottom=0)
    t, lo, hi = _scale_ci(metrics["decision_target_breach"], 100)
    s, slo, shi = _scale_ci(metrics["sd_breach_72h"], 100)
    # In the title, not a box over the plot: nothing may hide the data.
    ax.set_title(f"{title}\ntarget breach {_pct_ci(t, lo, hi)} · SD > 72 h "
                 f"{_pct_ci(s, slo, shi)}", fontsize=8)
    ax.set_xlabel("date (end of day)", fontsize=8)
    ax.set_ylabel("referrals open (count)", fontsize=8)
    ax.tick_params(labelsize=7)


def _pct_ci(mean: float, lo: float, hi: float) -> str:
    return format_ci({"mean": mean, "ci_low": lo, "ci_high": hi}, fixed(0), unit=" %")


def breach_by_hub(results: Results,
                  metrics: Sequence[str] = ("decision_target_breach", "sd_breach_72h")) -> Figure:
    """Breach rates per hub with 95 % CI error bars, all hubs on top."""
    return metrics_by_hub(results, metrics,
                          f"Breach rates by hub ({results.replications} replications)")


def roles_and_stages(results: Results) -> Figure | None:
    """Utilisation of each described role and mean wait in each described stage's queue,
    per hub with 95 % CI error bars; None for a scenario without roles or stages."""
    sc = results.scenario
    metrics = [*(f"utilisation_{r}" for r in sc.role_names),
               *(f"stage_wait_hours_mean_{s}" for s in sc.stages)]
    if not metrics:
        return None
    return metrics_by_hub(results, metrics, "Utilisation by role and waits by stage "
                          f"({results.replications} replications)")


def metrics_by_hub(results: Results, metrics: Sequence[str], title: str) -> Figure:
    """Metrics per hub with 95 % CI error bars, all hubs on top, one panel per metric."""
    s = results.summary()
    scopes = [("all hubs", s["metrics"])] + [
        (_hub(results.scenario, h), v["metrics"]) for h, v in s["hubs"].items()]
    fig = new_figure(4.2 * len(metrics), 0.32 * len(scopes) + 1.4)
    axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True).ravel()
    y = np.arange(len(scopes))[::-1]
    for i, (ax, name) in enumerate(zip(axes, metrics, strict=True)):
        label, unit, scale = metric_label(name)
        vals = np.array([_scale_ci(m[name], scale) for _, m in scopes])
        err = np.abs(vals[:, [1, 2]].T - vals[:, 0])
        colours = [OKABE_ITO["black"]] + [_CYCLE[i % len(_CYCLE)]] * (len(scopes) - 1)
        ax.barh(y, np.nan_to_num(vals[:, 0]), color=colours, alpha=0.8)
        ax.errorbar(vals[:, 0], y, xerr=np.nan_to_num(err), fmt="none", ecolor="0.2",
                    capsize=2, lw=1)
        ax.set_yticks(y, [n for n, _ in scopes], fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(f"{label} ({unit}), mean and 95 % CI", fontsize=8)
        ax.set_ylabel("hub", fontsize=8)
        ax.set_xlim(left=0)
    fig.suptitle(title, fontsize=11)
    return fig


# -- waiting times -----------------------------------------------------------------


WAIT_COLUMNS = ("replication", "hub", "grade", "clock_start", "staff_wait_hours",
                "decision_hours", "target_hours", "time_in_mash_hours", "breached",
                "resolved", "open_at_end")


def wait_records(results: Results, replications: int | None = 5) -> pd.DataFrame:
    """Per-referral waits of the first replications, from the outcomes kept on them.

    One row per referral created after the warm-up: replication, hub, grade,
    clock_start ("creation" or "mash_receipt": where the grade's target counts from),
    staff_wait_hours (hand-over → first staff work; NaN if never handed over),
    decision_hours (clock start → decision, or → end of run if still open),
    target_hours (clock start → its decision-target deadline), time_in_mash_hours
    (creation → decision or end), breached, resolved (decided, or its deadline passed
    within the run: the denominator of the breach metrics), open_at_end.

    Replications simulated with outcomes (`simulate(..., outcomes=n)`, as `mashsim report`
    does) are read as they are; others are run again for their outcomes (pure, so
    identical), which costs a replication each.
    """
    sc = results.scenario
    n = results.replications if replications is None else min(replications,
                                                                results.replications)
    runs = _with_outcomes(results, results.runs[:n])
    grades: dict[str, Any] = {str(k): v for k, v in sc.grades.items()}
    starts = np.asarray([getattr(grades[g].decision_target, "starts_at", "creation")
                         for g in GRADES])
    frames = []
    for run in runs:
        for hub, cols in (run.outcomes or {}).items():
            grade = cols["grade_idx"].astype(np.intp)
            frames.append(pd.DataFrame({
                "replication": run.replication,
                "hub": hub,
                "grade": np.asarray(GRADES)[grade],
                "clock_start": starts[grade],
                **{c: cols[c] for c in WAIT_COLUMNS[4:]},
            }))
    if not frames:
        return pd.DataFrame(columns=list(WAIT_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _with_outcomes(results: Results, runs: Sequence[ReplicationResult]
                   ) -> list[ReplicationResult]:
    """`runs`, those kept without per-referral outcomes run again (serially) with them."""
    lacking = [run.replication for run in runs if run.outcomes is None]
    if not lacking:
        return list(runs)
    tasks = [Task(results.scenario, results.seed, r, outcomes=True) for r in lacking]
    with SerialExecutor() as executor:
        again = dict(zip(lacking, ReplicationRunner(executor).run_all(tasks), strict=True))
    return [again.get(run.replication, run) for run in runs]


def _survival(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    v = np.sort(values[np.isfinite(values)])
    if v.size == 0:
        return np.full(grid.shape, np.nan)
    return 100.0 * (1.0 - np.searchsorted(v, grid, side="right") / v.size)


def wait_distribution(results: Results, waits: pd.DataFrame | None = None,
                      hub: str | None = None) -> Figure:
    """Share of referrals still waiting after t hours, by risk grade, targets drawn.

    Solid: from the moment the grade's target starts counting (creation, or MASH receipt
    where the scenario says so) to the decision; dotted: hand-over to staff → first staff
    work. Referrals still open at the end count at their age so far,
    so the solid tails are a lower bound. The vertical line is the grade's decision
    target; on a working-hours clock its elapsed length varies, so the median is drawn.
    """
    sc = results.scenario
    w = wait_records(results) if waits is None else waits
    if hub is not None:
        w = w[w["hub"] == hub]
    top = max(24.0 * 7, float(np.nanmax(w["decision_hours"], initial=1.0)))
    grid = np.geomspace(0.05, top, 400)
    fig = new_figure(12.0, 3.6)
    axes = fig.subplots(1, len(GRADES), sharey=True).ravel()
    for ax, grade in zip(axes, GRADES, strict=True):
        g = w[w["grade"] == grade]
        colour = GRADE_COLOURS[grade]
        target = sc.grades[grade].decision_target
        since = clock_start_text(target)
        ax.plot(grid, _survival(g["decision_hours"].to_numpy(float), grid), color=colour,
                lw=1.6, label=f"{since} → decision")
        ax.plot(grid, _survival(g["staff_wait_hours"].to_numpy(float), grid), color=colour,
                lw=1.2, ls=":", label="hand-over → staff start")
        elapsed = (g["target_hours"].median() if len(g) else target.amount)
        clock = target.clock.replace("_", " ")
        note = "" if target.clock == "elapsed_hours" else f" (median {elapsed:.0f} h elapsed)"
        ax.axvline(elapsed, color="0.2", ls="--", lw=1.0,
                   label=f"target {target.amount:g} {clock}{note}")
        due = g[g["resolved"]]
        breached = 100.0 * due["breached"].mean() if len(due) else math.nan
        ax.set_xscale("log")
        ax.set_ylim(0, 100)
        # In the title, not a box over the curves.
        ax.set_title(f"{grade} risk\n{len(g):,} referrals, {breached:.0f} % breached target",
                     fontsize=9)
        ax.set_xlabel("hours (log scale)", fontsize=8)
        ax.set_ylabel("referrals still waiting (%)", fontsize=8)
        ax.legend(loc="lower left", fontsize=7, frameon=False)
        ax.grid(True, which="major", color="0.9", lw=0.6)
    n_rep = int(w["replication"].nunique()) if len(w) else 0
    where = _hub(sc, hub) if hub else "all hubs"
    fig.suptitle(f"Waiting times by risk grade — {where}, {n_rep} replication(s) pooled",
                 fontsize=11)
    return fig


# -- demand and capacity -----------------------------------------------------------


_per_clock_hour = per_clock_hour  # kept for callers of the old private name


def realised_shrinkage(results: Results) -> dict[str, float]:
    """Each hub's mean realised shrinkage across replications (NaN where unknown)."""
    hubs = results.summary()["hubs"]
    return {h: math.nan if v["metrics"]["realised_shrinkage"]["mean"] is None
            else float(v["metrics"]["realised_shrinkage"]["mean"]) for h, v in hubs.items()}


def demand_capacity_heatmap(results: Results | Scenario, hub: str | None = None,
                            balance: StaffBalance | None = None) -> Figure:
    """Demand and available staff by hour of week, and the balance between them.

    Left: referrals arriving per hour. Middle: staff-hours available per hour — filled
    posts on their rosters less shrinkage (realised in the simulation when Results are
    given, planned for a bare Scenario). Right: available minus the staff work arriving
    (referrals × mean work per referral): orange hours build the backlog that purple
    hours must clear. Averaged over the weeks of the reporting window. Pass the
    `balance` the text quotes (`mashsim.stress.staff_balance`) so both show one figure.
    """
    sc = results if isinstance(results, Scenario) else results.scenario
    if balance is None:
        shrink = None if isinstance(results, Scenario) else realised_shrinkage(results)
        balance = staff_balance(sc, shrink, hub)
    b = balance
    panels = [
        (b.referrals_by_hour, "referrals arriving", "referrals per hour", "cividis", None),
        (b.available_by_hour, "caseworkers available", "staff-hours per hour", "cividis",
         None),
        (b.available_by_hour - b.work_by_hour, "available minus work arriving",
         "staff-hours per hour", "PuOr", "diverging"),
    ]
    fig = new_figure(13.0, 3.6)
    axes = fig.subplots(1, 3).ravel()
    for ax, (grid, title, unit, cmap, kind) in zip(axes, panels, strict=True):
        norm = None
        if kind == "diverging":
            low, high = float(np.nanmin(grid)), float(np.nanmax(grid))
            norm = TwoSlopeNorm(vcenter=0.0, vmin=min(low, -1e-9), vmax=max(high, 1e-9))
        im = ax.imshow(grid, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
        fig.colorbar(im, ax=ax, label=unit, shrink=0.9)
        ax.set_yticks(range(7), DAY_NAMES, fontsize=8)
        ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("hour of day (clock time)", fontsize=8)
        ax.set_ylabel("day of week", fontsize=8)
    where = _hub(sc, hub) if hub else "all hubs"
    fig.suptitle(f"Demand and staff by hour of week — {where}\n≈{b.work_hours_per_week:,.0f} "
                 f"staff-hours of work arrive a week; {b.available_hours_per_week:,.0f} "
                 f"available ({b.filled_posts} of {b.posts} posts filled, "
                 f"{100 * b.shrinkage:.1f} % {b.shrinkage_source} shrinkage; "
                 f"{b.rostered_hours_per_week:,.0f} if every post were filled and present)",
                 fontsize=10)
    return fig


# -- comparisons -------------------------------------------------------------------


def paired_differences(base: Results, other: Results,
                       metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Every metric in every common scope: both means with CIs and the paired difference.

    The difference (other − base) is taken per replication and then summarised, which is
    what common random numbers buy: with the same seed, replication r of both scenarios
    sees the same referrals, so the paired CI is much narrower than the two CIs suggest.
    `crn` says whether the seeds match.
    """
    a, b = base.metrics_frame(), other.metrics_frame()
    names = [m for m in (metrics or a.columns) if m in a.columns and m in b.columns
             and m not in ("replication", "hub")]
    merged = a.merge(b, on=["replication", "hub"], suffixes=("_base", "_other"))
    order = {h: i for i, h in enumerate(["overall", *base.scenario.hub_names])}
    rows = []
    for scope, g in sorted(merged.groupby("hub"), key=lambda kv: order.get(kv[0], 999)):
        for m in names:
            x, y = g[f"{m}_base"].to_numpy(float), g[f"{m}_other"].to_numpy(float)
            bounds = metric_bounds(m)
            ci_a, ci_b, ci_d = (confidence_interval(x, bounds=bounds),
                                confidence_interval(y, bounds=bounds),
                                confidence_interval(y - x))
            rows.append({
                "scope": scope, "metric": m,
                **{f"base_{k}": v for k, v in ci_a.items()},
                **{f"other_{k}": v for k, v in ci_b.items()},
                **{f"diff_{k}": v for k, v in ci_d.items()},
                "replications": len(g), "crn": base.seed == other.seed,
            })
    return pd.DataFrame(rows)


def changed_hubs(base: Scenario, other: Scenario) -> list[str]:
    """Hubs (in `base`'s order) whose own inputs differ between the two scenarios."""
    return [h for h in base.hub_names if h in other.hubs and base.hubs[h] != other.hubs[h]]


def _comparison_scopes(base: Results, others: Mapping[str, Results],
                       hubs: Sequence[str] | None) -> list[str]:
    """"overall" then the hubs to show: `hubs` as given, else every hub that changed."""
    sc = base.scenario
    if hubs is None:
        changed = {h for res in others.values() for h in changed_hubs(sc, res.scenario)}
        hubs = [h for h in sc.hub_names if h in changed]
    unknown = [h for h in hubs if h not in sc.hubs]
    if unknown:
        raise ScenarioError([f"hubs: {', '.join(unknown)}: no such hub in the baseline "
                             f"(hubs: {', '.join(sc.hub_names)})"])
    return ["overall", *dict.fromkeys(hubs)]


def comparison_chart(base: Results, others: Mapping[str, Results],
                     metrics: Sequence[str] = KEY_METRICS, hubs: Sequence[str] | None = None,
                     ncols: int = 3, base_name: str | None = None) -> Figure:
    """Paired difference (alternative − baseline) per metric with 95 % CIs, force-wide
    and for each hub shown.

    A force-wide figure can hide one hub's change, so by default every hub whose inputs
    differ from the baseline's gets its own bar; `hubs=[...]` picks the hubs instead
    (`hubs=[]`: force-wide only). A bar whose CI crosses zero is no detectable change at
    this number of replications.
    """
    sc = base.scenario
    scopes = _comparison_scopes(base, others, hubs)
    diffs = {name: paired_differences(base, res, metrics) for name, res in others.items()}
    bars = [(scope, i, name) for scope in scopes for i, name in enumerate(diffs)]
    y = np.arange(len(bars))[::-1].astype(float)
    nrows = math.ceil(len(metrics) / ncols)
    fig = new_figure(4.3 * ncols, (0.28 * len(bars) + 1.5) * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for k, (ax, m) in enumerate(zip(axes, metrics, strict=False)):
        label, unit, scale = metric_label(m)
        for yi, (scope, i, name) in zip(y, bars, strict=True):
            d = diffs[name]
            row = d[(d["scope"] == scope) & (d["metric"] == m)]
            if row.empty:
                continue
            r = row.iloc[0]
            mean, lo, hi = _scale_ci({"mean": r["diff_mean"], "ci_low": r["diff_ci_low"],
                                      "ci_high": r["diff_ci_high"]}, scale)
            ax.barh(yi, 0 if math.isnan(mean) else mean, height=0.6,
                    color="0.25" if scope == "overall" else _CYCLE[i % len(_CYCLE)],
                    alpha=0.85)
            if not math.isnan(lo):
                ax.errorbar(mean, yi, xerr=[[mean - lo], [hi - mean]], fmt="none",
                            ecolor="0.2", capsize=2, lw=0.9)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_ylim(-0.7, len(bars) - 0.3)
        ticks = [("all hubs" if scope == "overall" else _hub(sc, scope))
                 + (f" · {_plain(name)}" if len(diffs) > 1 else "") for scope, _, name in bars]
        ax.set_yticks(y, ticks if k % ncols == 0 else [""] * len(bars), fontsize=7)
        ax.set_title(label, fontsize=10)
        pts = " points" if unit == "%" else ""
        ax.set_xlabel(f"change vs baseline ({unit}{pts})", fontsize=8)
        ax.set_ylabel("hub" if k % ncols == 0 else " ", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, axis="x", color="0.92", lw=0.6)
        ax.set_axisbelow(True)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    names = ", ".join(_plain(n) for n in diffs)
    shown = ("all hubs" if len(scopes) == 1 else
             f"all hubs (dark) and {len(scopes) - 1} hub(s)"
             + (" whose inputs changed" if hubs is None else ""))
    fig.suptitle(f"{names} − {_plain(base_name or sc.name)}: paired differences with 95 % "
                 f"CIs — {shown}", fontsize=11)
    return fig


# -- sweeps ------------------------------------------------------------------------


def read_sweep(path: str | Path) -> pd.DataFrame:
    """Read a sweep.csv (a file, or a folder holding one) and check its columns."""
    p = Path(path)
    if p.is_dir():
        p = p / "sweep.csv"
    try:
        frame = pd.read_csv(p)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ScenarioError([f"{p}: cannot read sweep results: {err}"]) from None
    missing = [c for c in SWEEP_COLUMNS if c not in frame.columns]
    if missing:
        raise ScenarioError([f"{p}: not a sweep.csv: missing column(s) {', '.join(missing)}"])
    if not sweep_paths(frame):
        raise ScenarioError([f"{p}: no varied scenario path column besides {SWEEP_COLUMNS}"])
    return frame


def sweep_paths(frame: pd.DataFrame) -> list[str]:
    """The varied scenario paths: every column that is not a fixed sweep column."""
    return [c for c in frame.columns if c not in SWEEP_COLUMNS]


def sweep_axes(frame: pd.DataFrame, x: str | None,
                scope: str | None) -> tuple[str, str, list[str]]:
    """(x-axis path, scope, other varied paths) a sweep chart uses: x defaults to a varied
    headcount, scope to the hub that headcount belongs to (else the force)."""
    paths = sweep_paths(frame)
    if x is None:
        x = next((p for p in paths if p.endswith("headcount")), paths[0])
    if scope is None:
        parts = x.split(".")
        hub = parts[1] if len(parts) > 2 and parts[0] == "hubs" else None
        scope = hub if hub is not None and hub in set(frame["scope"]) else "overall"
    return x, scope, [p for p in paths if p != x]


def sweep_chart(frame: pd.DataFrame,
                metrics: Sequence[str] = ("decision_target_breach", "sd_breach_72h"),
                target: float | None = 0.05, x: str | None = None,
                scope: str | None = None) -> Figure:
    """Breach rate against the varied headcount with 95 % CI bands and a target line.

    `frame` is `read_sweep(...)`'s table. x defaults to the first varied path ending in
    `headcount`; scope to the hub that path names (else force-wide). Other varied paths
    draw one line per value. `target` is a share (0.05 = 5 %), a planning choice.
    """
    x, scope, others = sweep_axes(frame, x, scope)
    metrics = [m for m in metrics if m in set(frame["metric"])] or [frame["metric"].iloc[0]]
    fig = new_figure(5.2 * len(metrics), 3.8)
    axes = fig.subplots(1, len(metrics), squeeze=False).ravel()
    sub = frame[frame["scope"] == scope]
    groups = list(sub.groupby(others)) if others else [((), sub)]
    for ax, m in zip(axes, metrics, strict=True):
        label, unit, scale = metric_label(m)
        for i, (key, g) in enumerate(groups):
            g = g[g["metric"] == m].sort_values(x)
            colour = _CYCLE[i % len(_CYCLE)]
            key = key if isinstance(key, tuple) else (key,)
            name = ", ".join(f"{p.split('.')[-1]}={v}" for p, v in zip(others, key, strict=True))
            lo, hi = g["ci_low"] * scale, g["ci_high"] * scale
            if unit == "%":  # a share cannot leave [0, 100] whatever the t interval says
                lo, hi = lo.clip(0, 100), hi.clip(0, 100)
            ax.fill_between(g[x], lo, hi, color=colour, alpha=0.25, linewidth=0)
            ax.plot(g[x], g["mean"] * scale, "o-", color=colour, ms=3.5,
                    label=_plain(name or "mean") + " (95 % CI band)")
        if target is not None and unit == "%":
            ax.axhline(target * 100, color=OKABE_ITO["vermillion"], ls="--", lw=1.2,
                       label=f"target {target * 100:g} %")
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(_plain(label), fontsize=10)
        ax.set_xlabel(_plain(f"{x} (staff)" if x.endswith("headcount") else x), fontsize=8)
        ax.set_ylabel(_plain(f"{label} ({unit})"), fontsize=8)
        ax.legend(fontsize=7, frameon=False)
        ax.grid(True, color="0.92", lw=0.6)
    where = "all hubs" if scope == "overall" else display_label(None, scope)
    fig.suptitle(_plain(f"Staffing sweep — breach rates for {where}"), fontsize=11)
    return fig
