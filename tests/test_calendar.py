"""Tests for mashsim.model.calendar: known English bank holidays, worked deadline
examples, and vectorised results against a slow day-by-day reference."""

from __future__ import annotations

import datetime as dt
import math

import holidays
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mashsim.model.calendar import CLOCKS, MARGIN_DAYS, WorkingCalendar

START = dt.date(2026, 1, 1)  # a Thursday
HORIZON_DAYS = 365
CAL = WorkingCalendar(START, HORIZON_DAYS)

# Alternative calendars for the reference comparison: odd day lengths,
# Saturday working, bank holidays worked.
ALT_CALENDARS = {
    "default": CAL,
    "long_days_saturdays": WorkingCalendar(
        START,
        HORIZON_DAYS,
        day_start_hour=8.0,
        day_end_hour=18.5,
        working_weekdays=(0, 1, 2, 3, 4, 5),
    ),
    "holidays_worked": WorkingCalendar(START, HORIZON_DAYS, exclude_bank_holidays=False),
    "midweek_only": WorkingCalendar(
        START, HORIZON_DAYS, day_start_hour=0.0, day_end_hour=24.0, working_weekdays=(1, 2, 3)
    ),
}

HOURS_PER_DAY = 24
GRID_STEPS_PER_HOUR = 16  # multiples of 1/16 h are exact in binary floating point


def hours_at(day: dt.date, hour: float = 0.0) -> float:
    """Model hours of ``hour`` o'clock on ``day`` relative to START."""
    return (day - START).days * HOURS_PER_DAY + hour


def one(calendar: WorkingCalendar, day: dt.date, hour: float, amount: float, clock: str) -> float:
    return float(calendar.deadline_hours(np.array([hours_at(day, hour)]), amount, clock)[0])


# ---------------------------------------------------------------- reference


ENGLISH_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG", years=range(2024, 2029))


def ref_is_working(calendar: WorkingCalendar, day: dt.date) -> bool:
    if day.weekday() not in calendar.working_weekdays:
        return False
    return not (calendar.exclude_bank_holidays and day in ENGLISH_HOLIDAYS)


def ref_day(day_number: int) -> dt.date:
    return START + dt.timedelta(days=day_number)


def ref_working_hours_deadline(calendar: WorkingCalendar, created: float, amount: float) -> float:
    """Walk forward day by day, consuming working time."""
    if amount == 0:
        return created
    day_number = math.floor(created / HOURS_PER_DAY)
    remaining = amount
    while True:
        if ref_is_working(calendar, ref_day(day_number)):
            midnight = day_number * HOURS_PER_DAY
            begin = max(created, midnight + calendar.day_start_hour)
            close = midnight + calendar.day_end_hour
            if begin < close:
                if remaining <= close - begin:
                    return begin + remaining
                remaining -= close - begin
        day_number += 1


def ref_working_days_deadline(calendar: WorkingCalendar, created: float, n_days: int) -> float:
    day_number = math.floor(created / HOURS_PER_DAY)
    hour_of_day = created - day_number * HOURS_PER_DAY
    if (
        n_days == 0
        and ref_is_working(calendar, ref_day(day_number))
        and hour_of_day < calendar.day_end_hour
    ):
        return day_number * HOURS_PER_DAY + calendar.day_end_hour
    counted = 0
    while counted < max(n_days, 1):
        day_number += 1
        counted += ref_is_working(calendar, ref_day(day_number))
    return day_number * HOURS_PER_DAY + calendar.day_end_hour


def ref_working_hours_between(calendar: WorkingCalendar, a: float, b: float) -> float:
    total = 0.0
    for day_number in range(math.floor(a / HOURS_PER_DAY), math.floor(b / HOURS_PER_DAY) + 1):
        if ref_is_working(calendar, ref_day(day_number)):
            midnight = day_number * HOURS_PER_DAY
            begin = max(a, midnight + calendar.day_start_hour)
            end = min(b, midnight + calendar.day_end_hour)
            total += max(end - begin, 0.0)
    return total


