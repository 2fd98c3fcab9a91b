"""Working-time calendar: turn "due within N <clock>" into a model-time deadline.

Safeguarding timescales are written in three different clocks (elapsed hours,
working hours, working days), and a deadline is only meaningful together with
its clock.  This module converts between them so that the simulation can keep
a single time axis.

Time axis
---------
Model time is float hours since 00:00 on the scenario ``start`` date, read as
naive Europe/London wall-clock time.  We deliberately treat every day as
exactly 24 h: the clock-change days (23 h and 25 h) are ignored because
deadlines are set in wall-clock terms and a one-hour DST drift twice a year is
immaterial to the model.  Times may be negative (referrals created before the
run starts).

Covered range
-------------
All per-day information is precomputed once, as numpy arrays, for the days
from ``start - 400 days`` to ``start + horizon_days + 400 days`` inclusive, so
that a year of pre-run backlog and deadlines up to a year after the run are
covered and every conversion is a vectorised gather (no Python loop over
referrals).  Times or deadlines outside that range raise ``ValueError`` rather
than being silently wrong.

Bank holidays are the English ones from the maintained ``holidays`` package
(no hand-typed list, no network).
"""

from __future__ import annotations

import datetime
import functools
import math
import operator
from collections.abc import Sequence

import holidays
import numpy as np

from mashsim.scenario.schema import CLOCKS  # the clocks a target may name: one list

__all__ = ["CLOCKS", "WorkingCalendar"]


HOURS_PER_DAY = 24.0
MARGIN_DAYS = 400


@functools.lru_cache(maxsize=64)
def _english_bank_holidays(
    first_day: datetime.date, last_day: datetime.date
) -> tuple[datetime.date, ...]:
    """English bank holidays in [first_day, last_day], sorted (weekend ones included).

    Memoised (a pure function of two dates): building the `holidays` table costs
    ≈0.5 ms, and every replication builds its calendar again."""
    years = range(first_day.year, last_day.year + 1)
    table = holidays.country_holidays("GB", subdiv="ENG", years=years)
    return tuple(sorted(day for day in table if first_day <= day <= last_day))


def _validated_start(start: datetime.date) -> datetime.date:
    """A datetime would carry a time of day that the hour axis silently ignores."""
    if isinstance(start, datetime.datetime) or not isinstance(start, datetime.date):
        raise TypeError(f"start must be a datetime.date, got {type(start).__name__}")
    return start


def _validated_horizon_days(horizon_days: int) -> int:
    horizon = operator.index(horizon_days)
    if horizon < 0:
        raise ValueError(f"horizon_days must be >= 0, got {horizon}")
    return horizon


def _validated_day_hours(day_start_hour: float, day_end_hour: float) -> tuple[float, float]:
    start_hour, end_hour = float(day_start_hour), float(day_end_hour)
    finite = math.isfinite(start_hour) and math.isfinite(end_hour)
    if not (finite and 0.0 <= start_hour < end_hour <= HOURS_PER_DAY):
        raise ValueError(
            "need 0 <= day_start_hour < day_end_hour <= 24, "
            f"got day_start_hour={day_start_hour!r}, day_end_hour={day_end_hour!r}"
        )
    return start_hour, end_hour


def _validated_weekdays(working_weekdays: Sequence[int]) -> tuple[int, ...]:
    if len(working_weekdays) == 0:
        raise ValueError("working_weekdays must be non-empty (Monday=0 .. Sunday=6)")
    weekdays = []
    for weekday in working_weekdays:
        if isinstance(weekday, bool):
            raise ValueError(f"working_weekdays must be ints in 0..6, got {weekday!r}")
        try:
            value = operator.index(weekday)
        except TypeError:
            raise ValueError(f"working_weekdays must be ints in 0..6, got {weekday!r}") from None
        if not 0 <= value <= 6:
            raise ValueError(f"working_weekdays must be ints in 0..6, got {weekday!r}")
        weekdays.append(value)
    return tuple(sorted(set(weekdays)))


def _validated_amount(amount: float) -> float:
    """Deadlines lie after creation, so the amount must be a finite non-negative number."""
    value = float(amount)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"amount must be finite and >= 0, got {amount!r}")
    return value


def _validated_whole_days(amount: float) -> int:
    if not float(amount).is_integer():
        raise ValueError(
            f"amount must be a whole number of days for 'working_days', got {amount!r}"
        )
    return int(amount)


