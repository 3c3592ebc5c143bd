"""Business days at the U.S. warehouse: due dates of held parcels, time zones, DST and holidays.

One calendar per module: U.S. federal (``public``) holidays, America/New_York, 2024–2030.
"""

import contextlib
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.business_days import BusinessCalendar, load_calendar

CAL = load_calendar(years=range(2024, 2031))
NY = "America/New_York"
EST = timezone(timedelta(hours=-5))
EDT = timezone(timedelta(hours=-4))


def ny(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    """A wall-clock moment at the warehouse."""
    return CAL.at_local(date(y, m, d), time(hh, mm))


def utc_hours(a: datetime, b: datetime) -> float:
    """Elapsed hours from ``a`` to ``b``, measured in UTC.

    Subtracting two datetimes that share one ``ZoneInfo`` object gives the *wall-clock*
    difference (always 24h between two local midnights), so durations are measured in UTC.
    """
    return (b.astimezone(UTC) - a.astimezone(UTC)).total_seconds() / 3600


# --- the calendar built from the holidays package ----------------------------------------------


def test_calendar_covers_requested_years_in_warehouse_timezone() -> None:
    assert CAL.timezone == NY
    assert (CAL.first_year, CAL.last_year) == (2024, 2030)
    assert all(2024 <= d.year <= 2030 for d in CAL.holidays)


@pytest.mark.parametrize(
    "holiday",
    [
        date(2025, 1, 1),  # New Year's Day
        date(2025, 1, 20),  # Martin Luther King Jr. Day
        date(2025, 2, 17),  # Washington's Birthday
        date(2025, 5, 26),  # Memorial Day
        date(2025, 6, 19),  # Juneteenth
        date(2025, 7, 4),  # Independence Day
        date(2025, 9, 1),  # Labor Day
        date(2025, 10, 13),  # Columbus Day
        date(2025, 11, 11),  # Veterans Day
        date(2025, 11, 27),  # Thanksgiving
        date(2025, 12, 25),  # Christmas
    ],
)
def test_every_federal_holiday_closes_the_warehouse(holiday: date) -> None:
    assert holiday.weekday() < 5
    assert not CAL.is_business_day(holiday)


def test_weekends_are_not_business_days_and_plain_weekdays_are() -> None:
    assert not CAL.is_business_day(date(2025, 12, 20))  # Saturday
    assert not CAL.is_business_day(date(2025, 12, 21))  # Sunday
    assert CAL.is_business_day(date(2025, 12, 22))  # Monday


def test_day_after_thanksgiving_and_christmas_eve_are_business_days_federally() -> None:
    assert CAL.is_business_day(date(2025, 11, 28))
    assert CAL.is_business_day(date(2025, 12, 24))


def test_calendar_snapshot_round_trips_through_json_unchanged() -> None:
    again = BusinessCalendar.model_validate_json(CAL.model_dump_json())
    assert again == CAL
    assert again.due_on(ny(2025, 12, 19)) == date(2026, 1, 13)


# --- the brief's example and holiday weeks -----------------------------------------------------


def test_brief_example_friday_2025_12_19_is_due_tuesday_2026_01_13() -> None:
    arrived = datetime.fromisoformat("2025-12-19T10:00:00-05:00")
    assert CAL.due_on(arrived) == date(2026, 1, 13)
    assert CAL.due_on(arrived).weekday() == 1  # Tuesday


def test_thanksgiving_day_is_not_counted_for_an_arrival_the_day_before() -> None:
    # Wed 2025-11-26: Thu 27 (Thanksgiving) skipped, Fri 28 is business day 1.
    arrived = ny(2025, 11, 26)
    assert CAL.add_business_days(date(2025, 11, 26), 1) == date(2025, 11, 28)
    assert CAL.due_on(arrived) == date(2025, 12, 18)
    assert CAL.business_days_between(date(2025, 11, 26), date(2025, 11, 30)) == 1


def test_year_end_skips_christmas_and_new_year() -> None:
    # Mon 2025-12-22: 23, 24, 26, 29, 30, 31, Jan 2, 5-9, 12, 13, 14.
    assert CAL.due_on(ny(2025, 12, 22)) == date(2026, 1, 14)
    assert CAL.add_business_days(date(2025, 12, 24), 1) == date(2025, 12, 26)
    assert CAL.add_business_days(date(2025, 12, 31), 1) == date(2026, 1, 2)


def test_saturday_holiday_closes_the_friday_before() -> None:
    # Independence Day 2026 is a Saturday: observed Friday 2026-07-03.
    assert not CAL.is_business_day(date(2026, 7, 3))
    assert CAL.add_business_days(date(2026, 7, 2), 1) == date(2026, 7, 6)


def test_sunday_holiday_closes_the_monday_after() -> None:
    # Independence Day 2027 and Veterans Day 2029 fall on Sundays: observed the Monday after.
    assert not CAL.is_business_day(date(2027, 7, 5))
    assert CAL.add_business_days(date(2027, 7, 2), 1) == date(2027, 7, 6)
    assert not CAL.is_business_day(date(2029, 11, 12))


def test_saturday_christmas_and_new_year_close_the_fridays_before_even_across_the_year_end() -> None:
    # Christmas 2027 and New Year's Day 2028 are Saturdays: Fri 2027-12-24 and Fri 2027-12-31 closed.
    assert not CAL.is_business_day(date(2027, 12, 24))
    assert not CAL.is_business_day(date(2027, 12, 31))
    assert CAL.add_business_days(date(2027, 12, 23), 5) == date(2028, 1, 3)


@pytest.mark.parametrize(
    "arrival",
    [date(2025, 12, 19), date(2025, 12, 20), date(2025, 12, 21)],
    ids=["friday", "saturday", "sunday"],
)
def test_weekend_arrival_is_due_on_the_same_day_as_friday_arrival(arrival: datetime) -> None:
    assert CAL.due_on(CAL.at_local(arrival, time(9))) == date(2026, 1, 13)


def test_holiday_arrival_date_is_not_counted() -> None:
    # Arriving on Christmas (closed) or the day before it gives the same due date.
    assert CAL.due_on(ny(2025, 12, 25)) == date(2026, 1, 16)
    assert CAL.due_on(ny(2025, 12, 24)) == date(2026, 1, 16)


def test_business_arrival_date_itself_is_not_counted() -> None:
    assert CAL.add_business_days(date(2025, 12, 22), 1) == date(2025, 12, 23)
    assert CAL.add_business_days(date(2025, 12, 22), 0) == date(2025, 12, 22)


def test_negative_number_of_business_days_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_business_days(date(2025, 12, 22), -1)


def test_business_days_between_is_zero_when_end_is_not_after_start() -> None:
    assert CAL.business_days_between(date(2025, 12, 22), date(2025, 12, 22)) == 0
    assert CAL.business_days_between(date(2025, 12, 22), date(2025, 12, 1)) == 0


# --- arrival moments given with other UTC offsets ----------------------------------------------


def test_utc_arrival_late_at_night_is_still_the_previous_day_in_new_york() -> None:
    arrived = datetime.fromisoformat("2025-12-20T03:30:00+00:00")
    assert CAL.local_date(arrived) == date(2025, 12, 19)
    assert CAL.due_on(arrived) == date(2026, 1, 13)


def test_pacific_arrival_late_in_the_evening_is_already_the_next_day_in_new_york() -> None:
    arrived = datetime.fromisoformat("2025-12-19T23:30:00-08:00")
    assert CAL.local_date(arrived) == date(2025, 12, 20)


def test_offset_that_shifts_the_local_date_shifts_the_due_date() -> None:
    # Thu 2025-12-18 in New York -> due Mon 2026-01-12; Fri 2025-12-19 -> due Tue 2026-01-13.
    assert CAL.due_on(datetime.fromisoformat("2025-12-19T03:30:00+00:00")) == date(2026, 1, 12)
    assert CAL.due_on(datetime.fromisoformat("2025-12-18T23:30:00-08:00")) == date(2026, 1, 13)
    assert CAL.due_on(datetime.fromisoformat("2025-12-20T10:00:00+14:00")) == date(2026, 1, 13)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-01-15T04:59:59+00:00", date(2026, 1, 14)),  # winter: midnight is 05:00 UTC
        ("2026-01-15T05:00:00+00:00", date(2026, 1, 15)),
        ("2026-07-02T03:59:59+00:00", date(2026, 7, 1)),  # summer: midnight is 04:00 UTC
        ("2026-07-02T04:00:00+00:00", date(2026, 7, 2)),
    ],
)
def test_local_midnight_boundary_follows_daylight_saving_time(moment: str, expected: date) -> None:
    assert CAL.local_date(datetime.fromisoformat(moment)) == expected


