"""When the service must next act on its own: reminders, escalations, the CARM login and RPP dates.

Pure functions of the workflows' state and settings snapshot, so they can be read and tested
without a Temporal server; the workflows ask them for the next wake-up time and for what is due
when they wake. Times are aware datetimes; dates that belong to the warehouse or to CBSA are
placed in the warehouse's time zone through the settings' calendar.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.business_days import BusinessCalendar
from domain.settings import ReminderSchedule, WorkflowSettings

REMINDER_TIME = time(9, 0)
"""Reminders tied to a date go out at 09:00 warehouse time."""


class WaitClock(BaseModel):
    """How long one party has been waited on for the same set of actions."""

    model_config = ConfigDict(extra="ignore")

    since: datetime
    actions: list[str]
    reminders_sent: int = 0
    escalated: bool = False


# --- waiting on a party ------------------------------------------------------------------------


def clock_due(schedule: ReminderSchedule, calendar: BusinessCalendar, clock: WaitClock) -> datetime:
    """When the next reminder (or, after the last one, the escalation) of ``clock`` is due."""
    sent = clock.reminders_sent
    days = schedule.remind_after[sent] if sent < len(schedule.remind_after) else schedule.escalate_after
    if schedule.business_days:
        return calendar.after_business_days(clock.since, days)
    return clock.since + timedelta(days=days)


def clock_step(schedule: ReminderSchedule, clock: WaitClock) -> Literal["remind", "escalate"]:
    """What the due moment of ``clock`` brings: another reminder, or the escalation."""
    return "remind" if clock.reminders_sent < len(schedule.remind_after) else "escalate"


def restart_clocks(
    clocks: dict[str, WaitClock], waiting: dict[str, list[str]], now: datetime
) -> dict[str, WaitClock]:
    """Keep each party's clock while it waits for the same actions; restart it when they change."""
    kept = {}
    for party, actions in waiting.items():
        clock = clocks.get(party)
        kept[party] = (
            clock if clock is not None and clock.actions == actions else WaitClock(since=now, actions=actions)
        )
    return kept


# --- CARM login ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginWatch:
    """A cleared seller's CARM login: when it happened and what was sent about it since."""

    last_login_at: datetime
    reminders_sent: int
    overdue_alerted: bool


def login_expires(watch: LoginWatch, settings: WorkflowSettings) -> datetime:
    """When CARM deactivates the user profile without another login."""
    return watch.last_login_at + timedelta(days=settings.carm_inactivity_days)


def login_due(watch: LoginWatch, settings: WorkflowSettings) -> datetime | None:
    """The next login reminder, then the overdue alert to operations; None once both are done."""
    expires = login_expires(watch, settings)
    before = sorted(settings.carm_login_reminder_days_before, reverse=True)
    if watch.reminders_sent < len(before):
        return expires - timedelta(days=before[watch.reminders_sent])
    return None if watch.overdue_alerted else expires


# --- RPP review --------------------------------------------------------------------------------


# Sources: Livingston, Universal Logistics and Cole (October 2025): CBSA reviews RPP security every
# October 20 (since 2025); a higher amount must be posted by January 15, or RPP is suspended.
# Both dates are settings (RPP_REVIEW_DATE, RPP_POSTING_DEADLINE).


def next_on_or_after(day: date, month_day: tuple[int, int]) -> date:
    """The first ``(month, day)`` on or after ``day``: the date a yearly reminder is about."""
    this_year = date(day.year, *month_day)
    return this_year if this_year >= day else date(day.year + 1, *month_day)


def _yearly_due(
    now: datetime,
    reminded_year: int | None,
    month_day: tuple[int, int],
    lead_days: int,
    settings: WorkflowSettings,
) -> datetime | None:
    """When a yearly date's reminder is next due: ``lead_days`` before the next such date not yet reminded."""
    cal = settings.calendar
    for year in (now.year, now.year + 1):
        day = date(year, *month_day)
        if reminded_year == year or cal.at_local(day, time(0)) <= now:
            continue
        # A seller cleared after this year's reminder date is still reminded before the date.
        return cal.at_local(day - timedelta(days=lead_days), REMINDER_TIME)
    return None


def rpp_review_due(now: datetime, reminded_year: int | None, settings: WorkflowSettings) -> datetime | None:
    """When a cleared, RPP-enrolled seller is next reminded of the yearly review."""
    return _yearly_due(
        now, reminded_year, settings.rpp_review_date, settings.rpp_review_reminder_days_before, settings
    )


def rpp_posting_due(now: datetime, reminded_year: int | None, settings: WorkflowSettings) -> datetime | None:
    """When a cleared, RPP-enrolled seller is next reminded of the deadline to post a higher security."""
    return _yearly_due(
        now, reminded_year, settings.rpp_posting_deadline, settings.rpp_posting_reminder_days_before, settings
    )


# --- a held parcel -------------------------------------------------------------------------------


def hold_reminder_key(due_on: date, business_days_left: int) -> str:
    """A reminder's identity: a moved due date (an extension) brings its reminders again."""
    return f"{due_on}:{business_days_left}"


def hold_reminders(
    calendar: BusinessCalendar, due_on: date, days_left: list[int], arrived_at: datetime
) -> dict[str, tuple[int, datetime]]:
    """Each reminder of a parcel due on ``due_on``: its key, days left and when it is due.

    Reminders that would fall before the arrival (a parcel that arrived with fewer days left)
    are left out.
    """
    found = {}
    for n in sorted(days_left, reverse=True):
        at = calendar.at_local(calendar.business_days_before(due_on, n), REMINDER_TIME)
        if at > arrived_at:
            found[hold_reminder_key(due_on, n)] = (n, at)
    return found