grid_created_hours = st.integers(
    -365 * HOURS_PER_DAY * GRID_STEPS_PER_HOUR, HORIZON_DAYS * HOURS_PER_DAY * GRID_STEPS_PER_HOUR
).map(lambda steps: steps / GRID_STEPS_PER_HOUR)
grid_amount_hours = st.integers(0, 250 * GRID_STEPS_PER_HOUR).map(
    lambda steps: steps / GRID_STEPS_PER_HOUR
)
# Day boundaries, day start/end and their neighbours are where off-by-one bugs live.
boundary_created_hours = st.builds(
    lambda day, hour: day * HOURS_PER_DAY + hour,
    st.integers(-365, HORIZON_DAYS),
    st.sampled_from([0.0, 7.9375, 8.0, 9.0, 9.0625, 16.9375, 17.0, 17.0625, 18.5, 23.9375]),
)
created_hours = st.one_of(grid_created_hours, boundary_created_hours)
calendar_names = st.sampled_from(sorted(ALT_CALENDARS))
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


# ------------------------------------------------------------ bank holidays


@pytest.mark.parametrize(
    "holiday",
    [
        dt.date(2025, 12, 25),  # Christmas Day (Thursday)
        dt.date(2025, 12, 26),  # Boxing Day (Friday)
        dt.date(2026, 1, 1),  # New Year's Day
        dt.date(2026, 4, 3),  # Good Friday
        dt.date(2026, 4, 6),  # Easter Monday
        dt.date(2026, 5, 4),  # early May bank holiday
        dt.date(2026, 5, 25),  # spring bank holiday
        dt.date(2026, 8, 31),  # summer bank holiday (England, not Scotland's 3 Aug)
        dt.date(2026, 12, 28),  # Boxing Day observed (26th is a Saturday)
        dt.date(2025, 5, 5),  # early May bank holiday, before the run starts
    ],
)
def test_known_english_bank_holidays_are_listed_and_not_working(holiday: dt.date) -> None:
    assert holiday in CAL.bank_holidays()
    assert not CAL.is_working_day(holiday)


@pytest.mark.parametrize(
    "ordinary_day",
    [
        dt.date(2026, 4, 2),  # Maundy Thursday
        dt.date(2026, 4, 7),  # Tuesday after Easter
        dt.date(2026, 8, 3),  # Scottish summer holiday, a working day in England
        dt.date(2025, 12, 24),  # Christmas Eve
        dt.date(2026, 1, 2),  # 2 January is a holiday in Scotland only
    ],
)
def test_ordinary_weekdays_are_working(ordinary_day: dt.date) -> None:
    assert ordinary_day not in CAL.bank_holidays()
    assert CAL.is_working_day(ordinary_day)


def test_weekends_are_not_working_by_default() -> None:
    assert not CAL.is_working_day(dt.date(2026, 1, 10))  # Saturday
    assert not CAL.is_working_day(dt.date(2026, 1, 11))  # Sunday
    assert CAL.is_working_day(dt.date(2026, 1, 12))  # Monday


def test_bank_holidays_are_sorted_and_within_covered_range() -> None:
    days = CAL.bank_holidays()
    assert days == sorted(days)
    assert days[0] >= START - dt.timedelta(days=400)
    assert days[-1] <= START + dt.timedelta(days=HORIZON_DAYS + 400)
    # about 8 a year over the ~3.2 years covered
    assert 24 <= len(days) <= 32


def test_bank_holidays_can_be_worked() -> None:
    calendar = ALT_CALENDARS["holidays_worked"]
    assert calendar.is_working_day(dt.date(2025, 12, 25))
    assert dt.date(2025, 12, 25) in calendar.bank_holidays()


def test_is_working_day_outside_covered_range_raises() -> None:
    with pytest.raises(ValueError, match="covered range"):
        CAL.is_working_day(START - dt.timedelta(days=401))


# -------------------------------------------------------- worked examples


