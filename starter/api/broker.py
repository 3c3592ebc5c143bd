"""``POST /v1/broker/events``: the customs broker's webhook, authenticated by its signature alone.

Standard Webhooks (:mod:`starter.webhooks`): the signature covers the exact bytes received, so it
is checked before the body is parsed, and a request that fails it, or whose timestamp is more than
five minutes off, is 401 and changes nothing. The ``webhook-id`` is the event's ``event_id``: a
redelivery (the broker retries for days, re-signing each time) applies once and answers 200; a
body that names another ``event_id`` is 422. The event is recorded as the broker's
(``actor`` and ``party`` ``broker``), whatever the body says.
"""

from typing import Any

import structlog
from fastapi import APIRouter, Request

import gateway.onboarding as sellers
from domain.errors import InvalidInput
from domain.events import EVENT_MODELS
from domain.onboarding import OnboardingStatus
from domain.steps import Party
from starter import webhooks
from starter.api.bodies import object_of, request_body
from starter.api.deps import CallDep, SecretsDep, WebhookSignature
from starter.api.errors import ACCEPTED_RESPONSE, BODY_ERRORS, error_responses, refuse, temporal_errors
from starter.api.events import BROKER_EVENTS, parse_event_from, union, with_seller_id
from starter.api.ids import is_id

log = structlog.get_logger("api")
router = APIRouter(tags=["broker"])

BROKER = "broker"


def _seller_id(fields: dict[str, Any]) -> str:
    seller_id = fields.pop("seller_id", None)
    if seller_id is None:
        raise InvalidInput(
            "invalid broker event: seller_id: required field is missing", code="required", field="seller_id"
        )
    if not isinstance(seller_id, str) or not is_id(seller_id):
        raise InvalidInput(
            "invalid broker event: seller_id must be 1–64 characters of A-Z a-z 0-9 _ -",
            code="string_pattern_mismatch",
            field="seller_id",
        )
    return seller_id


def _event_id(fields: dict[str, Any], webhook_id: str) -> None:
    given = fields.get("event_id")
    if given is not None and given != webhook_id:
        # The id is what makes a delivery apply once: a body cannot claim another one.
        raise InvalidInput(
            f"event_id {given!r} differs from the {webhooks.ID_HEADER} header {webhook_id!r}: "
            "they are the same id (or leave event_id out)",
            code="event_id_mismatch",
            field="event_id",
            webhook_id=webhook_id,
        )
    fields["event_id"] = webhook_id


@router.post(
    "/v1/broker/events",
    summary="The customs broker's webhook (Standard Webhooks)",
    description="Events the broker may send: " + ", ".join(f"`{e}`" for e in BROKER_EVENTS) + ". "
    f"Signed as Standard Webhooks specify: `{webhooks.ID_HEADER}` (the event's id), "
    f"`{webhooks.TIMESTAMP_HEADER}`, `{webhooks.SIGNATURE_HEADER}`; a timestamp more than five "
    "minutes off is refused. A redelivery with the same id answers 200 and changes nothing.",
    response_model=OnboardingStatus,
    responses={**ACCEPTED_RESPONSE, **error_responses(401, 404, 409, *BODY_ERRORS, 503)},
    openapi_extra=request_body(
        union([with_seller_id(EVENT_MODELS[e]) for e in BROKER_EVENTS]),
        "BrokerEvent",
        '`{"seller_id", "type", "event_id"? (= webhook-id), ...fields}`',
    ),
)
async def broker_event(
    request: Request, signature: WebhookSignature, secrets: SecretsDep, call: CallDep
) -> OnboardingStatus:
    raw = await request.body()
    try:
        webhook_id = webhooks.verify(secrets.webhooks, raw, request.headers)
    except webhooks.WebhookRefused as err:
        log.warning("broker webhook refused", reason=err.code)
        refuse(401, err.message, code=err.code)
    fields = object_of(raw)
    _event_id(fields, webhook_id)
    seller_id = _seller_id(fields)
    event = parse_event_from(Party.broker, BROKER, fields)
    async with call.admitted() as c:
        with temporal_errors(poll=f"/v1/sellers/{seller_id}"):
            status = await sellers.apply_event(c, seller_id, event, budget=call.budget)
    log.info("event applied", seller_id=seller_id, event_type=event["type"], actor=BROKER)
    return status
