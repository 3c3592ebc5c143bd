"""Every model that crosses a Temporal boundary: workflow inputs and results, signals, updates.

Two flavours, as the contract asks. *Strict* models (``extra="forbid"``) are what the edge —
command line, API, update validators, the first lines of a workflow run — validates requests
against. *Lenient* models (``extra="ignore"``/``"allow"``) are what workflows keep in history, so
that a field added later never breaks the replay of an old history.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.addresses import USAddress
from domain.deliveries import FailedDelivery
from domain.identifiers import (
    Actor,
    BusinessNumber,
    DeliveryKey,
    Email,
    Language,
    ProgramAccount,
    SellerId,
    ShipmentId,
    parse_program_account,
)
from domain.steps import Party, Step

# --- SellerOnboarding ---------------------------------------------------------------------------


class SignUp(BaseModel):
    """The contract's ``SellerOnboarding`` input, validated strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seller_id: SellerId
    """1–64 characters of ``A-Z a-z 0-9 _ -``."""
    email: Email
    """Where the seller's messages go."""
    business_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    returns_account_number: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    """The seller's Returns Account number (handed to the broker); defaults to the seller id."""
    legacy_poa: bool = False
    """An approved POA from before CARM: returns are cleared until the broker asks for CARM."""
    completed_steps: list[Step] | None = None
    """For imports of sellers onboarded before the service: taken as complete, unchecked."""
    language: Language = "en"
    """``en`` or ``fr``: the language of the seller's messages and checklist page."""
    business_number: BusinessNumber | None = None
    """For imports: the seller's BN, validated as the event is; completes ``business_number``."""
    program_account: ProgramAccount | None = None
    """For imports: the RM account of that BN; completes ``importer_account``."""

    @model_validator(mode="after")
    def _account_of_the_business_number(self) -> "SignUp":
        if self.program_account is None:
            return self
        bn, _ = parse_program_account(self.program_account)
        if self.business_number is None and bn is None:
            raise PydanticCustomError(
                "program_account_without_business_number",
                "program_account needs the business_number (or the full 15-character account)",
            )
        if bn is not None and self.business_number is not None and bn != self.business_number:
            raise PydanticCustomError(
                "program_account_other_business_number",
                "program account '{value}' belongs to business number {other}, not to {business_number}",
                {"value": self.program_account, "other": bn, "business_number": self.business_number},
            )
        return self


class SellerProfile(BaseModel):
    """How to reach the seller: kept by their workflow, outside the rules."""

    model_config = ConfigDict(extra="ignore")

    email: str
    business_name: str | None = None
    returns_account_number: str
    language: Language = "en"


class SellerOnboardingInput(BaseModel):
    """What ``SellerOnboarding`` is started with: the sign-up, plus (after continue-as-new) the
    state carried from the previous run. Lenient, so that bad input reaches the workflow's own
    validation (which fails it cleanly) instead of failing the workflow task forever."""

    model_config = ConfigDict(extra="allow")

    seller_id: str = ""
    email: str = ""
    business_name: str | None = None
    returns_account_number: str | None = None
    legacy_poa: bool = False
    completed_steps: list[str] | None = None
    language: str | None = None
    business_number: str | None = None
    program_account: str | None = None
    carried: dict[str, Any] | None = None
    """Internal: the previous run's state, set only by continue-as-new."""

    def sign_up_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"carried"}, exclude_unset=True)


class SellerDisposition(BaseModel):
    """Signal from a seller's workflow to a ``ReturnHold``: what to do with the seller's parcels."""

    model_config = ConfigDict(extra="ignore")

    seller_id: str
    cleared_for_returns: bool = False
    return_method: Literal["own_us_address", "dispose"] | None = None
    us_address: USAddress | None = None
    email: str | None = None
    business_name: str | None = None
    language: str = "en"
    """The seller's language, for the parcel's messages to them."""
    link_epoch: int | None = None
    link_nonce: str | None = None
    """What the parcel's messages mint the seller's checklist link for (see ``OnboardingStatus``)."""


class HoldLink(BaseModel):
    """Signal from a ``ReturnHold`` to its seller's workflow: a parcel was opened or closed."""

    model_config = ConfigDict(extra="ignore")

    shipment_id: str
    seller_id: str
    seen: SellerDisposition | None = None
    """What the parcel already knows of its seller: the seller's workflow answers ``hold_opened``
    only when its disposition differs, so a parcel costs its seller no signal back."""


class SellerSignal(BaseModel):
    """A parcel's word to its seller's workflow, sent by a local activity (see ``ReturnHold``)."""

    model_config = ConfigDict(extra="forbid")
    link: HoldLink


class ParcelsSignal(BaseModel):
    """A seller's disposition for some of its held parcels, sent by a local activity."""

    model_config = ConfigDict(extra="forbid")
    shipment_ids: list[str]
    disposition: SellerDisposition


class Signalled(BaseModel):
    """Which workflows took the signal; the others were not running (closed, or never started)."""

    model_config = ConfigDict(extra="forbid")
    delivered: list[str] = Field(default_factory=list)
    not_running: list[str] = Field(default_factory=list)


# --- ReturnHold ---------------------------------------------------------------------------------

Origin = Literal["us_return", "usps_international"]