def test_friday_afternoon_working_hours_due_monday() -> None:
    friday = dt.date(2026, 1, 9)
    assert one(CAL, friday, 16.0, 4, "working_hours") == hours_at(dt.date(2026, 1, 12), 12.0)


def test_friday_afternoon_working_hours_skips_bank_holiday_monday() -> None:
    friday = dt.date(2026, 5, 1)  # Monday 4 May is the early May bank holiday
    assert one(CAL, friday, 16.0, 4, "working_hours") == hours_at(dt.date(2026, 5, 5), 12.0)


def test_friday_morning_three_working_days_due_wednesday_end_of_day() -> None:
    friday = dt.date(2026, 1, 9)
    assert one(CAL, friday, 10.0, 3, "working_days") == hours_at(dt.date(2026, 1, 14), 17.0)


def test_easter_weekend_is_skipped() -> None:
    thursday = dt.date(2026, 4, 2)
    assert one(CAL, thursday, 10.0, 1, "working_days") == hours_at(dt.date(2026, 4, 7), 17.0)
    assert one(CAL, thursday, 15.0, 4, "working_hours") == hours_at(dt.date(2026, 4, 7), 11.0)


def test_christmas_is_skipped_before_the_run_starts() -> None:
    christmas_eve = dt.date(2025, 12, 24)  # negative model time
    assert hours_at(christmas_eve, 12.0) < 0
    assert one(CAL, christmas_eve, 12.0, 8, "working_hours") == hours_at(
        dt.date(2025, 12, 29), 12.0
    )
    tuesday = dt.date(2025, 12, 23)
    assert one(CAL, tuesday, 10.0, 2, "working_days") == hours_at(dt.date(2025, 12, 29), 17.0)


def test_working_hours_across_several_days() -> None:
    monday = dt.date(2026, 1, 12)
    # Monday 4 h + Tuesday 8 h + Wednesday 8 h
    assert one(CAL, monday, 13.0, 20, "working_hours") == hours_at(dt.date(2026, 1, 14), 17.0)
    # a 37.5 h working week: Monday-Thursday 32 h, Friday 5.5 h
    assert one(CAL, monday, 9.0, 37.5, "working_hours") == hours_at(dt.date(2026, 1, 16), 14.5)
    # 80 working hours = ten working days, over two weekends
    assert one(CAL, monday, 9.0, 80, "working_hours") == hours_at(dt.date(2026, 1, 23), 17.0)


def test_work_ending_at_day_end_is_due_that_day_not_next_morning() -> None:
    monday = dt.date(2026, 1, 12)
    assert one(CAL, monday, 9.0, 8, "working_hours") == hours_at(monday, 17.0)
    assert one(CAL, monday, 12.0, 5, "working_hours") == hours_at(monday, 17.0)


@pytest.mark.parametrize(
    ("day", "hour", "due_day", "due_hour"),
    [
        (dt.date(2026, 1, 10), 10.0, dt.date(2026, 1, 12), 10.0),  # Saturday -> Monday
        (dt.date(2026, 1, 12), 7.0, dt.date(2026, 1, 12), 10.0),  # before day start
        (dt.date(2026, 1, 12), 17.0, dt.date(2026, 1, 13), 10.0),  # exactly at day end
        (dt.date(2026, 1, 12), 18.0, dt.date(2026, 1, 13), 10.0),  # evening
        (dt.date(2026, 4, 3), 11.0, dt.date(2026, 4, 7), 10.0),  # Good Friday
    ],
)
def test_working_hours_created_outside_working_time(
    day: dt.date, hour: float, due_day: dt.date, due_hour: float
) -> None:
    assert one(CAL, day, hour, 1, "working_hours") == hours_at(due_day, due_hour)


def test_zero_working_hours_is_due_at_creation() -> None:
    created = np.array(
        [hours_at(dt.date(2026, 1, 10), 10.0), hours_at(dt.date(2026, 1, 12), 11.25)]
    )
    np.testing.assert_array_equal(CAL.deadline_hours(created, 0, "working_hours"), created)


