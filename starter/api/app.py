"""The FastAPI app: its routers, its state, connecting to Temporal, its error handling.

:func:`create_app` wires what the routers depend on (:mod:`starter.api.deps`) onto
``app.state``; the endpoints themselves live in one router per group:

* :mod:`starter.api.sellers` — ``/v1/sellers``: sign-up, status, the seller's events;
* :mod:`starter.api.returns` — ``/v1/returns``: arrivals, status, decisions, extensions;
* :mod:`starter.api.broker` — ``/v1/broker/events``: the broker's signed webhook;
* :mod:`starter.api.checklist` — the seller's checklist page;
* :mod:`starter.api.health` — ``/healthz``.

Without Temporal at start-up the API still serves: it answers 503 and keeps trying to connect.
"""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from temporalio.client import Client

from config.settings import Settings
from starter.api import broker, checklist, health, openapi, returns, sellers
from starter.api.deps import Temporal, require_secrets
from starter.api.errors import ContainUnexpected, validation_error
from starter.api.page import ChecklistPage

API_VERSION = "1.0.0"
"""Version of the ``/v1`` contract in the OpenAPI document (not the package version)."""

DESCRIPTION = (
    "Sign sellers up for CARM onboarding, send their events, record returned parcels at the "
    "U.S. warehouse and act on them, and receive the customs broker's events.\n\n"
    "Internal endpoints need `Authorization: Bearer <API_TOKEN>`; the broker webhook needs "
    "`X-Broker-Signature: sha256=<hex HMAC-SHA256 of the raw body with BROKER_WEBHOOK_SECRET>`. "
    'Errors are `{"detail": "..."}` naming the problem: 422 for bad input (`InvalidInput`), '
    "409 for a request that does not fit the current step (`NotAllowedNow`)."
)

log = structlog.get_logger("api")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect to Temporal unless a client was given; keep retrying in the background if it fails."""
    temporal: Temporal = app.state.temporal
    retry: asyncio.Task[None] | None = None
    if temporal.client is None and not await temporal.connect():
        log.warning("Temporal not reachable at startup", address=temporal.settings.temporal_address)
        retry = asyncio.create_task(temporal.keep_connecting())
    yield
    if retry is not None:
        retry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await retry


def create_app(settings: Settings, client: Client | None = None) -> FastAPI:
    """The API. ``client`` is connected on startup (``gateway.connection.connect``) unless given.

    Raises :class:`~starter.api.deps.ApiConfigError` when a secret is missing.
    """
    secrets = require_secrets(settings)
    app = FastAPI(title="carm-returns API", version=API_VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.secrets = secrets
    app.state.temporal = Temporal(settings, client)
    app.state.page = ChecklistPage(settings)
    for group in (sellers, returns, broker, checklist, health):
        app.include_router(group.router)
    app.exception_handler(RequestValidationError)(validation_error)
    app.add_middleware(ContainUnexpected)
    # FastAPI's documented way to customise the document is to replace this method.
    app.openapi = functools.partial(openapi.document, app)  # type: ignore[method-assign]
    return app
