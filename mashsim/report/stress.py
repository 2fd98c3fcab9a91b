"""A STRESS-DES model description generated from a Scenario.

Every report states its own assumptions: this module turns a scenario (and the run
settings) into the sections of the STRESS-DES reporting guideline for discrete-event
simulation (Monks et al. 2019): objectives, logic, data, experimentation,
implementation, code access. Each input is labelled with where it comes from —
"data", "rule", "assumption" or "setting" — and an input that differs from the bundled
working figure is flagged, because a changed number with no recorded source is still an
assumption until someone documents it.

It also holds the few figures derived from a scenario that a reader needs to compare
staffing with demand (mean staff work per referral, rostered staff-hours per week).
No plotting here: this module is safe to import anywhere.
"""

from __future__ import annotations

import fnmatch
import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from mashsim._version import __version__
from mashsim.model.arrivals import hourly_rate_per_hour
from mashsim.model.staffing import planned_shrinkage, roster_schedule
from mashsim.model.workload import referrals_per_week, stage_work_hours_per_week
from mashsim.scenario.schema import DAY_NAMES, GRADES, Roster, Scenario, Staffing

__all__ = [
    "InputRow",
    "StaffBalance",
    "StressSection",
    "input_rows",
    "mean_work_hours_per_referral",
    "per_clock_hour",
    "software_versions",
    "staff_balance",
    "staff_hours_per_week",
    "stress_des",
]

# (pattern over dotted paths, kind, basis) — first match wins. Kinds: data (a published
# figure), rule (a target or process fixed by policy or the inspection), assumption
# (a working figure with no public source), setting (an experimental choice).
PROVENANCE: tuple[tuple[str, str, str], ...] = (
    ("name", "setting", "label"),
    ("description", "setting", "label"),
    ("run.*", "setting", "experimental design"),
    ("targets.*", "setting", "planning target `mashsim plan` meets (the force's objective)"),
    ("patterns.*", "setting", "candidate roster `mashsim plan` may choose"),
    ("reporting.*", "setting", "what is reported"),
    ("calendar.exclude_bank_holidays", "rule", "statutory working-day clocks"),
    ("calendar.*", "rule", "working time for working-hour and working-day clocks"),
    ("arrivals.referrals_per_day", "assumption",
     "≈65,000 referrals a year from national DA rates and other forces' MASH volumes"),
    ("arrivals.mode", "setting", "arrival model"),
    ("arrivals.*", "assumption", "other forces' incident data (weekend, evening, festive peaks)"),
    ("referral_types.*.early_notification", "rule", "RPA process as inspected"),
    ("referral_types.*.strategy_discussion_share", "assumption",
     "national s47 rates (≈12 %, range 5–20 %)"),
    ("referral_types.*.repeat_share", "data", "DfE re-referrals (22 %), SafeLives MARAC "
     "repeats (32 %); docs/background/inputs.md"),
    ("referral_types.*", "assumption", "referral mix and DASH-style grade mix"),
    ("grades.*.decision_target.starts_at", "assumption",
     "where the target starts counting: the source rule does not say"),
    ("grades.*.decision_target*", "rule", "another force's published MASH rule"),
    ("grades.*.priority", "setting", "queue order under the 'risk' discipline"),
    ("grades.*.handling_minutes", "assumption", "no public figure"),
    ("officer_assessment.*", "assumption",
     "fitted to 'outstanding for some weeks' (inspection)"),
    ("rpa.enabled", "rule", "RPA process as inspected"),
    ("rpa.early_notification", "rule", "RPA process as inspected"),
    ("rpa.scan_hours", "assumption", "'several times over a 72-hour period' (inspection)"),
    ("rpa.*", "assumption", "no public figure"),
    ("sharing.*", "assumption", "one study: 57.5 % of police notifications passed on"),
    ("queue.*", "setting", "policy under test ('fifo' as found; 'risk' recommended)"),
    ("strategy_discussions.deadline*", "rule", "force objective: no longer than 72 hours"),
    ("strategy_discussions.discipline", "setting", "policy under test"),
    ("strategy_discussions.partner_initiated_per_day", "data",
     "DfE strategy-discussion rates less those from police referrals "
     "(docs/background/inputs.md)"),
    ("strategy_discussions.*", "assumption", "no public figure"),
    ("adult_strategy_meetings.deadline*", "rule",
     "a common safeguarding-adults-board procedure (5 working days)"),
    ("adult_strategy_meetings.*", "assumption", "no national count (docs/background/inputs.md)"),
    ("marac.share_by_type.*", "data", "fitted to SafeLives' MARAC rate (≈45 per 10,000 adult "
     "women a year)"),
    ("marac.cases_per_meeting", "data", "SafeLives: ≈16 cases a meeting"),
    ("marac.*", "assumption", "meeting calendars and research time: no public figure"),
    ("staffing.leave.*", "assumption",
     "leave ≈11 % of paid time, ×1.6 in school-holiday weeks (workforce-planning norm)"),
    ("staffing.sickness.*", "assumption", "sickness ≈4 % of paid time (workforce-planning norm)"),
    ("staffing.abstraction_share", "assumption",
     "training, breaks and admin ≈15 % of paid time (workforce-planning norm)"),
    ("staffing.recruitment.enabled", "setting", "policy under test"),
    ("staffing.recruitment.*", "assumption", "no public figure"),
    ("staffing.overtime.*", "setting", "overtime policy under test"),
    ("staffing.degraded_research.enabled", "setting", "behaviour under test (inspection: "
     "decisions 'solely on the information in the referral')"),
    ("staffing.degraded_research.*", "assumption", "no public figure"),
    ("staffing.*", "setting", "model option"),
    ("pooling.overflow_team.headcount", "setting", "organisational option under test"),
    ("pooling.*", "setting", "organisational option under test"),
    ("hubs.*.staff.vacanc*", "assumption", "10–15 % of posts unfilled in summer 2023"),
    ("hubs.*.demand_share", "data", "local-authority population (public figures)"),
    ("hubs.*.staff.headcount", "assumption", "sized for ≈80–85 % utilisation of on-duty time"),
    ("hubs.*", "assumption", "typical MASH hours; no public figure per hub"),
)


