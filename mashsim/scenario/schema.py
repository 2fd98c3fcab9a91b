"""The scenario: every input of a run, as a frozen, validated value.

Scenarios are TOML files. Validation happens once, at load, and every problem is
reported with its key path (`hubs.reading.staff.headcount: ...`). Overrides
(`--set PATH=VALUE`) go through the same validation, so a what-if can never build
a scenario that a file could not. Every default below is a documented working
assumption (see the README's scenario reference), never a constant in the model.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import itertools
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mashsim.errors import ScenarioError
from mashsim.scenario.disciplines import QueueDiscipline, SdDiscipline
from mashsim.scenario.distributions import (
    FAMILIES,
    Distribution,
    Fixed,
    Lognormal,
    Triangular,
    Uniform,
)
from mashsim.scenario.uncertain import (
    Uncertainty,
    check_uncertain,
    field_annotation,
    forget_overridden,
    split_uncertain,
    unwrap_type,
)

__all__ = [
    "ASM_SKILL",
    "CLOCKS",
    "DAY_NAMES",
    "EN_SKILL",
    "GRADES",
    "MARAC_SKILL",
    "SD_SKILL",
    "STAFF_ROLE",
    "WORK_SKILLS",
    "Arrivals",
    "DateMultiplier",
    "Overtime",
    "Pattern",
    "ReferralType",
    "Role",
    "Roster",
    "Rpa",
    "Scenario",
    "Shift",
    "Staffing",
    "Stage",
    "Target",
    "date_factors_per_day",
    "display_label",
    "drop_missing_types",
    "load_scenario",
    "month_factors",
    "parse_override",
]

# Each list of names has one home: the Literal the schema validates against; the tuple
# the rest of the package iterates over is read from it.
DayName = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
DAY_NAMES: tuple[DayName, ...] = typing.get_args(DayName)
GradeName = Literal["high", "medium", "standard"]  # in the order reports list them
GRADES: tuple[GradeName, ...] = typing.get_args(GradeName)
Clock = Literal["elapsed_hours", "working_hours", "working_days"]
CLOCKS: tuple[Clock, ...] = typing.get_args(Clock)
_NAME = re.compile(r"[a-z][a-z0-9_]*")  # used with fullmatch: "reading\n" is not a name

# Physical bounds: every number in a scenario has one, so that a typo (1e300, 2**63) is an
# input error here rather than an overflow deep in numpy or simpy.
MAX_DAYS = 3660  # the longest run: ten years
MAX_HOURS = MAX_DAYS * 24.0
MAX_PEOPLE = 10_000  # posts in one roster
MAX_COUNT = 1_000_000  # referrals (a backlog, a queue threshold)
MAX_REFERRALS_PER_DAY = 100_000.0  # force-wide demand; England and Wales is ≈8,000 a day
MAX_WEIGHT = 1e6  # relative weights and shares before normalising
MAX_FACTOR = 1000.0  # date multipliers
MAX_OVERDISPERSION = 5.0  # coefficient of variation of the day-level demand multiplier
MAX_PRIORITY = 1000
MAX_OVERTIME_PREMIUM = 5.0  # overtime pay as a multiple of the hourly cost
MAX_SHIFT_HOURS = 12.0  # longer shifts need `long_shift = true`
MAX_BACKLOG_AGE_DAYS = 365.0  # the calendar covers 400 days before the start
MAX_TARGET_CALENDAR_DAYS = 365  # working-clock targets must fall within about a year
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2200, 12, 31)
MAX_LABEL_CHARS = 100

Share = Annotated[float, Field(ge=0, le=1)]
Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT)]
Hours = Annotated[float, Field(ge=0, le=MAX_HOURS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
People = Annotated[int, Field(ge=0, le=MAX_PEOPLE)]


def _in_date_range(day: dt.date) -> dt.date:
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"must be a date YYYY-MM-DD between {FIRST_DATE} and {LAST_DATE}")
    return day


Date = Annotated[dt.date, AfterValidator(_in_date_range)]


def _one_line(text: str) -> str:
    if not text.isprintable():
        raise ValueError("must be one line of printable text")
    return text


Label = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_CHARS), AfterValidator(_one_line)]


def display_label(ident: str, label: str | None = None) -> str:
    """`label` if given, else an identifier title-cased ("summer_2023" → "Summer 2023").

    Text that is not an identifier (a scenario `name` such as "Thames Valley (working
    figures)") is already written for people and is returned as it is.
    """
    if label:
        return label
    if not _NAME.fullmatch(ident):
        return ident
    return " ".join(word[:1].upper() + word[1:] for word in ident.split("_") if word)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True,
                              allow_inf_nan=False)


@functools.lru_cache(maxsize=1024)  # pure; a plan expands the same few shift times a million times
def _hours_of_day(text: str) -> float:
    """'HH:MM' → hours after midnight; '24:00' is allowed as an end of day."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not m or int(m.group(2)) >= 60 or int(m.group(1)) * 60 + int(m.group(2)) > 24 * 60:
        raise ValueError(f"must be a time 'HH:MM' between 00:00 and 24:00, got {text!r}")
    return int(m.group(1)) + int(m.group(2)) / 60.0


class Shift(_Frozen):
    """A recurring shift; `share` of the roster's headcount is on duty during it."""

    days: list[DayName] = Field(min_length=1)
    start: str = "09:00"
    end: str = "17:00"
    share: Weight = 1.0
    long_shift: bool = False  # explicit opt-in for shifts over MAX_SHIFT_HOURS

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        _hours_of_day(v)
        return v

    @model_validator(mode="after")
    def _length(self) -> Shift:
        if _hours_of_day(self.start) == _hours_of_day(self.end):
            raise ValueError(f"impossible shift: starts and ends at the same time ({self.start})")
        if self.length_hours > MAX_SHIFT_HOURS and not self.long_shift:
            overnight = " (an end at or before the start runs past midnight)" \
                if _hours_of_day(self.end) <= self.start_hours else ""
            raise ValueError(
                f"shift {self.start}-{self.end} is {self.length_hours:g} hours long{overnight}; "
                f"shifts over {MAX_SHIFT_HOURS:g} hours need long_shift = true"
            )
        return self

    @property
    def start_hours(self) -> float:
        return _hours_of_day(self.start)

    @property
    def length_hours(self) -> float:
        """Shifts ending at or before their start run past midnight."""
        return (_hours_of_day(self.end) - self.start_hours) % 24 or 24.0

    def people_on_duty(self, headcount: int) -> int:
        """Whole people on this shift: headcount × share, rounded half up."""
        return math.floor(headcount * self.share + 0.5)

    @property
    def days_per_week(self) -> int:
        """Distinct days it is worked (a day listed twice is still one shift)."""
        return len(set(self.days))


OFFICE_HOURS = (Shift(days=["Mon", "Tue", "Wed", "Thu", "Fri"]),)


