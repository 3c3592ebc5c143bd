"""The HTTP API: sign-up, events, returned parcels, the broker webhook and the seller's checklist page.

    python -m starter.api                                  serve on API_HOST:API_PORT (make run does)
    python -m starter.api --write-openapi docs/openapi.json  write the OpenAPI document and exit

Everything goes through :mod:`starter.client` (the command line's starters), so a request is
validated with the same strict models the workflows use *before* Temporal is called, and a sign-up
or an arrival never starts a second workflow beside a running one.

Who may call what:

* ``/v1/...`` (all but the broker webhook): ``Authorization: Bearer <API_TOKEN>``;
* ``POST /v1/broker/events``: ``X-Broker-Signature: sha256=<hex HMAC-SHA256 of the raw body>``
  keyed with ``BROKER_WEBHOOK_SECRET`` (see :mod:`starter.webhooks`);
* ``GET /sellers/{seller_id}/checklist?token=…``: the per-seller token of :mod:`starter.links`.

A request that fails these checks is refused before its body is even read, so it changes nothing.
Errors are JSON ``{"detail": "..."}`` naming the problem; the contract's rejection types decide the
code: ``InvalidInput`` is 422, ``NotAllowedNow`` is 409. Event bodies, business numbers and the
broker's Statement of Account figures are never logged.
"""

import argparse
import asyncio
import contextlib
import functools
import hmac
import json
import logging
import operator
import re
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import quote

import jinja2
import structlog
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, TypeAdapter, create_model
from temporalio.client import (
    Client,
)
from temporalio.exceptions import ApplicationError

import gateway.holds as holds
import gateway.onboarding as sellers
from config.settings import Settings
from domain.arrivals import check_arrival_time
from domain.business_days import zone
from domain.errors import InvalidInput
from domain.events import EVENT_MODELS, EVENT_TYPES, SENDERS, parse_event
from domain.guidance import CRA_REGISTER_BN, DENIAL_REASONS, guidance
from domain.identifiers import ID_PATTERN
from domain.onboarding import OnboardingStatus
from domain.payloads import Arrival, Decision, ExtendHold, HoldStatus, SignUp
from domain.steps import GUIDANCE_ORDER, Party, Step
from domain.validation import parse_strict, parse_with
from gateway.connection import connect
from gateway.errors import GatewayError, NotFound, QueryFailed, TimedOut, Unavailable
from starter import webhooks
from starter.links import checklist_key, checklist_url, verify_checklist_token

API_VERSION = "1.0.0"
"""Version of the ``/v1`` contract in the OpenAPI document (not the package version)."""

ROOT = Path(__file__).resolve().parent.parent
WEB_TEMPLATES = ROOT / "templates" / "web"
MAX_PARCELS_ON_PAGE = 50
"""The checklist page queries at most this many held parcels (the rest are counted)."""
TEMPORAL_CALL_TIMEOUT = 20.0
"""Seconds an API call waits for Temporal before answering 504."""
ARRIVAL_SETTLE_SECONDS = 5.0
"""How long ``POST /v1/returns`` waits for a new parcel's deadline, to include it in the answer."""

_ID_RE = re.compile(ID_PATTERN)
log = structlog.get_logger("api")


class ApiConfigError(ValueError):
    """The API cannot start with these settings (a secret is missing)."""


# --- response models ---------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every error: one sentence naming the problem."""

    detail: str


class SellerView(OnboardingStatus):
    """The onboarding status, plus the seller's checklist link."""

    checklist_url: str
    """The seller's own page (signed link); send it to the seller."""


class Health(BaseModel):
    status: Literal["ok"]
    temporal: Literal["reachable"]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    words = {
        401: "Missing or wrong credentials",
        404: "Not found",
        409: "Not allowed at the current step (NotAllowedNow)",
        422: "Malformed or invalid input (InvalidInput)",
        503: "Temporal is not reachable",
        504: "Temporal did not answer in time",
    }
    return {code: {"model": ErrorBody, "description": words[code]} for code in codes}


# --- request bodies: validated by hand with the domain's models, documented from them ---------