# --- DST ---------------------------------------------------------------------------------------


def test_end_of_day_before_spring_forward_is_local_midnight_in_standard_time() -> None:
    end = CAL.end_of_day(date(2026, 3, 7))
    assert (end.date(), end.time()) == (date(2026, 3, 8), time(0))
    assert end.utcoffset() == timedelta(hours=-5)
    assert end.astimezone(UTC) == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)


def test_end_of_day_after_spring_forward_is_local_midnight_in_daylight_time() -> None:
    end = CAL.end_of_day(date(2026, 3, 8))
    assert (end.date(), end.time()) == (date(2026, 3, 9), time(0))
    assert end.utcoffset() == timedelta(hours=-4)
    assert end.astimezone(UTC) == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)


def test_end_of_day_around_fall_back_has_the_right_offsets() -> None:
    before = CAL.end_of_day(date(2026, 10, 31))  # midnight starting Nov 1, still EDT
    after = CAL.end_of_day(date(2026, 11, 1))  # midnight starting Nov 2, EST
    assert (before.date(), before.time(), before.utcoffset()) == (
        date(2026, 11, 1),
        time(0),
        timedelta(hours=-4),
    )
    assert (after.date(), after.time(), after.utcoffset()) == (
        date(2026, 11, 2),
        time(0),
        timedelta(hours=-5),
    )
    assert before.astimezone(UTC) == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert after.astimezone(UTC) == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (date(2026, 3, 7), 24),
        (date(2026, 3, 8), 23),  # spring forward
        (date(2026, 3, 9), 24),
        (date(2026, 10, 31), 24),
        (date(2026, 11, 1), 25),  # fall back
        (date(2026, 11, 2), 24),
    ],
)
def test_a_local_day_lasts_23_or_25_hours_across_the_dst_switch(day: date, hours: int) -> None:
    assert utc_hours(CAL.end_of_day(day - timedelta(days=1)), CAL.end_of_day(day)) == hours


