"""Baseline against what-if: tables and figures with paired (common-random-number) CIs.

Both runs use the same seed, so replication r of each sees the same referrals and the
difference is taken replication by replication (`mashsim.plots.paired_differences`):
a change whose CI excludes zero is a real effect of the what-if, not noise. Tables are
pandas frames of text, ready for the page; figures are matplotlib Figures.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from mashsim.report import plots
from mashsim.scenario import Scenario

__all__ = [
    "BREACH_METRICS",
    "GRADES",
    "backlog_figure",
    "breach_figure",
    "breach_table",
    "comparison",
    "headline",
    "results_csv",
    "scenario_toml",
    "utilisation_table",
    "waits_table",
]

BREACH_METRICS = ("decision_target_breach", "sd_breach_72h")
GRADES = ("high", "medium", "standard")
WAIT_METRICS = tuple(f"staff_wait_hours_mean_{g}" for g in GRADES)
HEADLINE_METRICS = ("sd_breach_72h", "decision_target_breach", "backlog_mean",
                    "staff_wait_hours_mean")
ROLE_LABEL = "caseworkers (staff)"  # the one role of a hub not described by roles
BASE_COLOUR, OTHER_COLOUR = plots.OKABE_ITO["sky_blue"], plots.OKABE_ITO["vermillion"]


def comparison(base: Any, other: Any) -> pd.DataFrame:
    """Every metric in every scope: baseline, what-if and paired difference with CIs."""
    roles = sorted(base.scenario.role_names)
    metrics = [*dict.fromkeys([*HEADLINE_METRICS, *BREACH_METRICS, *WAIT_METRICS,
                               "staff_utilisation", "backlog_max",
                               *(f"utilisation_{r}" for r in roles)])]
    return plots.paired_differences(base, other, metrics)


def _row(diffs: pd.DataFrame, scope: str, metric: str) -> pd.Series | None:
    rows = diffs[(diffs["scope"] == scope) & (diffs["metric"] == metric)]
    return None if rows.empty else rows.iloc[0]


def _num(x: Any) -> float:
    return math.nan if x is None or pd.isna(x) else float(x)


def _value(row: pd.Series | None, prefix: str, scale: float, unit: str) -> str:
    """"12.3 % [10.1–14.5]": a mean and its 95 % CI, scaled for display."""
    if row is None or math.isnan(_num(row[f"{prefix}_mean"])):
        return "n/a"
    mean, lo, hi = (_num(row[f"{prefix}_{k}"]) * scale for k in ("mean", "ci_low", "ci_high"))
    digits = 1 if abs(mean) < 100 else 0
    sign = "+" if prefix == "diff" and mean > 0 else ""
    text = f"{sign}{mean:.{digits}f}{unit}"
    if not math.isnan(lo):
        text += f" [{lo:.{digits}f} to {hi:.{digits}f}]"
    return text


def _unit(metric: str) -> tuple[float, str, str]:
    """(scale, unit for values, unit for differences)."""
    _, unit, scale = plots.metric_label(metric)
    if unit == "%":
        return scale, " %", " pts"
    suffix = f" {unit}" if unit and unit != "count" else ""
    return scale, suffix, suffix


def _scope_label(sc: Scenario, scope: str) -> str:
    return "All hubs" if scope == "overall" else sc.hub_display_label(scope)


def _compare_columns(diffs: pd.DataFrame, scope: str, metric: str, what: str
                     ) -> dict[str, str]:
    scale, unit, diff_unit = _unit(metric)
    row = _row(diffs, scope, metric)
    return {f"{what}: baseline": _value(row, "base", scale, unit),
            f"{what}: what-if": _value(row, "other", scale, unit),
            f"{what}: change [95 % CI]": _value(row, "diff", scale, diff_unit)}


def breach_table(sc: Scenario, diffs: pd.DataFrame) -> pd.DataFrame:
    """Per hub (all hubs first): both breach rates, baseline, what-if and paired change."""
    rows = []
    for scope in ["overall", *sc.hub_names]:
        row = {"Hub": _scope_label(sc, scope)}
        row.update(_compare_columns(diffs, scope, "decision_target_breach", "Decision target"))
        row.update(_compare_columns(diffs, scope, "sd_breach_72h", "SD over 72 h"))
        rows.append(row)
    return pd.DataFrame(rows)


def waits_table(diffs: pd.DataFrame) -> pd.DataFrame:
    """Force-wide mean wait for staff by risk grade."""
    rows = [{"Risk grade": g, **_compare_columns(diffs, "overall",
                                                  f"staff_wait_hours_mean_{g}", "Mean wait")}
            for g in GRADES]
    rows.append({"Risk grade": "all", **_compare_columns(diffs, "overall",
                                                         "staff_wait_hours_mean", "Mean wait")})
    return pd.DataFrame(rows)


def utilisation_table(sc: Scenario, diffs: pd.DataFrame) -> pd.DataFrame:
    """Staff utilisation by hub and role: every role of a scenario described by roles
    (`utilisation_<role>`), else the hubs' one role of caseworkers (`staff_utilisation`)."""
    roles = sorted(sc.role_names)
    if not roles:
        return pd.DataFrame([{"Hub": _scope_label(sc, scope), "Role": ROLE_LABEL,
                              **_compare_columns(diffs, scope, "staff_utilisation",
                                                 "Utilisation")}
                             for scope in ["overall", *sc.hub_names]])
    metrics = set(diffs["metric"])
    return pd.DataFrame([{"Hub": _scope_label(sc, scope), "Role": role.replace("_", " "),
                          **_compare_columns(diffs, scope, f"utilisation_{role}", "Utilisation")}
                         for scope in ["overall", *sc.hub_names] for role in roles
                         if f"utilisation_{role}" in metrics
                         and (scope == "overall" or role in (sc.hubs[scope].roles or {}))])