def _validated_clock(clock: str) -> str:
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; expected one of {', '.join(CLOCKS)}")
    return clock


class WorkingCalendar:
    """Working days and hours over a scenario, with vectorised deadline arithmetic.

    Working time is the interval [day_start_hour, day_end_hour) on working days:
    a weekday in ``working_weekdays`` that is not an English bank holiday (unless
    ``exclude_bank_holidays`` is False).  Every working day has the same length,
    so working hours are counted as (whole working days) x (day length) plus the
    part of the current day, which keeps arithmetic exact at day boundaries.
    """

    def __init__(
        self,
        start: datetime.date,
        horizon_days: int,
        *,
        day_start_hour: float = 9.0,
        day_end_hour: float = 17.0,
        working_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
        exclude_bank_holidays: bool = True,
    ) -> None:
        self.start = _validated_start(start)
        self.horizon_days = _validated_horizon_days(horizon_days)
        self.day_start_hour, self.day_end_hour = _validated_day_hours(day_start_hour, day_end_hour)
        self.working_weekdays = _validated_weekdays(working_weekdays)
        self.exclude_bank_holidays = bool(exclude_bank_holidays)

        self._first_day = start - datetime.timedelta(days=MARGIN_DAYS)
        self._n_days = self.horizon_days + 2 * MARGIN_DAYS + 1
        last_day = self._first_day + datetime.timedelta(days=self._n_days - 1)
        self._bank_holidays = _english_bank_holidays(self._first_day, last_day)
        self._first_hours = -MARGIN_DAYS * HOURS_PER_DAY
        self._end_hours = self._first_hours + self._n_days * HOURS_PER_DAY
        self._working_day_hours = self.day_end_hour - self.day_start_hour

        self._is_working = self._working_day_mask()
        # _working_days_before[i]: working days strictly before day i; it is also
        # the ordinal of the first working day on or after day i.
        self._working_days_before = np.concatenate(([0], np.cumsum(self._is_working)))
        # _working_day_index[k]: day index of the k-th working day (0-based ordinal).
        self._working_day_index = np.flatnonzero(self._is_working)
        # _midnight_hours[i]: model time of 00:00 on day i.
        self._midnight_hours = (np.arange(self._n_days) - MARGIN_DAYS) * HOURS_PER_DAY

    # ----------------------------------------------------------------- days

    def _working_day_mask(self) -> np.ndarray:
        first_weekday = self._first_day.weekday()
        weekdays = (first_weekday + np.arange(self._n_days)) % 7
        mask = np.isin(weekdays, self.working_weekdays)
        if self.exclude_bank_holidays:
            holiday_index = [(day - self._first_day).days for day in self._bank_holidays]
            mask[holiday_index] = False
        return mask

    def _day_index_of_date(self, day: datetime.date) -> int:
        if isinstance(day, datetime.datetime):
            day = day.date()
        index = (day - self._first_day).days
        if not 0 <= index < self._n_days:
            raise ValueError(f"{day} is outside the covered range {self._covered_range_text()}")
        return index

    def _covered_range_text(self) -> str:
        last_day = self._first_day + datetime.timedelta(days=self._n_days - 1)
        return (
            f"{self._first_day}..{last_day} (model hours [{self._first_hours}, {self._end_hours}))"
        )

    def is_working_day(self, day: datetime.date) -> bool:
        """True if ``day`` has working hours (working weekday, not an excluded bank holiday)."""
        return bool(self._is_working[self._day_index_of_date(day)])

    def working_day_flags(self, n_days: int) -> np.ndarray:
        """Whether each of the first ``n_days`` days from ``start`` is a working day
        (``is_working_day`` for each, read from the precomputed mask in one slice)."""
        if not 0 <= n_days <= self._n_days - MARGIN_DAYS:
            raise ValueError(f"{n_days} days from {self.start} leave the covered range "
                             f"{self._covered_range_text()}")
        return self._is_working[MARGIN_DAYS:MARGIN_DAYS + n_days].copy()

    def bank_holidays(self) -> list[datetime.date]:
        """English bank holidays in the covered range, including any that fall on a weekend.

        Returned whatever ``exclude_bank_holidays`` says, so reports can show them.
        """
        return list(self._bank_holidays)

    # ---------------------------------------------------------------- hours

    def _checked_hours(self, hours: np.ndarray, name: str) -> np.ndarray:
        values = np.asarray(hours, dtype=float)
        if values.size == 0:
            return values
        # one pass each for the bounds: NaN or ±inf fails them too, and only then is
        # finiteness checked, for the message (deadlines call this ≈14 times a hub)
        if values.min() >= self._first_hours and values.max() < self._end_hours:
            return values
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} must be finite")
        raise ValueError(f"{name} outside the covered range {self._covered_range_text()}")

    def _day_index(self, hours: np.ndarray) -> np.ndarray:
        index = np.floor(hours / HOURS_PER_DAY).astype(np.int64) + MARGIN_DAYS
        # np.clip's integer path looks up the dtype's limits each call (≈10 µs)
        return np.minimum(np.maximum(index, 0, out=index), self._n_days - 1, out=index)

    def _position(self, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ordinal of the current-or-next working day, working hours already done on it).

        On a non-working day nothing is done yet on the next working day; after
        day end on a working day the whole day is done.
        """
        day = self._day_index(hours)
        hour_of_day = hours - self._midnight_hours[day]
        done_today = np.clip(hour_of_day - self.day_start_hour, 0.0, self._working_day_hours)
        done_hours = np.where(self._is_working[day], done_today, 0.0)
        return self._working_days_before[day], done_hours

    def _working_day_indices(self, ordinals: np.ndarray) -> np.ndarray:
        if ordinals.size and ordinals.max() >= self._working_day_index.size:
            raise ValueError(
                f"deadline falls after the covered range {self._covered_range_text()}; "
                "increase horizon_days"
            )
        return self._working_day_index[ordinals]

    def _working_hours_deadline(self, created: np.ndarray, amount_hours: float) -> np.ndarray:
        if amount_hours == 0.0:
            return created.copy()
        ordinal, done_hours = self._position(created)
        needed_hours = done_hours + amount_hours
        # Whole days to move on, choosing the earlier day when the work ends
        # exactly at day end (Monday 17:00, not Tuesday 09:00).
        extra_days = np.ceil(needed_hours / self._working_day_hours).astype(np.int64) - 1
        extra_days = np.maximum(extra_days, 0)
        into_day_hours = needed_hours - extra_days * self._working_day_hours
        into_day_hours = np.clip(into_day_hours, 0.0, self._working_day_hours)
        day = self._working_day_indices(ordinal + extra_days)
        return self._midnight_hours[day] + self.day_start_hour + into_day_hours

    def _working_days_deadline(self, created: np.ndarray, n_days: int) -> np.ndarray:
        day = self._day_index(created)
        # Ordinal of the first working day strictly after the creation day.
        next_ordinal = self._working_days_before[day + 1]
        target = self._working_day_indices(next_ordinal + max(n_days - 1, 0))
        if n_days == 0:
            hour_of_day = created - self._midnight_hours[day]
            same_day = self._is_working[day] & (hour_of_day < self.day_end_hour)
            target = np.where(same_day, day, target)
        return self._midnight_hours[target] + self.day_end_hour

    def deadline_hours(self, created_hours: np.ndarray, amount: float, clock: str) -> np.ndarray:
        """Model-hour deadlines for items created at ``created_hours``, due within ``amount``.

        What ``amount`` measures depends on ``clock``:

        - ``elapsed_hours``: created + amount.
        - ``working_hours``: the moment ``amount`` working hours have elapsed
          (amount 0 gives the creation time itself).
        - ``working_days``: day end of the N-th working day after the creation
          day (which never counts); N=0 means day end of the creation day if it
          is a working day and creation is before day end, else of the next
          working day.  ``amount`` must be a whole number.
        """
        clock = _validated_clock(clock)
        created = self._checked_hours(created_hours, "created_hours")
        amount = _validated_amount(amount)
        if clock == "elapsed_hours":
            return created + amount
        if clock == "working_hours":
            return self._working_hours_deadline(created, amount)
        return self._working_days_deadline(created, _validated_whole_days(amount))

    def working_hours_between(self, a_hours: np.ndarray, b_hours: np.ndarray) -> np.ndarray:
        """Working hours inside [a, b], elementwise (broadcast); 0 where b <= a."""
        a, b = np.broadcast_arrays(
            self._checked_hours(a_hours, "a_hours"), self._checked_hours(b_hours, "b_hours")
        )
        ordinal_a, done_a = self._position(a)
        ordinal_b, done_b = self._position(b)
        hours = (ordinal_b - ordinal_a) * self._working_day_hours + (done_b - done_a)
        return np.where(b > a, np.maximum(hours, 0.0), 0.0)
