"""Calls on a returned parcel's ``ReturnHold`` workflow: arrival, status, decision, extension."""

import asyncio
from typing import Any

import structlog
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from domain.errors import NotAllowedNow
from domain.payloads import (
    Arrival,
    DecideRequest,
    Decision,
    DeliveryAction,
    DeliveryActionRequest,
    ExtendHold,
    ExtendHoldRequest,
    HoldStatus,
    Reassign,
    ReassignRequest,
    SellerLookup,
)
from domain.state import AuditEntry
from domain.workflow_ids import hold_workflow_id
from gateway.budget import Budget
from gateway.calls import Started, call, query, start_once, update
from gateway.directory import TemporalDirectory
from gateway.errors import Conflict, NotFound
from workflows.return_hold import ReturnHold

LOOKUP_SECONDS = 0.5
"""At most this long is spent looking the seller up before a start, then the parcel asks itself: an
idle worker answers in milliseconds, and under a burst (the long chaos run: 719 of 900 arrivals
waited out 2 s) the arrival should not wait for it."""

log = structlog.get_logger()


def not_recorded(shipment_id: str) -> NotFound:
    return NotFound(
        f"no returned parcel '{shipment_id}' has been recorded",
        code="parcel_not_found",
        shipment_id=shipment_id,
    )


def hold_handle(client: Client, shipment_id: str) -> WorkflowHandle[ReturnHold, Any]:
    return client.get_workflow_handle_for(ReturnHold.run, hold_workflow_id(shipment_id))


async def _seller_lookup(client: Client, seller_id: str, budget: Budget | None) -> SellerLookup | None:
    """The seller's situation, for the parcel to start with; None when it cannot be had quickly.

    Asked here, the parcel's workflow needs no activity (and no workflow task) to learn it. Any
    failure only means the parcel asks itself, as it always could.
    """
    seconds = LOOKUP_SECONDS if budget is None else min(LOOKUP_SECONDS, budget.left() / 2)
    try:
        async with asyncio.timeout(seconds):
            return await TemporalDirectory(client).look_up_seller(seller_id)
    except Exception as err:  # any failure: the parcel asks the seller itself
        log.info("seller not looked up before the start", seller_id=seller_id, error=repr(err))
        return None


async def record_arrival(
    client: Client, arrival: Arrival, *, task_queue: str, budget: Budget | None = None
) -> Started[ReturnHold]:
    """Start a returned parcel's hold, or keep the one that runs (``Conflict`` if another seller's)."""
    started = await _start(client, arrival, task_queue=task_queue, budget=budget)
    if not started.created:
        recorded = (await hold_status(client, arrival.shipment_id, budget=budget)).seller_id
        if recorded != arrival.seller_id:
            raise Conflict(
                f"parcel '{arrival.shipment_id}' is recorded under seller '{recorded}', not "
                f"'{arrival.seller_id}' (operations can reassign it)",
                code="recorded_under_other_seller",
                seller_id=recorded,
            )
    return started


async def _start(
    client: Client, arrival: Arrival, *, task_queue: str, budget: Budget | None
) -> Started[ReturnHold]:
    start = arrival.model_dump(mode="json", exclude_none=True)
    lookup = await _seller_lookup(client, arrival.seller_id, budget)
    if lookup is not None:
        start["seller_lookup"] = lookup.model_dump(mode="json")
    return await start_once(
        client,
        ReturnHold.run,
        start,
        workflow_id=hold_workflow_id(arrival.shipment_id),
        task_queue=task_queue,
        # A shipment id is never reused while its history is retained: the parcel has had its
        # one outcome.
        reuse=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        summary=f"Returned parcel {arrival.shipment_id} of seller {arrival.seller_id}",
        details=(
            "Held at the U.S. warehouse until released to the broker, forwarded or disposed. "
            "Query `status` for the deadline and business days left."
        ),
        budget=budget,
    )


async def hold_status(client: Client, shipment_id: str, *, budget: Budget | None = None) -> HoldStatus:
    handle = hold_handle(client, shipment_id)
    status: HoldStatus = await call(
        handle,
        lambda: query(handle, ReturnHold.status, budget),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
        budget=budget,
    )
    return status


async def _outcome(handle: WorkflowHandle[ReturnHold, Any]) -> NotAllowedNow:
    # A closed parcel cannot take an update; say what became of it, as the validator would.
    status = await handle.query(ReturnHold.status)
    return NotAllowedNow(
        f"the parcel is no longer held: it was {status.state}", code="parcel_closed", state=status.state
    )


async def decide(
    client: Client, shipment_id: str, decision: Decision, *, budget: Budget | None = None
) -> HoldStatus:
    """The seller's decision; ``NotAllowedNow`` once the parcel is no longer held."""
    handle = hold_handle(client, shipment_id)
    request = DecideRequest.model_validate(decision.model_dump(mode="json", exclude_none=True))
    status: HoldStatus = await call(
        handle,
        lambda: update(handle, ReturnHold.decide, request, budget=budget),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
        budget=budget,
    )
    return status


async def extend_hold(
    client: Client, shipment_id: str, extension: ExtendHold, *, budget: Budget | None = None
) -> HoldStatus:
    """Operations move the deadline; ``NotAllowedNow`` once the parcel is no longer held."""
    handle = hold_handle(client, shipment_id)
    request = ExtendHoldRequest.model_validate(extension.model_dump(mode="json"))
    status: HoldStatus = await call(
        handle,
        lambda: update(handle, ReturnHold.extend_hold, request, budget=budget),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
        budget=budget,
    )
    return status


async def reassign(
    client: Client, shipment_id: str, move: Reassign, *, budget: Budget | None = None
) -> HoldStatus:
    """Operations move the parcel to the seller it belongs to; ``NotAllowedNow`` once it is not held."""
    handle = hold_handle(client, shipment_id)
    request = ReassignRequest.model_validate(move.model_dump(mode="json", exclude_none=True))
    status: HoldStatus = await call(
        handle,
        lambda: update(handle, ReturnHold.reassign, request, budget=budget),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
        budget=budget,
    )
    return status


async def retry_delivery(
    client: Client, shipment_id: str, action: DeliveryAction, *, budget: Budget | None = None
) -> HoldStatus:
    """Try a given-up delivery of the parcel again."""
    handle = hold_handle(client, shipment_id)
    request = DeliveryActionRequest.model_validate(action.model_dump(mode="json", exclude_none=True))
    status: HoldStatus = await call(
        handle,
        lambda: update(handle, ReturnHold.delivery_retried, request, budget=budget),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
        budget=budget,
    )
    return status


async def abandon_delivery(
    client: Client, shipment_id: str, action: DeliveryAction, *, budget: Budget | None = None
) -> HoldStatus:
    """Give up on a failed message about the parcel (never on its warehouse instruction)."""
    handle = hold_handle(client, shipment_id)
    request = DeliveryActionRequest.model_validate(action.model_dump(mode="json", exclude_none=True))
    status: HoldStatus = await call(
        handle,
        lambda: update(handle, ReturnHold.delivery_abandoned, request, budget=budget),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
        budget=budget,
    )
    return status


async def hold_audit(client: Client, shipment_id: str, *, budget: Budget | None = None) -> list[AuditEntry]:
    """The parcel's accepted updates, oldest first."""
    handle = hold_handle(client, shipment_id)
    audit: list[AuditEntry] = await call(
        handle,
        lambda: query(handle, ReturnHold.audit, budget),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
        budget=budget,
    )
    return audit
