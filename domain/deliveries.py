"""What activities deliver to the outside world, each with an idempotency key.

The key is derived from workflow state (a business key plus a sequence number kept in that
state), so an activity retry or a worker crash re-sends the *same* key and the receiving adapter
refuses it, while a legitimate repeat (a second broker handoff after re-registration, a second
reminder) gets a new one.

A notice's sequence number alone is not such a key: see :func:`notice_key`.
"""

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.addresses import USAddress

Audience = Literal["seller", "operations", "broker"]

LINK_NONCE_LENGTH = 12


def link_nonce(first_run_id: str) -> str:
    """What checklist links carry of a seller workflow's first run id: it tells this workflow from
    an earlier one of the same seller id (offboarded, then signed up again)."""
    return first_run_id.replace("-", "")[:LINK_NONCE_LENGTH]


NOTICE_DIGEST_LENGTH = 12


def notice_key(numbered: str, note: "Notification") -> str:
    """``numbered`` (``…:notice:N``, the workflow's N-th notice) and a digest of what the notice says.

    A workflow task can send its N-th notice (a local activity's side effect) and then fail, its
    commands lost: the worker was killed, the server went away. Run again, the task may take
    another path (a signal came in meanwhile: the parcel is released now, not held), and its N-th
    notice is another message. Keyed by number alone, the ledger would take it for a repeat of the
    first and drop it; with the digest a true repeat still has the same key, and another message
    has its own.
    """
    content = note.model_dump_json(exclude={"idempotency_key"})
    return f"{numbered}:{hashlib.sha256(content.encode()).hexdigest()[:NOTICE_DIGEST_LENGTH]}"


class Notification(BaseModel):
    """A message to a person, rendered from ``templates/<template>.txt.j2``."""

    model_config = ConfigDict(extra="ignore")

    idempotency_key: str
    """Same on a retry, different for a legitimate repeat."""
    audience: Audience
    to: str | None = None
    """E-mail address for the seller; None means the configured operations/broker address."""
    template: str
    """Template name, e.g. ``onboarding_next_step``."""
    params: dict[str, Any] = Field(default_factory=dict)
    seller_id: str | None = None
    shipment_id: str | None = None
    language: str = "en"
    """The seller's language for a message to the seller; English for the broker and operations."""
    link_epoch: int | None = None
    """For a message to the seller: the epoch of the checklist link minted into it."""
    link_nonce: str | None = None
    """For a message to the seller: which of the seller's workflows the link is for."""


class BrokerHandoff(BaseModel):
    """The seller's Returns Account number and BN, forwarded when CARM registration is confirmed."""

    model_config = ConfigDict(extra="ignore")

    idempotency_key: str
    seller_id: str
    returns_account_number: str
    business_number: str | None
    """None only for a seller imported without one on record."""
    program_account: str | None = None
    handoff_number: int
    """1 for the first handoff, 2 after a re-registration, and so on."""


class BrokerAffinityRequest(BaseModel):
    """Ask the broker for figures from the seller's Statement of Account."""

    model_config = ConfigDict(extra="ignore")

    idempotency_key: str
    seller_id: str
    business_number: str | None = None


WarehouseAction = Literal["release", "forward", "dispose"]


class WarehouseInstruction(BaseModel):
    """An instruction about one parcel: release to the broker, forward, or dispose.

    Keyed on the shipment id alone: a parcel gets one outcome, so one instruction, ever.
    """

    model_config = ConfigDict(extra="ignore")

    idempotency_key: str
    shipment_id: str
    seller_id: str
    action: WarehouseAction
    us_address: USAddress | None = None
    reason: str


DeliveryKind = Literal["notification", "broker_handoff", "affinity_request", "warehouse_instruction"]


class FailedDelivery(BaseModel):
    """A delivery given up: refused for good, or still failing long after its first attempt."""

    model_config = ConfigDict(extra="ignore")

    idempotency_key: str
    kind: DeliveryKind
    error: str
    """Why, as the adapter put it (no personal data: adapters keep it out of their errors)."""
    since: datetime
    """When it was given up."""


class DeliveryReceipt(BaseModel):
    """What an adapter reports: delivered now, or already delivered under the same key."""

    model_config = ConfigDict(extra="ignore")

    idempotency_key: str
    duplicate: bool = False
    """True when the receiving end had already seen this key (nothing was sent again)."""
    channel: str
    at: datetime