class Roster(_Frozen):
    """People on duty by time of week: `headcount` × each covering shift's `share`.

    `headcount` is the funded posts; `vacancies` (a count) or `vacancy_share` of them are
    unfilled at the start. Absences (staffing.*) reduce who is on duty further.
    """

    headcount: People
    shifts: list[Shift] = Field(default_factory=lambda: list(OFFICE_HOURS), min_length=1)
    vacancies: People | None = None
    vacancy_share: Share | None = None
    skip_bank_holidays: bool = False

    @model_validator(mode="after")
    def _vacancies(self) -> Roster:
        if self.vacancies is not None and self.vacancy_share is not None:
            raise ValueError("give vacancies (a count) or vacancy_share, not both")
        if self.vacancies is not None and self.vacancies > self.headcount:
            raise ValueError(f"vacancies ({self.vacancies}) exceed headcount ({self.headcount})")
        return self

    def staff_hours_per_week(self, headcount: int | None = None) -> float:
        """Rostered staff-hours in a week (at `headcount` instead of the roster's own):
        each shift's people on duty × its days × its length, before vacancies, absences
        and bank holidays. The one formula `validate`, `plan` and the report quote."""
        posts = self.headcount if headcount is None else headcount
        return float(sum(s.people_on_duty(posts) * s.days_per_week * s.length_hours
                         for s in self.shifts))

    @property
    def vacant_posts(self) -> int:
        if self.vacancies is not None:
            return self.vacancies
        return round((self.vacancy_share or 0.0) * self.headcount)


class Target(_Frozen):
    """A deadline: `amount` on a named clock, counted from creation or from MASH receipt.

    "creation" is when the incident's referral was created (the 72-hour rule);
    "mash_receipt" is when the RPA handed it to the MASH staff queue.
    """

    amount: Hours  # in the clock's unit; working clocks are bounded by Scenario too
    clock: Clock = "elapsed_hours"
    starts_at: Literal["creation", "mash_receipt"] = "creation"

    @model_validator(mode="after")
    def _whole_days(self) -> Target:
        if self.clock == "working_days" and self.amount != int(self.amount):
            raise ValueError(f"working_days needs a whole number, got {self.amount}")
        return self


class Run(_Frozen):
    start_date: Date = dt.date(2025, 4, 7)
    duration_days: float = Field(default=119.0, gt=0, le=MAX_DAYS)
    warmup_days: float = Field(default=28.0, ge=0, le=MAX_DAYS)

    @model_validator(mode="after")
    def _window(self) -> Run:
        if self.warmup_days >= self.duration_days:
            raise ValueError(
                f"warmup_days ({self.warmup_days:g}) must be less than duration_days "
                f"({self.duration_days:g})"
            )
        return self


class Reporting(_Frozen):
    wait_thresholds_hours: list[Annotated[float, Field(gt=0, le=MAX_HOURS)]] = Field(
        default_factory=lambda: [1.0, 4.0, 24.0, 72.0]
    )
    audit_date: Date | None = None  # point-in-time audit at 00:00 on this day


class WorkingCalendarConfig(_Frozen):
    day_start_hour: float = Field(default=9.0, ge=0, lt=24)
    day_end_hour: float = Field(default=17.0, gt=0, le=24)
    working_days: list[DayName] = Field(
        default_factory=lambda: list(DAY_NAMES[:5]), min_length=1  # Mon-Fri
    )
    exclude_bank_holidays: bool = True

    @model_validator(mode="after")
    def _day(self) -> WorkingCalendarConfig:
        if self.day_end_hour <= self.day_start_hour:
            raise ValueError("day_end_hour must be after day_start_hour")
        return self


def _years_later(day: dt.date, years: int) -> dt.date:
    """The same month and day `years` later (29 February → 28 February off leap years)."""
    year = day.year + years
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return dt.date.max if years > 0 else dt.date.min
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


