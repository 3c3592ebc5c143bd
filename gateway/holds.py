"""Calls on a returned parcel's ``ReturnHold`` workflow: arrival, status, decision, extension."""

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from domain.errors import NotAllowedNow
from domain.payloads import Arrival, DecideRequest, Decision, ExtendHold, ExtendHoldRequest, HoldStatus
from domain.workflow_ids import hold_workflow_id
from gateway.calls import Started, call, start_once
from gateway.errors import NotFound
from workflows.return_hold import ReturnHold


def not_recorded(shipment_id: str) -> NotFound:
    return NotFound(
        f"no returned parcel '{shipment_id}' has been recorded",
        code="parcel_not_found",
        shipment_id=shipment_id,
    )


def hold_handle(client: Client, shipment_id: str) -> WorkflowHandle[ReturnHold, Any]:
    return client.get_workflow_handle_for(ReturnHold.run, hold_workflow_id(shipment_id))


async def record_arrival(client: Client, arrival: Arrival, *, task_queue: str) -> Started[ReturnHold]:
    """Start a returned parcel's hold, or keep the one that runs."""
    return await start_once(
        client,
        ReturnHold.run,
        arrival.model_dump(mode="json", exclude_none=True),
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
    )


async def hold_status(client: Client, shipment_id: str) -> HoldStatus:
    handle = hold_handle(client, shipment_id)
    return await call(
        handle,
        lambda: handle.query(ReturnHold.status),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
    )


async def _outcome(handle: WorkflowHandle[ReturnHold, Any]) -> NotAllowedNow:
    # A closed parcel cannot take an update; say what became of it, as the validator would.
    status = await handle.query(ReturnHold.status)
    return NotAllowedNow(
        f"the parcel is no longer held: it was {status.state}", code="parcel_closed", state=status.state
    )


async def decide(client: Client, shipment_id: str, decision: Decision) -> HoldStatus:
    """The seller's decision; ``NotAllowedNow`` once the parcel is no longer held."""
    handle = hold_handle(client, shipment_id)
    request = DecideRequest.model_validate(decision.model_dump(mode="json", exclude_none=True))
    return await call(
        handle,
        lambda: handle.execute_update(ReturnHold.decide, request),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
    )


async def extend_hold(client: Client, shipment_id: str, extension: ExtendHold) -> HoldStatus:
    """Operations move the deadline; ``NotAllowedNow`` once the parcel is no longer held."""
    handle = hold_handle(client, shipment_id)
    request = ExtendHoldRequest.model_validate(extension.model_dump(mode="json"))
    return await call(
        handle,
        lambda: handle.execute_update(ReturnHold.extend_hold, request),
        missing=not_recorded(shipment_id),
        ended=lambda: _outcome(handle),
    )
