"""The settings a workflow run keeps: a snapshot, never read from the environment here.

Processes read their settings from the environment (:mod:`config.settings`); workflows take a
``WorkflowSettings`` snapshot through a local activity when a run starts, keep it in their
history, and take a fresh one when they continue as new. A changed reminder schedule therefore
reaches a seller's long-lived workflow at its next continue-as-new, and never breaks replay.
"""

from pydantic import BaseModel, ConfigDict, Field

from domain.business_days import BusinessCalendar
from domain.steps import Step


class ReminderSchedule(BaseModel):
    """When the owner of a waiting step is reminded, and when operations is alerted."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    remind_after: list[int]
    """Reminders after this many days of waiting (business days for the broker)."""
    escalate_after: int
    """Operations is alerted and the seller marked stalled after this many days."""
    business_days: bool = False


class WorkflowSettings(BaseModel):
    """The snapshot a workflow run keeps in its history."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    required_steps: list[Step] = Field(default_factory=lambda: list(Step))
    seller_reminders: ReminderSchedule = ReminderSchedule(remind_after=[3, 7, 14], escalate_after=21)
    broker_reminders: ReminderSchedule = ReminderSchedule(
        remind_after=[10, 20, 30], escalate_after=35, business_days=True
    )
    carm_inactivity_days: int = 180
    carm_login_reminder_days_before: list[int] = Field(default_factory=lambda: [30, 7])
    rpp_review_reminder_days_before: int = 21
    """Days before the review date on which cleared sellers are reminded of the yearly RPP review."""
    rpp_review_date: tuple[int, int] = (10, 20)
    """(month, day) of CBSA's yearly review of RPP financial security: October 20 since 2025."""
    rpp_posting_deadline: tuple[int, int] = (1, 15)
    """(month, day) by which a higher RPP security must be posted after the review: January 15."""
    rpp_posting_reminder_days_before: int = 14
    """Days before the posting deadline on which cleared sellers are reminded of it."""
    hold_business_days: int = 15
    hold_reminder_business_days_left: list[int] = Field(default_factory=lambda: [5, 1])
    calendar: BusinessCalendar = BusinessCalendar(first_year=2000, last_year=2000)
    continue_as_new_after_events: int = 500
    """A run continues as new after this many history events (or when Temporal suggests it)."""
    delivery_give_up_after_seconds: int = 86_400
    """A delivery still failing this long after its first attempt is given up (operations told)."""
    unknown_seller_recheck_seconds: list[int] = Field(default_factory=lambda: [30, 300, 3600])
    """A parcel whose seller is unknown asks again after these delays (covers visibility lag)."""
