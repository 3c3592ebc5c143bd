"""Every model that crosses a Temporal boundary: workflow inputs and results, signals, updates.

Two flavours, as the contract asks. *Strict* models (``extra="forbid"``) are what the edge —
command line, API, update validators, the first lines of a workflow run — validates requests
against. *Lenient* models (``extra="ignore"``/``"allow"``) are what workflows keep in history, so
that a field added later never breaks the replay of an old history.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from domain.addresses import USAddress
from domain.identifiers import SellerId, ShipmentId
from domain.steps import Step

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]

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


class SellerProfile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str
    business_name: str | None = None
    returns_account_number: str


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
    carried: dict[str, Any] | None = None
    """Internal: the previous run's state, set only by continue-as-new."""

    def sign_up_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"carried"}, exclude_unset=True)


class HoldLink(BaseModel):
    """Signal from a ``ReturnHold`` to its seller's workflow: a parcel was opened or closed."""

    model_config = ConfigDict(extra="ignore")

    shipment_id: str
    seller_id: str


class SellerDisposition(BaseModel):
    """Signal from a seller's workflow to a ``ReturnHold``: what to do with the seller's parcels."""

    model_config = ConfigDict(extra="ignore")

    seller_id: str
    cleared_for_returns: bool = False
    return_method: Literal["own_us_address", "dispose"] | None = None
    us_address: USAddress | None = None
    email: str | None = None
    business_name: str | None = None


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


class ForwardDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    action: Literal["forward"]
    us_address: USAddress


class DisposeDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    action: Literal["dispose"]


Decision = Annotated[ForwardDecision | DisposeDecision, Field(discriminator="action")]


class DecideRequest(BaseModel):
    """Update ``decide``: ``{"action": "forward", "us_address": …}`` or ``{"action": "dispose"}``.

    Lenient on purpose; the validator parses it into :data:`Decision` and names any problem.
    """

    model_config = ConfigDict(extra="allow")
    action: str = ""


class ExtendHold(BaseModel):
    """Update ``extend_hold`` (operations), validated strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    business_days: Annotated[int, Field(gt=0, le=60)]
    """How many business days to add to the deadline."""
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ExtendHoldRequest(BaseModel):
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