class DateMultiplier(_Frozen):
    """Demand × `factor` on every day from `start` to `end` inclusive (e.g. festive).

    `recurring = true` repeats the range every year (before and after the year written),
    so a four-year run needs one festive entry, not four; it must then span under a year.
    Unset (None) is the same as false and is left out of dumps, so existing scenarios'
    outputs are unchanged.
    """

    start: Date
    end: Date
    factor: float = Field(ge=0, le=MAX_FACTOR)
    label: str = ""
    recurring: bool | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DateMultiplier:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.recurring and self.end >= _years_later(self.start, 1):
            raise ValueError(f"a recurring range must span less than a year, got "
                             f"{self.start} to {self.end}")
        return self

    def ranges(self, first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
        """The (start, end) ranges it covers that touch [first, last]: one, or one a year."""
        if not self.recurring:
            return [(self.start, self.end)]
        out = []
        for years in range(first.year - self.end.year - 1, last.year - self.start.year + 2):
            lo, hi = _years_later(self.start, years), _years_later(self.end, years)
            if hi >= first and lo <= last:
                out.append((lo, hi))
        return out


def date_factors_per_day(
    multipliers: list[DateMultiplier], start: dt.date, n_days: int
) -> np.ndarray:
    """Product of the multipliers covering each day from `start` (1 where none does).

    Used for demand (`arrivals.date_multipliers`) and for leave (`staffing.leave.peaks`).
    A recurring multiplier covers its month-day range in every year.
    """
    factor = np.ones(n_days)
    last = start + dt.timedelta(days=max(n_days - 1, 0))
    for m in multipliers:
        for m_start, m_end in m.ranges(start, last):
            lo, hi = max(0, (m_start - start).days), min(n_days, (m_end - start).days + 1)
            if lo < hi:
                factor[lo:hi] *= m.factor
    return factor


def _flat(n: int) -> list[float]:
    return [1.0] * n


def _some_month(v: list[float]) -> list[float]:
    if sum(v) <= 0:
        raise ValueError("month_of_year_weights need a positive sum")
    return v


# Jan..Dec, relative: normalised to mean 1 over the 12 months (`month_factors`).
MonthWeights = Annotated[list[Weight], Field(min_length=12, max_length=12),
                         AfterValidator(_some_month)]


def month_factors(weights: list[float] | None) -> np.ndarray | None:
    """Month-of-year weights (Jan..Dec) normalised to mean 1; None stays None."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float)
    return w / w.mean()


class Arrivals(_Frozen):
    """Force-wide referral demand; hubs take `demand_share` of it.

    mode "profile": non-homogeneous Poisson with rate
    referrals_per_day/24 × day_of_week × hour_of_day (normalised to mean 1 over the
    week) × any date multiplier × the month-of-year weight (piecewise constant by calendar
    month) × growth, compounded from the run start. Per referral type, `month_of_year_weights`
    and `growth_per_year` may override these. `overdispersion` (the coefficient of variation
    of a gamma day-level multiplier common to every hub and type) makes it a Cox process.
    mode "constant": homogeneous Poisson (growth and over-dispersion still apply).
    """

    mode: Literal["profile", "constant"] = "profile"
    referrals_per_day: float = Field(default=180.0, ge=0, le=MAX_REFERRALS_PER_DAY)
    day_of_week_weights: list[Weight] = Field(
        default_factory=lambda: _flat(7), min_length=7, max_length=7
    )
    hour_of_day_weights: list[Weight] = Field(
        default_factory=lambda: _flat(24), min_length=24, max_length=24
    )
    date_multipliers: list[DateMultiplier] = Field(default_factory=list)
    growth_per_year: float = Field(default=0.0, ge=-0.9, le=10.0)
    # Seasonality and over-dispersion: None (unset) means all months 1 and Poisson, and is
    # left out of dumps so that scenarios without them report exactly as before.
    month_of_year_weights: MonthWeights | None = None
    overdispersion: float | None = Field(default=None, ge=0, le=MAX_OVERDISPERSION)

    @model_validator(mode="after")
    def _some_weight(self) -> Arrivals:
        if sum(self.day_of_week_weights) <= 0 or sum(self.hour_of_day_weights) <= 0:
            raise ValueError("day_of_week_weights and hour_of_day_weights need a positive sum")
        return self

    @property
    def month_factors(self) -> np.ndarray | None:
        """The 12 month-of-year weights normalised to mean 1 (None: no seasonality)."""
        return month_factors(self.month_of_year_weights)

    @property
    def day_cv(self) -> float:
        """Coefficient of variation of the day-level rate multiplier (0: Poisson)."""
        return self.overdispersion or 0.0


def _by_grade(values: BaseModel) -> tuple[float, ...]:
    """A per-grade table's values in GRADES order (its fields are the grades, by test)."""
    return tuple(getattr(values, g) for g in GRADES)


class GradeMix(_Frozen):
    """Weights of each risk grade (normalised to sum 1)."""

    high: Weight = 0.08
    medium: Weight = 0.32
    standard: Weight = 0.60

    @model_validator(mode="after")
    def _some(self) -> GradeMix:
        if sum(_by_grade(self)) <= 0:
            raise ValueError("grade weights need a positive sum")
        return self

    def probabilities(self) -> tuple[float, ...]:
        weights = _by_grade(self)
        total = sum(weights)
        return tuple(w / total for w in weights)


class GradeShares(_Frozen):
    """A share (0–1) for each risk grade."""

    high: Share = 0.0
    medium: Share = 0.0
    standard: Share = 0.0


class ReferralType(_Frozen):
    """A kind of referral. Strategy-discussion need is either one share for the type or,
    more faithfully, a share per risk grade (`strategy_discussion_share_by_grade`, which
    then replaces `strategy_discussion_share`).

    `repeat_share` of its referrals are repeats about someone seen recently: their
    handling (every stage) × `repeat_handling_factor`, and with `repeat_escalate` one
    grade higher. `linked_child_share` of them (domestic-abuse incidents with children
    present) make a linked referral of type `linked_child_type`, handled `separately`
    (a referral of its own, created at the same moment) or `together` (its handling
    added to this referral's, its strategy-discussion need joining this one's)."""

    share: Weight
    grade_mix: GradeMix = GradeMix()
    early_notification: bool = False
    strategy_discussion_share: Share = 0.0
    strategy_discussion_share_by_grade: GradeShares | None = None
    # Per-type seasonality and trend; None: the type follows `arrivals.*`.
    month_of_year_weights: MonthWeights | None = None
    growth_per_year: float | None = Field(default=None, ge=-0.9, le=10.0)
    repeat_share: Share = 0.0
    repeat_handling_factor: float = Field(default=1.0, gt=0, le=MAX_FACTOR)
    repeat_escalate: bool = False
    linked_child_share: Share = 0.0
    linked_child_type: str | None = None
    linked_handling: Literal["together", "separately"] = "separately"

    def growth(self, arrivals: Arrivals) -> float:
        """Demand growth a year of this type: its own `growth_per_year`, else the force's."""
        return arrivals.growth_per_year if self.growth_per_year is None else self.growth_per_year

    def sd_share_by_grade(self) -> tuple[float, ...]:
        g = self.strategy_discussion_share_by_grade
        if g is None:
            return (self.strategy_discussion_share,) * len(GRADES)
        return _by_grade(g)


class Grade(_Frozen):
    priority: int = Field(ge=0, le=MAX_PRIORITY,
                          description="lower is served first under 'risk' discipline")
    decision_target: Target
    handling_minutes: Distribution


class OfficerAssessment(_Frozen):
    delay_hours: Distribution = Field(
        default_factory=lambda: Lognormal(median=18.0, sigma=1.5)
    )
    # what-if: "submit within N hours"
    cap_hours: float | None = Field(default=None, gt=0, le=MAX_HOURS)


class Rpa(_Frozen):
    """The robot: scans for the officer's assessment, then grades and hands over."""

    enabled: bool = True
    scan_hours: list[Hours] = Field(
        default_factory=lambda: [0.0, 24.0, 48.0, 72.0], min_length=1
    )
    early_notification: bool = True
    early_notification_minutes: Distribution = Field(
        default_factory=lambda: Triangular(min=5, mode=10, max=20)
    )
    early_notification_queue_as: GradeName = "high"
    # "extra_work": the notification is extra, ungraded work and the referral still waits
    # for the RPA (as found); "early_handover": staff take the case on from the
    # notification, so the referral itself reaches them at creation (a revised process).
    early_notification_mode: Literal["extra_work", "early_handover"] = "extra_work"
    staff_need_assessment: bool = False  # true: no decision before the officer's assessment

    @field_validator("scan_hours")
    @classmethod
    def _sorted(cls, v: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("scan_hours must be strictly increasing")
        return v


class Sharing(_Frozen):
    share_with_partners: Share = 0.70
    sharing_minutes: Distribution = Field(
        default_factory=lambda: Triangular(min=10, mode=15, max=30)
    )


class Queue(_Frozen):
    discipline: QueueDiscipline = "fifo"
    at_shift_end: Literal["finish", "handback"] = "finish"


class StrategyDiscussions(_Frozen):
    deadline: Target = Target(amount=72.0, clock="elapsed_hours")
    preparation_minutes: Distribution = Field(default_factory=lambda: Fixed(value=30.0))
    meeting_minutes: Distribution = Field(default_factory=lambda: Uniform(low=45.0, high=60.0))
    scheduling_delay_hours: Distribution = Field(default_factory=lambda: Fixed(value=0.0))
    discipline: SdDiscipline = "deadline"
    held_by: Literal["attendees", "staff"] = "attendees"
    staff_queue_as: GradeName = "high"
    # discussions asked for by partners (social care), force-wide, split by demand_share
    # with the referrals' hour-of-week and date profile; 0: none (as before)
    partner_initiated_per_day: float = Field(default=0.0, ge=0, le=MAX_REFERRALS_PER_DAY)
    partner_research_minutes: Distribution = Field(default_factory=lambda: Fixed(value=0.0))
    partner_queue_as: GradeName = "high"


class _SharedByType(_Frozen):
    """A work stream that `share_by_type.<type>` (per grade) of referrals need; off when
    no type lists a positive share."""

    share_by_type: dict[str, GradeShares] = Field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return any(any(_by_grade(g)) for g in self.share_by_type.values())

    def share(self, type_name: str) -> tuple[float, ...]:
        """Share of a type's referrals needing it, per grade (GRADES order)."""
        g = self.share_by_type.get(type_name)
        return (0.0,) * len(GRADES) if g is None else _by_grade(g)


class AdultStrategyMeetings(_SharedByType):
    """Adult strategy meetings: needed by `share_by_type.<type>` (per grade; types not
    listed: none) of referrals, called at the decision; held by the skill
    `adult_strategy_meeting` (else by the hub's `sd_attendees`). Deadline per grade
    (`deadline_by_grade.<grade>`), else `deadline`."""

    preparation_minutes: Distribution = Field(default_factory=lambda: Fixed(value=30.0))
    meeting_minutes: Distribution = Field(default_factory=lambda: Uniform(low=45.0, high=60.0))
    deadline: Target = Target(amount=5.0, clock="working_days")
    deadline_by_grade: dict[GradeName, Target] = Field(default_factory=dict)
    discipline: SdDiscipline = "deadline"

    def grade_deadline(self, grade: str) -> Target:
        return self.deadline_by_grade.get(grade, self.deadline)  # type: ignore[call-overload]


class MaracCalendar(_Frozen):
    """One hub's MARAC meetings where they differ from `[marac]`'s (`hubs.<hub>.marac`;
    unset: as there)."""

    every_days: int | None = Field(default=None, ge=1, le=365)
    weekday: DayName | None = None
    hour: float | None = Field(default=None, ge=0, lt=24)
    cases_per_meeting: int | None = Field(default=None, ge=1, le=MAX_COUNT)


class Marac(_SharedByType):
    """MARAC-style scheduled meetings, one calendar per hub: a meeting every `every_days`
    from the first `weekday` on or after the run start, at `hour`, hearing up to
    `cases_per_meeting` cases (`hubs.<hub>.marac` overrides them for one hub).
    `share_by_type.<type>` (per grade) of referrals are listed at their decision for the
    next meeting; each needs `research_minutes` of research (skill `marac_research`) done
    before the meeting that hears it."""

    every_days: int = Field(default=14, ge=1, le=365)
    weekday: DayName = "Tue"
    hour: float = Field(default=10.0, ge=0, lt=24)
    cases_per_meeting: int = Field(default=16, ge=1, le=MAX_COUNT)
    research_minutes: Distribution = Field(
        default_factory=lambda: Triangular(min=30, mode=60, max=120))

    def calendar(self, own: MaracCalendar | None) -> tuple[int, DayName, float, int]:
        """(every_days, weekday, hour, cases_per_meeting) of a hub with calendar `own`."""
        own = own or MaracCalendar()
        return (self.every_days if own.every_days is None else own.every_days,
                self.weekday if own.weekday is None else own.weekday,
                self.hour if own.hour is None else own.hour,
                self.cases_per_meeting if own.cases_per_meeting is None
                else own.cases_per_meeting)


class Leave(_Frozen):
    """Annual leave: entitlement per person, taken more in `peaks` (e.g. school holidays)."""

    entitlement_days_per_year: float = Field(default=0.0, ge=0, le=260)
    peaks: list[DateMultiplier] = Field(default_factory=list)


class Sickness(_Frozen):
    """Random absence episodes per person: a Poisson rate and a length in calendar days."""

    episodes_per_year: float = Field(default=0.0, ge=0, le=50)
    duration_days: Distribution = Field(default_factory=lambda: Lognormal(median=3.0, sigma=0.8))


class Recruitment(_Frozen):
    """Vacancies at the start are filled after a lead time; starters learn for a while."""

    enabled: bool = False
    lead_time_days: Distribution = Field(default_factory=lambda: Fixed(value=90.0))
    new_starter_productivity: float = Field(default=0.5, gt=0, le=1)
    training_period_days: float = Field(default=60.0, ge=0, le=MAX_DAYS)


def _overtime_hours() -> list[Shift]:
    return [Shift(days=["Mon", "Tue", "Wed", "Thu", "Fri"], start="17:00", end="20:00"),
            Shift(days=["Sat", "Sun"], start="09:00", end="17:00")]


class Overtime(_Frozen):
    """Extra staff-hours when a hub's queue passes a threshold, up to a weekly cap.

    The extra people are `role`'s (each hub's first role when unset) and take work from
    that role's queues; the trigger reads the queues of `stages` (all stages when empty),
    so "researchers do overtime when the research queue passes 50" is one setting. Each
    overtime staff-hour costs the role's `hourly_cost` × `premium`."""

    enabled: bool = False
    trigger: Literal["staff_queue", "oldest_waiting_hours", "sd_pending"] = "staff_queue"
    threshold: float = Field(default=50.0, ge=0, le=MAX_COUNT)
    weekly_cap_hours: float = Field(default=0.0, ge=0, le=168.0 * MAX_PEOPLE)
    extra_staff: int = Field(default=1, ge=1, le=MAX_PEOPLE)
    block_hours: float = Field(default=1.0, gt=0, le=24)
    shifts: list[Shift] = Field(default_factory=_overtime_hours, min_length=1)
    role: str | None = None  # whose people work it; None: each hub's first role
    stages: list[str] = Field(default_factory=list)  # queues the trigger reads; []: all
    premium: float = Field(default=1.0, ge=1.0, le=MAX_OVERTIME_PREMIUM)  # × hourly cost


class DegradedResearch(_Frozen):
    """Under pressure staff cut research short: shorter handling, counted as a risk."""

    enabled: bool = False
    queue_threshold: Count = 100
    handling_factor: float = Field(default=0.5, gt=0, le=1)


class Staffing(_Frozen):
    """How capacity varies: absences, abstractions, recruitment, overtime, shortcuts."""

    leave: Leave = Leave()
    sickness: Sickness = Sickness()
    abstraction_share: Share = 0.0
    recruitment: Recruitment = Recruitment()
    overtime: Overtime = Overtime()
    degraded_research: DegradedResearch = DegradedResearch()
    absences_apply_to_sd_attendees: bool = True


class Pooling(_Frozen):
    """Hubs independent, fully pooled, or with a force-wide overflow team."""

    mode: Literal["independent", "pooled", "overflow"] = "independent"
    overflow_threshold: Count = 20
    overflow_team: Roster = Roster(headcount=0)
    overflow_skills: list[str] = Field(default_factory=list)  # stages it works; []: the first


class InitialBacklog(_Frozen):
    """Referrals already waiting for staff at the start, with their ages."""

    count: Count = 0
    age_days: Distribution = Field(default_factory=lambda: Uniform(low=0.0, high=7.0))

    @model_validator(mode="after")
    def _ages_in_calendar(self) -> InitialBacklog:
        oldest = self.age_days.largest
        if self.count and not oldest <= MAX_BACKLOG_AGE_DAYS:
            raise ValueError(
                f"age_days must stay within 0-{MAX_BACKLOG_AGE_DAYS:g} days: use a bounded "
                f"distribution (fixed, uniform, triangular or empirical), largest value "
                f"{oldest:g}"
            )
        return self


SD_SKILL = "strategy_discussion"  # the skill of holding strategy discussions (not a stage)
EN_SKILL = "early_notification"  # handling early notifications in a queue of their own
ASM_SKILL = "adult_strategy_meeting"  # holding adult strategy meetings
MARAC_SKILL = "marac_research"  # researching cases listed for a MARAC meeting
WORK_SKILLS = (SD_SKILL, EN_SKILL, ASM_SKILL, MARAC_SKILL)  # work streams, not stages
STAFF_ROLE = "staff"  # the one implicit role of a hub described by `staff` alone
MAX_HOURLY_COST = 10_000.0  # pounds per staff-hour
ROLE_ABSENCE_KEYS = ("leave", "sickness", "abstraction_share", "recruitment")  # per-role


class Stage(_Frozen):
    """One step of a referral's work, with its own queue (`stages.<name>`, in order).

    A referral passes through the stages in the order they are written, skipping those it
    does not need (`share_by_grade`, or `share_by_type.<type>` for one type). Handling time
    is `handling_minutes_by_grade.<grade>`, else `handling_minutes`, else the grade's own
    `grades.<grade>.handling_minutes`. The decision is the end of the last deciding stage
    the referral needs (if it needs none: the end of its last stage).
    """

    handling_minutes: Distribution | None = None
    handling_minutes_by_grade: dict[GradeName, Distribution] = Field(default_factory=dict)
    share_by_grade: GradeShares = Field(
        default_factory=lambda: GradeShares(high=1.0, medium=1.0, standard=1.0))
    share_by_type: dict[str, GradeShares] = Field(default_factory=dict)
    discipline: QueueDiscipline | None = None  # None: `queue.discipline`
    decides: bool = False
    includes_sharing: bool = False  # sharing with partners (`sharing.*`) is done here
    research: bool = False  # `staffing.degraded_research` cuts this stage short
    degraded_research: DegradedResearch | None = None  # this stage's own rule (any stage)
    label: Label | None = None

    def degraded(self, default: DegradedResearch) -> DegradedResearch | None:
        """The shortcut rule for this stage: its own, else the staffing one for a research
        stage; None when the stage is never cut short."""
        rule = self.degraded_research or (default if self.research else None)
        return rule if rule is not None and rule.enabled else None

    def share(self, type_name: str) -> tuple[float, ...]:
        """Share of a type's referrals needing this stage, per grade (GRADES order)."""
        return _by_grade(self.share_by_type.get(type_name, self.share_by_grade))


class Role(Roster):
    """People of one kind in a hub: a roster (posts, shifts, vacancies) plus an hourly
    cost and `skills`, the stages they do in order of preference (`strategy_discussion`
    for trained attendees). `dispatch`: "preference" takes the first skilled stage with
    work; "oldest_first" the job that has waited longest across the skilled queues."""

    hourly_cost: float = Field(default=0.0, ge=0, le=MAX_HOURLY_COST)
    skills: list[str] = Field(min_length=1)
    dispatch: Literal["preference", "oldest_first"] = "preference"
    leave: Leave | None = None  # None: `staffing.leave`
    sickness: Sickness | None = None  # None: `staffing.sickness`
    abstraction_share: Share | None = None  # None: `staffing.abstraction_share`
    recruitment: Recruitment | None = None  # None: `staffing.recruitment`
    label: Label | None = None
    #: candidate shift patterns `plan` may choose for this role (names of `patterns.*`);
    #: None: every pattern of the scenario
    patterns: list[str] | None = None

    def absences(self, staffing: Staffing) -> Staffing:
        """The force's absence settings with this role's own in place of any it gives."""
        own = {k: getattr(self, k) for k in ROLE_ABSENCE_KEYS if getattr(self, k) is not None}
        return staffing.model_copy(update=own) if own else staffing

    @field_validator("skills")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a skill is listed twice")
        return v


class Pattern(_Frozen):
    """A candidate roster (`patterns.<name>`): shifts a role may work instead of its own,
    which `plan` tries when it searches that role (issue 14)."""

    shifts: list[Shift] = Field(min_length=1)
    label: Label | None = None


#: a planning target's text, `OP VALUE` (`targets.<metric> = "<=0.05"`); the metric name
#: is checked against the metric registry by `plan` (a layer above this one)
TARGET_TEXT = re.compile(r"\s*(<=|>=|<|>)\s*[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?%?\s*")


def _check_target_texts(v: dict[str, str]) -> dict[str, str]:
    for metric, text in v.items():
        if not _NAME.fullmatch(metric):
            raise ValueError(f"{metric!r} is not a metric name")
        if not TARGET_TEXT.fullmatch(text):
            raise ValueError(f"{metric}: expected 'OP VALUE' with OP one of <=, <, >=, >, "
                             f"e.g. \"<=0.05\" or \"<=5%\", got {text!r}")
    return v


def _roles_summary(roles: Mapping[str, Role]) -> Roster:
    """The `staff` view of a hub described by roles: all posts, the first role's shifts."""
    first = next(iter(roles.values()))
    return Roster(headcount=min(MAX_PEOPLE, sum(r.headcount for r in roles.values())),
                  shifts=first.shifts,
                  vacancies=min(MAX_PEOPLE, sum(r.vacant_posts for r in roles.values())))


class Hub(_Frozen):
    """A hub: `staff` (one role doing every stage, as before roles) or `roles`.

    With roles, `staff` is derived (the roles' posts summed, the first role's shifts) so
    that readers of a hub's posts keep working; it is not written back (`to_dict`)."""

    demand_share: Weight
    staff: Roster = None  # type: ignore[assignment]  # filled from roles when absent
    roles: dict[str, Role] = Field(default_factory=dict)
    sd_attendees: Roster = Roster(headcount=2)
    initial_backlog: InitialBacklog = InitialBacklog()
    marac: MaracCalendar | None = None  # this hub's MARAC calendar where it differs
    label: Label | None = None  # display name; default: the hub id title-cased

    @model_validator(mode="after")
    def _staff_or_roles(self) -> Hub:
        given = "staff" in self.model_fields_set and self.staff is not None
        if self.roles and given:
            raise ValueError("give staff (one role doing every stage) or roles, not both")
        if not self.roles and not given:
            raise ValueError("give staff (one role doing every stage) or roles; neither is "
                             "here")
        for name in self.roles:
            if not _NAME.fullmatch(name):
                raise ValueError(f"roles: name {name!r} must be lower case letters, digits "
                                 "and _, starting with a letter")
        if self.roles:
            object.__setattr__(self, "staff", _roles_summary(self.roles))
        return self

    def display_label(self, hub_id: str) -> str:
        """The name to show people (a Hub does not know its own id, so pass it)."""
        return display_label(hub_id, self.label)


def _check_target_span(path: str, target: Target, cal: WorkingCalendarConfig) -> None:
    """A working-clock target must end within about a year (the calendar's covered range)."""
    if target.clock == "elapsed_hours":
        return
    day_hours = cal.day_end_hour - cal.day_start_hour
    working_days = target.amount if target.clock == "working_days" else target.amount / day_hours
    weeks = math.ceil(working_days / len(set(cal.working_days))) + 1
    span_days = 7 * weeks + 14  # + a fortnight of bank holidays
    if span_days > MAX_TARGET_CALENDAR_DAYS:
        raise ValueError(
            f"{path}: {target.amount:g} {target.clock} takes about {span_days} calendar days "
            f"with this working calendar; targets must fall within "
            f"{MAX_TARGET_CALENDAR_DAYS} days"
        )


class Scenario(_Frozen):
    """A complete, validated scenario. Build with `load_scenario` or `Scenario.from_dict`."""

    name: str = "scenario"
    description: str = ""
    label: Label | None = None  # display name; default: `name`, title-cased if an id
    run: Run = Run()
    reporting: Reporting = Reporting()
    calendar: WorkingCalendarConfig = WorkingCalendarConfig()
    arrivals: Arrivals = Arrivals()
    referral_types: dict[str, ReferralType] = Field(min_length=1)
    grades: dict[GradeName, Grade]
    officer_assessment: OfficerAssessment = OfficerAssessment()
    rpa: Rpa = Rpa()
    sharing: Sharing = Sharing()
    queue: Queue = Queue()
    strategy_discussions: StrategyDiscussions = StrategyDiscussions()
    adult_strategy_meetings: AdultStrategyMeetings = AdultStrategyMeetings()
    marac: Marac = Marac()
    staffing: Staffing = Staffing()
    pooling: Pooling = Pooling()
    stages: dict[str, Stage] = Field(default_factory=dict)  # in the order work flows
    hubs: dict[str, Hub] = Field(min_length=1)
    #: the force's planning targets, metric → "OP VALUE", all to hold with 95 % confidence
    targets: dict[str, str] = Field(default_factory=dict)
    #: candidate rosters `plan` may give a searched role (`hubs.<hub>.roles.<role>.patterns`)
    patterns: dict[str, Pattern] = Field(default_factory=dict)
    uncertainty: Uncertainty | None = None  # inputs given as ranges (scenario/uncertain.py)

    @model_validator(mode="before")
    @classmethod
    def _ranges(cls, data: Any, info: ValidationInfo) -> Any:
        """A range where a number goes moves to `uncertainty.inputs`, its nominal stays.
        Skipped when the caller knows there is none (`from_dict(..., ranges=False)`)."""
        if info.context is not None and info.context.get("ranges") is False:
            return data
        return split_uncertain(data, cls)

    @field_validator("hubs", "referral_types", "stages")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"name {name!r} must be lower case letters, digits and _, "
                    "starting with a letter"
                )
        return v

    @field_validator("targets")
    @classmethod
    def _target_texts(cls, v: dict[str, str]) -> dict[str, str]:
        return _check_target_texts(v)

    @field_validator("grades")
    @classmethod
    def _all_grades(cls, v: dict[str, Grade]) -> dict[str, Grade]:
        missing = [g for g in GRADES if g not in v]
        if missing:
            raise ValueError(f"missing grade(s) {', '.join(missing)}: all of {GRADES} are needed")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if sum(t.share for t in self.referral_types.values()) <= 0:
            raise ValueError("referral_types: shares need a positive sum")
        if sum(h.demand_share for h in self.hubs.values()) <= 0:
            raise ValueError("hubs: demand_share values need a positive sum")
        audit = self.reporting.audit_date
        if audit is not None:
            day = (audit - self.run.start_date).days
            if not self.run.warmup_days <= day <= self.run.duration_days:
                raise ValueError(
                    f"reporting.audit_date: {audit} must fall between the end of the warm-up "
                    f"and the end of the run (days {self.run.warmup_days:g} to "
                    f"{self.run.duration_days:g} after run.start_date)"
                )
        for path, target in self._targets():
            _check_target_span(path, target, self.calendar)
        self._check_stages_and_roles()
        self._check_work_streams()
        if self.uncertainty is not None:
            check_uncertain(self)
        return self

    def _check_work_streams(self) -> None:
        """Types named by the work streams exist; the streams beyond police child
        discussions need attendees or skilled roles (not `held_by = "staff"`)."""
        types = list(self.referral_types)
        for t, rt in self.referral_types.items():
            if rt.linked_child_share > 0 and rt.linked_child_type not in types:
                raise ValueError(f"referral_types.{t}.linked_child_type: name the linked "
                                 f"referral's type (known: {', '.join(types)})")
        for key, table in (("adult_strategy_meetings", self.adult_strategy_meetings),
                           ("marac", self.marac)):
            for t in table.share_by_type:
                if t not in types:
                    raise ValueError(f"{key}.share_by_type.{t}: no such referral type "
                                     f"(known: {', '.join(types)})")
        streams = {ASM_SKILL: self.adult_strategy_meetings.enabled,
                   MARAC_SKILL: self.marac.enabled}
        partner = self.strategy_discussions.partner_initiated_per_day > 0
        if self.strategy_discussions.held_by == "staff" and (partner or any(streams.values())):
            raise ValueError("strategy_discussions.held_by: \"staff\" holds police-referral "
                             "discussions only; partner-initiated discussions, adult strategy "
                             "meetings and MARAC need attendees or skilled roles")
        for h, hub in self.hubs.items():
            skilled = {s for role in hub.roles.values() for s in role.skills}
            if SD_SKILL not in skilled:
                continue  # the hub's sd_attendees take what no role is skilled for
            for skill, on in streams.items():
                if on and skill not in skilled:
                    raise ValueError(
                        f"hubs.{h}.roles: no role is skilled for {skill!r}; a role skilled "
                        f"for {SD_SKILL!r} replaces the sd_attendees, who would hold it")

    def _check_stages_and_roles(self) -> None:
        """Stages name known types and one decides; every role's skills exist; every
        stage of a hub described by roles has someone skilled for it."""
        for skill in WORK_SKILLS:
            if skill in self.stages:
                raise ValueError(f"stages.{skill}: this name is a work stream's skill, not "
                                 "a stage; that work has its own queue")
        if self.stages and not any(st.decides for st in self.stages.values()):
            last = list(self.stages)[-1]
            raise ValueError(f"stages.{last}.decides: no stage decides; mark the stage "
                             "whose end is the decision with decides = true")
        for name, st in self.stages.items():
            for t in st.share_by_type:
                if t not in self.referral_types:
                    raise ValueError(f"stages.{name}.share_by_type.{t}: no such referral type "
                                     f"(known: {', '.join(self.referral_types)})")
        known = [*self.stages, *WORK_SKILLS]
        for h, hub in self.hubs.items():
            for r, role in hub.roles.items():
                for name in role.patterns or ():
                    if name not in self.patterns:
                        raise ValueError(
                            f"hubs.{h}.roles.{r}.patterns: no pattern {name!r} (known: "
                            f"{', '.join(self.patterns) or 'none: add [patterns.<name>]'})")
                for skill in role.skills:
                    if skill not in known:
                        raise ValueError(
                            f"hubs.{h}.roles.{r}.skills: no stage {skill!r} (known: "
                            f"{', '.join(known)})" + _did_you_mean(skill, known))
            if hub.roles:
                skilled = {s for role in hub.roles.values() for s in role.skills}
                for stage in self.stage_names:
                    if stage not in skilled:
                        raise ValueError(
                            f"hubs.{h}.roles: no role is skilled for stage {stage!r}")
        self._check_stage_lists()

    def _check_stage_lists(self) -> None:
        """Stage names in overtime and the overflow team exist; the overtime role is a
        role of every hub."""
        lists = [("staffing.overtime.stages", self.staffing.overtime.stages),
                 ("pooling.overflow_skills", self.pooling.overflow_skills)]
        for path, names in lists:
            for name in names:
                if name not in self.stage_names:
                    raise ValueError(f"{path}: no stage {name!r} (known: "
                                     f"{', '.join(self.stage_names)})"
                                     + _did_you_mean(name, self.stage_names))
        role = self.staffing.overtime.role
        for h in self.hubs if role is not None else []:
            if role not in self.hub_roles(h):
                raise ValueError(f"staffing.overtime.role: hub {h!r} has no role {role!r} "
                                 f"(its roles: {', '.join(self.hub_roles(h))})")

    def _targets(self) -> list[tuple[str, Target]]:
        out = [(f"grades.{g}.decision_target", grade.decision_target)
               for g, grade in self.grades.items()]
        asm = self.adult_strategy_meetings
        out += [(f"adult_strategy_meetings.deadline_by_grade.{g}", t)
                for g, t in asm.deadline_by_grade.items()]
        return [*out, ("strategy_discussions.deadline", self.strategy_discussions.deadline),
                ("adult_strategy_meetings.deadline", asm.deadline)]

    # -- conversions -------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<scenario>",
                  ranges: bool = True) -> Scenario:
        """Validate raw scenario data. `ranges=False`: the data holds no range where a
        number goes (a validated scenario's dump), so the walk that moves ranges to
        `uncertainty.inputs` is skipped."""
        try:
            return cls.model_validate(dict(data), context=None if ranges else {"ranges": False})
        except ValidationError as err:
            raise ScenarioError(_problems(err, source)) from None

    def to_dict(self) -> dict[str, Any]:
        return _without_idle_streams(_without_derived(self.model_dump(
            mode="python", by_alias=True, exclude_none=True)))

    def to_toml(self, path: str | Path) -> None:
        """Write a TOML file that `load_scenario` reads back as an equal Scenario."""
        from mashsim._io import atomic_write_text

        atomic_write_text(Path(path), tomli_w.dumps(self.to_dict()))

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "--set") -> Scenario:
        """A copy with dotted-path values replaced, validated like a file."""
        data = _without_derived(self.model_dump(mode="python", by_alias=True))  # unset too
        problems = []
        for path, value in overrides.items():
            try:
                _set_path(data, path, value)
            except KeyError as err:
                problems.append(_printable(f"{source}: {path}: {err.args[0]}"))
        forget_overridden(data, overrides)
        try:
            # the dump holds numbers where numbers go; only an override can bring a range
            scenario = Scenario.from_dict(data, source=source, ranges=any(
                _holds_mapping(v) for v in overrides.values()))
        except ScenarioError as err:
            problems += err.problems
        if problems:
            raise ScenarioError(problems)
        return scenario

    # -- derived views used by the model ---------------------------------------

    @property
    def display_label(self) -> str:
        """The name to show people: `label`, else `name` (title-cased if an identifier)."""
        return display_label(self.name, self.label)

    def hub_display_label(self, hub: str) -> str:
        """The display name of one hub (its `label`, else its id title-cased)."""
        return self.hubs[hub].display_label(hub)

    @property
    def stage_names(self) -> list[str]:
        """The stages in flow order: those given, or the one implicit stage, `staff`."""
        return list(self.stages) or [STAFF_ROLE]

    def stage(self, name: str) -> Stage:
        """A stage by name (the implicit one: the grade's handling, sharing included)."""
        if self.stages:
            return self.stages[name]
        return Stage(decides=True, includes_sharing=True, research=True)

    def hub_roles(self, hub: str) -> dict[str, Role]:
        """A hub's roles; a hub described by `staff` has one, `staff`, skilled for every
        stage in flow order."""
        h = self.hubs[hub]
        if h.roles:
            return dict(h.roles)
        return {STAFF_ROLE: Role(**h.staff.model_dump(), skills=self.stage_names)}

    @property
    def role_names(self) -> list[str]:
        """The described roles (`hubs.<hub>.roles.<role>`), in order of first appearance
        across hubs; none for a scenario of one implicit role per hub."""
        return list(dict.fromkeys(r for h in self.hubs.values() for r in h.roles))

    @property
    def costed(self) -> bool:
        """Whether any described role has an hourly cost (so plans and tables show money)."""
        return any(r.hourly_cost > 0 for h in self.hubs.values() for r in h.roles.values())

    @property
    def has_roles(self) -> bool:
        """Whether stages or roles are described (else: one stage, one role per hub)."""
        return bool(self.stages) or any(h.roles for h in self.hubs.values())

    @property
    def hub_names(self) -> list[str]:
        return list(self.hubs)

    @property
    def type_names(self) -> list[str]:
        return list(self.referral_types)

    def hub_alone(self, hub: str) -> Scenario:
        """This scenario with only `hub`, at the demand rate it has here: the same
        referrals for that hub, less work (`plan` simulates a hub this way; so do tests).
        Raises ScenarioError when the cut scenario is invalid."""
        data = self.to_dict()
        data["arrivals"]["referrals_per_day"] = self.hub_rate_per_day(hub)
        data["hubs"] = {hub: {**data["hubs"][hub], "demand_share": 1.0}}
        _work_streams_alone(data, self.hub_share(hub))
        _uncertainty_alone(data, hub, self.hub_share(hub))
        return Scenario.from_dict(data, source=f"{hub} alone")

    def overtime_hourly_cost(self, hub: str) -> float:
        """Pounds per overtime staff-hour in `hub`: its overtime role's (`overtime.role`,
        else its first role's) hourly cost × `overtime.premium`; 0 for a hub described by
        `staff`, which has no cost."""
        ot, roles = self.staffing.overtime, self.hub_roles(hub)
        return roles[ot.role or next(iter(roles))].hourly_cost * ot.premium

    def hub_share(self, hub: str) -> float:
        """The hub's share of force-wide demand (its demand_share normalised)."""
        return self.hubs[hub].demand_share / sum(h.demand_share for h in self.hubs.values())

    def marac_calendar(self, hub: str) -> tuple[int, DayName, float, int]:
        """(every_days, weekday, hour, cases_per_meeting) of a hub's MARAC meetings."""
        return self.marac.calendar(self.hubs[hub].marac)

    def hub_rate_per_day(self, hub: str) -> float:
        total = sum(h.demand_share for h in self.hubs.values())
        return self.arrivals.referrals_per_day * self.hubs[hub].demand_share / total

    @property
    def warmup_hours(self) -> float:
        return self.run.warmup_days * 24.0

    @property
    def horizon_hours(self) -> float:
        return self.run.duration_days * 24.0

    @property
    def audit_hours(self) -> float | None:
        audit = self.reporting.audit_date
        return None if audit is None else (audit - self.run.start_date).days * 24.0