@pytest.mark.parametrize(
    ("day", "hour", "due_day"),
    [
        (dt.date(2026, 1, 12), 10.0, dt.date(2026, 1, 12)),  # working day, before day end
        (dt.date(2026, 1, 12), 7.0, dt.date(2026, 1, 12)),  # before day start still counts
        (dt.date(2026, 1, 12), 17.0, dt.date(2026, 1, 13)),  # at day end: next working day
        (dt.date(2026, 1, 9), 20.0, dt.date(2026, 1, 12)),  # Friday evening: Monday
        (dt.date(2026, 1, 10), 10.0, dt.date(2026, 1, 12)),  # Saturday: Monday
        (dt.date(2026, 4, 3), 10.0, dt.date(2026, 4, 7)),  # Good Friday: Tuesday
    ],
)
def test_zero_working_days(day: dt.date, hour: float, due_day: dt.date) -> None:
    assert one(CAL, day, hour, 0, "working_days") == hours_at(due_day, 17.0)


def test_creation_day_never_counts_for_working_days() -> None:
    saturday = dt.date(2026, 1, 10)
    assert one(CAL, saturday, 10.0, 1, "working_days") == hours_at(dt.date(2026, 1, 12), 17.0)
    monday = dt.date(2026, 1, 12)
    assert one(CAL, monday, 0.0, 1, "working_days") == hours_at(dt.date(2026, 1, 13), 17.0)
    assert one(CAL, monday, 23.5, 1, "working_days") == hours_at(dt.date(2026, 1, 13), 17.0)


def test_whole_float_working_days_are_accepted() -> None:
    friday = dt.date(2026, 1, 9)
    assert one(CAL, friday, 10.0, 3.0, "working_days") == hours_at(dt.date(2026, 1, 14), 17.0)


def test_custom_working_week_and_hours() -> None:
    calendar = ALT_CALENDARS["long_days_saturdays"]  # Monday-Saturday, 08:00-18:30
    friday = dt.date(2026, 1, 9)
    assert one(calendar, friday, 17.0, 4, "working_hours") == hours_at(dt.date(2026, 1, 10), 10.5)
    assert one(calendar, friday, 10.0, 2, "working_days") == hours_at(dt.date(2026, 1, 12), 18.5)


def test_covered_range_reaches_a_year_either_side() -> None:
    year_before = -365 * HOURS_PER_DAY + 10.0
    deadline = CAL.deadline_hours(np.array([year_before]), 5, "working_days")
    assert deadline[0] > year_before
    run_end = HORIZON_DAYS * HOURS_PER_DAY
    deadline = CAL.deadline_hours(np.array([run_end]), 250, "working_days")  # about a year later
    assert deadline[0] > run_end + 300 * HOURS_PER_DAY


# ------------------------------------------------------------ elapsed clock


@given(st.lists(st.floats(-365 * 24, 365 * 24), min_size=1, max_size=50), st.floats(0, 5000))
@PROPERTY_SETTINGS
def test_elapsed_clock_is_plain_addition(created: list[float], amount: float) -> None:
    created_array = np.array(created)
    np.testing.assert_array_equal(
        CAL.deadline_hours(created_array, amount, "elapsed_hours"), created_array + amount
    )


# ----------------------------------------------------- reference properties


@given(calendar_names, st.lists(created_hours, min_size=1, max_size=30), grid_amount_hours)
@PROPERTY_SETTINGS
def test_working_hours_match_reference(name: str, created: list[float], amount: float) -> None:
    calendar = ALT_CALENDARS[name]
    expected = [ref_working_hours_deadline(calendar, c, amount) for c in created]
    np.testing.assert_allclose(
        calendar.deadline_hours(np.array(created), amount, "working_hours"),
        expected,
        rtol=0,
        atol=1e-9,
    )


