"""The service's own starters: sign a seller up, record an arrival, send events and decisions.

Shared by the command line (and, later, the HTTP API). Requests are validated with the same
strict models the workflows use *before* Temporal is called, so bad input is refused with a
clear message and nothing is started. A second sign-up or arrival keeps the running workflow:
the start uses the ``FAIL`` conflict policy and treats "already started" as success.
"""

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import NotAllowedNow
from domain.onboarding import OnboardingStatus
from domain.payloads import Arrival, HoldStatus, SignUp
from domain.validation import parse_strict


def seller_workflow_id(seller_id: str) -> str:
    return f"seller-onboarding-{seller_id}"


def hold_workflow_id(shipment_id: str) -> str:
    return f"return-hold-{shipment_id}"


async def _start_once(
    client: Client,
    workflow: str,
    workflow_id: str,
    arg: Any,
    *,
    task_queue: str,
    reuse: WorkflowIDReusePolicy,
    summary: str,
    details: str,
) -> tuple[WorkflowHandle[Any, Any], bool]:
    """Start a workflow unless one runs with that id; returns the handle and whether it started."""
    try:
        handle = await client.start_workflow(
            workflow,
            arg,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=reuse,
            # No personal data here: summaries are visible to anyone with UI access.
            static_summary=summary,
            static_details=details,
        )
        return handle, True
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(workflow_id), False


async def sign_up(client: Client, *, task_queue: str, **fields: Any) -> tuple[WorkflowHandle[Any, Any], bool]:
    """Start a seller's onboarding; returns the handle and whether it was started now."""
    request = parse_strict(SignUp, {k: v for k, v in fields.items() if v is not None}, "sign-up")
    return await _start_once(
        client,
        "SellerOnboarding",
        seller_workflow_id(request.seller_id),
        request.model_dump(mode="json", exclude_none=True),
        task_queue=task_queue,
        # A seller who left and signs up again starts afresh; never beside a running one.
        reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        summary=f"CARM onboarding of seller {request.seller_id}",
        details=(
            "One workflow per seller, for as long as they are a seller. Current details show "
            "the stage, who must act and what; query `status` for everything."
        ),
    )


async def record_arrival(
    client: Client, *, task_queue: str, **fields: Any
) -> tuple[WorkflowHandle[Any, Any], bool]:
    """Start a returned parcel's hold; returns the handle and whether it was started now."""
    arrival = parse_strict(Arrival, {k: v for k, v in fields.items() if v is not None}, "arrival")
    return await _start_once(
        client,
        "ReturnHold",
        hold_workflow_id(arrival.shipment_id),
        arrival.model_dump(mode="json", exclude_none=True),
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


async def apply_event(client: Client, seller_id: str, event: dict[str, Any]) -> OnboardingStatus:
    handle = client.get_workflow_handle(seller_workflow_id(seller_id))
    return await handle.execute_update("apply_event", event, result_type=OnboardingStatus)


async def seller_status(client: Client, seller_id: str) -> OnboardingStatus:
    handle = client.get_workflow_handle(seller_workflow_id(seller_id))
    return await handle.query("status", result_type=OnboardingStatus)


async def parcel_status(client: Client, shipment_id: str) -> HoldStatus:
    handle = client.get_workflow_handle(hold_workflow_id(shipment_id))
    return await handle.query("status", result_type=HoldStatus)


async def _update_hold(client: Client, shipment_id: str, update: str, arg: dict[str, Any]) -> HoldStatus:
    handle = client.get_workflow_handle(hold_workflow_id(shipment_id))
    try:
        return await handle.execute_update(update, arg, result_type=HoldStatus)
    except RPCError as err:
        if "already completed" not in err.message and err.status != RPCStatusCode.NOT_FOUND:
            raise
        if err.status == RPCStatusCode.NOT_FOUND:
            # A parcel that closed just as the update arrived can answer "not found": it exists
            # if it can be described; otherwise it was never recorded.
            try:
                await handle.describe()
            except RPCError:
                raise err from None
    # A closed parcel cannot take an update; say what became of it, as the validator would.
    status = await handle.query("status", result_type=HoldStatus)
    raise NotAllowedNow(f"the parcel is no longer held: it was {status.state}")


async def decide(client: Client, shipment_id: str, decision: dict[str, Any]) -> HoldStatus:
    """The seller's decision; ``NotAllowedNow`` once the parcel is no longer held."""
    return await _update_hold(client, shipment_id, "decide", decision)


async def extend_hold(client: Client, shipment_id: str, business_days: int, reason: str) -> HoldStatus:
    return await _update_hold(
        client, shipment_id, "extend_hold", {"business_days": business_days, "reason": reason}
    )
