"""Onboarding events: the strict models the edge validates against, and the lenient envelope.

The update ``apply_event`` takes an :class:`EventEnvelope`, which accepts any fields so that
decoding never fails before the validator runs: the validator then parses the envelope into one
of the strict models below and rejects with a message that names the problem (a pydantic union
as the update's parameter type would fail as "Failed decoding arguments" and hide the reason).
"""

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError

from domain.addresses import USAddress
from domain.errors import InvalidInput
from domain.identifiers import Actor, BusinessNumber, DeliveryKey, Email, EventId, Language, ProgramAccount
from domain.steps import Party
from domain.validation import parse_with

Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
"""``YYYY-MM``."""
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("999999999999.99"), max_digits=14, decimal_places=2)]
"""An amount in Canadian dollars and cents, as CBSA's Statement of Account shows it."""
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


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
    type: str
    """The event type; each event narrows it to its own name."""
    event_id: EventId | None = None
    """Optional idempotency key (1–128 characters): a redelivery changes nothing."""
    actor: Actor | None = None
    """Who sent it: the command line's ``--actor``, the API token's name, ``broker``, ``seller``."""
    party: Party | None = None
    """On whose behalf: ``seller``, ``broker`` or ``operations`` (set by the service's front ends)."""


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
            raise PydanticCustomError(
                "us_address_required", "us_address is required when return_method is own_us_address"
            )
        if self.return_method == "dispose" and self.us_address is not None:
            raise PydanticCustomError(
                "us_address_not_expected", "us_address must not be given when return_method is dispose"
            )
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
    statement_month: Month | None = None
    """Month of a Statement of Account, ``YYYY-MM``; with ``statement_balance``. Give at least one
    pair: statement, payment or transaction."""
    statement_balance: Amount | None = None
    """Balance of that Statement of Account, in Canadian dollars; with ``statement_month``."""
    payment_month: Month | None = None
    """Month of a payment to CBSA, ``YYYY-MM``; with ``payment_amount``."""
    payment_amount: Amount | None = None
    """Amount of that payment, in Canadian dollars; with ``payment_month``."""
    transaction_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = None
    """A transaction number (at most 64 characters); with ``transaction_total``."""
    transaction_total: Amount | None = None
    """Total duties and taxes of that transaction, in Canadian dollars; with ``transaction_number``."""

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
                raise PydanticCustomError(
                    "figures_pair", "{first} and {second} go together", {"first": a, "second": b}
                )
            complete += has_a
        if complete == 0:
            raise PydanticCustomError(
                "figures_missing",
                "give at least one pair: statement_month+statement_balance, "
                "payment_month+payment_amount or transaction_number+transaction_total",
            )
        return self


class LanguageChanged(_Event):
    type: Literal["language_changed"]
    language: Language
    """``en`` or ``fr``: the language of the seller's messages and page from now on."""


class EmailChanged(_Event):
    type: Literal["email_changed"]
    email: Email
    """Where the seller's messages go from now on; the old address is told of the change."""


class BusinessNumberCorrected(_Event):
    type: Literal["business_number_corrected"]
    business_number: BusinessNumber
    """The right 9-digit business number."""
    program_account: ProgramAccount | None = None
    """The right RM account (of the new business number); without it the RM reference is kept."""
    reason: Reason
    """Why the numbers are corrected (operations' words, kept in the audit)."""


class SellerOffboarded(_Event):
    type: Literal["seller_offboarded"]
    reason: Reason
    """Why the seller leaves."""


class DeliveryRetried(_Event):
    type: Literal["delivery_retried"]
    idempotency_key: DeliveryKey
    """The failed delivery to try again (from the status's ``failed_deliveries``)."""
    reason: Reason | None = None
    """Why it may succeed now (the endpoint is back, say)."""


class DeliveryAbandoned(_Event):
    type: Literal["delivery_abandoned"]
    idempotency_key: DeliveryKey
    """The failed delivery to give up on, for good."""
    reason: Reason | None = None
    """Why it is not needed (told by other means, say)."""


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
    "checklist_link_requested",
)
_BARE_MODELS = {name: _bare(name) for name in BARE_EVENTS}

EVENT_MODELS: dict[str, type[_Event]] = {
    "business_number_provided": BusinessNumberProvided,
    "no_business_number": NoBusinessNumber,
    "importer_account_provided": ImporterAccountProvided,
    "poa_denied": PoaDenied,
    "affinity_figures_provided": AffinityFiguresProvided,
    "language_changed": LanguageChanged,
    "email_changed": EmailChanged,
    "business_number_corrected": BusinessNumberCorrected,
    "seller_offboarded": SellerOffboarded,
    "delivery_retried": DeliveryRetried,
    "delivery_abandoned": DeliveryAbandoned,
    **_BARE_MODELS,
}

# Who may send each event; operations may also send what the seller may (on their behalf).
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
    "checklist_link_requested": frozenset({Party.seller}),
    "language_changed": frozenset({Party.seller, Party.operations}),
    "email_changed": frozenset({Party.seller, Party.operations}),
    "business_number_corrected": frozenset({Party.operations}),
    "seller_offboarded": frozenset({Party.operations}),
    "delivery_retried": frozenset({Party.operations}),
    "delivery_abandoned": frozenset({Party.operations}),
}
assert set(SENDERS) == set(EVENT_MODELS)

EVENT_TYPES: tuple[str, ...] = tuple(SENDERS)

Event = _Event


def may_send(party: Party, kind: str) -> bool:
    """Whether ``party`` may send events of ``kind``: its own, and operations the seller's too."""
    senders = SENDERS[kind]
    return party in senders or (party is Party.operations and Party.seller in senders)


def events_sent_by(party: Party) -> list[str]:
    return [kind for kind in EVENT_TYPES if may_send(party, kind)]


def sender_of(event: _Event) -> Party:
    """The party an event is recorded as sent by: its own ``party``, else its only (or first) sender."""
    if event.party is not None:
        return event.party
    senders = SENDERS[event.type]
    return Party.seller if Party.seller in senders else sorted(senders)[0]


_ADAPTERS = {name: TypeAdapter(model) for name, model in EVENT_MODELS.items()}


def parse_event(data: EventEnvelope | dict[str, Any]) -> _Event:
    """Parse an event strictly, or raise ``InvalidInput`` naming the problem."""
    fields = data.fields() if isinstance(data, EventEnvelope) else dict(data)
    kind = fields.get("type")
    if kind is None or kind == "":
        raise InvalidInput("invalid event: the field 'type' is required", code="required", field="type")
    if not isinstance(kind, str) or kind not in _ADAPTERS:
        raise InvalidInput(
            f"unknown event type '{kind}'; expected one of: {', '.join(EVENT_TYPES)}",
            code="unknown_event_type",
            field="type",
            value=str(kind),
            expected=list(EVENT_TYPES),
        )
    event: _Event = parse_with(_ADAPTERS[kind], fields, f"{kind} event")
    if event.party is not None and not may_send(event.party, kind):
        senders = " or ".join(sorted(SENDERS[kind]))
        raise InvalidInput(
            f"the {event.party} may not send '{kind}' (sent by the {senders}); the {event.party} sends: "
            + ", ".join(events_sent_by(event.party)),
            code="sender_not_allowed",
            field="type",
            party=event.party,
            event=kind,
        )
    return event