def _without_derived(data: dict[str, Any]) -> dict[str, Any]:
    """A dump without what validation derives: a role-described hub's `staff` view."""
    for hub in data.get("hubs", {}).values():
        if hub.get("roles"):
            hub.pop("staff", None)
    return data


# Work-stream keys (issue 13) left out of a dump while they hold their default, so a
# scenario without them writes (and reports its inputs) exactly as before they existed.
_STREAM_TABLES = {"adult_strategy_meetings": AdultStrategyMeetings, "marac": Marac}
_STREAM_KEYS = {
    "strategy_discussions": ("partner_initiated_per_day", "partner_research_minutes",
                             "partner_queue_as"),
    "referral_types": ("repeat_share", "repeat_handling_factor", "repeat_escalate",
                       "linked_child_share", "linked_handling"),
}


def _without_idle_streams(data: dict[str, Any]) -> dict[str, Any]:
    for key, table in _STREAM_TABLES.items():
        if data.get(key) == table().model_dump(mode="python", exclude_none=True):
            data.pop(key)
    sd_default = StrategyDiscussions().model_dump(mode="python")
    sd = data.get("strategy_discussions", {})
    for k in _STREAM_KEYS["strategy_discussions"]:
        if k in sd and sd[k] == sd_default[k]:
            sd.pop(k)
    rt_default = ReferralType(share=1.0).model_dump(mode="python")
    for rt in data.get("referral_types", {}).values():
        for k in _STREAM_KEYS["referral_types"]:
            if k in rt and rt[k] == rt_default[k]:
                rt.pop(k)
    return data