class Arrival(BaseModel):
    """The contract's ``ReturnHold`` input, validated strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shipment_id: ShipmentId
    seller_id: SellerId
    arrived_at: AwareDatetime
    """ISO-8601 with a UTC offset."""
    origin: Origin | None = None
    """Informational."""


class ReturnHoldInput(BaseModel):
    """Lenient twin of :class:`Arrival` (see :class:`SellerOnboardingInput`)."""

    model_config = ConfigDict(extra="allow")

    shipment_id: str = ""
    seller_id: str = ""
    arrived_at: Any = None
    origin: str | None = None
    seller_lookup: "SellerLookup | None" = None
    """Internal: the seller's situation, looked up by the starter just before the start, so the
    parcel need not ask (an activity and a workflow task less); absent, the parcel asks itself."""


class _Request(BaseModel):
    """What every update of ``ReturnHold`` may carry besides its own fields: who sent it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    actor: Actor | None = None
    """Who sent it: the command line's ``--actor``, the API token's name, ``seller`` for the page."""


class ForwardDecision(_Request):
    action: Literal["forward"]
    us_address: USAddress
    """The seller's own U.S. address."""


class DisposeDecision(_Request):
    action: Literal["dispose"]


Decision = Annotated[ForwardDecision | DisposeDecision, Field(discriminator="action")]
DECISIONS: TypeAdapter[Decision] = TypeAdapter(Decision)
"""Parses a decision (built once: the sandbox need not build it for every parcel it creates)."""


class DecideRequest(BaseModel):
    """Update ``decide``: ``{"action": "forward", "us_address": …}`` or ``{"action": "dispose"}``.

    Lenient on purpose; the validator parses it into :data:`Decision` and names any problem.
    """

    model_config = ConfigDict(extra="allow")
    action: str = ""


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ExtendHold(_Request):
    """Update ``extend_hold`` (operations), validated strictly."""

    business_days: Annotated[int, Field(gt=0, le=60)]
    """How many business days to add to the deadline."""
    reason: Reason
    """Why (kept in the parcel's audit and shown in the Web UI)."""


class Reassign(_Request):
    """Update ``reassign`` (operations): the parcel belongs to another seller from now on."""

    seller_id: SellerId
    """The seller the parcel really belongs to."""
    reason: Reason
    """Why (a mis-scan, say)."""


class DeliveryAction(_Request):
    """Updates ``delivery_retried`` and ``delivery_abandoned`` (operations)."""

    idempotency_key: DeliveryKey
    """The failed delivery, from the status's ``failed_deliveries``."""
    reason: Reason | None = None


class ExtendHoldRequest(BaseModel):
    """Lenient twin of :class:`ExtendHold`: the validator parses it and names any problem."""

    model_config = ConfigDict(extra="allow")


class ReassignRequest(BaseModel):
    """Lenient twin of :class:`Reassign`."""

    model_config = ConfigDict(extra="allow")


class DeliveryActionRequest(BaseModel):
    """Lenient twin of :class:`DeliveryAction`."""

    model_config = ConfigDict(extra="allow")


HoldState = Literal["held", "released", "forwarded", "disposed"]
Outcome = Literal["released", "forwarded", "disposed"]


class HoldStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")

    shipment_id: str
    seller_id: str
    state: HoldState
    disposal_due_on: str | None
    """``YYYY-MM-DD``; null once the parcel is no longer held."""
    business_days_left: int | None
    """Business days after today (warehouse time) up to and including the due date."""
    arrived_at: datetime
    disposal_due_at: datetime | None = None
    """The moment the due day ends (warehouse time)."""
    seller_known: bool | None = None
    """False while no onboarding workflow exists for the seller; None until known."""
    extensions: list[dict[str, Any]] = Field(default_factory=list)
    closing: Outcome | None = None
    """Set while an outcome is being carried out."""
    outcome_at: datetime | None = None
    origin: str | None = None
    waiting_on: list[Party] = Field(default_factory=list)
    """Who must act: the seller while the parcel is held; operations for an unknown seller or a
    failed delivery."""
    failed_deliveries: list[FailedDelivery] = Field(default_factory=list)
    """Deliveries given up, waiting for operations to retry (or, but for the warehouse
    instruction, abandon) them."""
    reassigned_from: list[str] = Field(default_factory=list)
    """Sellers the parcel was recorded under before, oldest first."""


class HoldResult(BaseModel):
    """The workflow result: exactly one outcome per parcel."""

    model_config = ConfigDict(extra="ignore")

    shipment_id: str
    outcome: Outcome
    at: datetime


# --- activities -------------------------------------------------------------------------------


class SnapshotRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    today: str
    """ISO date the run starts (workflow time), so the calendar covers the years ahead of it."""


class FindHeldParcels(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seller_id: str


class HeldParcels(BaseModel):
    model_config = ConfigDict(extra="ignore")
    shipment_ids: list[str] = Field(default_factory=list)
    listing_supported: bool = True


class FindSeller(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seller_id: str


class SellerLookup(BaseModel):
    """A seller's situation as their workflow reports it, or ``known=False`` when none runs."""

    model_config = ConfigDict(extra="ignore")
    known: bool
    disposition: SellerDisposition | None = None


ReturnHoldInput.model_rebuild()  # its internal seller_lookup names a model defined further down