@dataclass(frozen=True)
class InputRow:
    """One scenario input as the model description lists it."""

    path: str
    value: str
    kind: str  # data | rule | assumption | setting
    basis: str
    changed_from: str | None = None  # the bundled working figure, where this differs


@dataclass
class StressSection:
    """One STRESS-DES section: numbered items of (heading, text)."""

    number: int
    title: str
    items: list[tuple[str, str]] = field(default_factory=list)


# -- derived figures ---------------------------------------------------------------


def mean_work_hours_per_referral(sc: Scenario) -> float:
    """Expected staff-hours of work per referral, every queue of every hub counted
    (`mashsim.model.workload`): stages, discussions from referrals and partners, adult
    meetings, MARAC research, early notifications. Work not brought by a referral
    (partner-initiated discussions) is spread over the referrals."""
    hubs = sc.hub_names
    work = sum(sum(stage_work_hours_per_week(sc, h).values()) for h in hubs)
    referrals = sum(referrals_per_week(sc, h) for h in hubs)
    return work / referrals if referrals > 0 else 0.0


def staff_hours_per_week(sc: Scenario, hub: str | None = None) -> float:
    """Rostered caseworker hours in a week (one hub or all): `Roster.staff_hours_per_week`."""
    hubs = [hub] if hub is not None else sc.hub_names
    return sum(sc.hubs[h].staff.staff_hours_per_week() for h in hubs)


@dataclass(frozen=True)
class StaffBalance:
    """Staff time against the work arriving, by hour of week (7 × 24, Mon first).

    Computed once and quoted by both the report's text and its heatmap, so they never
    disagree. Weekly figures are the sums of the hour-of-week averages over the reporting
    window. "Available" is what filled posts leave after shrinkage: rostered hours ×
    share of posts filled × (1 − shrinkage), overtime excluded.
    """

    posts: int
    vacant_posts: int  # unfilled at the start of the run
    shrinkage: float  # share of filled posts' rostered time lost (realised, else planned)
    shrinkage_source: str  # "realised" (simulated) or "planned" (from the inputs)
    work_hours_per_referral: float
    referrals_by_hour: np.ndarray
    rostered_by_hour: np.ndarray  # staff-hours per hour, every funded post
    available_by_hour: np.ndarray  # staff-hours per hour, filled posts after shrinkage

    @property
    def filled_posts(self) -> int:
        return self.posts - self.vacant_posts

    @property
    def work_by_hour(self) -> np.ndarray:
        return self.referrals_by_hour * self.work_hours_per_referral

    @property
    def rostered_hours_per_week(self) -> float:
        return float(np.nansum(self.rostered_by_hour))

    @property
    def available_hours_per_week(self) -> float:
        return float(np.nansum(self.available_by_hour))

    @property
    def work_hours_per_week(self) -> float:
        return float(np.nansum(self.work_by_hour))

    @property
    def busy_share_needed(self) -> float:
        """Share of available time staff must spend working just to keep pace."""
        have = self.available_hours_per_week
        return self.work_hours_per_week / have if have > 0 else math.nan