def test_after_business_days_keeps_wall_clock_time_across_spring_forward() -> None:
    start = datetime(2026, 3, 6, 10, 0, tzinfo=EST)  # Friday, EST
    later = CAL.after_business_days(start, 1)
    assert (later.date(), later.time()) == (date(2026, 3, 9), time(10, 0))
    assert later.utcoffset() == timedelta(hours=-4)
    assert later.astimezone(UTC) == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_after_business_days_keeps_wall_clock_time_across_fall_back() -> None:
    start = datetime(2026, 10, 30, 10, 0, tzinfo=EDT)  # Friday, EDT
    later = CAL.after_business_days(start, 1)
    assert (later.date(), later.time()) == (date(2026, 11, 2), time(10, 0))
    assert later.utcoffset() == timedelta(hours=-5)
    assert later.astimezone(UTC) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_after_business_days_uses_warehouse_wall_clock_for_a_utc_moment() -> None:
    later = CAL.after_business_days(datetime(2026, 3, 6, 15, 0, tzinfo=UTC), 1)  # 10:00 EST
    assert later.astimezone(UTC) == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # 10:00 EDT


def test_after_zero_business_days_is_the_same_moment() -> None:
    start = datetime(2026, 3, 7, 10, 0, tzinfo=EST)  # Saturday
    assert CAL.after_business_days(start, 0) == start


