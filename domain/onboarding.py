"""The onboarding rules: which event may happen when, and what it changes.

Shape of the machine, and why. The eight CARM steps are not a chain: once CARM registration is
confirmed, RPP, the DOA and the POA proceed in any order, and a denial, a deactivation, a
suspension or a revocation makes earlier steps pending again. Modelling every combination of
completed steps as a state would give hundreds of states that nobody could read or draw. So the
machine's states are the seller's *lifecycle* — the four situations that decide what happens to
their returns:

* ``onboarding`` — working through the steps; returns are held;
* ``legacy`` — an approved POA from before CARM: returns are cleared while CARM is completed;
* ``cleared`` — every required step is complete: returns are released to the broker;
* ``opted_out`` — no business number: returns are forwarded to the seller's own U.S. address or
  disposed of.

The steps themselves are a set on the model, and the contract's two tables in
:mod:`domain.steps` (``PREREQUISITES`` and ``REOPENS``) are the single source of truth for the
validators (may this step complete now?) and the conditions (does this event clear the seller,
or cost them their clearance?). Each event is a transition of the machine, so an event that has
no transition from the current lifecycle (``poa_approved`` for a seller who opted out) is refused
by the machine itself.

This module is pure: no I/O, no clock, no Temporal calls. The workflow applies events to a copy
in its update validator (to reject before anything reaches history) and then for real in the
handler; the command line, the API and the tests use the same functions.
"""

import functools
import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed
from statemachine.transition_list import TransitionList

from domain.addresses import USAddress
from domain.deliveries import FailedDelivery
from domain.errors import InvalidInput, NotAllowedNow
from domain.events import (
    AffinityFiguresProvided,
    BusinessNumberCorrected,
    BusinessNumberProvided,
    DeliveryAbandoned,
    DeliveryRetried,
    EmailChanged,
    Event,
    EventEnvelope,
    ImporterAccountProvided,
    LanguageChanged,
    NoBusinessNumber,
    PoaDenied,
    parse_event,
    sender_of,
)
from domain.identifiers import Language, parse_program_account
from domain.steps import (
    COMPLETED_BY,
    OWNER,
    POA_DENIAL_REOPENS,
    PREREQUISITES,
    REOPENS,
    Party,
    Step,
    ordered,
)

Lifecycle = Literal["onboarding", "legacy", "cleared", "opted_out", "offboarded"]

EVENT_ID_MEMORY = timedelta(days=8)
"""How long an applied ``event_id`` is remembered. Webhook senders retry for days (Standard
Webhooks' schedule ends after about three); the contract asks for at least seven, and an age
(rather than a count) means a burst of other events cannot push a redelivery's id out."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

LINK_REQUESTS_PER_HOUR = 3
"""Fresh checklist links a seller may ask for in an hour: enough for a lost e-mail, too few for a
flood of messages to their address from someone holding an old link."""


@dataclass(frozen=True)
class EventContext:
    """What the rules need to know besides the record: the time, and the workflow's own lists."""

    now: datetime = _EPOCH
    held_shipments: tuple[str, ...] = ()
    """Parcels of the seller that are held (an offboarding waits for them)."""
    failed_deliveries: tuple[str, ...] = ()
    """Idempotency keys of deliveries given up, waiting for operations."""
    email: str | None = None
    """The seller's address on record (the workflow's profile)."""