class _BodySchemas:
    """Request-body schemas taken from the domain's models, for the OpenAPI document.

    Bodies are parsed by the handlers (with :func:`domain.validation.parse_strict` and
    :func:`domain.events.parse_event`), so errors read exactly as on the command line and in
    the workflows' update validators; these schemas only *describe* them.
    """

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def _add(self, schema: dict[str, Any]) -> dict[str, Any]:
        for name, definition in schema.pop("$defs", {}).items():
            known = self.components.setdefault(name, definition)
            if known != definition:
                raise RuntimeError(f"two different schemas named {name} in the API's request bodies")
        return schema

    def body(self, tp: Any, name: str, description: str) -> dict[str, Any]:
        schema = self._add(
            TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        )
        if schema.get("type") == "object" and "properties" in schema:
            schema.pop("title", None)
            self._add({"$defs": {name: schema}})
            schema = {"$ref": f"#/components/schemas/{name}"}
        return {
            "requestBody": {
                "required": True,
                "description": description,
                "content": {"application/json": {"schema": schema}},
            }
        }


def _union(models: list[type[BaseModel]]) -> Any:
    return Annotated[functools.reduce(operator.or_, models), Field(discriminator="type")]


def _events_sent_by(party: Party) -> list[str]:
    return [name for name in EVENT_TYPES if party in SENDERS[name]]


SELLER_EVENTS = _events_sent_by(Party.seller)
BROKER_EVENTS = _events_sent_by(Party.broker)


def _with_seller_id(model: type[BaseModel]) -> type[BaseModel]:
    """The broker's envelope of one event: the event's fields plus ``seller_id``."""
    seller_id: Any = (Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=64)], ...)
    return create_model(f"Broker{model.__name__}", __base__=model, seller_id=seller_id)


# --- errors --------------------------------------------------------------------------------------


def _refuse(status: int, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers)


def _rejection(err: ApplicationError) -> NoReturn:
    if err.type == "InvalidInput":
        _refuse(422, err.message)
    if err.type == "NotAllowedNow":
        _refuse(409, err.message)
    raise err


@contextlib.contextmanager
def temporal_errors() -> Iterator[None]:
    """Turn the gateway's answers into the API's: 404, 409/422 rejections, 503/504."""
    try:
        yield
    except ApplicationError as err:  # InvalidInput / NotAllowedNow
        _rejection(err)
    except NotFound as err:
        _refuse(404, err.message)
    except Unavailable as err:
        _refuse(503, err.message)
    except TimedOut as err:
        _refuse(504, err.message)
    except QueryFailed as err:
        log.error("query failed", error=err.message)
        _refuse(500, "the workflow could not answer this query (see the API log)")


async def _bounded(awaitable: Any) -> Any:
    try:
        return await asyncio.wait_for(awaitable, timeout=TEMPORAL_CALL_TIMEOUT)
    except TimeoutError:
        _refuse(504, "Temporal did not answer in time; try again")


def _readable(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "path", "query", "header"))
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            msg = "required field is missing"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid request: " + "; ".join(parts)


# --- identifiers and bodies ----------------------------------------------------------------------


def _known_id(value: str, missing: str) -> str:
    """Ids that cannot exist are simply not found (and never reach Temporal)."""
    if not _ID_RE.fullmatch(value):
        _refuse(404, f"{missing} (ids are 1–64 characters of A-Z a-z 0-9 _ -)")
    return value


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        _refuse(422, f"the request body is not valid JSON: {err}")
    if not isinstance(data, dict):
        _refuse(422, f"the request body must be a JSON object, got {type(data).__name__}")
    return data


def _check_sender(kind: Any, party: Party) -> None:
    if isinstance(kind, str) and kind in SENDERS and party not in SENDERS[kind]:
        senders = " or ".join(sorted(SENDERS[kind]))
        allowed = ", ".join(_events_sent_by(party))
        _refuse(
            422, f"the {party} may not send '{kind}' (sent by the {senders}); the {party} sends: {allowed}"
        )