# --- business days left ------------------------------------------------------------------------

ARRIVED = datetime.fromisoformat("2025-12-19T10:00:00-05:00")
DUE = date(2026, 1, 13)


def test_business_days_left_is_15_on_the_arrival_date() -> None:
    assert CAL.business_days_left(DUE, ARRIVED) == 15
    assert CAL.business_days_left(DUE, ny(2025, 12, 19, 23, 59)) == 15


def test_business_days_left_does_not_drop_over_a_weekend_or_holiday() -> None:
    assert CAL.business_days_left(DUE, ny(2025, 12, 20)) == 15  # Saturday
    assert CAL.business_days_left(DUE, ny(2025, 12, 21)) == 15  # Sunday
    assert CAL.business_days_left(DUE, ny(2025, 12, 22)) == 14
    assert CAL.business_days_left(DUE, ny(2025, 12, 24)) == CAL.business_days_left(DUE, ny(2025, 12, 25))


def test_business_days_left_is_1_on_the_last_business_day_before_the_due_date() -> None:
    assert CAL.business_days_left(DUE, ny(2026, 1, 12)) == 1
    # 22:00 on Jan 12 in New York is already Jan 13 in UTC: warehouse time decides.
    assert CAL.business_days_left(DUE, datetime.fromisoformat("2026-01-13T03:00:00+00:00")) == 1


def test_business_days_left_is_0_on_the_due_date_and_after_it() -> None:
    # Contract: business days *after today* up to and including the due date.
    assert CAL.business_days_left(DUE, ny(2026, 1, 13, 0, 1)) == 0
    assert CAL.business_days_left(DUE, CAL.end_of_day(DUE)) == 0
    assert CAL.business_days_left(DUE, ny(2026, 1, 14)) == 0
    assert CAL.business_days_left(DUE, ny(2026, 3, 1)) == 0


def test_business_days_left_counts_down_one_per_business_day() -> None:
    left = [CAL.business_days_left(DUE, ny(2025, 12, 19) + timedelta(days=k)) for k in range(0, 30)]
    assert left[0] == 15
    assert left[-1] == 0
    assert all(a - b in (0, 1) for a, b in pairwise(left))


# --- state subdivision -------------------------------------------------------------------------


def test_state_subdivision_adds_its_holidays() -> None:
    ma = load_calendar(subdivision="MA", years=range(2024, 2031))
    patriots_day = date(2026, 4, 20)
    assert patriots_day not in CAL.holidays
    assert not ma.is_business_day(patriots_day)
    assert CAL.add_business_days(date(2026, 4, 17), 1) == date(2026, 4, 20)
    assert ma.add_business_days(date(2026, 4, 17), 1) == date(2026, 4, 21)


@pytest.mark.parametrize(
    ("subdivision", "federal_closure"), [("CA", date(2026, 10, 12)), ("MA", date(2026, 7, 3))]
)
def test_state_subdivision_keeps_every_federal_closure(subdivision: str, federal_closure: date) -> None:
    state = load_calendar(subdivision=subdivision, years=range(2024, 2031))
    assert federal_closure in CAL.holidays
    assert CAL.holidays <= state.holidays


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("outside", [date(2023, 12, 29), date(2031, 1, 2)])
def test_dates_outside_the_calendar_years_are_refused(outside: date) -> None:
    with pytest.raises(ValueError, match="outside the calendar's years 2024"):
        CAL.is_business_day(outside)


