"""``/v1/returns``: arrivals, the list of parcels, a parcel's status, the seller's decision, an extension.

Bearer tokens: ``warehouse`` (or ``operations``) records arrivals and reads a parcel; ``signup``
sends the seller's decision; only ``operations`` lists parcels and extends holds. An arrival is
checked against the domain's arrival window before anything starts, and a second arrival of the
same parcel keeps the running hold.
"""

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecution

import domain.search_attributes as sa
import gateway.holds as holds
import gateway.listings as listings
from domain.arrivals import check_arrival_time
from domain.business_days import zone
from domain.identifiers import ID_PATTERN
from domain.payloads import Arrival, Decision, ExtendHold, HoldStatus
from domain.visibility import STATES, returns_query
from domain.workflow_ids import shipment_id_of
from gateway.budget import Budget
from starter.api.auth import OperationsCaller, SignupCaller, WarehouseCaller
from starter.api.bodies import json_object, parse_strict, request_body, strict_body
from starter.api.deps import CallDep, SecretsDep, SettingsDep
from starter.api.errors import ACCEPTED_RESPONSE, BODY_ERRORS, after_done, error_responses, temporal_errors
from starter.api.ids import ShipmentId
from starter.api.listing import ListPage, PageSize, PageToken, decode_token, encode_token, one_of

ARRIVAL_SETTLE_SECONDS = 5.0
"""How long ``POST /v1/returns`` waits for a new parcel's deadline, to include it in the answer."""

log = structlog.get_logger("api")
router = APIRouter(tags=["returns"])


class ParcelItem(BaseModel):
    """A parcel in a list: what visibility knows."""

    shipment_id: str
    seller_id: str | None
    state: str | None
    disposal_due_on: str | None
    """``YYYY-MM-DD``: the day at whose end a held parcel is disposed."""


def parcel_location(shipment_id: str) -> str:
    return f"/v1/returns/{quote(shipment_id)}"


def parcel_item(wf: WorkflowExecution, timezone: str) -> ParcelItem:
    attrs = wf.typed_search_attributes
    due_at = attrs.get(sa.DISPOSAL_DUE_AT)
    # DisposalDueAt is the moment the due day ends: the warehouse's midnight that starts the next.
    due_on = (due_at.astimezone(zone(timezone)).date() - timedelta(days=1)).isoformat() if due_at else None
    return ParcelItem(
        shipment_id=shipment_id_of(wf.id),
        seller_id=attrs.get(sa.SELLER_ID),
        state=attrs.get(sa.RETURN_STATE),
        disposal_due_on=due_on,
    )


def end_of(day: date, timezone: str) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone(timezone))