def _work_streams_alone(data: dict[str, Any], share: float) -> None:
    """`hub_alone` for the work streams: the hub's share of partner-initiated
    discussions."""
    sd = data.get("strategy_discussions", {})
    if sd.get("partner_initiated_per_day"):
        sd["partner_initiated_per_day"] *= share


# Force-wide rates that `hub_alone` cuts to the hub's share; a range on one is cut alike.
_FORCE_WIDE_RATES = ("arrivals.referrals_per_day",
                     "strategy_discussions.partner_initiated_per_day")


def _uncertainty_alone(data: dict[str, Any], hub: str, share: float) -> None:
    """`hub_alone` for uncertain inputs: ranges on the other hubs' keys (and on this
    hub's demand share, now 1) go; ranges on the force-wide rates are cut to the hub's
    share, as their nominal values are."""
    inputs = (data.get("uncertainty") or {}).get("inputs")
    if not inputs:
        return
    for path in list(inputs):
        parts = path.split(".")
        if parts[0] == "hubs" and (parts[1] != hub or parts[2:] == ["demand_share"]):
            del inputs[path]
        elif path in _FORCE_WIDE_RATES:
            inputs[path] = {k: v * share if k in ("low", "high", "mode") else v
                            for k, v in inputs[path].items()}


def drop_missing_types(data: dict[str, Any]) -> None:
    """Remove the work streams' references to referral types a scenario dict no longer
    has (a fitted scenario keeps only the types its log shows)."""
    types = data.get("referral_types", {})
    for key in ("adult_strategy_meetings", "marac"):
        by_type = data.get(key, {}).get("share_by_type", {})
        for t in [t for t in by_type if t not in types]:
            by_type.pop(t)
    for rt in types.values():
        if rt.get("linked_child_type") not in (None, *types):
            rt.pop("linked_child_type")
            rt["linked_child_share"] = 0.0


