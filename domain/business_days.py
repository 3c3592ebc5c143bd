"""Business days at the U.S. warehouse: Monday–Friday minus the warehouse's public holidays.

The calendar is plain data (a time zone name and a set of holiday dates) so that a workflow can
carry a snapshot of it in its history: a parcel's due date is computed once, on arrival, from the
snapshot taken then, and a later ``holidays`` release cannot move it on replay.

Workflows import this module through ``workflow.unsafe.imports_passed_through()`` because it
builds ``ZoneInfo`` objects; the ``holidays`` package is only touched by :func:`load_calendar`,
which runs in activities and tools, never in workflow code.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

DEFAULT_TIMEZONE = "America/New_York"


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class BusinessCalendar(BaseModel):
    """Business days in one time zone, with the holidays of the years it covers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    timezone: str = DEFAULT_TIMEZONE
    """IANA time zone of the warehouse, e.g. ``America/New_York``."""
    holidays: frozenset[date] = frozenset()
    """Observed holiday dates (the day the warehouse is closed)."""
    first_year: int
    last_year: int
    """Years whose holidays are in ``holidays``; dates outside them are refused."""

    def _check(self, d: date) -> None:
        if not self.first_year <= d.year <= self.last_year:
            raise ValueError(
                f"{d.isoformat()} is outside the calendar's years {self.first_year}–{self.last_year}"
            )

    def is_business_day(self, d: date) -> bool:
        self._check(d)
        return d.weekday() < 5 and d not in self.holidays

    def local_date(self, moment: datetime) -> date:
        """The warehouse's calendar date at ``moment`` (which must carry a UTC offset)."""
        if moment.tzinfo is None:
            raise ValueError("a moment without a UTC offset is ambiguous")
        return moment.astimezone(zone(self.timezone)).date()

    def add_business_days(self, start: date, n: int) -> date:
        """The ``n``-th business day after ``start`` (``start`` itself not counted); ``n >= 0``."""
        if n < 0:
            raise ValueError("n must not be negative")
        d = start
        while n:
            d += timedelta(days=1)
            if self.is_business_day(d):
                n -= 1
        return d

    def business_days_before(self, end: date, n: int) -> date:
        """The business day from which ``end`` is ``n`` business days away (``n >= 1``)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        d = end
        while n:
            d -= timedelta(days=1)
            if self.is_business_day(d):
                n -= 1
        return d

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in ``(start, end]``; 0 when ``end <= start``."""
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            count += self.is_business_day(d)
        return count

    def end_of_day(self, d: date) -> datetime:
        """The moment ``d`` ends at the warehouse: local midnight that starts the next day."""
        return datetime.combine(d + timedelta(days=1), time(0), tzinfo=zone(self.timezone))

    def at_local(self, d: date, wall: time) -> datetime:
        return datetime.combine(d, wall, tzinfo=zone(self.timezone))

    def due_on(self, arrived_at: datetime, business_days: int = 15) -> date:
        """Due date of a parcel: the ``business_days``-th business day after the arrival date."""
        return self.add_business_days(self.local_date(arrived_at), business_days)

    def business_days_left(self, due_on: date, now: datetime) -> int:
        """Business days after today (warehouse time) up to and including ``due_on``."""
        return self.business_days_between(self.local_date(now), due_on)

    def after_business_days(self, moment: datetime, n: int) -> datetime:
        """The same wall-clock time, ``n`` business days after ``moment``'s local date."""
        if moment.tzinfo is None:
            raise ValueError("a moment without a UTC offset is ambiguous")
        local = moment.astimezone(zone(self.timezone))
        target = self.add_business_days(local.date(), n)
        return datetime.combine(target, local.time().replace(tzinfo=None), tzinfo=zone(self.timezone))


def load_calendar(
    timezone: str = DEFAULT_TIMEZONE,
    *,
    country: str = "US",
    subdivision: str | None = None,
    categories: Iterable[str] = ("public",),
    years: Iterable[int],
) -> BusinessCalendar:
    """Build a calendar from the ``holidays`` package (outside workflow code only)."""
    import holidays as holidays_pkg

    zone(timezone)  # fail early on an unknown time zone
    given = sorted(set(years))
    year_list = list(range(given[0], given[-1] + 1))  # a gap would silently lose holidays
    # One year more: a holiday on Saturday 1 January is observed on Friday 31 December before it.
    span = [*year_list, year_list[-1] + 1]
    dates = set(holidays_pkg.country_holidays(country, years=span, categories=tuple(categories)))
    if subdivision:
        # A state's list in the holidays package is not a superset of the federal one (many
        # states drop Columbus Day); the warehouse closes on both.
        dates |= set(
            holidays_pkg.country_holidays(
                country, subdiv=subdivision, years=span, categories=tuple(categories)
            )
        )
    return BusinessCalendar(
        timezone=timezone,
        holidays=frozenset(d for d in dates if year_list[0] <= d.year <= year_list[-1]),
        first_year=year_list[0],
        last_year=year_list[-1],
    )