def headline(diffs: pd.DataFrame) -> list[dict[str, str]]:
    """Force-wide key figures: label, what-if value, and the paired change with its CI."""
    out = []
    for m in HEADLINE_METRICS:
        label, _, _ = plots.metric_label(m)
        scale, unit, diff_unit = _unit(m)
        row = _row(diffs, "overall", m)
        out.append({"metric": m, "label": label,
                    "value": _value(row, "other", scale, unit).split(" [")[0],
                    "change": _value(row, "diff", scale, diff_unit)})
    return out


# -- figures -------------------------------------------------------------------------


def _plot_text(text: str) -> str:
    """Scenario text shown literally by matplotlib (`$` would start mathtext)."""
    return text.replace("$", r"\$")


def breach_figure(sc: Scenario, diffs: pd.DataFrame) -> Figure:
    """Breach rates by hub, baseline and what-if side by side, each with its 95 % CI."""
    scopes = ["overall", *sc.hub_names]
    fig = Figure(figsize=(10.0, 0.42 * len(scopes) + 1.6), layout="constrained")
    axes = fig.subplots(1, len(BREACH_METRICS), sharey=True, squeeze=False).ravel()
    y = list(range(len(scopes)))[::-1]
    for ax, metric in zip(axes, BREACH_METRICS, strict=True):
        label, _, scale = plots.metric_label(metric)
        for offset, prefix, colour, name in ((0.2, "base", BASE_COLOUR, "baseline"),
                                             (-0.2, "other", OTHER_COLOUR, "what-if")):
            for yi, scope in zip(y, scopes, strict=True):
                row = _row(diffs, scope, metric)
                mean, lo, hi = ((_num(row[f"{prefix}_{k}"]) * scale if row is not None
                                 else math.nan) for k in ("mean", "ci_low", "ci_high"))
                ax.barh(yi + offset, 0 if math.isnan(mean) else mean, height=0.38,
                        color=colour, label=name if yi == y[0] else None)
                if not math.isnan(lo):
                    ax.errorbar(mean, yi + offset, xerr=[[mean - lo], [hi - mean]], fmt="none",
                                ecolor="0.15", capsize=2, lw=0.9)
        ax.set_yticks(y, [_plot_text(_scope_label(sc, s)) for s in scopes], fontsize=9)
        ax.set_title(label, fontsize=11)
        ax.set_xlabel("% of referrals (mean, 95 % CI)", fontsize=9)
        ax.set_xlim(left=0)
        ax.grid(True, axis="x", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    axes[0].legend(loc="lower right", fontsize=9)
    fig.suptitle("Breach rates by hub: baseline and what-if", fontsize=12)
    return fig


def _band(results: Any, hub: str | None) -> pd.DataFrame:
    frame = results.backlog_daily()
    if hub is not None:
        frame = frame[frame["hub"] == hub]
    per_day = frame.groupby(["replication", "date"], as_index=False)["backlog"].sum()
    g = per_day.groupby("date")["backlog"].agg(["mean", "std", "count"])
    from scipy import stats

    q = stats.t.ppf(0.975, (g["count"] - 1).clip(lower=1))
    half = (q * g["std"] / g["count"].pow(0.5)).where(g["count"] > 1)
    return g.assign(lo=(g["mean"] - half).clip(lower=0), hi=g["mean"] + half)


def backlog_figure(base: Any, other: Any, hub: str | None = None) -> Figure:
    """Backlog at the end of each day, mean and 95 % CI band, baseline and what-if."""
    sc = base.scenario
    fig = Figure(figsize=(10.0, 3.6), layout="constrained")
    ax = fig.subplots()
    for results, colour, name in ((base, BASE_COLOUR, "baseline"),
                                  (other, OTHER_COLOUR, "what-if")):
        band = _band(results, hub)
        if band.empty:
            continue
        dates = pd.to_datetime(band.index)
        ax.fill_between(dates, band["lo"].fillna(band["mean"]), band["hi"].fillna(band["mean"]),
                        color=colour, alpha=0.3, linewidth=0)
        ax.plot(dates, band["mean"], color=colour, lw=1.6, label=f"{name} (mean, 95 % CI band)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("referrals in the MASH", fontsize=9)
    ax.set_xlabel("date (end of day)", fontsize=9)
    ax.legend(fontsize=9, loc="upper left")
    where = "all hubs" if hub is None else _plot_text(sc.hub_display_label(hub))
    ax.set_title(f"Backlog, {where}", fontsize=11)
    return fig


# -- downloads -----------------------------------------------------------------------


def scenario_toml(scenario: Scenario) -> str:
    """The scenario as TOML, exactly as `Scenario.to_toml` writes it (it reads back equal)."""
    with tempfile.TemporaryDirectory(prefix="mashsim-app-") as tmp:
        path = Path(tmp) / "scenario.toml"
        scenario.to_toml(path)
        return path.read_text(encoding="utf-8")


def results_csv(results: Any) -> str:
    """summary.csv as `mashsim run --out` writes it (hub × metric, mean and CI)."""
    with tempfile.TemporaryDirectory(prefix="mashsim-app-") as tmp:
        results.write(Path(tmp) / "results")
        return (Path(tmp) / "results" / "summary.csv").read_text(encoding="utf-8")
