"""The state each workflow keeps, one model per workflow.

A seller's :class:`OnboardingMemory` is carried whole across continue-as-new; a parcel's
:class:`HoldMemory` is everything its status and outcome are made of. Both are lenient
(``extra="ignore"``): they live in workflow history, where a field added later must not break
the decoding of an old one. They live here, outside the workflow modules, so that the sandbox
does not rebuild their pydantic classes for every workflow it creates.
"""

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.deliveries import DeliveryKind, FailedDelivery
from domain.onboarding import SellerRecord
from domain.payloads import Arrival, Decision, HoldState, Outcome, SellerDisposition, SellerProfile
from domain.schedule import WaitClock
from domain.steps import Party

AUDIT_LIMIT = 1000
"""Audit entries a workflow keeps (the oldest go first). A seller's history holds every event for
as long as Temporal retains it; the audit is what survives continue-as-new, for years."""


class AuditEntry(BaseModel):
    """One accepted event or update: when, what, and who."""

    model_config = ConfigDict(extra="ignore")

    at: datetime
    type: str
    party: Party
    actor: str | None = None
    event_id: str | None = None


def audited(audit: list[AuditEntry], entry: AuditEntry) -> list[AuditEntry]:
    """``audit`` with ``entry`` added, within :data:`AUDIT_LIMIT`."""
    return [*audit, entry][-AUDIT_LIMIT:]


def audit_lines(audit: list[AuditEntry], last: int = 5) -> list[str]:
    """The last few entries, for the Web UI's current details."""
    if not audit:
        return []
    lines = [f"Last {min(last, len(audit))} of {len(audit)} accepted events:"]
    for entry in audit[-last:]:
        who = entry.party + (f" ({entry.actor})" if entry.actor else "")
        lines.append(f"- {entry.at:%Y-%m-%d %H:%M} UTC `{entry.type}` by {who}")
    return lines


class PendingDelivery(BaseModel):
    """A delivery given up, with what is needed to try it again."""

    model_config = ConfigDict(extra="ignore")

    failure: FailedDelivery
    request: dict[str, Any]
    """The activity's input, as JSON: a retry sends it again under the same idempotency key."""

    @property
    def kind(self) -> DeliveryKind:
        return self.failure.kind

    @property
    def key(self) -> str:
        return self.failure.idempotency_key


class OnboardingMemory(BaseModel):
    """All state of a seller's workflow: carried whole across continue-as-new."""

    model_config = ConfigDict(extra="ignore")

    record: SellerRecord
    profile: SellerProfile
    notices: int = 0
    """Notifications sent so far; numbers each one's idempotency key."""
    affinity_requests: int = 0
    clocks: dict[str, WaitClock] = Field(default_factory=dict)
    """Per party waited on: since when, for which actions, reminders sent."""
    announced: list[str] = Field(default_factory=list)
    """Seller action codes already announced, so each new step is announced once."""
    held_shipments: list[str] = Field(default_factory=list)
    last_login_at: datetime | None = None
    login_reminders_sent: int = 0
    login_overdue_alerted: bool = False
    rpp_review_reminded_year: int | None = None
    rpp_posting_reminded_year: int | None = None
    """The year of the last RPP posting deadline (January 15) the seller was reminded of."""
    link_epoch: int = 1
    """Checklist links carry it; an e-mail change moves it on, so links sent before stop working."""
    audit: list[AuditEntry] = Field(default_factory=list)
    failed: list[PendingDelivery] = Field(default_factory=list)
    """Deliveries given up, waiting for operations."""
    run: int = 1
    """Which run of the seller's workflow this is (1 + continue-as-new count)."""


class Extension(BaseModel):
    """One extension of a hold by operations."""

    model_config = ConfigDict(extra="ignore")

    business_days: int
    reason: str
    from_: date = Field(alias="from")
    to: date
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class HoldMemory(BaseModel):
    """All state of a parcel's hold."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    arrival: Arrival
    due_on: date | None = None
    """Fixed on arrival from the settings snapshot taken then; only an extension moves it."""
    state: HoldState = "held"
    closing: Outcome | None = None
    """The outcome chosen and being carried out (the parcel is still held until it is)."""
    by_disposition: bool = False
    """The outcome came from the seller's workflow telling the parcel to go."""
    decision: Decision | None = None
    disposition: SellerDisposition | None = None
    """What the seller's workflow last said about the seller's parcels."""
    seller_known: bool | None = None
    """False while no onboarding workflow exists for the seller; None until known."""
    outcome_at: datetime | None = None
    extensions: list[Extension] = Field(default_factory=list)
    reminded: list[str] = Field(default_factory=list)
    """Reminder keys already sent (see :func:`domain.schedule.hold_reminder_key`)."""
    notices: int = 0
    audit: list[AuditEntry] = Field(default_factory=list)
    failed: list[PendingDelivery] = Field(default_factory=list)
    reassigned_from: list[str] = Field(default_factory=list)
