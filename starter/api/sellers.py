"""``/v1/sellers``: sign-up, the list of sellers, a seller's onboarding status, the seller's events.

Bearer tokens: ``signup`` (or ``operations``) signs up, reads a seller and sends the seller's events;
only ``operations`` lists sellers and sends operations' events. Every answer about a seller
carries the seller's checklist link, minted afresh, so the caller can pass it on to the seller.
"""

from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from temporalio.client import WorkflowExecution

import domain.search_attributes as sa
import gateway.listings as listings
import gateway.onboarding as sellers
from config.settings import Settings
from domain.events import EVENT_MODELS
from domain.onboarding import OnboardingStatus
from domain.payloads import SignUp
from domain.visibility import PARTIES, STAGES, sellers_query
from domain.workflow_ids import seller_id_of
from starter.api.auth import OperationsCaller, SignupCaller
from starter.api.bodies import json_object, request_body, strict_body
from starter.api.deps import CallDep, SecretsDep, SettingsDep
from starter.api.errors import ACCEPTED_RESPONSE, BODY_ERRORS, after_done, error_responses, temporal_errors
from starter.api.events import OPERATIONS_EVENTS, SELLER_EVENTS, parse_event_from, union
from starter.api.ids import SellerId
from starter.api.listing import ListPage, PageSize, PageToken, decode_token, encode_token, one_of
from starter.links import checklist_url

log = structlog.get_logger("api")
router = APIRouter(tags=["sellers"])


class SellerView(OnboardingStatus):
    """The onboarding status, plus the seller's checklist link."""

    checklist_url: str
    """The seller's own page: a signed link, minted for this answer, that works for
    ``CHECKLIST_LINK_DAYS``; send it to the seller."""


class SellerItem(BaseModel):
    """A seller in a list: what visibility knows (no personal data)."""

    seller_id: str
    stage: str | None
    waiting_on: list[str]
    stalled: bool | None
    cleared_for_returns: bool | None


def seller_view(settings: Settings, status: OnboardingStatus) -> SellerView:
    url = checklist_url(settings, status.seller_id, epoch=status.link_epoch, nonce=status.link_nonce)
    return SellerView(**status.model_dump(), checklist_url=url)


def seller_location(seller_id: str) -> str:
    return f"/v1/sellers/{quote(seller_id)}"


def seller_item(wf: WorkflowExecution) -> SellerItem:
    attrs = wf.typed_search_attributes
    return SellerItem(
        seller_id=attrs.get(sa.SELLER_ID) or seller_id_of(wf.id),
        stage=attrs.get(sa.ONBOARDING_STAGE),
        waiting_on=list(attrs.get(sa.WAITING_ON) or []),
        stalled=attrs.get(sa.STALLED),
        cleared_for_returns=attrs.get(sa.CLEARED_FOR_RETURNS),
    )


@router.post(
    "/v1/sellers",
    summary="Sign a seller up (starts their CARM onboarding)",
    status_code=201,
    response_model=SellerView,
    responses={
        200: {"model": SellerView, "description": "Already signed up: the running onboarding is kept"},
        201: {"description": "Signed up now"},
        **ACCEPTED_RESPONSE,
        **error_responses(401, 403, *BODY_ERRORS, 503),
    },
    openapi_extra=request_body(
        SignUp,
        "SignUp",
        "`seller_id`, `email`, and optionally `language` (`en` or `fr`), `business_name`, `legacy_poa`",
    ),
)
async def sign_up(
    caller: SignupCaller,
    request: Request,
    response: Response,
    settings: SettingsDep,
    call: CallDep,
) -> SellerView:
    signup = await strict_body(request, SignUp, "sign-up")
    budget = call.budget
    location = seller_location(signup.seller_id)
    async with call.admitted() as c:
        with temporal_errors(poll=location):
            started = await sellers.sign_up(c, signup, task_queue=settings.temporal_task_queue, budget=budget)
            log.info("sign-up", seller_id=signup.seller_id, created=started.created, actor=caller.name)
            status = await after_done(sellers.seller_status(c, signup.seller_id, budget=budget))
    response.status_code = 201 if started.created else 200
    response.headers["Location"] = location
    return seller_view(settings, status)


@router.get(
    "/v1/sellers",
    summary="Sellers being onboarded, filtered (from visibility)",
    response_model=ListPage[SellerItem],
    responses=error_responses(401, 403, 422, 503),
)
async def list_sellers(
    caller: OperationsCaller,
    secrets: SecretsDep,
    call: CallDep,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    stage: Annotated[str | None, one_of(STAGES, "The seller's stage")] = None,
    waiting_on: Annotated[str | None, one_of(PARTIES, "A party who must act now")] = None,
    stalled: Annotated[bool | None, Query(description="Only stalled (or not stalled) sellers")] = None,
    cleared: Annotated[bool | None, Query(description="Only cleared (or not cleared) sellers")] = None,
) -> ListPage[SellerItem]:
    query = sellers_query(stage=stage, waiting_on=waiting_on, stalled=stalled, cleared=cleared)
    token = decode_token(page_token, query, secrets.page_key)
    async with call.admitted() as c:
        with temporal_errors():
            found = await listings.page(c, query, page_size=page_size, page_token=token, budget=call.budget)
    return ListPage[SellerItem](
        items=[seller_item(wf) for wf in found.executions],
        next_page_token=encode_token(found.next_page_token, query, secrets.page_key),
    )


@router.get(
    "/v1/sellers/{seller_id}",
    summary="A seller's onboarding status",
    response_model=SellerView,
    responses=error_responses(401, 403, 404, 503),
)
async def get_seller(
    caller: SignupCaller,
    seller_id: SellerId,
    settings: SettingsDep,
    call: CallDep,
) -> SellerView:
    async with call.admitted() as c:
        with temporal_errors():
            status = await sellers.seller_status(c, seller_id, budget=call.budget)
    return seller_view(settings, status)


def _event_list(names: list[str]) -> str:
    return ", ".join(f"`{e}`" for e in names)


@router.post(
    "/v1/sellers/{seller_id}/events",
    summary="An event from the seller (their answer to a step), or from operations",
    description="A `signup` token sends the seller's events: "
    + _event_list(SELLER_EVENTS)
    + "; an `operations` token also operations' own: "
    + _event_list([e for e in OPERATIONS_EVENTS if e not in SELLER_EVENTS])
    + ". The event's `actor` is the token's name. An `event_id` makes sending it again harmless "
    "(after a 503, say).",
    response_model=SellerView,
    responses={**ACCEPTED_RESPONSE, **error_responses(401, 403, 404, 409, *BODY_ERRORS, 503)},
    openapi_extra=request_body(
        union([EVENT_MODELS[e] for e in OPERATIONS_EVENTS]),
        "SellerEvent",
        '`{"type": EVENT, "event_id"?, ...fields}`',
    ),
)
async def seller_event(
    caller: SignupCaller,
    seller_id: SellerId,
    request: Request,
    settings: SettingsDep,
    call: CallDep,
) -> SellerView:
    fields: dict[str, Any] = await json_object(request)
    event = parse_event_from(caller.party, caller.name, fields)
    async with call.admitted() as c:
        with temporal_errors(poll=seller_location(seller_id)):
            status = await sellers.apply_event(c, seller_id, event, budget=call.budget)
    log.info("event applied", seller_id=seller_id, event_type=event["type"], actor=caller.name)
    return seller_view(settings, status)
