"""``/v1`` for operations: moving a parcel, the audit, and failed deliveries (the ``operations`` role).

Corrections of a seller (``email_changed``, ``business_number_corrected``, ``seller_offboarded``)
are events like any other, sent to ``POST /v1/sellers/{seller_id}/events`` with an operations
token; what is here has no event of its own: a parcel's reassignment, who sent what and when, and
the deliveries given up that wait for operations to retry or abandon them. Every request is
recorded as sent by the token's name.
"""

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path, Request

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.onboarding import OnboardingStatus
from domain.payloads import DeliveryAction, HoldStatus, Reassign
from domain.state import AuditEntry
from starter.api.auth import OperationsCaller
from starter.api.bodies import object_of, parse_strict, request_body, strict_body
from starter.api.deps import CallDep
from starter.api.errors import ACCEPTED_RESPONSE, BODY_ERRORS, error_responses, temporal_errors
from starter.api.ids import SellerId, ShipmentId
from starter.api.returns import parcel_location
from starter.api.sellers import seller_location

log = structlog.get_logger("api")
router = APIRouter(tags=["operations"])

KeyPath = Annotated[str, Path(description="The failed delivery's idempotency key (see `failed_deliveries`)")]
VerdictPath = Annotated[str, Path(pattern="^(retry|abandon)$", description="`retry` or `abandon`")]
_UPDATE_ANSWERS = {**ACCEPTED_RESPONSE, **error_responses(401, 403, 404, 409, *BODY_ERRORS, 503)}
_OPTIONAL_REASON = request_body(DeliveryAction, "DeliveryAction", 'optional: `{"reason"?}`')


@router.post(
    "/v1/returns/{shipment_id}/reassign",
    summary="Move a parcel to the seller it belongs to (a mis-scan): same due date",
    description="Released at once if that seller is cleared, forwarded or disposed at once if they "
    "opted out, held (operations told) if they have no onboarding workflow. Both sellers' lists of "
    "held parcels follow.",
    response_model=HoldStatus,
    responses=_UPDATE_ANSWERS,
    openapi_extra=request_body(Reassign, "Reassign", "`seller_id` and a `reason`"),
)
async def reassign(
    caller: OperationsCaller, shipment_id: ShipmentId, request: Request, call: CallDep
) -> HoldStatus:
    move = await strict_body(request, Reassign, "reassignment")
    move = move.model_copy(update={"actor": caller.name})
    async with call.admitted() as c:
        with temporal_errors(poll=parcel_location(shipment_id)):
            status = await holds.reassign(c, shipment_id, move, budget=call.budget)
    log.info("parcel reassigned", shipment_id=shipment_id, seller_id=move.seller_id, actor=caller.name)
    return status


@router.get(
    "/v1/sellers/{seller_id}/audit",
    summary="Who sent what, when: the seller's accepted events, oldest first",
    response_model=list[AuditEntry],
    responses=error_responses(401, 403, 404, 503),
)
async def seller_audit(caller: OperationsCaller, seller_id: SellerId, call: CallDep) -> list[AuditEntry]:
    async with call.admitted() as c:
        with temporal_errors():
            return await sellers.seller_audit(c, seller_id, budget=call.budget)


@router.get(
    "/v1/returns/{shipment_id}/audit",
    summary="Who sent what, when: the parcel's accepted updates, oldest first",
    response_model=list[AuditEntry],
    responses=error_responses(401, 403, 404, 503),
)
async def parcel_audit(caller: OperationsCaller, shipment_id: ShipmentId, call: CallDep) -> list[AuditEntry]:
    async with call.admitted() as c:
        with temporal_errors():
            return await holds.hold_audit(c, shipment_id, budget=call.budget)


async def _action(request: Request, caller_name: str, key: str) -> DeliveryAction:
    """The body (``{"reason"?}``, or none at all) with the key of the path and the token's name."""
    raw = await request.body()
    fields: dict[str, Any] = object_of(raw) if raw.strip() else {}
    return parse_strict(DeliveryAction, {**fields, "idempotency_key": key, "actor": caller_name}, "delivery")


def _check_key(key: str) -> str:
    return parse_strict(DeliveryAction, {"idempotency_key": key}, "delivery").idempotency_key


@router.post(
    "/v1/sellers/{seller_id}/deliveries/{key}/{verdict}",
    summary="A delivery given up for a seller: `retry` it (same key: nothing arrives twice) or `abandon` it",
    response_model=OnboardingStatus,
    responses=_UPDATE_ANSWERS,
    openapi_extra=_OPTIONAL_REASON,
)
async def seller_delivery(
    caller: OperationsCaller,
    seller_id: SellerId,
    key: KeyPath,
    verdict: VerdictPath,
    request: Request,
    call: CallDep,
) -> OnboardingStatus:
    action = await _action(request, caller.name, _check_key(key))
    kind = "delivery_retried" if verdict == "retry" else "delivery_abandoned"
    event = {"type": kind, "party": "operations", **action.model_dump(exclude_none=True)}
    async with call.admitted() as c:
        with temporal_errors(poll=seller_location(seller_id)):
            status = await sellers.apply_event(c, seller_id, event, budget=call.budget)
    log.info(kind, seller_id=seller_id, actor=caller.name)
    return status


@router.post(
    "/v1/returns/{shipment_id}/deliveries/{key}/{verdict}",
    summary="A delivery given up for a parcel: `retry` it, or `abandon` it (never its warehouse instruction)",
    response_model=HoldStatus,
    responses=_UPDATE_ANSWERS,
    openapi_extra=_OPTIONAL_REASON,
)
async def parcel_delivery(
    caller: OperationsCaller,
    shipment_id: ShipmentId,
    key: KeyPath,
    verdict: VerdictPath,
    request: Request,
    call: CallDep,
) -> HoldStatus:
    action = await _action(request, caller.name, _check_key(key))
    act = holds.retry_delivery if verdict == "retry" else holds.abandon_delivery
    async with call.admitted() as c:
        with temporal_errors(poll=parcel_location(shipment_id)):
            status = await act(c, shipment_id, action, budget=call.budget)
    log.info(f"delivery {verdict}", shipment_id=shipment_id, actor=caller.name)
    return status
