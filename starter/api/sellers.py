"""``/v1/sellers``: sign-up, a seller's onboarding status, and the events a seller sends.

Internal endpoints (bearer token). Every answer carries the seller's checklist link, minted
afresh, so the caller can pass it on to the seller.
"""

from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request, Response

import gateway.onboarding as sellers
from config.settings import Settings
from domain.events import EVENT_MODELS
from domain.onboarding import OnboardingStatus
from domain.payloads import SignUp
from domain.steps import Party
from starter.api.bodies import json_object, request_body, strict_body
from starter.api.deps import INTERNAL, SettingsDep, TemporalDep
from starter.api.errors import bounded, error_responses, temporal_errors
from starter.api.events import SELLER_EVENTS, parse_event_from, union
from starter.api.ids import SellerId
from starter.links import checklist_url

log = structlog.get_logger("api")
router = APIRouter(tags=["sellers"], dependencies=INTERNAL)


class SellerView(OnboardingStatus):
    """The onboarding status, plus the seller's checklist link."""

    checklist_url: str
    """The seller's own page: a signed link, minted for this answer, that works for
    ``CHECKLIST_LINK_DAYS``; send it to the seller."""


def seller_view(settings: Settings, status: OnboardingStatus) -> SellerView:
    url = checklist_url(settings, status.seller_id, epoch=status.link_epoch, nonce=status.link_nonce)
    return SellerView(**status.model_dump(), checklist_url=url)


@router.post(
    "/v1/sellers",
    summary="Sign a seller up (starts their CARM onboarding)",
    status_code=201,
    response_model=SellerView,
    responses={
        200: {"model": SellerView, "description": "Already signed up: the running onboarding is kept"},
        201: {"description": "Signed up now"},
        **error_responses(401, 422, 503, 504),
    },
    openapi_extra=request_body(
        SignUp,
        "SignUp",
        "`seller_id`, `email`, and optionally `language` (`en` or `fr`), `business_name`, `legacy_poa`",
    ),
)
async def sign_up(
    request: Request, response: Response, settings: SettingsDep, temporal: TemporalDep
) -> SellerView:
    signup = await strict_body(request, SignUp, "sign-up")
    c = temporal.get()
    with temporal_errors():
        started = await bounded(sellers.sign_up(c, signup, task_queue=settings.temporal_task_queue))
        status = await bounded(sellers.seller_status(c, signup.seller_id))
    response.status_code = 201 if started.created else 200
    response.headers["Location"] = f"/v1/sellers/{quote(signup.seller_id)}"
    log.info("sign-up", seller_id=signup.seller_id, created=started.created)
    return seller_view(settings, status)


@router.get(
    "/v1/sellers/{seller_id}",
    summary="A seller's onboarding status",
    response_model=SellerView,
    responses=error_responses(401, 404, 503, 504),
)
async def get_seller(seller_id: SellerId, settings: SettingsDep, temporal: TemporalDep) -> SellerView:
    c = temporal.get()
    with temporal_errors():
        status = await bounded(sellers.seller_status(c, seller_id))
    return seller_view(settings, status)


@router.post(
    "/v1/sellers/{seller_id}/events",
    summary="An event from the seller (their answer to a step)",
    description="Events the seller may send: " + ", ".join(f"`{e}`" for e in SELLER_EVENTS) + ". "
    "An optional `event_id` makes a redelivery harmless.",
    response_model=SellerView,
    responses=error_responses(401, 404, 409, 422, 503, 504),
    openapi_extra=request_body(
        union([EVENT_MODELS[e] for e in SELLER_EVENTS]),
        "SellerEvent",
        '`{"type": EVENT, "event_id"?, ...fields}`',
    ),
)
async def seller_event(
    seller_id: SellerId, request: Request, settings: SettingsDep, temporal: TemporalDep
) -> SellerView:
    event = parse_event_from(Party.seller, await json_object(request))
    c = temporal.get()
    with temporal_errors():
        status = await bounded(sellers.apply_event(c, seller_id, event))
    log.info("event applied", seller_id=seller_id, event_type=event["type"], sender="seller")
    return seller_view(settings, status)
