"""``POST /v1/broker/events``: the customs broker's webhook, authenticated by its signature alone.

The signature covers the exact bytes received, so it is checked before the body is parsed; a
request that fails it changes nothing. Redeliveries with the same ``event_id`` answer 200 and
change nothing (the workflow keeps the ids it applied).
"""

from typing import Any

import structlog
from fastapi import APIRouter, Request

import gateway.onboarding as sellers
from domain.events import EVENT_MODELS
from domain.onboarding import OnboardingStatus
from domain.steps import Party
from starter import webhooks
from starter.api.bodies import json_object, request_body
from starter.api.deps import BrokerSignature, SecretsDep, TemporalDep
from starter.api.errors import bounded, error_responses, refuse, temporal_errors
from starter.api.events import BROKER_EVENTS, parse_event_from, union, with_seller_id
from starter.api.ids import is_id

log = structlog.get_logger("api")
router = APIRouter(tags=["broker"])


async def _check_signature(request: Request, signature: str | None, secret: str) -> None:
    raw = await request.body()
    if not signature:
        refuse(401, f"missing {webhooks.SIGNATURE_HEADER} header")
    if not webhooks.verify(raw, signature, secret):
        log.warning("broker webhook refused: bad signature")
        refuse(401, f"bad {webhooks.SIGNATURE_HEADER}: it does not match the request body")


def _seller_id(fields: dict[str, Any]) -> str:
    seller_id = fields.pop("seller_id", None)
    if seller_id is None:
        refuse(422, "invalid broker event: seller_id: required field is missing")
    if not isinstance(seller_id, str) or not is_id(seller_id):
        refuse(422, "invalid broker event: seller_id must be 1–64 characters of A-Z a-z 0-9 _ -")
    return seller_id


@router.post(
    "/v1/broker/events",
    summary="The customs broker's webhook",
    description="Events the broker may send: " + ", ".join(f"`{e}`" for e in BROKER_EVENTS) + ". "
    "Signed with `X-Broker-Signature`; redeliveries with the same `event_id` answer 200 and "
    "change nothing.",
    response_model=OnboardingStatus,
    responses=error_responses(401, 404, 409, 422, 503, 504),
    openapi_extra=request_body(
        union([with_seller_id(EVENT_MODELS[e]) for e in BROKER_EVENTS]),
        "BrokerEvent",
        '`{"seller_id", "type", "event_id"?, ...fields}`',
    ),
)
async def broker_event(
    request: Request, signature: BrokerSignature, secrets: SecretsDep, temporal: TemporalDep
) -> OnboardingStatus:
    await _check_signature(request, signature, secrets.webhook_secret)
    fields = await json_object(request)
    seller_id = _seller_id(fields)
    event = parse_event_from(Party.broker, fields)
    c = temporal.get()
    with temporal_errors():
        status = await bounded(sellers.apply_event(c, seller_id, event))
    log.info("event applied", seller_id=seller_id, event_type=event["type"], sender="broker")
    return status
