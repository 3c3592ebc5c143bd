"""``/v1/returns``: a returned parcel's arrival, its status, the seller's decision, an extension.

Internal endpoints (bearer token). An arrival is checked against the domain's arrival window
before anything starts, and a second arrival of the same parcel keeps the running hold.
"""

import asyncio
from datetime import UTC, datetime
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request, Response
from temporalio.client import Client

import gateway.holds as holds
from domain.arrivals import check_arrival_time
from domain.errors import InvalidInput
from domain.payloads import Arrival, Decision, ExtendHold, HoldStatus
from starter.api.bodies import request_body, strict_body
from starter.api.deps import INTERNAL, SettingsDep, TemporalDep
from starter.api.errors import bounded, error_responses, refuse, temporal_errors
from starter.api.ids import ShipmentId

ARRIVAL_SETTLE_SECONDS = 5.0
"""How long ``POST /v1/returns`` waits for a new parcel's deadline, to include it in the answer."""

log = structlog.get_logger("api")
router = APIRouter(tags=["returns"], dependencies=INTERNAL)


def _check_arrival_time(arrival: Arrival) -> None:
    try:
        check_arrival_time(arrival.arrived_at, datetime.now(UTC))
    except InvalidInput as err:
        refuse(422, err.message)


async def settled_parcel(c: Client, shipment_id: str) -> HoldStatus:
    """The status of a parcel just recorded, once its deadline is set (or after a moment)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + ARRIVAL_SETTLE_SECONDS
    while True:
        status = await holds.hold_status(c, shipment_id)
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
        **error_responses(401, 422, 503, 504),
    },
    openapi_extra=request_body(
        Arrival, "Arrival", "`shipment_id`, `seller_id`, `arrived_at` (ISO-8601 with offset), `origin`?"
    ),
)
async def record_arrival(
    request: Request, response: Response, settings: SettingsDep, temporal: TemporalDep
) -> HoldStatus:
    arrival = await strict_body(request, Arrival, "arrival")
    _check_arrival_time(arrival)
    c = temporal.get()
    with temporal_errors():
        started = await bounded(holds.record_arrival(c, arrival, task_queue=settings.temporal_task_queue))
        status = await bounded(settled_parcel(c, arrival.shipment_id))
    response.status_code = 201 if started.created else 200
    response.headers["Location"] = f"/v1/returns/{quote(arrival.shipment_id)}"
    log.info("arrival", shipment_id=arrival.shipment_id, seller_id=arrival.seller_id, created=started.created)
    return status


@router.get(
    "/v1/returns/{shipment_id}",
    summary="A returned parcel's status (state, deadline, business days left)",
    response_model=HoldStatus,
    responses=error_responses(401, 404, 503, 504),
)
async def get_parcel(shipment_id: ShipmentId, temporal: TemporalDep) -> HoldStatus:
    c = temporal.get()
    with temporal_errors():
        status = await bounded(holds.hold_status(c, shipment_id))
    return status


@router.post(
    "/v1/returns/{shipment_id}/decision",
    summary="The seller's decision: forward to their own U.S. address, or dispose now",
    response_model=HoldStatus,
    responses=error_responses(401, 404, 409, 422, 503, 504),
    openapi_extra=request_body(
        Decision,
        "Decision",
        '`{"action": "forward", "us_address": {...}}` or `{"action": "dispose"}`',
    ),
)
async def decide(shipment_id: ShipmentId, request: Request, temporal: TemporalDep) -> HoldStatus:
    decision = await strict_body(request, Decision, "decision")
    c = temporal.get()
    with temporal_errors():
        status = await bounded(holds.decide(c, shipment_id, decision))
    log.info("decision", shipment_id=shipment_id, action=decision.action)
    return status


@router.post(
    "/v1/returns/{shipment_id}/extension",
    summary="Operations extend a hold by some business days, with a reason",
    response_model=HoldStatus,
    responses=error_responses(401, 404, 409, 422, 503, 504),
    openapi_extra=request_body(ExtendHold, "ExtendHold", "`business_days` (1–60) and a `reason`"),
)
async def extend(shipment_id: ShipmentId, request: Request, temporal: TemporalDep) -> HoldStatus:
    extension = await strict_body(request, ExtendHold, "extension")
    c = temporal.get()
    with temporal_errors():
        status = await bounded(holds.extend_hold(c, shipment_id, extension))
    log.info("hold extended", shipment_id=shipment_id, business_days=extension.business_days)
    return status
