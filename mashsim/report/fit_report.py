"""The fit report (Markdown + PNG) and the backtest plot: the only importer of matplotlib.

Shows, for each fitted distribution, the observed histogram against the fitted density
and a Q-Q plot; the hour-of-week profile (observed, smoothed, separable); the daily
counts against the fitted profile; and a list of what was kept or assumed from the base.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mashsim._io import atomic_write_text
from mashsim.calibrate.fit import FitResult
from mashsim.calibrate.fit_dist import frozen

__all__ = ["plot_backtest", "write_fit_report"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    import io

    from mashsim._io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    _plt().close(fig)


def _plot_profile(res: FitResult, folder: Path) -> str:
    plt = _plt()
    p = res.profile
    fig, ax = plt.subplots(2, 1, figsize=(11, 6.5))
    exposure = p.expected_how.sum(1, keepdims=True) / p.expected_how.sum() * p.days
    per_day = 7.0 / np.maximum(exposure, 1e-9)  # counts → referrals per hour per day
    x = np.arange(168)
    ax[0].plot(x, (p.observed_how * per_day).ravel(), ".", ms=3, label="observed")
    ax[0].plot(x, (p.smoothed_how * per_day).ravel(), "-", lw=1, label="smoothed (168 cells)")
    ax[0].plot(x, (p.expected_how * per_day).ravel(), "-", lw=1.5,
               label="fitted: day-of-week × hour-of-day")
    ax[0].set_xticks(range(0, 168, 24), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax[0].set_ylabel("referrals per hour")
    ax[0].set_title("Hour-of-week profile (weekly-average rate)")
    ax[0].legend(fontsize=8)
    ax[1].plot(p.daily_observed, ".", ms=3, label="observed")
    ax[1].plot(p.daily_expected, "-", lw=1, label="fitted (profile × date multipliers)")
    ax[1].set_xlabel(f"days from {p.first_day}")
    ax[1].set_ylabel("referrals per day")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, folder / "arrivals_profile.png")
    return "arrivals_profile.png"


def _plot_dist(name: str, fit: Any, folder: Path) -> str:
    plt = _plt()
    x = np.sort(fit.values)
    shown = fit.candidates[0].table if fit.fallback and fit.candidates else fit.table
    dist = frozen(shown)
    top = fit.truncated_at
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    hi = np.quantile(x, 0.995)
    ax[0].hist(x[x <= hi], bins=60, density=True, alpha=0.5, label=f"observed (n={len(x)})")
    if dist is not None:
        grid = np.linspace(0, hi, 400)
        scale = 1.0 if not math.isfinite(top) else 1.0 / dist.cdf(top)
        ax[0].plot(grid, dist.pdf(grid) * scale, label=f"fitted {shown['dist']}"
                   + (" (rejected)" if fit.fallback else ""))
        p = (np.arange(len(x)) + 0.5) / len(x)
        q = dist.ppf(p / scale) if math.isfinite(top) else dist.ppf(p)
        ax[1].plot(q, x, ".", ms=2)
        lim = [0, max(np.nanmax(q[np.isfinite(q)]), x.max())]
        ax[1].plot(lim, lim, "k-", lw=0.8)
        ax[1].set_xlabel("fitted quantile")
        ax[1].set_ylabel("observed quantile")
    ax[0].set_xlabel(f"{name} ({fit.unit})")
    ax[0].legend(fontsize=8)
    ax[1].set_title("Q-Q")
    fig.suptitle(name + ("" if not math.isfinite(top) else f" (below {top:.4g}, censoring)"))
    fig.tight_layout()
    file = f"dist_{name.replace('.', '_')}.png"
    _save(fig, folder / file)
    return file


def _table(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items() if k != "values") + (
        f", {len(d['values'])} quantiles" if "values" in d else "")


def _seasonal_lines(diag: dict[str, Any]) -> list[str]:
    """Month weights, growth and over-dispersion with intervals, or why they are absent."""
    se = diag.get("seasonal")
    if se is None:
        return [f"- not estimated: {note}" for note in diag.get("not_estimated", [])]
    pct = round(100 * se["confidence"])
    cells = " | ".join(f"{w:.3f} ({lo:.3f}–{hi:.3f})" for w, lo, hi in
                       zip(se["month_of_year_weights"], se["ci_low"], se["ci_high"],
                           strict=True))
    glo, ghi = se["growth_ci"]
    clo, chi = se["overdispersion_ci"]
    return [f"- month_of_year_weights written (Jan..Dec, mean 1, {pct}% CI): {cells}; "
            f"months differ: p={se['months_p']:.2g}",
            f"- growth_per_year written: {se['growth_per_year']:+.2%} ({pct}% CI "
            f"{glo:+.2%} to {ghi:+.2%}, p={se['growth_p']:.2g})",
            f"- overdispersion written: {se['overdispersion']:.3f} ({pct}% CI {clo:.3f} to "
            f"{chi:.3f}); daily variance/mean {se['variance_to_mean_ratio']:.2f}",
            f"- method: {se['method']}"]


def write_fit_report(res: FitResult, folder: str | Path) -> Path:
    """Write fit_report.md, its PNGs and fit_summary.json into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = res.summary
    a, diag = s["arrivals"], s["arrivals"]["diagnostics"]
    md = [f"# Fit report: {s['log']['path']}", "",
          f"{s['log']['referrals_used']} referrals used of {s['log']['rows']} rows "
          f"({s['log']['bad_rows']['bad_rows']} bad rows skipped), created "
          f"{s['log']['first_created']} to {s['log']['last_created']}; extract end "
          f"{s['log']['extract_end']}. Base scenario: {s['base']}.", ""]
    if s["warnings"]:
        md += ["## Warnings", "", *(f"- {w}" for w in s["warnings"]), ""]
    md += ["## Arrivals", "",
           f"- referrals_per_day: **{a['referrals_per_day']:.2f}** (before date multipliers)",
           f"- day_of_week_weights (Mon..Sun): {a['day_of_week_weights']}",
           f"- hour_of_day_weights: {a['hour_of_day_weights']}",
           f"- trend: {'**found**' if diag.get('trend') else 'none found'}"
           + (f" (p={diag['trend_p']:.2g}, {diag['trend_growth_per_year']:+.1%} a year)"
              if "trend_p" in diag else " (log too short to test)"),
           "- seasonality (month to month): "
           + ("**found**" if diag.get("seasonality") else "none found")
           + (f" (p={diag['seasonality_p']:.2g} over {diag['months_tested']} months)"
              if "seasonality_p" in diag else " (fewer than 3 months to test)"),
           "- separable projection (the scenario's day-of-week × hour-of-day form) against "
           f"the 168-cell hour-of-week profile: deviance {diag['separable_deviance']:.1f} on "
           f"{diag['separable_df']} df, p={diag['separable_p']:.3g}; smoothed cells differ "
           f"from it by {diag['projection_rms_relative_error']:.1%} RMS "
           f"(max {diag['projection_max_relative_error']:.1%}); raw cells by "
           f"{diag['raw_rms_relative_error']:.1%} RMS (Poisson noise included).",
           "- sparse cells are smoothed by empirical-Bayes shrinkage towards the separable "
           "fit; margins get 0.5 pseudo-referrals per cell so no weight is 0.",
           *_seasonal_lines(diag),
           "- date multipliers written:", ""]
    md += [f"  - {m['start']}..{m['end']} ×{m['factor']} {m['label']}"
           for m in a["date_multipliers"]] or ["  - none"]
    kept = diag.get("kept_multipliers") or []
    if kept:
        md += ["", "  (base multipliers outside the log's dates are kept unchanged)"]
    md += ["", f"![arrivals]({_plot_profile(res, folder)})", "", "## Hubs and types", "",
           "| hub | referrals | demand_share |", "|---|---:|---:|"]
    md += [f"| {h} | {v['referrals']} | {v['demand_share']:.4f} |" for h, v in s["hubs"].items()]
    md += ["", "| type | referrals | share | high | medium | standard | SD share |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for t, v in s["referral_types"].items():
        g = v["grade_mix"]
        md.append(f"| {t} | {v['referrals']} | {v['share']:.4f} | {g['high']:.4f} | "
                  f"{g['medium']:.4f} | {g['standard']:.4f} | "
                  f"{v['strategy_discussion_share']:.4f} |")
    sh = s["sharing"]
    if sh["known"]:
        md += ["", f"Shared with partners: {sh['shared']} of {sh['known']} decided referrals "
               f"({sh['shared'] / sh['known']:.1%})."]
    md += ["", "## Distributions", ""]
    for name, fit in res.distributions.items():
        d = fit.to_dict()
        md += [f"### {name}", "",
               f"Chosen: **{_table(fit.table)}** — {fit.note}. n={fit.n}"
               + (f", {fit.n_censored} right-censored" if fit.n_censored else "")
               + f"; KS D={d['ks_statistic']}, p={d['ks_pvalue']} (n={fit.gof_n}).", "",
               "| family | AIC | parameters |", "|---|---:|---|"]
        md += [f"| {c.family} | {c.aic:.1f} | {_table(c.table)} |" for c in fit.candidates]
        md += ["", f"![{name}]({_plot_dist(name, fit, folder)})", ""]
    md += ["## Kept from the base scenario (the log cannot tell)", "",
           *(f"- {k}" for k in s["kept_from_base"]),
           *(f"- {k}" for k in s["assumed_from_base"]), "",
           "## Assumptions of the fit", "",
           "- timestamps are local wall-clock time (naive ones in --timezone); every day "
           "counts 24 h, as in the model;",
           "- a blank officer_assessment_at is an assessment not yet submitted at the extract "
           "end (right-censored), not a missing value;",
           "- handling_minutes is staff time on the referral without the sharing time "
           "(sharing.sharing_minutes is kept from the base);",
           "- strategy-discussion shares count referrals created at least 28 days before the "
           "extract end (a needed discussion has been held by then);",
           "- the fitted run starts warmup_days before the first referral, so the simulated "
           "hubs are busy when the log starts.", ""]
    atomic_write_text(folder / "fit_report.md", "\n".join(md))
    atomic_write_text(folder / "fit_summary.json", json.dumps(s, indent=1, default=str))
    return folder / "fit_report.md"


def plot_backtest(result: dict[str, Any], folder: str | Path) -> Path:
    """Weekly observed values against the simulated mean and prediction band."""
    plt = _plt()
    folder = Path(folder)
    metrics = ("arrivals", "time_to_start_hours_mean", "decision_target_breach", "sd_over_72h")
    fig, axes = plt.subplots(len(metrics), 1, figsize=(10, 2.4 * len(metrics)), sharex=True)
    weeks = result["weeks"]
    x = np.arange(len(weeks))
    for ax, m in zip(axes, metrics, strict=True):
        cells = [w["metrics"][m] for w in weeks]

        def get(c: dict[str, Any], *k: str) -> float:
            v: Any = c
            for key in k:
                v = v[key]
            return np.nan if v is None else v

        ax.fill_between(x, [get(c, "simulated", "band_low") for c in cells],
                        [get(c, "simulated", "band_high") for c in cells], alpha=0.25,
                        label="simulated 95% band")
        ax.plot(x, [get(c, "simulated", "mean") for c in cells], "-", label="simulated mean")
        ax.plot(x, [get(c, "observed") for c in cells], "o", ms=3, label="observed")
        ax.set_ylabel(m, fontsize=8)
    axes[0].legend(fontsize=8)
    axes[-1].set_xticks(x, [w["week_start"] for w in weeks], rotation=90, fontsize=7)
    fig.tight_layout()
    path = folder / "backtest_weekly.png"
    _save(fig, path)
    return path