def per_clock_hour(times: np.ndarray, capacity: np.ndarray, n_hours: int) -> np.ndarray:
    """Exact staff-hours in each clock hour [h, h+1) of a piecewise-constant schedule."""
    knots = np.append(times, max(float(times[-1]), float(n_hours)))
    cum = np.concatenate(([0.0], np.cumsum(capacity * np.diff(knots))))
    return np.diff(np.interp(np.arange(n_hours + 1), knots, cum))


def hour_of_week(values: np.ndarray, sc: Scenario, first_hour: int) -> np.ndarray:
    """Average of hourly values by (weekday, hour of day) → 7 × 24."""
    hours = np.arange(first_hour, first_hour + len(values))
    weekday = (sc.run.start_date.weekday() + hours // 24) % 7
    total, count = np.zeros((7, 24)), np.zeros((7, 24))
    np.add.at(total, (weekday, hours % 24), values)
    np.add.at(count, (weekday, hours % 24), 1)
    with np.errstate(invalid="ignore"):
        return total / count


def _filled_share(roster: Roster, staffing: Staffing, lo_days: float, hi_days: float) -> float:
    """Expected share of the posts filled over [lo, hi] days (vacancies, recruitment).

    With recruitment, a vacancy is filled from day ceil(lead time); the lead time's
    distribution is averaged over 2,000 draws of a fixed local generator (deterministic).
    """
    if roster.headcount == 0:
        return 0.0
    vacant = min(roster.vacant_posts, roster.headcount)
    filled_days = 0.0
    rec = staffing.recruitment
    if vacant and rec.enabled and hi_days > lo_days:
        lead = np.ceil(rec.lead_time_days.sample(np.random.default_rng(0), 2000))
        filled_days = float(np.mean(np.clip(hi_days - np.maximum(lead, lo_days), 0.0,
                                            hi_days - lo_days))) / (hi_days - lo_days)
    return (roster.headcount - vacant + vacant * filled_days) / roster.headcount


def staff_balance(sc: Scenario, shrinkage: Mapping[str, float] | None = None,
                  hub: str | None = None) -> StaffBalance:
    """Demand, rostered and available staff by hour of week, for one hub or all.

    `shrinkage` maps hub → realised shrinkage (the simulated mean); hubs missing from it,
    or all when it is None, use the planned shrinkage of the scenario's inputs.
    """
    hubs = [hub] if hub is not None else sc.hub_names
    n = max(1, math.ceil(sc.horizon_hours))
    first = min(int(sc.warmup_hours), n - 1)
    lo_days, hi_days = sc.run.warmup_days, sc.run.duration_days
    planned = planned_shrinkage(sc.staffing)
    demand, rostered, available = np.zeros(n), np.zeros(n), np.zeros(n)
    paid_weight, lost_weight, realised = 0.0, 0.0, True
    for h in hubs:
        roster = sc.hubs[h].staff
        demand += hourly_rate_per_hour(sc.arrivals, sc.hub_rate_per_day(h), sc.run.start_date,
                                       sc.horizon_hours)[:n]
        sched = roster_schedule(roster, sc.run.start_date, sc.horizon_hours)
        hours = per_clock_hour(sched.times_hours, sched.capacity, n)
        share = _filled_share(roster, sc.staffing, lo_days, hi_days)
        lost = (shrinkage or {}).get(h)
        if lost is None or math.isnan(lost):
            lost, realised = planned, False
        rostered += hours
        available += hours * share * (1.0 - lost)
        paid_weight += hours[first:].sum() * share
        lost_weight += hours[first:].sum() * share * lost
    return StaffBalance(
        posts=sum(sc.hubs[h].staff.headcount for h in hubs),
        vacant_posts=sum(min(sc.hubs[h].staff.vacant_posts, sc.hubs[h].staff.headcount)
                         for h in hubs),
        shrinkage=lost_weight / paid_weight if paid_weight > 0 else planned,
        shrinkage_source="realised" if realised else "planned",
        work_hours_per_referral=mean_work_hours_per_referral(sc),
        referrals_by_hour=hour_of_week(demand[first:], sc, first),
        rostered_by_hour=hour_of_week(rostered[first:], sc, first),
        available_by_hour=hour_of_week(available[first:], sc, first),
    )


def software_versions() -> dict[str, str]:
    """Versions of the software that produced a result, for the reproduction record."""
    out = {"mashsim": __version__, "python": platform.python_version()}
    for pkg in ("simpy", "numpy", "scipy", "pandas", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


# -- inputs and their provenance ---------------------------------------------------


def _is_leaf(v: Any) -> bool:
    if isinstance(v, Mapping):
        return "dist" in v
    return not isinstance(v, list) or all(not isinstance(x, Mapping) for x in v)


def _days_text(days: list[str]) -> str:
    """['Mon', 'Tue', 'Wed'] → 'Mon–Wed' (runs of consecutive days joined)."""
    idx = sorted(DAY_NAMES.index(d) for d in days)
    runs: list[list[int]] = []
    for i in idx:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}–{DAY_NAMES[r[-1]]}"
                     for r in runs)