def test_due_date_running_past_the_last_calendar_year_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        CAL.add_business_days(date(2030, 12, 20), 15)
    with pytest.raises(ValueError, match="outside"):
        CAL.due_on(datetime(2031, 1, 5, 12, tzinfo=UTC))


def test_business_days_left_for_a_due_date_outside_the_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        CAL.business_days_left(date(2031, 1, 10), ny(2030, 12, 30))


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 12, 19, 10, 0)
    with pytest.raises(ValueError, match="UTC offset"):
        CAL.local_date(naive)
    with pytest.raises(ValueError, match="UTC offset"):
        CAL.due_on(naive)
    with pytest.raises(ValueError, match="UTC offset"):
        CAL.business_days_left(DUE, naive)


def test_after_business_days_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError):
        CAL.after_business_days(datetime(2026, 3, 6, 10, 0), 1)


def test_calendar_from_non_contiguous_years_never_counts_a_gap_year_holiday() -> None:
    try:
        gappy = load_calendar(years=[2024, 2026])
    except ValueError:
        return  # refusing a gap is fine too
    with contextlib.suppress(ValueError):  # refusing a date in the gap is fine too
        assert not gappy.is_business_day(date(2025, 12, 25))


# --- properties --------------------------------------------------------------------------------

offsets = st.integers(min_value=-48, max_value=56).map(lambda q: timezone(timedelta(minutes=15 * q)))
arrivals = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    # From Jan 2: a +14:00 moment on Jan 1 is still 2023 in New York, before the calendar.
    st.datetimes(min_value=datetime(2024, 1, 2), max_value=datetime(2029, 12, 1)),
    offsets,
)
start_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 12, 1))
counts = st.integers(min_value=0, max_value=40)

PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(arrivals, st.integers(min_value=1, max_value=40))
def test_due_date_is_always_a_business_day(arrived: datetime, n: int) -> None:
    assert CAL.is_business_day(CAL.due_on(arrived, n))
    assert CAL.is_business_day(CAL.due_on(arrived))


@PROPERTY
@given(arrivals, st.integers(min_value=1, max_value=40))
def test_exactly_n_business_days_lie_after_the_arrival_date_up_to_the_due_date(
    arrived: datetime, n: int
) -> None:
    local = CAL.local_date(arrived)
    due = CAL.due_on(arrived, n)
    assert CAL.business_days_between(local, due) == n
    assert CAL.business_days_between(local, due - timedelta(days=1)) == n - 1


@PROPERTY
@given(arrivals)
def test_due_date_is_strictly_after_the_arrival_local_date(arrived: datetime) -> None:
    assert CAL.due_on(arrived) > CAL.local_date(arrived)


@PROPERTY
@given(arrivals)
def test_business_days_left_is_15_at_any_arrival_moment(arrived: datetime) -> None:
    assert CAL.business_days_left(CAL.due_on(arrived), arrived) == 15


@PROPERTY
@given(start_dates, counts, counts)
def test_add_business_days_is_monotonic_in_n(start: date, n1: int, n2: int) -> None:
    lo, hi = sorted((n1, n2))
    assert CAL.add_business_days(start, lo) <= CAL.add_business_days(start, hi)
    if lo < hi:
        assert CAL.add_business_days(start, lo) < CAL.add_business_days(start, hi)


@PROPERTY
@given(start_dates, counts)
def test_business_days_between_inverts_add_business_days(start: date, n: int) -> None:
    assert CAL.business_days_between(start, CAL.add_business_days(start, n)) == n


@PROPERTY
@given(start_dates)
def test_end_of_day_is_next_local_midnight_and_days_last_23_24_or_25_hours(day: date) -> None:
    end = CAL.end_of_day(day)
    assert (end.date(), end.time()) == (day + timedelta(days=1), time(0))
    assert CAL.local_date(end) == day + timedelta(days=1)
    assert CAL.local_date(end - timedelta(microseconds=1)) == day
    assert utc_hours(CAL.end_of_day(day - timedelta(days=1)), end) in (23, 24, 25)