class PoaDenial(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: str
    detail: str | None = None


class SellerRecord(BaseModel):
    """Everything the rules know about one seller. Kept in workflow history, so lenient."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    seller_id: str
    lifecycle: Lifecycle = "onboarding"
    """The machine's state (see the module docstring)."""
    completed: list[Step] = Field(default_factory=list)
    required: list[Step] = Field(default_factory=lambda: list(Step))
    legacy_poa: bool = False
    business_number: str | None = None
    program_account: str | None = None
    doa_requested: bool = False
    affinity_requested: bool = False
    return_method: Literal["own_us_address", "dispose"] | None = None
    us_address: USAddress | None = None
    last_poa_denial: PoaDenial | None = None
    handoffs: int = 0
    """How many times the seller's details were handed to the broker."""
    carm_deactivated: bool = False
    """CARM registration is pending again because the user profile was deactivated: the seller
    signs in again (or calls the helpdesk); the business does not register anew."""
    link_requests: list[datetime] = Field(default_factory=list)
    """When the seller last asked for a fresh checklist link (within the last hour)."""
    applied_events: dict[str, datetime] = Field(default_factory=dict)
    """Applied ``event_id``s and when, for :data:`EVENT_ID_MEMORY`."""

    def is_complete(self, step: Step) -> bool:
        return step in self.completed

    @property
    def pending(self) -> list[Step]:
        return [s for s in ordered(set(self.required)) if s not in self.completed]

    @property
    def cleared_for_returns(self) -> bool:
        return self.lifecycle in ("cleared", "legacy")


@dataclass
class Effects:
    """What an applied event changed, for the workflow to act on (notifications, handoff…)."""

    event_type: str
    duplicate: bool = False
    party: Party | None = None
    """Who sent it, for the audit."""
    actor: str | None = None
    event_id: str | None = None
    completed: list[Step] = field(default_factory=list)
    reopened: list[Step] = field(default_factory=list)
    became_cleared: bool = False
    lost_clearance: bool = False
    opted_out: bool = False
    opted_in: bool = False
    broker_handoff: bool = False
    poa_denied: PoaDenial | None = None
    affinity_requested: bool = False
    affinity_figures: dict[str, Any] | None = None
    login_confirmed: bool = False
    registration_requested: bool = False
    language: Language | None = None
    """The seller's new language (``language_changed``)."""
    email: str | None = None
    """The seller's new e-mail address (``email_changed``)."""
    old_email: str | None = None
    """The address it replaces, which is told of the change."""
    numbers_corrected: bool = False
    offboarded: bool = False
    checklist_link_requested: bool = False
    """The seller asked for a fresh link to their checklist page (an expired link's page)."""
    retry_delivery: str | None = None
    abandon_delivery: str | None = None


# python-statemachine's transition builders carry no annotations; these are their typed doorways.


def _internal(state: State, **options: Any) -> TransitionList:
    """A transition from ``state`` to itself that runs no exit or entry actions."""
    transitions: TransitionList = state.to.itself(internal=True, **options)  # type: ignore[no-untyped-call]
    return transitions


def _move(source: State, target: State, **options: Any) -> TransitionList:
    """A transition from ``source`` to another state."""
    transitions: TransitionList = source.to(target, **options)
    return transitions


def _everywhere(*states: State, **options: Any) -> TransitionList:
    """The same internal transition in each of ``states``."""
    transitions: TransitionList = functools.reduce(operator.or_, (_internal(s, **options) for s in states))
    return transitions


def _completing(onboarding: State, legacy: State, cleared: State) -> TransitionList:
    """The transitions of an event that completes a step."""
    done: dict[str, Any] = {"validators": "may_complete", "on": "complete_step"}
    transitions: TransitionList = (
        _move(onboarding, cleared, cond="clears", **done)
        | _internal(onboarding, **done)
        | _move(legacy, cleared, cond="clears", **done)
        | _internal(legacy, **done)
        | _internal(cleared, **done)
    )
    return transitions


def _reopening(onboarding: State, legacy: State, cleared: State) -> TransitionList:
    """The transitions of an event that makes completed steps pending again."""
    undo: dict[str, Any] = {"validators": "may_reopen", "on": "reopen"}
    transitions: TransitionList = (
        _move(cleared, onboarding, cond="loses_clearance", **undo)
        | _internal(cleared, **undo)
        | _internal(onboarding, **undo)
        | _internal(legacy, **undo)
    )
    return transitions


class _Bound:
    """The machine's model: the lifecycle of whichever record the machine is applying an event to."""

    def __init__(self, machine: "OnboardingRules") -> None:
        self._machine = machine

    @property
    def lifecycle(self) -> Lifecycle:
        return self._machine.record.lifecycle

    @lifecycle.setter
    def lifecycle(self, value: Lifecycle) -> None:
        self._machine.record.lifecycle = value


class OnboardingRules(StateMachine):
    """The seller lifecycle; the steps are guarded by the contract's tables (see module doc)."""

    # A seller with a pre-CARM POA *starts* in ``legacy`` (set on the record at sign-up), and an
    # import with every step complete starts in ``cleared``: entry points the graph check would
    # otherwise call unreachable.
    validate_disconnected_states = False
    # ``offboarded`` ends the seller, but is not a final state: one machine applies every seller's
    # events in turn (see __init__), and a final state would stop its engine for the next one.
    validate_trap_states = False

    onboarding = State("Onboarding: returns held", initial=True)
    legacy = State("Legacy POA: returns cleared while CARM is completed")
    cleared = State("Cleared for returns")
    opted_out = State("Opted out: own U.S. address or disposal")
    offboarded = State("Offboarded: no longer a seller")

    # --- the eight steps -------------------------------------------------------------------
    # Each may complete from onboarding or legacy once its prerequisites are complete; the first
    # transition whose condition holds wins, so a step that completes the set clears the seller.
    # A cleared seller may still complete a step that the settings made optional (RPP).
    business_number_provided = _completing(onboarding, legacy, cleared)
    importer_account_provided = _completing(onboarding, legacy, cleared)
    carm_registered = _completing(onboarding, legacy, cleared)
    rpp_enrolled = _completing(onboarding, legacy, cleared)
    doa_accepted = _completing(onboarding, legacy, cleared)
    poa_submitted = _completing(onboarding, legacy, cleared)
    poa_approved = _completing(onboarding, legacy, cleared)
    program_access_granted = _completing(onboarding, legacy, cleared)

    # --- events that make steps pending again ----------------------------------------------
    poa_denied = _internal(onboarding, validators="poa_under_review", on="reopen") | _internal(
        legacy, validators="poa_under_review", on="reopen"
    )
    carm_deactivated = _reopening(onboarding, legacy, cleared)
    rpp_suspended = _reopening(onboarding, legacy, cleared)
    poa_revoked = _reopening(onboarding, legacy, cleared)

    # --- the broker's and the seller's other messages ----------------------------------------
    doa_requested = _internal(onboarding, validators="doa_awaits_request") | _internal(
        legacy, validators="doa_awaits_request"
    )
    carm_login_confirmed = (
        _internal(cleared, validators="carm_is_registered")
        | _internal(onboarding, validators="carm_is_registered")
        | _internal(legacy, validators="carm_is_registered")
    )
    affinity_figures_requested = _internal(onboarding, validators="registration_under_way") | _internal(
        legacy, validators="registration_under_way"
    )
    affinity_figures_provided = _internal(onboarding, validators="figures_were_requested") | _internal(
        legacy, validators="figures_were_requested"
    )
    registration_requested_by_broker = legacy.to(onboarding)

    # --- opting out and back in ----------------------------------------------------------------
    no_business_number = onboarding.to(opted_out, validators="business_number_pending") | legacy.to(
        opted_out, validators="business_number_pending"
    )
    opted_in = opted_out.to(onboarding)

    # --- corrections by operations, and the seller's own details --------------------------------
    business_number_corrected = _everywhere(onboarding, legacy, cleared, validators="numbers_to_correct")
    language_changed = _everywhere(onboarding, legacy, cleared, opted_out)
    checklist_link_requested = _everywhere(
        onboarding, legacy, cleared, opted_out, validators="link_requests_within_limit"
    )
    email_changed = _everywhere(onboarding, legacy, cleared, opted_out, validators="new_address")
    delivery_retried = _everywhere(onboarding, legacy, cleared, opted_out, validators="delivery_failed")
    delivery_abandoned = _everywhere(onboarding, legacy, cleared, opted_out, validators="delivery_failed")
    seller_offboarded = (
        _move(onboarding, offboarded, validators="nothing_held")
        | _move(legacy, offboarded, validators="nothing_held")
        | _move(cleared, offboarded, validators="nothing_held")
        | _move(opted_out, offboarded, validators="nothing_held")
    )

    def __init__(self) -> None:
        # Building a machine registers every callback of every transition: ~14 ms here, ten
        # times what an event costs to apply. So one machine per thread is built once and bound
        # to each event's record in turn (see :func:`apply`); its callbacks are its own methods,
        # which read the bound record, event and context.
        self.record = SellerRecord(seller_id="-")
        self.event: Event = Event(type="")
        self.context = EventContext()
        self.effects = Effects(event_type="")
        super().__init__(model=_Bound(self), state_field="lifecycle")

    def run(self, record: SellerRecord, event: Event, context: EventContext) -> Effects:
        """Apply ``event`` to ``record`` (changed in place); what changed, for the workflow."""
        self.record, self.event, self.context = record, event, context
        self.effects = _effects_of(event)
        self.send(event.type)
        return self.effects

    # --- validators: raise the contract's errors with a specific message -----------------------
    def may_complete(self) -> None:
        step = COMPLETED_BY[self.event.type]
        r = self.record
        if r.is_complete(step):
            raise NotAllowedNow(f"{step} is already complete", code="step_complete", step=step)
        missing = [p for p in ordered(PREREQUISITES[step]) if not r.is_complete(p)]
        if missing:
            raise NotAllowedNow(
                f"{step} cannot be completed before {' and '.join(missing)}",
                code="step_prerequisites",
                step=step,
                missing=missing,
            )
        if isinstance(self.event, ImporterAccountProvided):
            bn, _ = parse_program_account(self.event.program_account)
            if bn is not None and r.business_number is not None and bn != r.business_number:
                raise InvalidInput(
                    f"program account '{self.event.program_account}' belongs to business number "
                    f"{bn}, not to this seller's business number",
                    code="program_account_other_business_number",
                    field="program_account",
                    value=self.event.program_account,
                )

    def poa_under_review(self) -> None:
        if not self.record.is_complete(Step.poa_submission) or self.record.is_complete(Step.poa_approval):
            raise NotAllowedNow(
                "poa_denied needs a submitted POA awaiting the broker's review", code="poa_not_under_review"
            )

    def may_reopen(self) -> None:
        steps = REOPENS[self.event.type]
        if not any(self.record.is_complete(s) for s in steps):
            raise NotAllowedNow(
                f"{self.event.type} does not apply: {' and '.join(ordered(steps))} is not complete",
                code="nothing_to_reopen",
                event=self.event.type,
                steps=ordered(steps),
            )

    def doa_awaits_request(self) -> None:
        r = self.record
        if not r.is_complete(Step.carm_registration):
            raise NotAllowedNow(
                "doa_requested needs carm_registration complete (the broker handoff)",
                code="step_prerequisites",
                step=Step.doa_acceptance,
                missing=[Step.carm_registration],
            )
        if r.is_complete(Step.doa_acceptance):
            raise NotAllowedNow(
                "doa_acceptance is already complete", code="step_complete", step=Step.doa_acceptance
            )
        if r.doa_requested:
            raise NotAllowedNow(
                "the broker has already requested the DOA; it waits on the seller",
                code="doa_already_requested",
            )

    def carm_is_registered(self) -> None:
        if not self.record.is_complete(Step.carm_registration):
            raise NotAllowedNow(
                "carm_login_confirmed needs carm_registration complete",
                code="carm_not_registered",
                event="carm_login_confirmed",
            )

    def registration_under_way(self) -> None:
        r = self.record
        if r.is_complete(Step.carm_registration):
            raise NotAllowedNow(
                "carm_registration is already complete; no figures are needed",
                code="step_complete",
                step=Step.carm_registration,
            )
        if not r.is_complete(Step.importer_account):
            raise NotAllowedNow(
                "affinity figures are for CARM registration, which needs importer_account",
                code="step_prerequisites",
                step=Step.carm_registration,
                missing=[Step.importer_account],
            )
        if r.affinity_requested:
            raise NotAllowedNow(
                "affinity figures were already requested from the broker", code="affinity_already_requested"
            )

    def figures_were_requested(self) -> None:
        if not self.record.affinity_requested:
            raise NotAllowedNow(
                "no affinity figures were requested by the seller", code="affinity_not_requested"
            )

    def business_number_pending(self) -> None:
        if self.record.is_complete(Step.business_number):
            raise NotAllowedNow(
                "the seller already gave a business number; opting out is for sellers without one",
                code="business_number_given",
            )

    def numbers_to_correct(self) -> None:
        r, ev = self.record, self.event
        assert isinstance(ev, BusinessNumberCorrected)
        if not r.is_complete(Step.business_number) or r.business_number is None:
            raise NotAllowedNow(
                "business_number_corrected needs a business number on record: the seller has not given one",
                code="step_prerequisites",
                step=Step.business_number,
                missing=[Step.business_number],
            )
        bn, account = _corrected_numbers(r, ev)
        if (bn, account) == (r.business_number, r.program_account):
            raise NotAllowedNow(
                "business_number_corrected changes nothing: those are the numbers on record",
                code="nothing_to_correct",
            )

    def new_address(self) -> None:
        assert isinstance(self.event, EmailChanged)
        if self.context.email is not None and self.context.email.lower() == self.event.email.lower():
            raise NotAllowedNow(
                "email_changed changes nothing: that is the address on record", code="same_email"
            )

    def delivery_failed(self) -> None:
        assert isinstance(self.event, DeliveryRetried | DeliveryAbandoned)
        key = self.event.idempotency_key
        if key not in self.context.failed_deliveries:
            raise NotAllowedNow(
                f"no failed delivery '{key}' is waiting for operations",
                code="no_failed_delivery",
                field="idempotency_key",
                value=key,
                failed=list(self.context.failed_deliveries),
            )

    def link_requests_within_limit(self) -> None:
        recent = _recent_link_requests(self.record, self.context.now)
        if len(recent) >= LINK_REQUESTS_PER_HOUR:
            raise NotAllowedNow(
                f"a fresh checklist link was sent {len(recent)} times in the last hour; "
                "try again later or use the latest e-mail",
                code="too_many_link_requests",
                limit=LINK_REQUESTS_PER_HOUR,
            )

    def nothing_held(self) -> None:
        held = self.context.held_shipments
        if held:
            raise NotAllowedNow(
                f"seller_offboarded is not allowed while parcels are held: {', '.join(held)}; "
                "release, forward, dispose or reassign them first",
                code="parcels_held",
                shipments=list(held),
            )

    # --- conditions -------------------------------------------------------------------------
    def clears(self) -> bool:
        step = COMPLETED_BY[self.event.type]
        done = {*self.record.completed, step}
        return all(s in done for s in self.record.required)

    def loses_clearance(self) -> bool:
        reopened = REOPENS[self.event.type]
        return any(s in self.record.required for s in reopened)

    # --- actions ------------------------------------------------------------------------------
    def complete_step(self) -> None:
        step = COMPLETED_BY[self.event.type]
        r, ev = self.record, self.event
        r.completed = ordered({*r.completed, step})
        self.effects.completed.append(step)
        if isinstance(ev, BusinessNumberProvided):
            r.business_number = ev.business_number
        elif isinstance(ev, ImporterAccountProvided):
            bn, account = parse_program_account(ev.program_account)
            r.program_account = account
            if r.business_number is None and bn is not None:
                r.business_number = bn
        elif step is Step.carm_registration:
            r.affinity_requested = False
            r.carm_deactivated = False
            r.handoffs += 1
            self.effects.broker_handoff = True
        elif step is Step.poa_submission:
            r.last_poa_denial = None
        elif step is Step.doa_acceptance:
            r.doa_requested = False

    def reopen(self) -> None:
        steps = set(REOPENS[self.event.type])
        if isinstance(self.event, PoaDenied):
            steps |= POA_DENIAL_REOPENS[self.event.reason]
            denial = PoaDenial(reason=self.event.reason, detail=self.event.detail)
            self.record.last_poa_denial = denial
            self.effects.poa_denied = denial
        reopened = [s for s in ordered(steps) if self.record.is_complete(s)]
        if self.event.type == "carm_deactivated" and Step.carm_registration in reopened:
            self.record.carm_deactivated = True
        self.record.completed = [s for s in self.record.completed if s not in steps]
        self.effects.reopened = reopened

    def on_doa_requested(self) -> None:
        self.record.doa_requested = True

    def on_carm_login_confirmed(self) -> None:
        self.effects.login_confirmed = True

    def on_affinity_figures_requested(self) -> None:
        self.record.affinity_requested = True
        self.effects.affinity_requested = True

    def on_affinity_figures_provided(self) -> None:
        assert isinstance(self.event, AffinityFiguresProvided)
        self.record.affinity_requested = False
        # Handed to the workflow to forward to the seller; never kept in the record.
        self.effects.affinity_figures = self.event.model_dump(
            mode="json", exclude={"type", "event_id", "actor", "party"}, exclude_none=True
        )

    def on_registration_requested_by_broker(self) -> None:
        self.record.legacy_poa = False
        self.effects.registration_requested = True

    def on_no_business_number(self) -> None:
        assert isinstance(self.event, NoBusinessNumber)
        self.record.return_method = self.event.return_method
        self.record.us_address = self.event.us_address

    def on_opted_in(self) -> None:
        self.record.return_method = None
        self.record.us_address = None

    def on_business_number_corrected(self) -> None:
        r, ev = self.record, self.event
        assert isinstance(ev, BusinessNumberCorrected)
        r.business_number, r.program_account = _corrected_numbers(r, ev)
        self.effects.numbers_corrected = True
        if r.handoffs:
            # The broker has the old numbers: hand the corrected ones over.
            r.handoffs += 1
            self.effects.broker_handoff = True

    def on_checklist_link_requested(self) -> None:
        now = self.context.now
        self.record.link_requests = [*_recent_link_requests(self.record, now), now]
        self.effects.checklist_link_requested = True

    def on_language_changed(self) -> None:
        assert isinstance(self.event, LanguageChanged)
        self.effects.language = self.event.language

    def on_email_changed(self) -> None:
        assert isinstance(self.event, EmailChanged)
        self.effects.email = self.event.email
        self.effects.old_email = self.context.email

    def on_delivery_retried(self) -> None:
        assert isinstance(self.event, DeliveryRetried)
        self.effects.retry_delivery = self.event.idempotency_key

    def on_delivery_abandoned(self) -> None:
        assert isinstance(self.event, DeliveryAbandoned)
        self.effects.abandon_delivery = self.event.idempotency_key

    def on_enter_offboarded(self) -> None:
        self.effects.offboarded = True

    # Clearance changes are recorded from the lifecycle, whichever transition caused them.
    def on_enter_cleared(self, source: State) -> None:
        if source.id not in ("cleared", "legacy"):
            self.effects.became_cleared = True

    def on_exit_cleared(self, target: State) -> None:
        if target.id not in ("cleared", "legacy"):
            self.effects.lost_clearance = True

    def on_exit_legacy(self, target: State) -> None:
        if target.id not in ("cleared", "legacy"):
            self.effects.lost_clearance = True

    def on_enter_opted_out(self) -> None:
        self.effects.opted_out = True

    def on_exit_opted_out(self) -> None:
        self.effects.opted_in = True


def _recent_link_requests(record: SellerRecord, now: datetime) -> list[datetime]:
    return [at for at in record.link_requests if now - at < timedelta(hours=1)]


def _refusal(record: SellerRecord, event_type: str) -> NotAllowedNow:
    """Why an event has no transition from the seller's lifecycle."""
    if record.lifecycle == "offboarded":
        return NotAllowedNow(
            f"{event_type} is not allowed: the seller has been offboarded", code="seller_offboarded"
        )
    if record.lifecycle == "opted_out":
        return NotAllowedNow(
            f"{event_type} is not allowed: the seller has opted out (no business number); "
            "send opted_in first",
            code="seller_opted_out",
            event=event_type,
        )
    if event_type == "opted_in":
        return NotAllowedNow("opted_in is not allowed: the seller has not opted out", code="not_opted_out")
    if event_type == "registration_requested_by_broker":
        return NotAllowedNow(
            "registration_requested_by_broker applies only to a legacy-POA seller who is still "
            "cleared on their POA",
            code="not_legacy_poa",
        )
    if event_type == "no_business_number":
        return NotAllowedNow(
            "no_business_number is not allowed: the seller already gave a business number",
            code="business_number_given",
        )
    step = COMPLETED_BY.get(event_type)
    if record.lifecycle == "cleared" and step is not None:
        return NotAllowedNow(
            f"{step} is already complete (the seller is cleared for returns)", code="step_complete", step=step
        )
    if record.lifecycle == "cleared":
        return NotAllowedNow(
            f"{event_type} is not allowed: every step is complete and the seller is cleared for returns",
            code="seller_cleared",
            event=event_type,
        )
    return NotAllowedNow(
        f"{event_type} is not allowed while the seller is {record.lifecycle}",
        code="event_not_allowed",
        event=event_type,
        lifecycle=record.lifecycle,
    )


def _corrected_numbers(record: SellerRecord, event: BusinessNumberCorrected) -> tuple[str, str | None]:
    """The business number and RM reference after a correction (the reference kept if none given)."""
    if event.program_account is None:
        return event.business_number, record.program_account
    bn, account = parse_program_account(event.program_account)
    if bn is not None and bn != event.business_number:
        raise InvalidInput(
            f"program account '{event.program_account}' belongs to business number {bn}, not to the "
            f"corrected business number {event.business_number}",
            code="program_account_other_business_number",
            field="program_account",
            value=event.program_account,
        )
    return event.business_number, account


def new_record(
    seller_id: str,
    *,
    legacy_poa: bool = False,
    completed_steps: Sequence[Step] | None = None,
    required_steps: Sequence[Step] | None = None,
    business_number: str | None = None,
    program_account: str | None = None,
) -> SellerRecord:
    """A seller at sign-up; an import's ``completed_steps`` are taken as complete, unchecked.

    An import's ``business_number`` and ``program_account`` (validated by ``SignUp``) complete
    their steps and are kept, so a later broker handoff carries them. A legacy-POA seller's POA
    stands: ``poa_submission`` and ``poa_approval`` are complete from sign-up.
    """
    required = ordered(set(required_steps)) if required_steps else list(Step)
    done = set(completed_steps or ())
    account: str | None = None
    if program_account is not None:
        bn, account = parse_program_account(program_account)
        business_number = business_number or bn
        done.add(Step.importer_account)
    if business_number is not None:
        done.add(Step.business_number)
    if legacy_poa:
        done |= {Step.poa_submission, Step.poa_approval}
    completed = ordered(done)
    record = SellerRecord(
        seller_id=seller_id,
        required=required,
        completed=completed,
        legacy_poa=legacy_poa,
        business_number=business_number,
        program_account=account,
        handoffs=1 if Step.carm_registration in completed else 0,
    )
    record.lifecycle = initial_lifecycle(record)
    return record


def initial_lifecycle(record: SellerRecord) -> Lifecycle:
    if all(s in record.completed for s in record.required):
        return "cleared"
    return "legacy" if record.legacy_poa else "onboarding"


def with_required_steps(record: SellerRecord, required: list[Step]) -> SellerRecord:
    """Apply a changed ``required_steps`` setting (at continue-as-new): may clear a seller."""
    r = record.model_copy(deep=True)
    r.required = ordered(set(required))
    if r.lifecycle in ("onboarding", "legacy") and all(s in r.completed for s in r.required):
        r.lifecycle = "cleared"
    elif r.lifecycle == "cleared" and not all(s in r.completed for s in r.required):
        r.lifecycle = "legacy" if r.legacy_poa else "onboarding"
    return r


def apply(
    record: SellerRecord, data: EventEnvelope | dict[str, Any], context: EventContext | None = None
) -> tuple[SellerRecord, Effects]:
    """Apply one event to a copy of ``record``; raise ``InvalidInput``/``NotAllowedNow`` if refused.

    ``record`` itself is never changed, so a validator can call this and discard the result.
    """
    context = context or EventContext()
    event = parse_event(data)
    remembered = _remembered(record.applied_events, context.now)
    if event.event_id is not None and event.event_id in remembered:
        return record, _effects_of(event, duplicate=True)
    new = record.model_copy(deep=True)
    try:
        effects = _machine().run(new, event, context)
    except TransitionNotAllowed:
        raise _refusal(record, event.type) from None
    if event.event_id is not None:
        remembered[event.event_id] = context.now
    new.applied_events = remembered
    return new, effects


_machines = threading.local()


def _machine() -> OnboardingRules:
    """This thread's machine (workflows run on several worker threads at once)."""
    machine: OnboardingRules | None = getattr(_machines, "machine", None)
    if machine is None:
        machine = _machines.machine = OnboardingRules()
    return machine


def _remembered(applied: dict[str, datetime], now: datetime) -> dict[str, datetime]:
    """The applied event ids still within :data:`EVENT_ID_MEMORY` of ``now``."""
    return {key: at for key, at in applied.items() if now - at < EVENT_ID_MEMORY}


def _effects_of(event: Event, *, duplicate: bool = False) -> Effects:
    return Effects(
        event_type=event.type,
        duplicate=duplicate,
        party=sender_of(event),
        actor=event.actor,
        event_id=event.event_id,
    )


# --- status --------------------------------------------------------------------------------


class NextAction(BaseModel):
    """What must happen next, as a code; the wording lives in :mod:`domain.guidance`."""

    model_config = ConfigDict(extra="ignore")

    code: str
    party: Party | None = None
    """Who must act; None when nobody must."""
    step: Step | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class OnboardingStatus(BaseModel):
    """The query ``status`` and the result of ``apply_event``."""

    model_config = ConfigDict(extra="ignore")

    seller_id: str
    stage: str
    """The first pending step, or ``cleared``, ``opted_out``, ``offboarded``."""
    cleared_for_returns: bool
    completed_steps: list[Step]
    pending_steps: list[Step]
    waiting_on: list[Party]
    """The parties who must act now, sorted; empty when nobody must."""
    stalled: bool = False
    held_shipments: list[str] = Field(default_factory=list)
    next_action: NextAction
    actions: list[NextAction] = Field(default_factory=list)
    """Every action open now (steps 4–6 proceed side by side), in guidance order."""
    legacy_poa: bool = False
    return_method: str | None = None
    handoffs: int = 0
    waiting_since: datetime | None = None
    language: str = "en"
    """``en`` or ``fr``: the language of the seller's messages and page."""
    link_epoch: int = 1
    """Checklist links minted for an earlier epoch (before an e-mail change) no longer open the page."""
    link_nonce: str = ""
    """Tells this seller's workflow from an earlier one of the same seller id (offboarded, signed up
    again): links minted for that one do not open this one's page."""
    failed_deliveries: list[FailedDelivery] = Field(default_factory=list)
    """Deliveries given up, waiting for operations to retry or abandon them."""


_STEP_CODES: dict[Step, str] = {
    Step.business_number: "provide_business_number",
    Step.importer_account: "provide_importer_account",
    Step.carm_registration: "register_in_carm",
    Step.rpp_enrollment: "enrol_in_rpp",
    Step.doa_acceptance: "accept_doa",
    Step.poa_submission: "submit_poa",
    Step.poa_approval: "await_poa_review",
    Step.program_access: "await_program_access",
}


def actionable_steps(record: SellerRecord) -> list[Step]:
    """Pending steps whose prerequisites are complete: somebody can act on them now."""
    if record.lifecycle in ("opted_out", "offboarded"):
        return []
    return [s for s in record.pending if all(record.is_complete(p) for p in PREREQUISITES[s])]


def step_owner(record: SellerRecord, step: Step) -> Party:
    if step is Step.doa_acceptance and not record.doa_requested:
        return Party.broker  # the broker must ask for the relationship first
    return OWNER[step]


def open_actions(record: SellerRecord) -> list[NextAction]:
    actions: list[NextAction] = []
    for step in actionable_steps(record):
        code = _STEP_CODES[step]
        params: dict[str, Any] = {}
        if step is Step.doa_acceptance and not record.doa_requested:
            code = "await_doa_request"
        party = step_owner(record, step)
        if step is Step.carm_registration and record.carm_deactivated:
            code = "sign_in_to_carm_again"
        if step is Step.carm_registration and record.affinity_requested:
            code, party = "await_affinity_figures", Party.broker
        if step is Step.poa_submission and record.last_poa_denial is not None:
            code = "resubmit_poa"
            params = {"denial_reason": record.last_poa_denial.reason}
        actions.append(NextAction(code=code, party=party, step=step, params=params))
    return actions


def waiting_parties(record: SellerRecord) -> set[Party]:
    return {a.party for a in open_actions(record) if a.party is not None}


def status(
    record: SellerRecord,
    *,
    stalled: bool = False,
    operations_must_act: bool = False,
    held_shipments: list[str] | None = None,
    waiting_since: datetime | None = None,
    language: str = "en",
    failed_deliveries: Sequence[FailedDelivery] = (),
    link_epoch: int = 1,
    link_nonce: str = "",
) -> OnboardingStatus:
    actions = open_actions(record)
    pending = record.pending
    if record.lifecycle == "offboarded":
        stage = "offboarded"
        next_action = NextAction(code="offboarded", party=None)
    elif record.lifecycle == "opted_out":
        stage = "opted_out"
        next_action = NextAction(code="opted_out", party=None, params={"return_method": record.return_method})
    elif record.lifecycle == "cleared":
        stage = "cleared"
        next_action = NextAction(code="cleared", party=None)
    else:
        stage = str(pending[0]) if pending else "cleared"
        next_action = actions[0] if actions else NextAction(code="nothing_to_do", party=None)
    waiting = waiting_parties(record)
    if stalled or operations_must_act or failed_deliveries:
        waiting.add(Party.operations)
    return OnboardingStatus(
        seller_id=record.seller_id,
        stage=stage,
        cleared_for_returns=record.cleared_for_returns,
        completed_steps=list(record.completed),
        pending_steps=pending,
        waiting_on=sorted(waiting),
        stalled=stalled,
        held_shipments=sorted(held_shipments or []),
        next_action=next_action,
        actions=actions,
        legacy_poa=record.legacy_poa,
        return_method=record.return_method,
        handoffs=record.handoffs,
        waiting_since=waiting_since,
        language=language,
        link_epoch=link_epoch,
        link_nonce=link_nonce,
        failed_deliveries=list(failed_deliveries),
    )