def _fmt(v: Any) -> str:
    if isinstance(v, Mapping) and {"days", "start", "end"} <= set(v):  # a shift
        share = v.get("share", 1.0)
        text = f"{_days_text(list(v['days']))} {v['start']}–{v['end']}"
        return text if share == 1 else f"{text} ×{share:g}"
    if isinstance(v, Mapping):
        if "dist" in v:
            args = ", ".join(f"{k}={_fmt(x)}" for k, x in v.items() if k != "dist")
            return f"{v['dist']}({args})"
        return "{" + ", ".join(f"{k}={_fmt(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping) and not _is_leaf(v):
            out.update(_flatten(v, path + "."))
        else:
            out[path] = v
    return out


def _provenance(path: str) -> tuple[str, str]:
    for pattern, kind, basis in PROVENANCE:
        if fnmatch.fnmatchcase(path, pattern):
            return kind, basis
    return "assumption", "not classified: treat as an assumption until its source is recorded"


def input_rows(sc: Scenario, reference: Scenario | None = None) -> list[InputRow]:
    """Every scenario input with its kind and basis; changes from `reference` flagged.

    `reference` defaults to the bundled default scenario (the working figures).
    """
    if reference is None:
        reference = _bundled_default()
    ref = _flatten(reference.to_dict()) if reference is not None else {}
    rows = []
    for path, value in _flatten(sc.to_dict()).items():
        kind, basis = _provenance(path)
        before = ref.get(path)
        changed = None
        if reference is not None and path in ref and before != value:
            changed = _fmt(before)
        elif reference is not None and path not in ref:
            changed = "(not in the working figures)"
        if changed is not None and kind == "data":
            kind, basis = "assumption", f"changed from the published figure; {basis}"
        rows.append(InputRow(path, _fmt(value), kind, basis, changed))
    return rows


def _bundled_default() -> Scenario | None:
    from mashsim.experiment.simulate import default_scenario_path
    from mashsim.scenario.schema import load_scenario

    try:
        return load_scenario(default_scenario_path())
    except Exception:  # a missing or changed bundled file must not stop a report
        return None


# -- the description ---------------------------------------------------------------


def _target_text(name: str, target: Any) -> str:
    since = getattr(target, "starts_at", "creation").replace("_", " ")
    return f"{name} {target.amount:g} {target.clock.replace('_', ' ')} from {since}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def stress_des(
    sc: Scenario,
    replications: int,
    seed: int,
    command: str | None = None,
    compared: Mapping[str, Scenario] | None = None,
) -> list[StressSection]:
    """The STRESS-DES sections for a run of `sc` (and any compared scenarios)."""
    rows = input_rows(sc)
    n_assumed = sum(r.kind == "assumption" for r in rows)
    n_changed = sum(r.changed_from is not None for r in rows)
    work_h = mean_work_hours_per_referral(sc)
    targets = "; ".join(_target_text(g, sc.grades[g].decision_target) for g in GRADES)
    sdd = sc.strategy_discussions.deadline
    staff = sum(h.staff.headcount for h in sc.hubs.values())
    vacant = sum(min(h.staff.vacant_posts, h.staff.headcount) for h in sc.hubs.values())
    compared = dict(compared or {})
    window_days = sc.run.duration_days - sc.run.warmup_days

    objectives = StressSection(1, "Objectives", [
        ("Purpose", "Estimate, for the staffing and process in this scenario, how many "
         "safeguarding referrals in each multi-agency safeguarding hub (MASH) miss their "
         "decision target, how many child strategy discussions are held later than their "
         "deadline, and how large and old the backlog becomes."),
        ("Outputs", "Per hub and force-wide, with 95 % confidence intervals across "
         "replications: decision-target breach rate overall and by risk grade; share of "
         f"strategy discussions later than {sdd.amount:g} {sdd.clock.replace('_', ' ')}; "
         "staff queue waits; backlog mean, maximum and daily series; age of the oldest "
         "waiting referral; staff utilisation."),
        ("Experimentation aims", "Compare staffing levels and process changes "
         "(queue discipline, early notification, officer submission delays) against "
         "this baseline" + (f": compared here with {', '.join(compared)}." if compared
                            else ".")),
    ])
    logic = StressSection(2, "Logic", [
        ("Base model overview", "Referral created by an officer's incident → RPA robot "
         f"scans for the officer's risk assessment at {_fmt(sc.rpa.scan_hours)} h after "
         "creation and hands the referral to MASH staff once the assessment is in (or "
         "after the last scan regardless) → staff review the grade, research, decide and "
         f"share with partners ({_pct(sc.sharing.share_with_partners)} of referrals) → "
         "for child referrals needing one, a multi-agency strategy discussion with trained "
         "attendees."),
        ("Base model logic", f"{len(sc.hubs)} hubs, each with its own demand, caseworker "
         f"roster ({staff} caseworker posts in all, {staff - vacant} filled at the start) "
         "and strategy-discussion attendees. Staff "
         f"queue discipline '{sc.queue.discipline}'; work at shift end: "
         f"'{sc.queue.at_shift_end}'. Early notification of child referrals is "
         f"{'on' if sc.rpa.early_notification else 'off'}: a notification is queued at "
         f"creation as '{sc.rpa.early_notification_queue_as}' and costs staff time."),
        ("Scenario logic", "Scenarios differ only in their inputs (the same model code); "
         "compared scenarios share the seed, so they see the same referrals (common "
         "random numbers)."),
        ("Algorithms", "Arrivals: non-homogeneous Poisson process with an hour-of-week "
         "profile and date multipliers, drawn exactly by inverting the cumulative "
         "intensity. Deadlines on elapsed-hour, working-hour or working-day clocks "
         "(English bank holidays excluded). Decision targets: " + targets + "."),
        ("Components", "Entities: referrals and early notifications. Resources: "
         "caseworkers and strategy-discussion attendees on weekly rosters. Queues: one "
         "staff queue and one strategy-discussion queue per hub. Entry: creation; exit: "
         "decision made (and strategy discussion held where needed). Referrals still "
         "open at the end are counted by their age, never dropped."),
    ])
    data = StressSection(3, "Data", [
        ("Data sources", "Process, hub count and the 72-hour strategy-discussion "
         "objective: HMICFRS PEEL 2023–25 inspection of Thames Valley Police. Hub demand "
         "shares: local-authority population. Everything else is a working assumption "
         "(see the input table)."),
        ("Pre-processing", "None: the scenario file holds parameters, not raw records. "
         f"Derived: mean staff work per referral ≈ {work_h * 60:.0f} minutes "
         "(handling by grade mix, sharing, early notification)."),
        ("Input parameters", f"{len(rows)} inputs, listed below with their kind and "
         "basis."),
        ("Assumptions", f"{n_assumed} of {len(rows)} inputs are assumptions rather than "
         f"data; {n_changed} {'differs' if n_changed == 1 else 'differ'} from the bundled "
         "working figures. Handling times, "
         "RPA scan times, officer delays and per-hub volumes are the weakest and the first "
         "to replace with a force's own data."),
    ])
    experimentation = StressSection(4, "Experimentation", [
        ("Initialisation", f"The model starts empty (plus any initial backlog); a "
         f"warm-up of {sc.run.warmup_days:g} days is run and referrals created in it are "
         "left out of every referral metric."),
        ("Run length", f"{sc.run.duration_days:g} days from {sc.run.start_date} "
         f"(reporting window {window_days:g} days)."),
        ("Estimation approach", f"{replications} independent replications; means with "
         "Student-t 95 % confidence intervals across replications; paired differences "
         "per replication for comparisons."),
    ])
    versions = software_versions()
    implementation = StressSection(5, "Implementation", [
        ("Software", ", ".join(f"{k} {v}" for k, v in versions.items()) + "."),
        ("Random sampling", f"Base seed {seed}; replication r uses a numpy SeedSequence "
         "from (seed, r) spawned into one named stream per random source, so results "
         "do not depend on the number of worker processes."),
        ("Model execution", "Event-driven simulation on simpy; queue-independent "
         "randomness drawn up front; replications run on parallel worker processes."),
        ("System specification", f"{platform.system()} {platform.machine()}; results are "
         "identical on any platform for the same versions and seed."),
    ])
    access = StressSection(6, "Code access", [
        ("Reproduction", (command or f"mashsim run SCENARIO --replications {replications} "
                          f"--seed {seed}") + f"  (mashsim {__version__}, seed {seed})"),
    ])
    return [objectives, logic, data, experimentation, implementation, access]