def _parse_event_from(party: Party, fields: dict[str, Any]) -> dict[str, Any]:
    _check_sender(fields.get("type"), party)
    try:
        event = parse_event(fields)
    except InvalidInput as err:
        _refuse(422, err.message)
    return event.model_dump(mode="json", exclude_none=True)


def _check_arrival_time(arrival: Arrival) -> None:
    try:
        check_arrival_time(arrival.arrived_at, datetime.now(UTC))
    except InvalidInput as err:
        _refuse(422, err.message)


# --- the checklist page ------------------------------------------------------------------------

STEP_LABELS: dict[Step, str] = {
    Step.business_number: "Business Number (BN)",
    Step.importer_account: "Importer/exporter program account (RM)",
    Step.carm_registration: "Registration in the CARM Client Portal",
    Step.rpp_enrollment: "Release Prior to Payment (RPP)",
    Step.doa_acceptance: "Delegation of Authority (DOA) for our broker",
    Step.poa_submission: "Power of Attorney (POA) submitted",
    Step.poa_approval: "Power of Attorney approved by our broker",
    Step.program_access: "Program access for our broker",
}


@dataclass(frozen=True)
class StepRow:
    number: int
    label: str
    state: Literal["done", "you", "broker", "later", "not_needed"]
    words: str


@dataclass(frozen=True)
class ActionCard:
    code: str
    title: str
    instructions: str
    link: str | None
    link_label: str
    reason: str | None


@dataclass(frozen=True)
class ParcelRow:
    shipment_id: str
    state: str
    arrived_on: str
    due_on: str | None
    days_left: int | None
    closing: str | None


def _link_label(link: str) -> str:
    if "cbsa-asfc" in link:
        return "CBSA instructions"
    if "revenue-agency" in link:
        return "CRA instructions"
    return "Instructions on canada.ca"


def _card(code: str, params: dict[str, Any]) -> ActionCard:
    g = guidance(code)
    reason = params.get("denial_reason")
    return ActionCard(
        code=code,
        title=g.title,
        instructions=g.instructions,
        link=g.link,
        link_label=_link_label(g.link) if g.link else "",
        reason=DENIAL_REASONS.get(str(reason), str(reason)) if reason else None,
    )


def _step_rows(status: OnboardingStatus) -> list[StepRow]:
    open_by_step = {a.step: a for a in status.actions if a.step is not None}
    required = set(status.completed_steps) | set(status.pending_steps)
    rows = []
    for number, step in enumerate(GUIDANCE_ORDER, start=1):
        label = STEP_LABELS[step]
        action = open_by_step.get(step)
        if step in status.completed_steps:
            rows.append(StepRow(number, label, "done", "Done"))
        elif step not in required:
            rows.append(StepRow(number, label, "not_needed", "Not needed"))
        elif action is not None and action.party == Party.seller:
            rows.append(StepRow(number, label, "you", "Your turn"))
        elif action is not None:
            rows.append(StepRow(number, label, "broker", "Waiting on our broker"))
        else:
            rows.append(StepRow(number, label, "later", "Not yet"))
    return rows


