"""``GET /sellers/{seller_id}/checklist?token=…``: the seller's own page, in HTML.

The token in the link is the seller's key (:mod:`starter.links`); the page answers in HTML
whatever happens — a bad link, an unknown seller, Temporal out of reach — never a JSON error.
Rendering is :mod:`starter.api.page`.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from temporalio.client import Client

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.payloads import HoldStatus
from gateway.errors import GatewayError, NotFound, TimedOut, Unavailable
from starter.api.deps import PageDep, SecretsDep, TemporalDep
from starter.api.ids import SellerPath
from starter.api.page import ChecklistPage
from starter.links import verify_checklist_token

MAX_PARCELS_ON_PAGE = 50
"""The checklist page queries at most this many held parcels (the rest are counted)."""

PAGE_HEADERS = {
    # The token is in the URL: never send it on to the CBSA/CRA sites the page links to.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
}

router = APIRouter(tags=["sellers"])


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


ERROR_KINDS = {401: "bad_link", 403: "bad_link", 404: "unknown_seller", 408: "incomplete", 413: "too_large"}


def error_page(page: ChecklistPage, status: int) -> HTMLResponse:
    """The page's answer to an error raised before a route could answer (a body too large, say)."""
    return html(page.render("problem.html.j2", kind=ERROR_KINDS.get(status, "unavailable")), status)


async def parcels_of(c: Client, shipment_ids: list[str]) -> list[HoldStatus]:
    """The parcels still held, queried ten at a time; one that does not answer is left out."""
    gate = asyncio.Semaphore(10)

    async def one(shipment_id: str) -> HoldStatus | None:
        async with gate:
            try:
                return await asyncio.wait_for(holds.hold_status(c, shipment_id), 10)
            except (GatewayError, TimeoutError):
                return None

    found = await asyncio.gather(*(one(s) for s in shipment_ids))
    return [p for p in found if p is not None and p.state == "held"]


@router.get(
    "/sellers/{seller_id}/checklist",
    summary="The seller's checklist page (HTML)",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "The page"},
        403: {"content": {"text/html": {}}, "description": "Missing or bad token"},
        404: {"content": {"text/html": {}}, "description": "No such seller"},
        503: {"content": {"text/html": {}}, "description": "Temporal is not reachable"},
    },
)
async def checklist(
    seller_id: SellerPath,
    page: PageDep,
    secrets: SecretsDep,
    temporal: TemporalDep,
    token: Annotated[str | None, Query(description="The seller's signed token (from their link)")] = None,
) -> HTMLResponse:
    # hmac.compare_digest refuses non-ASCII text: such a token is simply wrong.
    if (
        token is None
        or not token.isascii()
        or not verify_checklist_token(seller_id, token, secrets.link_keys)
    ):
        return html(page.render("problem.html.j2", kind="bad_link"), 403)
    if temporal.client is None:
        return html(page.render("problem.html.j2", kind="unavailable"), 503)
    c = temporal.client
    try:
        status = await sellers.seller_status(c, seller_id, budget=temporal.budget())
        wanted = status.held_shipments[:MAX_PARCELS_ON_PAGE]
        parcels = await asyncio.wait_for(parcels_of(c, wanted), temporal.budget().left())
    except NotFound:
        return html(page.render("problem.html.j2", kind="unknown_seller"), 404)
    except (Unavailable, TimedOut, TimeoutError):
        return html(page.render("problem.html.j2", kind="unavailable"), 503)
    more = len(status.held_shipments) - len(wanted)
    return html(page.checklist(status, parcels, more))