async def settled_parcel(c: Client, shipment_id: str, budget: Budget) -> HoldStatus:
    """The status of a parcel just recorded, once its deadline is set (or after a moment)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + min(ARRIVAL_SETTLE_SECONDS, budget.left())
    while True:
        status = await holds.hold_status(c, shipment_id, budget=budget)
        if status.state != "held" or status.disposal_due_on or loop.time() >= give_up:
            return status
        await asyncio.sleep(0.1)


@router.post(
    "/v1/returns",
    summary="A returned parcel arrived at the U.S. warehouse",
    status_code=201,
    response_model=HoldStatus,
    responses={
        200: {"model": HoldStatus, "description": "Already recorded: nothing new is started"},
        201: {"description": "Recorded now"},
        **ACCEPTED_RESPONSE,
        **error_responses(401, 403, 409, *BODY_ERRORS, 503),
    },
    openapi_extra=request_body(
        Arrival, "Arrival", "`shipment_id`, `seller_id`, `arrived_at` (ISO-8601 with offset), `origin`?"
    ),
)
async def record_arrival(
    caller: WarehouseCaller,
    request: Request,
    response: Response,
    settings: SettingsDep,
    call: CallDep,
) -> HoldStatus:
    arrival = await strict_body(request, Arrival, "arrival")
    check_arrival_time(arrival.arrived_at, datetime.now(UTC))
    budget = call.budget
    location = parcel_location(arrival.shipment_id)
    async with call.admitted() as c:
        with temporal_errors(poll=location):
            task_queue = settings.temporal_task_queue
            started = await holds.record_arrival(c, arrival, task_queue=task_queue, budget=budget)
            log.info(
                "arrival",
                shipment_id=arrival.shipment_id,
                seller_id=arrival.seller_id,
                created=started.created,
                actor=caller.name,
            )
            status = await after_done(settled_parcel(c, arrival.shipment_id, budget))
    response.status_code = 201 if started.created else 200
    response.headers["Location"] = location
    return status


@router.get(
    "/v1/returns",
    summary="Returned parcels, filtered (from visibility)",
    description="Open parcels (held, or closing); with `state` `released`, `forwarded` or "
    "`disposed`, the parcels that ended so, while Temporal keeps them (30 days).",
    response_model=ListPage[ParcelItem],
    responses=error_responses(401, 403, 422, 503),
)
async def list_returns(
    caller: OperationsCaller,
    settings: SettingsDep,
    secrets: SecretsDep,
    call: CallDep,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    seller_id: Annotated[str | None, Query(pattern=ID_PATTERN, description="Only this seller's")] = None,
    state: Annotated[str | None, one_of(STATES, "The parcel's state")] = None,
    due_before: Annotated[
        date | None, Query(description="Only parcels whose `disposal_due_on` is on or before this date")
    ] = None,
) -> ListPage[ParcelItem]:
    timezone = settings.warehouse_timezone
    due_by = end_of(due_before, timezone) if due_before else None
    query = returns_query(seller=seller_id, state=state, due_by=due_by)
    token = decode_token(page_token, query, secrets.page_key)
    async with call.admitted() as c:
        with temporal_errors():
            found = await listings.page(c, query, page_size=page_size, page_token=token, budget=call.budget)
    return ListPage[ParcelItem](
        items=[parcel_item(wf, timezone) for wf in found.executions],
        next_page_token=encode_token(found.next_page_token, query, secrets.page_key),
    )


@router.get(
    "/v1/returns/{shipment_id}",
    summary="A returned parcel's status (state, deadline, business days left)",
    response_model=HoldStatus,
    responses=error_responses(401, 403, 404, 503),
)
async def get_parcel(
    caller: WarehouseCaller,
    shipment_id: ShipmentId,
    call: CallDep,
) -> HoldStatus:
    async with call.admitted() as c:
        with temporal_errors():
            status = await holds.hold_status(c, shipment_id, budget=call.budget)
    return status


@router.post(
    "/v1/returns/{shipment_id}/decision",
    summary="The seller's decision: forward to their own U.S. address, or dispose now",
    response_model=HoldStatus,
    responses={**ACCEPTED_RESPONSE, **error_responses(401, 403, 404, 409, *BODY_ERRORS, 503)},
    openapi_extra=request_body(
        Decision,
        "Decision",
        '`{"action": "forward", "us_address": {...}}` or `{"action": "dispose"}`',
    ),
)
async def decide(
    caller: SignupCaller,
    shipment_id: ShipmentId,
    request: Request,
    call: CallDep,
) -> HoldStatus:
    # Recorded as sent by the token's name, whatever the body says.
    decision = parse_strict(Decision, {**await json_object(request), "actor": caller.name}, "decision")
    async with call.admitted() as c:
        with temporal_errors(poll=parcel_location(shipment_id)):
            status = await holds.decide(c, shipment_id, decision, budget=call.budget)
    log.info("decision", shipment_id=shipment_id, action=decision.action, actor=caller.name)
    return status


@router.post(
    "/v1/returns/{shipment_id}/extension",
    summary="Operations extend a hold by some business days, with a reason",
    response_model=HoldStatus,
    responses={**ACCEPTED_RESPONSE, **error_responses(401, 403, 404, 409, *BODY_ERRORS, 503)},
    openapi_extra=request_body(ExtendHold, "ExtendHold", "`business_days` (1–60) and a `reason`"),
)
async def extend(
    caller: OperationsCaller,
    shipment_id: ShipmentId,
    request: Request,
    call: CallDep,
) -> HoldStatus:
    extension = parse_strict(ExtendHold, {**await json_object(request), "actor": caller.name}, "extension")
    async with call.admitted() as c:
        with temporal_errors(poll=parcel_location(shipment_id)):
            status = await holds.extend_hold(c, shipment_id, extension, budget=call.budget)
    log.info(
        "hold extended", shipment_id=shipment_id, business_days=extension.business_days, actor=caller.name
    )
    return status
