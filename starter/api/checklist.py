"""The seller's own page and its forms, in HTML, in the seller's language.

* ``GET /sellers/{seller_id}/checklist?token=…[&lang=en|fr]`` — the page;
* ``POST /sellers/{seller_id}/checklist/events`` — a form's event (``type`` and its fields);
* ``POST /sellers/{seller_id}/checklist/parcels/{shipment_id}/decision`` — forward or dispose;
* ``POST /sellers/{seller_id}/checklist/link`` — e-mail a fresh link (from an expired link's page).

The token (:mod:`starter.links`), in the query string or as a form field ``token``, is the
seller's key. Its signature is checked before anything reaches Temporal; then its epoch and nonce
are compared with the seller's status, so links sent before an e-mail change or an offboarding
no longer open anything. A form goes through the same validators as the API (the event is parsed
here, then by the workflow's update validator), sent as the seller: 303 back to the page when it
is applied; 422 or 409 with the page rendered again and the problem named beside the form, in
the seller's language. Every answer is HTML, errors included.
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.client import Client

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.errors import InvalidInput, NotAllowedNow, Rejection
from domain.events import SENDERS, parse_event
from domain.onboarding import OnboardingStatus
from domain.payloads import DECISIONS, HoldStatus
from domain.steps import Party
from domain.validation import parse_with
from gateway.budget import Budget
from gateway.errors import GatewayError, NotFound, TimedOut, Unavailable
from i18n import LANGUAGES, Words
from starter.api.deps import PageDep, Temporal, TemporalDep
from starter.api.forms import BadForm, FormTooLarge, decision_of, event_of, form_fields
from starter.api.ids import SellerPath, ShipmentPath
from starter.api.page import ChecklistPage, FormProblem
from starter.links import LinkToken, checklist_keys, checklist_path, read_checklist_token

MAX_PARCELS_ON_PAGE = 50
"""The checklist page queries at most this many held parcels (the rest are counted)."""

SELLER = {"actor": "seller", "party": "seller"}
"""Who every form is sent as (the contract's actor and party for the page)."""

PAGE_HEADERS = {
    # The token is in the URL: never send it on to the CBSA/CRA sites the page links to.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    # The page's own forms post to itself; nothing else runs or loads.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
}


router = APIRouter(tags=["sellers"])

LangQuery = Annotated[str | None, Query(description="Show the page in this language (en or fr)")]
TokenQuery = Annotated[str | None, Query(description="The seller's signed token (from their link)")]


def html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


class PageAnswer(Exception):
    """An answer decided on the way (a refusal page): the route returns it as it is."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _language(request: Request, lang: str | None, fallback: str | None = None) -> str:
    if lang in LANGUAGES:
        return str(lang)
    if fallback in LANGUAGES:
        return str(fallback)
    # Before the seller is known (a bad link): the browser's preference.
    accept = request.headers.get("accept-language", "").lower()
    return "fr" if accept.startswith("fr") else "en"


class Visit:
    """One request to the page: the seller, the link's token, and what is needed to answer."""

    def __init__(self, request: Request, page: ChecklistPage, temporal: Temporal, seller_id: str) -> None:
        self.request, self.page, self.temporal, self.seller_id = request, page, temporal, seller_id
        self.lang = request.query_params.get("lang")
        self.status: OnboardingStatus | None = None
        self.raw_token = ""
        self._budget: Budget | None = None

    @property
    def language(self) -> str:
        return _language(self.request, self.lang, self.status.language if self.status else None)

    def refuse(self, kind: str, status: int, **context: Any) -> PageAnswer:
        body = self.page.render("problem.html.j2", self.language, kind=kind, **context)
        return PageAnswer(html(body, status))

    def budget(self) -> Budget:
        """What this request may still spend on Temporal (from its arrival)."""
        if self._budget is None:
            self._budget = self.temporal.budget()
        return self._budget

    def client(self) -> Client:
        if self.temporal.client is None:
            raise self.refuse("unavailable", 503)
        return self.temporal.client

    def check_signature(self, token: str | None) -> LinkToken:
        found = read_checklist_token(self.seller_id, token, checklist_keys(self.page.settings))
        if found is None:
            raise self.refuse("bad_link", 403)
        self.raw_token = str(token)
        return found

    async def load_status(self) -> OnboardingStatus:
        try:
            self.status = await sellers.seller_status(self.client(), self.seller_id, budget=self.budget())
        except NotFound:
            raise self.refuse("unknown_seller", 404) from None
        except NotAllowedNow:  # the seller's workflow has ended: offboarded
            raise self.refuse("closed", 403) from None
        except (Unavailable, TimedOut):
            raise self.refuse("unavailable", 503) from None
        if self.status.stage == "offboarded":  # a closed workflow still answers its status
            raise self.refuse("closed", 403)
        return self.status

    async def authorize(self, token: str | None, *, expired_ok: bool = False) -> OnboardingStatus:
        """The seller's status once the link is known good (its seller, workflow, epoch, date)."""
        found = self.check_signature(token)
        status = await self.load_status()
        if found.nonce != status.link_nonce:
            raise self.refuse("bad_link", 403)  # a link of an earlier, closed account
        fresh_offer = {"token": self.raw_token, "link_url": self.link_url(), "problem": None}
        if found.epoch != status.link_epoch and not expired_ok:
            raise self.refuse(
                "superseded", 403, link_days=self.page.settings.checklist_link_days, **fresh_offer
            )
        if found.expired(datetime.now(UTC)) and not expired_ok:
            raise self.refuse("expired", 403, link_days=self.page.settings.checklist_link_days, **fresh_offer)
        return status

    def link_url(self) -> str:
        base = checklist_path(self.seller_id, "x").split("?", 1)[0]
        return f"{base}/link" + (f"?lang={self.lang}" if self.lang in LANGUAGES else "")

    def page_url(self) -> str:
        return checklist_path(self.seller_id, self.raw_token, self.lang if self.lang in LANGUAGES else None)

    async def render(self, problem: FormProblem | None = None, status_code: int = 200) -> HTMLResponse:
        status = self.status or await self.load_status()
        wanted = status.held_shipments[:MAX_PARCELS_ON_PAGE]
        try:
            parcels = await asyncio.wait_for(parcels_of(self.client(), wanted), self.budget().left())
        except TimeoutError:
            raise self.refuse("unavailable", 503) from None
        body = self.page.checklist(
            status,
            parcels,
            len(status.held_shipments) - len(wanted),
            language=self.language,
            token=self.raw_token,
            lang_override=self.lang if self.lang in LANGUAGES else None,
            problem=problem,
        )
        return html(body, status_code)

    async def rejected(self, form: str, err: Rejection, values: dict[str, str]) -> HTMLResponse:
        """The page again, with the rejection named beside its form (nothing was changed)."""
        self.status = None  # read afresh: the page shows the state the rejection left (unchanged)
        await self.load_status()
        words = Words(self.language, self.page.company)
        message = words.problem(err.kind, err.code, err.params)
        problem = FormProblem(form=form, message=message, field=err.field, values=values)
        return await self.render(problem, 422 if isinstance(err, InvalidInput) else 409)

    async def form(self) -> dict[str, str]:
        try:
            return await form_fields(self.request)
        except FormTooLarge:
            raise self.refuse("too_large", 413) from None
        except BadForm:  # a field repeated, not UTF-8: not a form the page sends
            raise self.refuse("bad_form", 422) from None


ERROR_KINDS = {401: "bad_link", 403: "bad_link", 404: "unknown_seller", 408: "incomplete", 413: "too_large"}


def error_page(page: ChecklistPage, status: int, language: str = "en") -> HTMLResponse:
    """The page's answer to an error raised before a route could answer (a body too large, say)."""
    kind = ERROR_KINDS.get(status, "unavailable")
    return html(page.render("problem.html.j2", language, kind=kind), status)


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


_HTML_ANSWERS: dict[int | str, dict[str, Any]] = {
    code: {"content": {"text/html": {}}, "description": meaning}
    for code, meaning in {
        403: "Missing, bad or expired link",
        404: "No such seller, or a parcel that is not this seller's",
        409: "Not allowed at the current step: the page again, the problem named (NotAllowedNow)",
        413: "Not a form of the page (too large)",
        422: "Invalid input: the page again, the problem named beside the form (InvalidInput)",
        503: "Temporal is not reachable",
    }.items()
}


@router.get(
    "/sellers/{seller_id}/checklist",
    summary="The seller's checklist page (HTML)",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The page"}, **_HTML_ANSWERS},
)
async def checklist(
    seller_id: SellerPath,
    request: Request,
    page: PageDep,
    temporal: TemporalDep,
    token: TokenQuery = None,
    lang: LangQuery = None,
) -> Response:
    visit = Visit(request, page, temporal, seller_id)
    try:
        await visit.authorize(token)
        return await visit.render()
    except PageAnswer as answer:
        return answer.response


@router.post(
    "/sellers/{seller_id}/checklist/events",
    summary="A form of the checklist page: one event the seller sends",
    response_class=HTMLResponse,
    status_code=303,
    responses={303: {"description": "Applied: back to the page"}, **_HTML_ANSWERS},
)
async def checklist_event(
    seller_id: SellerPath, request: Request, page: PageDep, temporal: TemporalDep, token: TokenQuery = None
) -> Response:
    visit = Visit(request, page, temporal, seller_id)
    try:
        fields = await visit.form()
        await visit.authorize(fields.get("token") or token)
        event = {**event_of(fields), **SELLER}
        kind = str(event.get("type", ""))
        try:
            if Party.seller not in SENDERS.get(kind, frozenset()):
                raise InvalidInput(
                    f"the seller does not send '{kind}'", code="unknown_event_type", field="type"
                )
            parse_event(event)  # the API's validators first: bad input never reaches Temporal
            await sellers.apply_event(visit.client(), seller_id, event, budget=visit.budget())
        except Rejection as err:
            return await visit.rejected(kind, err, fields)
        except (Unavailable, TimedOut):
            raise visit.refuse("unavailable", 503) from None
        if kind == "language_changed":
            visit.lang = None  # the page follows the seller's new language
        return RedirectResponse(visit.page_url(), status_code=303, headers=PAGE_HEADERS)
    except PageAnswer as answer:
        return answer.response


@router.post(
    "/sellers/{seller_id}/checklist/parcels/{shipment_id}/decision",
    summary="A form of the checklist page: forward a held parcel, or dispose of it",
    response_class=HTMLResponse,
    status_code=303,
    responses={303: {"description": "Decided: back to the page"}, **_HTML_ANSWERS},
)
async def checklist_decision(
    seller_id: SellerPath,
    shipment_id: ShipmentPath,
    request: Request,
    page: PageDep,
    temporal: TemporalDep,
    token: TokenQuery = None,
) -> Response:
    visit = Visit(request, page, temporal, seller_id)
    try:
        fields = await visit.form()
        await visit.authorize(fields.get("token") or token)
        await _own_parcel(visit, shipment_id)
        wanted = decision_of(fields)
        form = f"parcel:{shipment_id}"
        try:
            decision = parse_with(DECISIONS, {**wanted, "actor": "seller"}, "decision")
            await holds.decide(visit.client(), shipment_id, decision, budget=visit.budget())
        except Rejection as err:
            if not await _already_going(visit, shipment_id, wanted["action"]):
                return await visit.rejected(form, err, fields)
        except (Unavailable, TimedOut):
            raise visit.refuse("unavailable", 503) from None
        return RedirectResponse(visit.page_url(), status_code=303, headers=PAGE_HEADERS)
    except PageAnswer as answer:
        return answer.response


@router.post(
    "/sellers/{seller_id}/checklist/link",
    summary="E-mail the seller a fresh link to their page (from an expired link's page)",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "Sent"}, **_HTML_ANSWERS},
)
async def checklist_fresh_link(
    seller_id: SellerPath, request: Request, page: PageDep, temporal: TemporalDep, token: TokenQuery = None
) -> Response:
    visit = Visit(request, page, temporal, seller_id)
    try:
        fields = await visit.form()
        # An expired or superseded link may ask: the fresh one goes to the address on file only.
        await visit.authorize(fields.get("token") or token, expired_ok=True)
        event = {"type": "checklist_link_requested", **SELLER}
        if fields.get("event_id"):
            event["event_id"] = fields["event_id"]
        try:
            await sellers.apply_event(visit.client(), seller_id, event, budget=visit.budget())
        except Rejection as err:
            words = Words(visit.language, page.company)
            offer = {"token": visit.raw_token, "link_url": visit.link_url()}
            message = words.problem(err.kind, err.code, err.params)
            raise visit.refuse(
                "expired", 409, link_days=page.settings.checklist_link_days, problem=message, **offer
            ) from None
        except (Unavailable, TimedOut):
            raise visit.refuse("unavailable", 503) from None
        return html(page.render("problem.html.j2", visit.language, kind="link_sent"))
    except PageAnswer as answer:
        return answer.response


async def _own_parcel(visit: Visit, shipment_id: str) -> HoldStatus:
    """The parcel's status, or 404 when it is not this seller's (or not recorded at all)."""
    try:
        parcel = await holds.hold_status(visit.client(), shipment_id, budget=visit.budget())
    except NotFound:
        raise visit.refuse("unknown_parcel", 404) from None
    except (Unavailable, TimedOut):
        raise visit.refuse("unavailable", 503) from None
    if parcel.seller_id != visit.seller_id:
        raise visit.refuse("unknown_parcel", 404)
    return parcel


async def _already_going(visit: Visit, shipment_id: str, action: str) -> bool:
    """A decision submitted twice: the parcel is already going the way the seller asked."""
    try:
        parcel = await holds.hold_status(visit.client(), shipment_id, budget=visit.budget())
    except GatewayError:
        return False
    outcome = {"forward": "forwarded", "dispose": "disposed"}.get(action)
    return outcome is not None and outcome in (parcel.closing, parcel.state)