def _problems(err: ValidationError, source: str) -> list[str]:
    """One line per problem, `FILE: key.path: message`, whatever the input's text."""
    out = []
    for e in err.errors(include_url=False):
        parts, _ = _resolve(e["loc"])
        loc = ".".join(parts)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(str(e["loc"][-1]), _allowed_keys(e["loc"][:-1]))
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif e["type"].startswith("date"):
            msg = f"must be a date YYYY-MM-DD (e.g. 2025-04-07), got {_shown(e['input'])}"
        elif "input" in e and not isinstance(e["input"], dict | list):
            shown = _shown(e["input"])
            msg = msg if shown in msg else f"{msg}, got {shown}"
        if not loc and _PATH_PREFIX.match(msg):  # a scenario-wide check that names its key
            loc, msg = msg.split(": ", 1)
        out.append(_printable(f"{source}: {loc or '(top level)'}: {msg}"))
    return out


_PATH_PREFIX = re.compile(r"[a-z_]+(\.[a-z0-9_]+)+: ")


def _printable(text: str) -> str:
    """Escape control characters (newlines included): a problem is always one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _did_you_mean(word: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(word, allowed, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _union_member(union: Any, tag: Any) -> Any:
    """The member of a tagged union (the distributions: the only one) named by `tag`."""
    member = FAMILIES.get(tag) if isinstance(tag, str) else None
    return member if member in typing.get_args(union) else None


def _resolve(loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """Walk an error location through the schema: its key parts (without the union tags
    pydantic inserts) and the type expected at its end (None where unknown)."""
    tp: Any = Scenario
    parts: list[str] = []
    for part in loc:
        tp = unwrap_type(tp)
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            member = _union_member(tp, part)
            if member is not None:
                tp = member
                continue
            tp = None
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = field_annotation(tp, part)
        elif origin in (dict, list):
            tp = typing.get_args(tp)[-1]
        else:
            tp = None
        if part != "[key]":  # a bad dict key: the key itself is already in the path
            parts.append(str(part))
    return parts, unwrap_type(tp)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    _, tp = _resolve(loc)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []


def _holds_mapping(value: Any) -> bool:
    """Whether an override value is or holds a table (where a range could be)."""
    if isinstance(value, Mapping):
        return True
    if isinstance(value, list | tuple):
        return any(_holds_mapping(v) for v in value)
    return False


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f"no list item {part!r} (the list has {len(node)} items)")
            key: Any = int(part)
        elif isinstance(node, dict):
            if part not in node:
                known = sorted(map(str, node))
                raise KeyError(f"unknown key {part!r}{_did_you_mean(part, known)} "
                               f"(known here: {', '.join(known) or 'none'})")
            key = part
        else:
            raise KeyError(f"{'.'.join(parts[:i])} is a value, not a table")
        if last:
            node[key] = value
        else:
            node = node[key]


def parse_override(text: str) -> tuple[str, Any]:
    """'a.b=VALUE' → ('a.b', value); VALUE is read as TOML, else taken as a string."""
    if "=" not in text:  # `--set key 5` leaves `key` here and takes 5 as the scenario
        raise ScenarioError([_printable(
            f"--set {text}: --set expects PATH=VALUE as one argument, "
            f"e.g. --set hubs.reading.staff.headcount=12")])
    path, raw = (s.strip() for s in text.split("=", 1))
    if not path:
        raise ScenarioError([_printable(f"--set {text}: --set expects PATH=VALUE; PATH is empty")])
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (ValueError, RecursionError):  # not TOML (TOMLDecodeError is a ValueError): text
        value = raw
    return path, value


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a TOML scenario; problems name the file and key path."""
    p = Path(path)
    name = _printable(str(p))
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise ScenarioError([f"{name}: cannot read: {err.strerror or err}"]) from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (some Windows editors) is fine
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ScenarioError([f"{name}: not UTF-8 text: byte 0x{raw[err.start]:02x} on line "
                             f"{line}; save the file as UTF-8"]) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ScenarioError([f"{name}: not valid TOML: nested too deeply"]) from None
    except ValueError as err:  # TOMLDecodeError, or an integer too long to convert
        raise ScenarioError([_printable(f"{name}: not valid TOML: {err}")]) from None
    return Scenario.from_dict(data, source=name)