def _long_date(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"


class ChecklistPage:
    """Renders ``templates/web/*.html.j2`` (autoescaped) from a seller's status and parcels."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(WEB_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def parcel_row(self, p: HoldStatus) -> ParcelRow:
        tz = zone(self.settings.warehouse_timezone)
        return ParcelRow(
            shipment_id=p.shipment_id,
            state=p.state,
            arrived_on=_long_date(p.arrived_at.astimezone(tz).date()),
            due_on=_long_date(date.fromisoformat(p.disposal_due_on)) if p.disposal_due_on else None,
            days_left=p.business_days_left,
            closing=p.closing,
        )

    def checklist(self, status: OnboardingStatus, parcels: list[HoldStatus], more_parcels: int) -> str:
        seller_cards = [_card(a.code, a.params) for a in status.actions if a.party == Party.seller]
        broker_cards = [_card(a.code, a.params) for a in status.actions if a.party == Party.broker]
        rows = _step_rows(status)
        if status.stage == "opted_out":
            view = "opted_out"
        elif status.stage == "cleared":
            view = "cleared"
        elif status.legacy_poa and status.cleared_for_returns:
            view = "legacy"
        else:
            view = "onboarding"
        held = sorted(
            (self.parcel_row(p) for p in parcels),
            key=lambda r: (r.days_left if r.days_left is not None else 10**6, r.shipment_id),
        )
        now = datetime.now(zone(self.settings.warehouse_timezone))
        return self.render(
            "checklist.html.j2",
            status=status,
            view=view,
            rows=rows,
            done_count=sum(r.state == "done" for r in rows),
            required_count=sum(r.state != "not_needed" for r in rows),
            seller_cards=seller_cards,
            broker_cards=broker_cards,
            cleared=_card("cleared", {}),
            opted_out=_card("opted_out", {}),
            register_bn_link=CRA_REGISTER_BN,
            return_method=status.return_method,
            parcels=held,
            more_parcels=more_parcels,
            hold_days=self.settings.hold_business_days,
            as_of=f"{_long_date(now.date())}, {now:%H:%M} warehouse time",
        )


PAGE_HEADERS = {
    # The token is in the URL: never send it on to the CBSA/CRA sites the page links to.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
}


# --- the app -------------------------------------------------------------------------------------


class _ContainUnexpected:
    """Answer 500 ``{"detail"}`` on an unexpected error and log a plain traceback.

    Without it the server logs the exception itself, and the console renderer's rich tracebacks
    show local variables: a webhook body (the broker's figures, a business number) would land in
    the log.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except Exception as err:
            log.error(
                "unexpected error",
                method=scope.get("method"),
                path=scope.get("path"),
                error=type(err).__name__,
                traceback="".join(traceback.format_exception(type(err), err, err.__traceback__)),
            )
            if not started:
                detail = "internal error: the request could not be completed (see the API log)"
                await JSONResponse({"detail": detail}, status_code=500)(scope, receive, send)


def _require_secrets(settings: Settings) -> tuple[str, str]:
    missing = [
        name
        for name, value in (
            ("API_TOKEN", settings.api_token),
            ("BROKER_WEBHOOK_SECRET", settings.broker_webhook_secret),
        )
        if not value
    ]
    if missing:
        raise ApiConfigError(
            f"the API needs {' and '.join(missing)} set (the bearer token of the /v1 endpoints and "
            "the key of the broker's webhook signatures); `make run` creates development values"
        )
    assert settings.api_token is not None and settings.broker_webhook_secret is not None
    return settings.api_token, settings.broker_webhook_secret


class _Temporal:
    """The app's Temporal client: injected, or connected on startup (and retried until it is)."""

    def __init__(self, settings: Settings, client: Client | None) -> None:
        self.settings = settings
        self.client = client
        self.last_error: str | None = None

    async def connect(self) -> bool:
        try:
            self.client = await connect(self.settings)
        except Exception as err:  # any failure to connect: keep serving, report 503, retry
            self.last_error = str(err)
            return False
        log.info("connected to Temporal", address=self.settings.temporal_address)
        return True

    async def keep_connecting(self) -> None:
        delay = 1.0
        while not await self.connect():
            log.warning("Temporal not reachable; retrying", address=self.settings.temporal_address)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    def get(self) -> Client:
        if self.client is None:
            _refuse(
                503,
                f"Temporal is not reachable at {self.settings.temporal_address}"
                + (f": {self.last_error}" if self.last_error else "")
                + "; try again shortly",
            )
        return self.client


def create_app(settings: Settings, client: Client | None = None) -> FastAPI:
    """The API. ``client`` is connected on startup (``worker.connect``) unless given."""
    api_token, webhook_secret = _require_secrets(settings)
    link_key = checklist_key(settings)
    temporal = _Temporal(settings, client)
    page = ChecklistPage(settings)
    bodies = _BodySchemas()
    task_queue = settings.temporal_task_queue

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        retry: asyncio.Task[None] | None = None
        if temporal.client is None and not await temporal.connect():
            log.warning("Temporal not reachable at startup", address=settings.temporal_address)
            retry = asyncio.create_task(temporal.keep_connecting())
        yield
        if retry is not None:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry

    app = FastAPI(
        title="carm-returns API",
        version=API_VERSION,
        description=(
            "Sign sellers up for CARM onboarding, send their events, record returned parcels at the "
            "U.S. warehouse and act on them, and receive the customs broker's events.\n\n"
            "Internal endpoints need `Authorization: Bearer <API_TOKEN>`; the broker webhook needs "
            "`X-Broker-Signature: sha256=<hex HMAC-SHA256 of the raw body with BROKER_WEBHOOK_SECRET>`. "
            'Errors are `{"detail": "..."}` naming the problem: 422 for bad input (`InvalidInput`), '
            "409 for a request that does not fit the current step (`NotAllowedNow`)."
        ),
        lifespan=lifespan,
    )

    # --- auth --------------------------------------------------------------------------------

    bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API_TOKEN>`")
    signature_header = APIKeyHeader(
        name=webhooks.SIGNATURE_HEADER,
        auto_error=False,
        scheme_name="BrokerSignature",
        description="`sha256=<hex HMAC-SHA256 of the raw request body, keyed with BROKER_WEBHOOK_SECRET>`",
    )

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            _refuse(401, "missing bearer token: send Authorization: Bearer <API_TOKEN>", challenge)
        given = credentials.credentials.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, api_token.encode()):
            _refuse(401, "wrong bearer token", challenge)

    internal: Any = [Depends(require_token)]

    # --- error bodies -----------------------------------------------------------------------

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _readable(exc)})

    # --- sellers ------------------------------------------------------------------------------

    seller_path = Annotated[
        str,
        PathParam(
            description="The seller's id: 1–64 characters of A-Z a-z 0-9 _ -",
            json_schema_extra={"pattern": ID_PATTERN, "minLength": 1, "maxLength": 64},
        ),
    ]
    shipment_path = Annotated[
        str,
        PathParam(
            description="The returned parcel's shipment id: 1–64 characters of A-Z a-z 0-9 _ -",
            json_schema_extra={"pattern": ID_PATTERN, "minLength": 1, "maxLength": 64},
        ),
    ]

    def seller_view(status: OnboardingStatus) -> SellerView:
        return SellerView(**status.model_dump(), checklist_url=checklist_url(settings, status.seller_id))

    def unknown_seller(seller_id: str) -> str:
        return f"no seller '{seller_id}': they have not signed up"

    def unknown_parcel(shipment_id: str) -> str:
        return f"no returned parcel '{shipment_id}' has been recorded"

    @app.post(
        "/v1/sellers",
        tags=["sellers"],
        summary="Sign a seller up (starts their CARM onboarding)",
        status_code=201,
        response_model=SellerView,
        responses={
            200: {"model": SellerView, "description": "Already signed up: the running onboarding is kept"},
            201: {"description": "Signed up now"},
            **_errors(401, 422, 503, 504),
        },
        dependencies=internal,
        openapi_extra=bodies.body(
            SignUp, "SignUp", "`seller_id`, `email`, and optionally `business_name`, `legacy_poa`"
        ),
    )
    async def sign_up(request: Request, response: Response) -> SellerView:
        fields = await _json_object(request)
        try:
            signup = parse_strict(SignUp, fields, "sign-up")
        except InvalidInput as err:
            _refuse(422, err.message)
        c = temporal.get()
        with temporal_errors():
            started = await _bounded(sellers.sign_up(c, signup, task_queue=task_queue))
            status = await _bounded(sellers.seller_status(c, signup.seller_id))
        response.status_code = 201 if started.created else 200
        response.headers["Location"] = f"/v1/sellers/{quote(signup.seller_id)}"
        log.info("sign-up", seller_id=signup.seller_id, created=started.created)
        return seller_view(status)

    @app.get(
        "/v1/sellers/{seller_id}",
        tags=["sellers"],
        summary="A seller's onboarding status",
        response_model=SellerView,
        responses=_errors(401, 404, 503, 504),
        dependencies=internal,
    )
    async def get_seller(seller_id: seller_path) -> SellerView:
        _known_id(seller_id, unknown_seller(seller_id))
        c = temporal.get()
        with temporal_errors():
            status = await _bounded(sellers.seller_status(c, seller_id))
        return seller_view(status)

    @app.post(
        "/v1/sellers/{seller_id}/events",
        tags=["sellers"],
        summary="An event from the seller (their answer to a step)",
        description="Events the seller may send: " + ", ".join(f"`{e}`" for e in SELLER_EVENTS) + ". "
        "An optional `event_id` makes a redelivery harmless.",
        response_model=SellerView,
        responses=_errors(401, 404, 409, 422, 503, 504),
        dependencies=internal,
        openapi_extra=bodies.body(
            _union([EVENT_MODELS[e] for e in SELLER_EVENTS]),
            "SellerEvent",
            '`{"type": EVENT, "event_id"?, ...fields}`',
        ),
    )
    async def seller_event(seller_id: seller_path, request: Request) -> SellerView:
        _known_id(seller_id, unknown_seller(seller_id))
        event = _parse_event_from(Party.seller, await _json_object(request))
        c = temporal.get()
        with temporal_errors():
            status = await _bounded(sellers.apply_event(c, seller_id, event))
        log.info("event applied", seller_id=seller_id, event_type=event["type"], sender="seller")
        return seller_view(status)

    # --- returned parcels --------------------------------------------------------------------

    async def settled_parcel(c: Client, shipment_id: str) -> HoldStatus:
        """The status of a parcel just recorded, once its deadline is set (or after a moment)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + ARRIVAL_SETTLE_SECONDS
        while True:
            status: HoldStatus = await holds.hold_status(c, shipment_id)
            if status.state != "held" or status.disposal_due_on or loop.time() >= give_up:
                return status
            await asyncio.sleep(0.1)

    @app.post(
        "/v1/returns",
        tags=["returns"],
        summary="A returned parcel arrived at the U.S. warehouse",
        status_code=201,
        response_model=HoldStatus,
        responses={
            200: {"model": HoldStatus, "description": "Already recorded: nothing new is started"},
            201: {"description": "Recorded now"},
            **_errors(401, 422, 503, 504),
        },
        dependencies=internal,
        openapi_extra=bodies.body(
            Arrival, "Arrival", "`shipment_id`, `seller_id`, `arrived_at` (ISO-8601 with offset), `origin`?"
        ),
    )
    async def record_arrival(request: Request, response: Response) -> HoldStatus:
        fields = await _json_object(request)
        try:
            arrival = parse_strict(Arrival, fields, "arrival")
        except InvalidInput as err:
            _refuse(422, err.message)
        _check_arrival_time(arrival)
        c = temporal.get()
        with temporal_errors():
            started = await _bounded(holds.record_arrival(c, arrival, task_queue=task_queue))
            status = await _bounded(settled_parcel(c, arrival.shipment_id))
        response.status_code = 201 if started.created else 200
        response.headers["Location"] = f"/v1/returns/{quote(arrival.shipment_id)}"
        log.info(
            "arrival", shipment_id=arrival.shipment_id, seller_id=arrival.seller_id, created=started.created
        )
        return status

    @app.get(
        "/v1/returns/{shipment_id}",
        tags=["returns"],
        summary="A returned parcel's status (state, deadline, business days left)",
        response_model=HoldStatus,
        responses=_errors(401, 404, 503, 504),
        dependencies=internal,
    )
    async def get_parcel(shipment_id: shipment_path) -> HoldStatus:
        _known_id(shipment_id, unknown_parcel(shipment_id))
        c = temporal.get()
        with temporal_errors():
            status: HoldStatus = await _bounded(holds.hold_status(c, shipment_id))
        return status

    @app.post(
        "/v1/returns/{shipment_id}/decision",
        tags=["returns"],
        summary="The seller's decision: forward to their own U.S. address, or dispose now",
        response_model=HoldStatus,
        responses=_errors(401, 404, 409, 422, 503, 504),
        dependencies=internal,
        openapi_extra=bodies.body(
            Decision,
            "Decision",
            '`{"action": "forward", "us_address": {...}}` or `{"action": "dispose"}`',
        ),
    )
    async def decide(shipment_id: shipment_path, request: Request) -> HoldStatus:
        _known_id(shipment_id, unknown_parcel(shipment_id))
        fields = await _json_object(request)
        try:
            decision = parse_with(TypeAdapter(Decision), fields, "decision")
        except InvalidInput as err:
            _refuse(422, err.message)
        c = temporal.get()
        with temporal_errors():
            status: HoldStatus = await _bounded(holds.decide(c, shipment_id, decision))
        log.info("decision", shipment_id=shipment_id, action=decision.action)
        return status

    @app.post(
        "/v1/returns/{shipment_id}/extension",
        tags=["returns"],
        summary="Operations extend a hold by some business days, with a reason",
        response_model=HoldStatus,
        responses=_errors(401, 404, 409, 422, 503, 504),
        dependencies=internal,
        openapi_extra=bodies.body(ExtendHold, "ExtendHold", "`business_days` (1–60) and a `reason`"),
    )
    async def extend(shipment_id: shipment_path, request: Request) -> HoldStatus:
        _known_id(shipment_id, unknown_parcel(shipment_id))
        fields = await _json_object(request)
        try:
            extension = parse_strict(ExtendHold, fields, "extension")
        except InvalidInput as err:
            _refuse(422, err.message)
        c = temporal.get()
        with temporal_errors():
            status: HoldStatus = await _bounded(holds.extend_hold(c, shipment_id, extension))
        log.info("hold extended", shipment_id=shipment_id, business_days=extension.business_days)
        return status

    # --- the broker ----------------------------------------------------------------------------

    @app.post(
        "/v1/broker/events",
        tags=["broker"],
        summary="The customs broker's webhook",
        description="Events the broker may send: " + ", ".join(f"`{e}`" for e in BROKER_EVENTS) + ". "
        "Signed with `X-Broker-Signature`; redeliveries with the same `event_id` answer 200 and "
        "change nothing.",
        response_model=OnboardingStatus,
        responses=_errors(401, 404, 409, 422, 503, 504),
        openapi_extra=bodies.body(
            _union([_with_seller_id(EVENT_MODELS[e]) for e in BROKER_EVENTS]),
            "BrokerEvent",
            '`{"seller_id", "type", "event_id"?, ...fields}`',
        ),
    )
    async def broker_event(
        request: Request, signature: Annotated[str | None, Depends(signature_header)]
    ) -> OnboardingStatus:
        raw = await request.body()
        if not signature:
            _refuse(401, f"missing {webhooks.SIGNATURE_HEADER} header")
        if not webhooks.verify(raw, signature, webhook_secret):
            log.warning("broker webhook refused: bad signature")
            _refuse(401, f"bad {webhooks.SIGNATURE_HEADER}: it does not match the request body")
        fields = await _json_object(request)
        seller_id = fields.pop("seller_id", None)
        if seller_id is None:
            _refuse(422, "invalid broker event: seller_id: required field is missing")
        if not isinstance(seller_id, str) or not _ID_RE.fullmatch(seller_id):
            _refuse(422, "invalid broker event: seller_id must be 1–64 characters of A-Z a-z 0-9 _ -")
        event = _parse_event_from(Party.broker, fields)
        c = temporal.get()
        with temporal_errors():
            status: OnboardingStatus = await _bounded(sellers.apply_event(c, seller_id, event))
        log.info("event applied", seller_id=seller_id, event_type=event["type"], sender="broker")
        return status

    # --- the seller's page ---------------------------------------------------------------------

    def html(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)

    async def parcels_of(c: Client, shipment_ids: list[str]) -> list[HoldStatus]:
        gate = asyncio.Semaphore(10)

        async def one(shipment_id: str) -> HoldStatus | None:
            async with gate:
                try:
                    return await asyncio.wait_for(holds.hold_status(c, shipment_id), 10)
                except (GatewayError, TimeoutError):
                    return None

        found = await asyncio.gather(*(one(s) for s in shipment_ids))
        return [p for p in found if p is not None and p.state == "held"]

    @app.get(
        "/sellers/{seller_id}/checklist",
        tags=["sellers"],
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
        seller_id: seller_path,
        token: Annotated[str | None, Query(description="The seller's signed token (from their link)")] = None,
    ) -> HTMLResponse:
        # hmac.compare_digest refuses non-ASCII text: such a token is simply wrong.
        if token is None or not token.isascii() or not verify_checklist_token(seller_id, token, link_key):
            return html(page.render("problem.html.j2", kind="bad_link"), 403)
        if temporal.client is None:
            return html(page.render("problem.html.j2", kind="unavailable"), 503)
        c = temporal.client
        try:
            status = await _bounded(sellers.seller_status(c, seller_id))
            wanted = status.held_shipments[:MAX_PARCELS_ON_PAGE]
            parcels = await _bounded(parcels_of(c, wanted))
        except NotFound:
            return html(page.render("problem.html.j2", kind="unknown_seller"), 404)
        except (Unavailable, TimedOut, HTTPException):
            return html(page.render("problem.html.j2", kind="unavailable"), 503)
        more = len(status.held_shipments) - len(wanted)
        return html(page.checklist(status, parcels, more))

    # --- health ----------------------------------------------------------------------------------

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Liveness and Temporal reachability",
        response_model=Health,
        responses=_errors(503),
    )
    async def healthz() -> Health | JSONResponse:
        c = temporal.client
        if c is None:
            reason = temporal.last_error or "not connected yet"
            return JSONResponse(status_code=503, content={"detail": f"Temporal is not reachable: {reason}"})
        try:
            await asyncio.wait_for(c.service_client.check_health(timeout=timedelta(seconds=2)), 3)
        except Exception as err:  # any failure means "not reachable", with its reason
            return JSONResponse(
                status_code=503, content={"detail": f"Temporal is not reachable: {err or type(err).__name__}"}
            )
        return Health(status="ok", temporal="reachable")

    # --- the OpenAPI document ------------------------------------------------------------------

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=[
                    {"name": "sellers", "description": "Sign-up, onboarding status, seller events, the page"},
                    {"name": "returns", "description": "Returned parcels held at the U.S. warehouse"},
                    {"name": "broker", "description": "The customs broker's signed webhook"},
                    {"name": "health", "description": "Liveness"},
                ],
            )
            # FastAPI documents a pydantic-shaped 422 on every route with parameters; ours are
            # plain strings that cannot fail, and every real error is an ErrorBody.
            for operations in schema["paths"].values():
                for operation in operations.values():
                    answer = operation.get("responses", {}).get("422", {})
                    if "HTTPValidationError" in json.dumps(answer):
                        del operation["responses"]["422"]
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            for name, definition in bodies.components.items():
                if components.setdefault(name, definition) != definition:
                    raise RuntimeError(f"two different schemas named {name} in the OpenAPI document")
            schema["components"]["schemas"] = dict(sorted(components.items()))
            app.openapi_schema = jsonable_encoder(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(_ContainUnexpected)
    app.state.temporal = temporal
    return app


# --- running it ---------------------------------------------------------------------------------


class _RedactTokens(logging.Filter):
    """Keep checklist tokens out of uvicorn's logs (they are the seller's key to their page)."""

    _TOKEN = re.compile(r"(token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI copy of the message
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args)
        return True


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (independent of the secrets and of Temporal)."""
    app = create_app(Settings(api_token="openapi", broker_webhook_secret="openapi"))
    return app.openapi()


def write_openapi(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m starter.api", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write-openapi", metavar="PATH", type=Path, help="write the OpenAPI document and exit"
    )
    args = parser.parse_args(argv)
    if args.write_openapi:
        write_openapi(args.write_openapi)
        print(f"wrote {args.write_openapi}")
        return 0

    import uvicorn

    from config.logging import configure_logging

    settings = Settings()
    try:
        app = create_app(settings)
    except ApiConfigError as err:
        print(f"starter.api: cannot start: {err}", file=sys.stderr)
        return 2
    configure_logging(settings)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(_RedactTokens())
    log.info(
        "API starting",
        host=settings.api_host,
        port=settings.api_port,
        temporal=settings.temporal_address,
        task_queue=settings.temporal_task_queue,
    )
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
