"""Fit a scenario from a force's referral event log (`mashsim fit`).

One streamed pass over the log accumulates what a scenario needs in bounded memory:
counts by hub × type × grade, counts by hour of week and by day, sharing and
strategy-discussion tallies, and fixed-size uniform random samples (bottom-k
reservoirs) of officer-assessment delays and handling times. From these:

* arrivals: a separable day-of-week × hour-of-day profile (the scenario's form) fitted
  by Poisson maximum likelihood, with the loss against the full 168-cell hour-of-week
  profile reported; date multipliers re-estimated where the log covers them, and
  monthly multipliers added when a trend or seasonality is found;
* type → grade mix, hub demand shares, sharing share, strategy-discussion shares;
* delay and handling-time distributions by maximum likelihood (`fit_dist`).

Everything the log cannot tell (rosters, targets, RPA, strategy-discussion times) is
kept from the base scenario; the fitted scenario is validated like a file.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mashsim.calibrate.eventlog import EventLogReader, epoch_hours, hours_to_date
from mashsim.calibrate.fit_dist import DistributionFit, fit_distribution
from mashsim.calibrate.fit_seasonal import SEASONAL_MIN_DAYS, fit_seasonal
from mashsim.errors import ScenarioError
from mashsim.experiment.simulate import default_scenario_path
from mashsim.scenario.schema import (
    GRADES,
    DateMultiplier,
    Scenario,
    drop_missing_types,
    load_scenario,
)

__all__ = ["FitResult", "ProfileFit", "Reservoir", "fit_event_log", "fit_profile"]

RESERVOIR_SIZE = 20_000
MIN_SAMPLES = 30
MATURE_DAYS = 28  # strategy discussions are counted for referrals at least this old
FLAG_P = 0.01  # trend / seasonality significance
_EPOCH_DOW = 3  # 1970-01-01 was a Thursday (Mon = 0)


class Reservoir:
    """A uniform random sample of at most `size` rows (bottom-k of random keys)."""

    def __init__(self, size: int, rng: np.random.Generator, width: int) -> None:
        self.size, self.rng = size, rng
        self.keys = np.empty(0)
        self.data = np.empty((0, width))
        self.seen = 0

    def add(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        self.seen += len(rows)
        keys = np.concatenate((self.keys, self.rng.random(len(rows))))
        data = np.concatenate((self.data, rows))
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size)[: self.size]
            keys, data = keys[keep], data[keep]
        self.keys, self.data = keys, data


class _Accumulator:
    """Streaming sufficient statistics of the clean rows."""

    def __init__(self, reservoir_size: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.groups: Counter[tuple[str, str, int]] = Counter()
        self.daily: Counter[int] = Counter()
        self.how = np.zeros((7, 24), dtype=np.int64)
        self.sd: Counter[tuple[str, str, int]] = Counter()  # (type, grade, day) → SDs held
        self.type_day: Counter[tuple[str, str, int]] = Counter()
        self.shared = [0, 0]  # yes, known
        self.officer = Reservoir(reservoir_size, rng, 2)  # created, delay (NaN: not yet)
        self.handling = {g: Reservoir(reservoir_size, rng, 1) for g in GRADES}
        self.first = math.inf
        self.last = -math.inf

    def add(self, f: pd.DataFrame, has: set[str]) -> None:
        created = f["created"].to_numpy()
        day = np.floor(created / 24.0).astype(np.int64)
        self.first, self.last = min(self.first, created.min()), max(self.last, created.max())
        self.groups.update(f.groupby(["hub", "referral_type", "grade"]).size().to_dict())
        u, c = np.unique(day, return_counts=True)
        self.daily.update(dict(zip(u.tolist(), c.tolist(), strict=True)))
        np.add.at(self.how, ((day + _EPOCH_DOW) % 7, np.floor(created % 24.0).astype(int)), 1)
        if "strategy_discussion_at" in has:
            key = pd.DataFrame({"t": f["referral_type"], "g": f["grade"], "d": day})
            self.type_day.update(key.groupby(["t", "g", "d"]).size().to_dict())
            held = np.isfinite(f["sd"].to_numpy())
            self.sd.update(key[held].groupby(["t", "g", "d"]).size().to_dict())
        shared = f["shared"].to_numpy()
        known = np.isfinite(shared)
        self.shared[0] += int((shared[known] > 0.5).sum())
        self.shared[1] += int(known.sum())
        if "officer_assessment_at" in has:
            self.officer.add(np.column_stack((created, f["officer"].to_numpy() - created)))
        hm, grade = f["handling_minutes"].to_numpy(), f["grade"].to_numpy()
        for g, name in enumerate(GRADES):
            m = (grade == g) & np.isfinite(hm)
            self.handling[name].add(hm[m][:, None])


@dataclass
class ProfileFit:
    """Arrival profile: rate, separable weights, date factors, and diagnostics."""

    referrals_per_day: float
    day_of_week_weights: list[float]
    hour_of_day_weights: list[float]
    date_multipliers: list[dict[str, Any]]
    first_day: dt.date
    days: int
    observed_how: np.ndarray  # (7, 24) counts
    expected_how: np.ndarray  # separable expectation
    smoothed_how: np.ndarray  # empirical-Bayes shrinkage of the 168 cells
    daily_observed: np.ndarray
    daily_expected: np.ndarray
    diagnostics: dict[str, Any] = field(default_factory=dict)


def _month_masks(days: np.ndarray) -> list[tuple[str, np.ndarray, dt.date, dt.date]]:
    dates = [hours_to_date(d * 24.0) for d in (days[0], days[-1])]
    out = []
    y, m = dates[0].year, dates[0].month
    while (y, m) <= (dates[1].year, dates[1].month):
        start = dt.date(y, m, 1)
        nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
        lo, hi = epoch_hours(start) / 24, epoch_hours(nxt) / 24
        mask = (days >= lo) & (days < hi)
        out.append((f"{y:04d}-{m:02d}", mask, max(start, dates[0]),
                    min(nxt - dt.timedelta(days=1), dates[1])))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _backfit(how: np.ndarray, obs: np.ndarray, dow: np.ndarray,
             comps: list[dict[str, Any]], sweeps: int = 8) -> tuple[float, np.ndarray]:
    """Poisson MLE of rate and day-of-week weights with multiplicative date components."""
    n = obs.sum()
    a = np.ones(7)
    lam = n / len(obs)
    for _ in range(sweeps):
        f = np.ones(len(obs))
        for c in comps:
            f[c["mask"]] *= c["factor"]
        e_dow = np.bincount(dow, weights=f, minlength=7)
        seen = e_dow > 0  # a log shorter than a week says nothing of the days it lacks:
        a = np.ones(7)    # they get the mean weight of the days it has
        a[seen] = (how.sum(1)[seen] + 0.5) / e_dow[seen]
        a[~seen] = a[seen].mean()
        a /= a.mean()
        lam = n / float((a[dow] * f).sum())
        for c in comps:
            if not c["fit"]:
                continue
            m = c["mask"]
            other = lam * a[dow[m]] * f[m] / c["factor"]
            c["factor"] = float(obs[m].sum() / max(other.sum(), 1e-9))
            f[m] = other / lam / a[dow[m]] * c["factor"]
    return lam, a


def _trend_and_seasonality(obs: np.ndarray, exp_: np.ndarray,
                           months: list[tuple[str, np.ndarray, dt.date, dt.date]]
                           ) -> dict[str, Any]:
    w = len(obs) // 7
    out: dict[str, Any] = {"trend": False, "seasonality": False}
    if w >= 4:
        o = obs[: 7 * w].reshape(w, 7).sum(1)
        e = exp_[: 7 * w].reshape(w, 7).sum(1)
        y = np.log(np.maximum(o, 0.5) / e)
        t = np.arange(w, dtype=float)
        tb = np.average(t, weights=e)
        sxx = float((e * (t - tb) ** 2).sum())
        slope = float((e * (t - tb) * (y - np.average(y, weights=e))).sum() / sxx)
        resid = y - np.average(y, weights=e) - slope * (t - tb)
        phi = max(1.0, float((e * resid**2).sum()) / max(w - 2, 1))
        z = slope / math.sqrt(phi / sxx)
        p = float(2 * stats.norm.sf(abs(z)))
        out.update(trend=p < FLAG_P, trend_p=p, trend_growth_per_year=math.expm1(52 * slope),
                   overdispersion=phi)
    full = [(lab, m) for lab, m, *_ in months if m.sum() >= 14]
    if len(full) >= 3:
        o = np.array([obs[m].sum() for _, m in full])
        e = np.array([exp_[m].sum() for _, m in full])
        e *= o.sum() / e.sum()
        x2 = float(((o - e) ** 2 / e).sum())
        p = float(stats.chi2.sf(x2, len(full) - 1))
        out.update(seasonality=p < FLAG_P, seasonality_p=p, months_tested=len(full))
    return out


def _multiplier_mask(m: DateMultiplier, days: np.ndarray) -> np.ndarray:
    """The log days (epoch days) a base date multiplier covers (every year if recurring)."""
    first, last = hours_to_date(days[0] * 24.0), hours_to_date(days[-1] * 24.0)
    mask = np.zeros(len(days), dtype=bool)
    for lo, hi in m.ranges(first, last):
        mask |= (days >= epoch_hours(lo) / 24) & (days <= epoch_hours(hi) / 24)
    return mask


def _multiplier_item(m: DateMultiplier, factor: float) -> dict[str, Any]:
    item = {"start": m.start, "end": m.end, "factor": factor, "label": m.label}
    return {**item, "recurring": True} if m.recurring else item


def fit_profile(how: np.ndarray, daily: dict[int, int], base: Scenario) -> ProfileFit:
    """Rate, weekly profile and date multipliers from hour-of-week and daily counts.

    A log of at least `SEASONAL_MIN_DAYS` days is fitted with month-of-year weights,
    growth and over-dispersion (`fit_seasonal`); a shorter one gets monthly multipliers
    for the months it saw when a trend or seasonality is found, and leaves those three
    at their defaults (`diagnostics["not_estimated"]` says so).
    """
    d0, d1 = min(daily), max(daily)
    days = np.arange(d0, d1 + 1)
    obs = np.array([daily.get(int(d), 0) for d in days], dtype=float)
    dow = ((days + _EPOCH_DOW) % 7).astype(int)
    first = hours_to_date(d0 * 24.0)
    comps: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for m in base.arrivals.date_multipliers:
        mask = _multiplier_mask(m, days)
        if mask.any():
            comps.append({"mask": mask, "factor": m.factor, "fit": True, "label": m.label,
                          "start": m.start, "end": m.end, "base_factor": m.factor,
                          "multiplier": m})
        else:
            kept.append(_multiplier_item(m, m.factor))
    months = _month_masks(days)
    if len(days) >= SEASONAL_MIN_DAYS:
        seasonal = fit_seasonal(obs, days, dow, comps)
        lam, a = seasonal.pop("rate_at_first_day"), seasonal.pop("day_of_week")
        f = seasonal.pop("day_factor")
        diag = _trend_and_seasonality(obs, lam * a[dow] * f, months)
        diag.update(trend=seasonal["growth_p"] < FLAG_P, trend_p=seasonal["growth_p"],
                    trend_growth_per_year=seasonal["growth_per_year"],
                    seasonality=seasonal["months_p"] < FLAG_P,
                    seasonality_p=seasonal["months_p"], months_tested=12, seasonal=seasonal)
        return _profile_fit(how, obs, dow, lam, a, f, comps, kept, diag, first, len(days))
    f = np.ones(len(obs))
    lam, a = _backfit(how, obs, dow, comps)
    for c in comps:
        f[c["mask"]] *= c["factor"]
    diag = _trend_and_seasonality(obs, lam * a[dow] * f, months)
    diag["not_estimated"] = [
        f"arrivals.month_of_year_weights, arrivals.growth_per_year and "
        f"arrivals.overdispersion: the log covers {len(days)} days; they need "
        f"{SEASONAL_MIN_DAYS} (12 months); left at their defaults (flat months, no growth, "
        "Poisson)"]
    if diag.get("trend") or diag.get("seasonality"):
        for label, mask, start, end in months:
            comps.append({"mask": mask, "factor": 1.0, "fit": True, "monthly": True,
                          "label": f"observed {label}", "start": start, "end": end})
        lam, a = _backfit(how, obs, dow, comps)
        monthly = [c for c in comps if c.get("monthly")]
        mean_f = sum(c["factor"] * c["mask"].sum() for c in monthly) / len(obs)
        for c in monthly:
            c["factor"] /= mean_f
        lam *= mean_f
    f = np.ones(len(obs))
    for c in comps:
        f[c["mask"]] *= c["factor"]
    return _profile_fit(how, obs, dow, lam, a, f, comps, kept, diag, first, len(days))


def _profile_fit(how: np.ndarray, obs: np.ndarray, dow: np.ndarray, lam: float,
                 a: np.ndarray, f: np.ndarray, comps: list[dict[str, Any]],
                 kept: list[dict[str, Any]], diag: dict[str, Any], first: dt.date,
                 n_days: int) -> ProfileFit:
    """The hour-of-day weights, the separable-profile diagnostics and the fit itself, from
    the rate, day-of-week weights and day factors (`f`: everything else on each day)."""
    b = (how.sum(0) + 0.5) / (how.sum() + 12.0) * 24.0
    e_dow = np.bincount(dow, weights=f, minlength=7)
    expected = lam / 24.0 * np.outer(a * e_dow, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = 2.0 * float(np.where(how > 0, how * np.log(how / expected), 0).sum()
                         - (how - expected).sum())
        ratio = how / expected
        tau2 = max(0.0, float(np.mean((ratio - 1) ** 2 - 1 / expected)))
    df = 168 - 30
    shrink = tau2 * expected / (tau2 * expected + 1)
    smoothed = expected * (1 + shrink * (ratio - 1))
    rel = smoothed / expected - 1
    diag["raw_rms_relative_error"] = float(np.sqrt(np.mean((ratio - 1) ** 2)))
    diag.update(
        separable_deviance=g2, separable_df=df, separable_p=float(stats.chi2.sf(g2, df)),
        projection_rms_relative_error=float(np.sqrt(np.mean(rel**2))),
        projection_max_relative_error=float(np.abs(rel).max()),
        cell_variance_beyond_poisson=tau2,
    )
    mults = [*kept]
    for c in comps:
        factor = float(f"{c['factor']:.4g}")
        item = (_multiplier_item(c["multiplier"], factor) if "multiplier" in c else
                {"start": c["start"], "end": c["end"], "factor": factor, "label": c["label"]})
        mults.append(item)
        if "base_factor" in c:
            diag.setdefault("refitted_multipliers", []).append(
                {**item, "base_factor": c["base_factor"], "days": int(c["mask"].sum())})
    diag["kept_multipliers"] = kept
    return ProfileFit(
        referrals_per_day=float(lam), day_of_week_weights=[float(f"{v:.5g}") for v in a],
        hour_of_day_weights=[float(f"{v:.5g}") for v in b], date_multipliers=mults,
        first_day=first, days=n_days, observed_how=how, expected_how=expected,
        smoothed_how=smoothed, daily_observed=obs, daily_expected=lam * a[dow] * f,
        diagnostics=diag,
    )


# Per-type seasonality is not fitted (the force-wide profile is): a base's is dropped.
_TYPE_SEASONAL_KEYS = ("month_of_year_weights", "growth_per_year")


def _seasonal_keys(arr: dict[str, Any], seasonal: dict[str, Any] | None,
                   warmup_days: int) -> None:
    """Write the fitted month weights, growth and over-dispersion (or their defaults).

    The fitted rate is the log's first day's; the run starts `warmup_days` earlier and
    growth compounds from the run start, so the rate is carried back by the growth.
    """
    for key in ("month_of_year_weights", "overdispersion"):
        arr.pop(key, None)
    arr["growth_per_year"] = 0.0
    if seasonal is None:
        return
    growth = seasonal["growth_per_year"]
    arr["referrals_per_day"] = float(
        f"{arr['referrals_per_day'] * (1.0 + growth) ** (-warmup_days / 365.25):.6g}")
    arr["month_of_year_weights"] = [float(f"{w:.4g}")
                                    for w in seasonal["month_of_year_weights"]]
    arr["growth_per_year"] = float(f"{growth:.4g}")
    arr["overdispersion"] = float(f"{seasonal['overdispersion']:.4g}")


@dataclass
class FitResult:
    scenario: Scenario
    summary: dict[str, Any]
    profile: ProfileFit
    distributions: dict[str, DistributionFit]
    warnings: list[str]


def _load_base(base: Scenario | str | Path | None) -> tuple[Scenario, str]:
    if isinstance(base, Scenario):
        return base, base.name
    path = Path(base) if base is not None else default_scenario_path()
    return load_scenario(path), str(path)


def fit_event_log(
    path: str | Path,
    base: Scenario | str | Path | None = None,
    *,
    timezone: str | None = None,
    skip_bad_rows: bool = False,
    known_hubs_only: bool = False,
    reservoir_size: int = RESERVOIR_SIZE,
    chunk_rows: int = 50_000,
    seed: int = 0,
    alpha: float = 0.01,
) -> FitResult:
    """Read LOG in one streamed pass and build a validated scenario from it."""
    base_sc, base_name = _load_base(base)
    reader = EventLogReader(path, timezone, known_hubs=base_sc.hub_names if known_hubs_only
                            else None, chunk_rows=chunk_rows)
    acc = _Accumulator(reservoir_size, seed)
    has: set[str] = set()
    for chunk in reader.chunks():
        has = set(reader.optional_present)
        acc.add(chunk, has)
    warnings = reader.check(skip_bad_rows)
    if not acc.groups:
        raise ScenarioError([f"{path}: no usable rows to fit"])
    end_h = reader.max_time_hours
    return _build(path, base_sc, base_name, acc, has, end_h, warnings, reader, alpha)


def _build(path: str | Path, base: Scenario, base_name: str, acc: _Accumulator,
           has: set[str], end_h: float, warnings: list[str], reader: EventLogReader,
           alpha: float) -> FitResult:
    d = base.to_dict()
    kept = ["rosters and sd_attendees (hubs.*.staff, hubs.*.sd_attendees)",
            "decision targets and priorities (grades.*)", "calendar", "rpa", "queue",
            "strategy-discussion times and deadline", "sharing.sharing_minutes",
            "reporting", "run.warmup_days"]
    groups = pd.Series(acc.groups)
    groups.index.names = ["hub", "type", "grade"]
    n = int(groups.sum())
    prof = fit_profile(acc.how, dict(acc.daily), base)
    warmup_days = math.ceil(base.run.warmup_days)
    first_h = epoch_hours(prof.first_day)
    d["run"] = {"start_date": prof.first_day - dt.timedelta(days=warmup_days),
                "duration_days": warmup_days + max(prof.days,
                                                   math.ceil((end_h - first_h) / 24.0)),
                "warmup_days": warmup_days}
    arr = d["arrivals"]
    arr.update(mode="profile", referrals_per_day=float(f"{prof.referrals_per_day:.6g}"),
               day_of_week_weights=prof.day_of_week_weights,
               hour_of_day_weights=prof.hour_of_day_weights,
               date_multipliers=prof.date_multipliers)
    _seasonal_keys(arr, prof.diagnostics.get("seasonal"), warmup_days)

    by_hub = groups.groupby(level="hub").sum()
    first_hub = next(iter(base.hubs))
    hubs = {}
    for hub, count in by_hub.items():
        if hub in d["hubs"]:
            hubs[hub] = d["hubs"][hub]
        else:
            hubs[hub] = {**d["hubs"][first_hub]}
            warnings.append(f"hub {hub!r} is not in the base scenario: it gets "
                            f"{first_hub!r}'s rosters (headcounts, shifts); set its own")
        hubs[hub]["demand_share"] = float(f"{count / n:.6g}")
    dropped = [h for h in d["hubs"] if h not in hubs]
    if dropped:
        warnings.append(f"base hub(s) with no referrals in the log left out: "
                        f"{', '.join(dropped)}")
    d["hubs"] = hubs

    by_type = groups.groupby(level=["type", "grade"]).sum().unstack(fill_value=0)
    mature_day = math.floor((end_h - 24.0 * MATURE_DAYS) / 24.0)
    types, sd_info = {}, {}
    for t, row in by_type.iterrows():
        old = d["referral_types"].get(t)
        if old is None:
            warnings.append(f"referral type {t!r} is not in the base scenario: "
                            "early_notification = false assumed")
            old = {"early_notification": False, "strategy_discussion_share": 0.0}
        total = float(row.sum())
        mix = {g: float(f"{row.get(i, 0) / total:.6g}") for i, g in enumerate(GRADES)}
        sd = {"strategy_discussion_share": old.get("strategy_discussion_share", 0.0)}
        if "strategy_discussion_at" in has:
            sd["strategy_discussion_share"], sd_info[t] = _sd_share(acc, t, mature_day)
            sd["strategy_discussion_share_by_grade"] = {
                g: _sd_share(acc, t, mature_day, i, fallback=sd_info[t])[0]
                for i, g in enumerate(GRADES)}
        old = {k: v for k, v in old.items() if k not in _TYPE_SEASONAL_KEYS}
        types[t] = {**old, "share": float(f"{total / n:.6g}"), "grade_mix": mix, **sd}
    gone = [t for t in d["referral_types"] if t not in types]
    if gone:
        warnings.append(f"base referral type(s) absent from the log left out: {', '.join(gone)}")
    d["referral_types"] = types
    drop_missing_types(d)  # work streams naming a type the log does not have

    assumed = []
    if acc.shared[1]:
        d["sharing"]["share_with_partners"] = float(f"{acc.shared[0] / acc.shared[1]:.6g}")
    else:
        assumed.append("sharing.share_with_partners (no shared_with_partners values)")
    assumed += prof.diagnostics.get("not_estimated", [])
    if "strategy_discussion_at" not in has:
        assumed.append("referral_types.*.strategy_discussion_share (no "
                       "strategy_discussion_at column)")
    dists: dict[str, DistributionFit] = {}
    data = acc.officer.data
    if (np.isfinite(data[:, 1]).sum() if len(data) else 0) >= MIN_SAMPLES:
        fit = fit_distribution(data[:, 1], "officer_assessment.delay_hours", "hours",
                               censor_at=end_h - data[:, 0], alpha=alpha)
        dists["officer_assessment.delay_hours"] = fit
        d["officer_assessment"]["delay_hours"] = fit.table
    else:
        assumed.append("officer_assessment.delay_hours (fewer than "
                       f"{MIN_SAMPLES} officer_assessment_at values)")
    for g in GRADES:
        x = acc.handling[g].data[:, 0]
        if len(x) >= MIN_SAMPLES:
            fit = fit_distribution(x, f"grades.{g}.handling_minutes", "minutes", alpha=alpha)
            dists[f"grades.{g}.handling_minutes"] = fit
            d["grades"][g]["handling_minutes"] = fit.table
        else:
            assumed.append(f"grades.{g}.handling_minutes (fewer than {MIN_SAMPLES} "
                           "handling_minutes values)")
    name = Path(path).name
    d["name"] = f"Fitted from {name}"
    d["description"] = (f"mashsim fit of {name}: {n} referrals, {prof.first_day} to "
                        f"{hours_to_date(acc.last)}; what the log cannot tell is kept from "
                        f"{base.name!r}.")
    for h in d["hubs"].values():
        h.pop("initial_backlog", None)  # the run starts warm-up days before the log
    scenario = Scenario.from_dict(d, source=f"fitted from {path}")

    summary = {
        "log": {"path": str(path), "rows": reader.problems.rows, "referrals_used": n,
                "bad_rows": reader.problems.to_dict(), "first_created": str(prof.first_day),
                "last_created": str(hours_to_date(acc.last)),
                "extract_end": str(pd.Timestamp(end_h * 3.6e12)),
                "columns_present": sorted(has), "renamed": reader.renamed},
        "base": base_name,
        "arrivals": {"referrals_per_day": prof.referrals_per_day,
                     "day_of_week_weights": prof.day_of_week_weights,
                     "hour_of_day_weights": prof.hour_of_day_weights,
                     "date_multipliers": [{**m, "start": str(m["start"]), "end": str(m["end"])}
                                          for m in prof.date_multipliers],
                     "diagnostics": _jsonable(prof.diagnostics)},
        "hubs": {h: {"referrals": int(by_hub[h]), "demand_share": hubs[h]["demand_share"]}
                 for h in hubs},
        "referral_types": {t: {"referrals": int(by_type.loc[t].sum()), **types[t],
                               "strategy_discussions": sd_info.get(t)} for t in types},
        "sharing": {"shared": acc.shared[0], "known": acc.shared[1]},
        "distributions": {k: v.to_dict() for k, v in dists.items()},
        "kept_from_base": kept, "assumed_from_base": assumed, "warnings": warnings,
    }
    return FitResult(scenario, summary, prof, dists, warnings)


def _sd_share(
    acc: _Accumulator, t: str, mature_day: int, grade: int | None = None,
    fallback: dict[str, Any] | None = None,
) -> tuple[float, dict[str, Any]]:
    """SDs held / referrals, over referrals old enough for a needed SD to have been held.

    With `grade` (an index into GRADES), only that grade's referrals; fewer than
    MIN_SAMPLES of them fall back
    to the type's share (`fallback`, the type-level result).
    """
    def count(c: Counter, mature: bool) -> int:
        return sum(v for (tt, g, day), v in c.items()
                   if tt == t and (grade is None or g == grade) and (not mature or
                                                                      day <= mature_day))

    n, k = count(acc.type_day, True), count(acc.sd, True)
    note = f"referrals created at least {MATURE_DAYS} days before the extract end"
    if n == 0:
        n, k = count(acc.type_day, False), count(acc.sd, False)
        note = "all referrals (the log is too short for a maturity cut)"
    if grade is not None and fallback is not None and n < MIN_SAMPLES:
        n, k = fallback["referrals"], fallback["held"]
    share = k / n if n else 0.0
    return float(f"{share:.6g}"), {"held": k, "referrals": n, "basis": note}


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, dt.date):
        return str(x)
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