@given(calendar_names, st.lists(created_hours, min_size=1, max_size=30), st.integers(0, 60))
@PROPERTY_SETTINGS
def test_working_days_match_reference(name: str, created: list[float], n_days: int) -> None:
    calendar = ALT_CALENDARS[name]
    expected = [ref_working_days_deadline(calendar, c, n_days) for c in created]
    np.testing.assert_array_equal(
        calendar.deadline_hours(np.array(created), n_days, "working_days"), expected
    )


@given(
    calendar_names, st.lists(st.tuples(created_hours, grid_amount_hours), min_size=1, max_size=20)
)
@PROPERTY_SETTINGS
def test_working_hours_between_matches_reference(
    name: str, pairs: list[tuple[float, float]]
) -> None:
    calendar = ALT_CALENDARS[name]
    a = np.array([start for start, _ in pairs])
    b = a + np.array([length for _, length in pairs])
    expected = [ref_working_hours_between(calendar, x, y) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(calendar.working_hours_between(a, b), expected, rtol=0, atol=1e-9)


@given(
    calendar_names,
    st.lists(st.floats(-365 * 24, HORIZON_DAYS * 24), min_size=1, max_size=30),
    st.floats(0.001, 400),
)
@PROPERTY_SETTINGS
def test_working_hours_round_trip(name: str, created: list[float], amount: float) -> None:
    """Exactly ``amount`` working hours lie between creation and the deadline."""
    calendar = ALT_CALENDARS[name]
    created_array = np.array(created)
    deadline = calendar.deadline_hours(created_array, amount, "working_hours")
    np.testing.assert_allclose(
        calendar.working_hours_between(created_array, deadline), amount, rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("clock", ["working_hours", "working_days"])
@given(
    name=calendar_names,
    created=st.lists(st.floats(-365 * 24, HORIZON_DAYS * 24), min_size=2, max_size=60),
    amount=st.integers(0, 100),
)
@PROPERTY_SETTINGS
def test_later_creation_never_gives_earlier_deadline(
    clock: str, name: str, created: list[float], amount: int
) -> None:
    deadline = ALT_CALENDARS[name].deadline_hours(np.sort(np.array(created)), amount, clock)
    assert np.all(np.diff(deadline) >= 0)
    assert np.all(deadline >= np.sort(np.array(created)))


# --------------------------------------------------------- array behaviour


@pytest.mark.parametrize("clock", CLOCKS)
def test_shape_is_preserved(clock: str) -> None:
    created = np.arange(12, dtype=float).reshape(3, 4) * 7.5
    assert CAL.deadline_hours(created, 3, clock).shape == (3, 4)
    assert CAL.deadline_hours(np.array([]), 3, clock).shape == (0,)


def test_working_hours_between_examples() -> None:
    friday_4pm = hours_at(dt.date(2026, 1, 9), 16.0)
    monday_noon = hours_at(dt.date(2026, 1, 12), 12.0)
    assert CAL.working_hours_between(np.array([friday_4pm]), np.array([monday_noon]))[0] == 4.0
    # reversed or empty intervals count zero
    np.testing.assert_array_equal(
        CAL.working_hours_between(
            np.array([monday_noon, monday_noon]), np.array([friday_4pm, monday_noon])
        ),
        [0, 0],
    )
    # broadcasting a scalar start against many ends
    ends = np.array([hours_at(dt.date(2026, 1, 12), hour) for hour in (8.0, 9.5, 17.0, 23.0)])
    np.testing.assert_array_equal(
        CAL.working_hours_between(hours_at(dt.date(2026, 1, 12), 0.0), ends), [0, 0.5, 8, 8]
    )


def test_a_million_referrals_vectorised() -> None:
    """Shapes survive large arrays; speed is measured in benchmarks, not asserted here."""
    created = np.random.default_rng(1).uniform(-365 * 24, HORIZON_DAYS * 24, 1_000_000)
    for clock, amount in (("working_hours", 37.5), ("working_days", 10), ("elapsed_hours", 24)):
        deadline = CAL.deadline_hours(created, amount, clock)
        assert deadline.shape == created.shape
        assert np.all(deadline >= created)


# ------------------------------------------------------------------ errors


def test_unknown_clock_names_allowed_values() -> None:
    with pytest.raises(ValueError, match="elapsed_hours, working_hours, working_days"):
        CAL.deadline_hours(np.array([0.0]), 1, "calendar_days")


@pytest.mark.parametrize("amount", [1.5, 0.25, -1, math.nan, math.inf])
def test_working_days_amount_must_be_whole_and_non_negative(amount: float) -> None:
    with pytest.raises(ValueError, match="amount"):
        CAL.deadline_hours(np.array([0.0]), amount, "working_days")


@pytest.mark.parametrize("clock", CLOCKS)
@pytest.mark.parametrize("amount", [-0.5, math.nan, math.inf])
def test_amount_must_be_finite_and_non_negative(clock: str, amount: float) -> None:
    with pytest.raises(ValueError, match="amount"):
        CAL.deadline_hours(np.array([0.0]), amount, clock)


@pytest.mark.parametrize("created", [-401 * 24.0, (HORIZON_DAYS + 401) * 24.0, math.nan])
def test_created_outside_covered_range_raises(created: float) -> None:
    with pytest.raises(ValueError, match="created_hours"):
        CAL.deadline_hours(np.array([0.0, created]), 1, "working_hours")


def test_deadline_beyond_covered_range_raises() -> None:
    near_end = (HORIZON_DAYS + 399) * 24.0
    with pytest.raises(ValueError, match="horizon_days"):
        CAL.deadline_hours(np.array([near_end]), 10, "working_days")
    with pytest.raises(ValueError, match="horizon_days"):
        CAL.deadline_hours(np.array([near_end]), 80, "working_hours")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"day_start_hour": 17.0, "day_end_hour": 9.0}, "day_start_hour < day_end_hour"),
        ({"day_start_hour": 9.0, "day_end_hour": 9.0}, "day_start_hour < day_end_hour"),
        ({"day_start_hour": -1.0}, "0 <= day_start_hour"),
        ({"day_end_hour": 24.5}, "day_end_hour <= 24"),
        ({"day_start_hour": math.nan}, "day_start_hour"),
        ({"working_weekdays": ()}, "non-empty"),
        ({"working_weekdays": (0, 7)}, "0..6"),
        ({"working_weekdays": (-1,)}, "0..6"),
        ({"working_weekdays": (1.5,)}, "0..6"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar(START, HORIZON_DAYS, **kwargs)


def test_negative_horizon_rejected() -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        WorkingCalendar(START, -1)


def test_start_must_be_a_date_not_a_datetime() -> None:
    with pytest.raises(TypeError, match="start"):
        WorkingCalendar(dt.datetime(2026, 1, 1, 9, 0), HORIZON_DAYS)


def test_day_index_clamp_is_np_clip() -> None:
    """The day index clamps as `np.clip` did (issue 16: a cheaper clamp), at both ends of
    the covered range."""
    cal = WorkingCalendar(START, 30)
    lo, hi = cal._first_hours, cal._end_hours
    hours = np.concatenate([np.linspace(lo, np.nextafter(hi, lo), 5001),
                            [lo, np.nextafter(hi, lo), 0.0, -0.0, 23.999999999]])
    want = np.clip(np.floor(hours / 24.0).astype(np.int64) + MARGIN_DAYS, 0, cal._n_days - 1)
    np.testing.assert_array_equal(cal._day_index(hours), want)


@pytest.mark.parametrize(("hours", "message"), [
    ([1.0, np.nan], "must be finite"), ([np.inf], "must be finite"),
    ([-np.inf, 1.0], "must be finite"), ([1.0, 1e9], "outside the covered range")])
def test_deadline_hours_still_rejects_bad_times(hours: list[float], message: str) -> None:
    """The bounds are checked first (one pass each); a NaN or an infinity fails them too
    and still gets its own message."""
    with pytest.raises(ValueError, match=message):
        CAL.deadline_hours(np.array(hours), 4.0, "working_hours")
