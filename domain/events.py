"""Onboarding events: the strict models the edge validates against, and the lenient envelope.

The update ``apply_event`` takes an :class:`EventEnvelope`, which accepts any fields so that
decoding never fails before the validator runs: the validator then parses the envelope into one
of the strict models below and rejects with a message that names the problem (a pydantic union
as the update's parameter type would fail as "Failed decoding arguments" and hide the reason).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from domain.addresses import USAddress
from domain.errors import InvalidInput
from domain.identifiers import BusinessNumber, EventId, ProgramAccount
from domain.steps import Party
from domain.validation import parse_with


class EventEnvelope(BaseModel):
    """What ``apply_event`` receives: ``{"type": EVENT, "event_id"?, ...fields}``."""

    # Kept in history: tolerate anything so old histories and bad input always decode.
    model_config = ConfigDict(extra="allow")

    type: Any = ""
    """The event type, e.g. ``business_number_provided``."""
    event_id: Any = None
    """Optional idempotency key (1–128 characters): a redelivery changes nothing."""

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    event_id: EventId | None = None


class BusinessNumberProvided(_Event):
    type: Literal["business_number_provided"]
    business_number: BusinessNumber
    """9 digits with a valid check digit; spaces and hyphens are ignored."""


class NoBusinessNumber(_Event):
    type: Literal["no_business_number"]
    return_method: Literal["own_us_address", "dispose"]
    """What to do with returns instead: forward to the seller's own U.S. address, or dispose."""
    us_address: USAddress | None = None
    """The seller's own U.S. address, where returns are forwarded: required with
    ``own_us_address``, refused with ``dispose``."""

    @model_validator(mode="after")
    def _address_matches_method(self) -> "NoBusinessNumber":
        if self.return_method == "own_us_address" and self.us_address is None:
            raise ValueError("us_address is required when return_method is own_us_address")
        if self.return_method == "dispose" and self.us_address is not None:
            raise ValueError("us_address must not be given when return_method is dispose")
        return self


class ImporterAccountProvided(_Event):
    type: Literal["importer_account_provided"]
    program_account: ProgramAccount
    """``RM0001`` or the full ``123456782RM0001`` matching the business number."""


class PoaDenied(_Event):
    type: Literal["poa_denied"]
    reason: Literal["carm_not_registered", "importer_account_missing", "other"]
    """Why the broker denied the POA: ``carm_not_registered`` and ``importer_account_missing``
    also send the seller back to that step."""
    detail: Annotated[str, Field(max_length=500)] | None = None
    """The broker's own words for the seller (at most 500 characters)."""


class AffinityFiguresProvided(_Event):
    type: Literal["affinity_figures_provided"]
    statement_month: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = None
    """Month of a Statement of Account, ``YYYY-MM``; with ``statement_balance``. Give at least one
    pair: statement, payment or transaction."""
    statement_balance: str | None = None
    """Balance of that Statement of Account; with ``statement_month``."""
    payment_month: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] | None = None
    """Month of a payment, ``YYYY-MM``; with ``payment_amount``."""
    payment_amount: str | None = None
    """Amount of that payment; with ``payment_month``."""
    transaction_number: Annotated[str, Field(max_length=64)] | None = None
    """A transaction number (at most 64 characters); with ``transaction_total``."""
    transaction_total: str | None = None
    """Total duties and taxes of that transaction; with ``transaction_number``."""

    @model_validator(mode="after")
    def _one_complete_pair(self) -> "AffinityFiguresProvided":
        pairs = [
            ("statement_month", "statement_balance"),
            ("payment_month", "payment_amount"),
            ("transaction_number", "transaction_total"),
        ]
        complete = 0
        for a, b in pairs:
            has_a, has_b = getattr(self, a) is not None, getattr(self, b) is not None
            if has_a != has_b:
                raise ValueError(f"{a} and {b} go together")
            complete += has_a
        if complete == 0:
            raise ValueError(
                "give at least one pair: statement_month+statement_balance, "
                "payment_month+payment_amount or transaction_number+transaction_total"
            )
        return self


def _bare(name: str) -> type[_Event]:
    return type(  # a model with no fields beyond type and event_id
        "".join(p.title() for p in name.split("_")),
        (_Event,),
        {"__annotations__": {"type": Literal[name]}, "__module__": __name__},
    )


BARE_EVENTS = (
    "carm_registered",
    "rpp_enrolled",
    "doa_requested",
    "doa_accepted",
    "poa_submitted",
    "poa_approved",
    "program_access_granted",
    "carm_login_confirmed",
    "carm_deactivated",
    "rpp_suspended",
    "poa_revoked",
    "registration_requested_by_broker",
    "opted_in",
    "affinity_figures_requested",
)
_BARE_MODELS = {name: _bare(name) for name in BARE_EVENTS}

EVENT_MODELS: dict[str, type[_Event]] = {
    "business_number_provided": BusinessNumberProvided,
    "no_business_number": NoBusinessNumber,
    "importer_account_provided": ImporterAccountProvided,
    "poa_denied": PoaDenied,
    "affinity_figures_provided": AffinityFiguresProvided,
    **_BARE_MODELS,
}

# Who may send each event (the API's broker webhook and seller endpoint enforce this).
SENDERS: dict[str, frozenset[Party]] = {
    "business_number_provided": frozenset({Party.seller}),
    "no_business_number": frozenset({Party.seller}),
    "importer_account_provided": frozenset({Party.seller}),
    "carm_registered": frozenset({Party.seller}),
    "rpp_enrolled": frozenset({Party.seller}),
    "doa_requested": frozenset({Party.broker}),
    "doa_accepted": frozenset({Party.seller, Party.broker}),
    "poa_submitted": frozenset({Party.seller}),
    "poa_approved": frozenset({Party.broker}),
    "poa_denied": frozenset({Party.broker}),
    "program_access_granted": frozenset({Party.broker}),
    "carm_login_confirmed": frozenset({Party.seller}),
    "carm_deactivated": frozenset({Party.seller, Party.broker}),
    "rpp_suspended": frozenset({Party.seller, Party.broker}),
    "poa_revoked": frozenset({Party.broker}),
    "registration_requested_by_broker": frozenset({Party.broker}),
    "opted_in": frozenset({Party.seller}),
    "affinity_figures_requested": frozenset({Party.seller}),
    "affinity_figures_provided": frozenset({Party.broker}),
}
assert set(SENDERS) == set(EVENT_MODELS)

EVENT_TYPES: tuple[str, ...] = tuple(SENDERS)

Event = _Event
_ADAPTERS = {name: TypeAdapter(model) for name, model in EVENT_MODELS.items()}


def parse_event(data: EventEnvelope | dict[str, Any]) -> _Event:
    """Parse an event strictly, or raise ``InvalidInput`` naming the problem."""
    fields = data.fields() if isinstance(data, EventEnvelope) else dict(data)
    kind = fields.get("type")
    if kind is None or kind == "":
        raise InvalidInput("invalid event: the field 'type' is required")
    if not isinstance(kind, str) or kind not in _ADAPTERS:
        raise InvalidInput(f"unknown event type '{kind}'; expected one of: {', '.join(EVENT_TYPES)}")
    event: _Event = parse_with(_ADAPTERS[kind], fields, f"{kind} event")
    return event
