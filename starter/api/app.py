"""The FastAPI app: its routers, its state, connecting to Temporal, its error handling.

:func:`create_app` wires what the routers depend on (:mod:`starter.api.deps`) onto
``app.state``; the endpoints themselves live in one router per group:

* :mod:`starter.api.sellers` — ``/v1/sellers``: sign-up, status, the seller's events;
* :mod:`starter.api.returns` — ``/v1/returns``: arrivals, status, decisions, extensions;
* :mod:`starter.api.broker` — ``/v1/broker/events``: the broker's signed webhook;
* :mod:`starter.api.checklist` — the seller's checklist page;
* :mod:`starter.api.health` — ``/healthz``.

Every request body is bounded (:mod:`starter.api.limits`) before any route sees it, and every
error is answered by :mod:`starter.api.errors` (problem documents; HTML on the seller's page).
Without Temporal at start-up the API still serves: it answers 503 and keeps trying to connect.
"""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI
from temporalio.client import Client

from config.settings import Settings
from starter.api import broker, checklist, errors, health, openapi, operations, returns, sellers
from starter.api.deps import Temporal, require_secrets
from starter.api.limits import BoundedBody
from starter.api.page import ChecklistPage
from starter.api.timing import Timing

API_VERSION = "1.0.0"
"""Version of the ``/v1`` contract in the OpenAPI document (not the package version)."""

DESCRIPTION = (
    "Sign sellers up for CARM onboarding, send their events, record returned parcels at the "
    "U.S. warehouse and act on them, and receive the customs broker's events.\n\n"
    "`/v1` endpoints need `Authorization: Bearer <token>` with a role the endpoint serves "
    "(`signup`, `warehouse`, `operations`; 403 otherwise); the broker webhook is signed as "
    "Standard Webhooks specify (`webhook-id`, `webhook-timestamp`, `webhook-signature`). "
    "Errors are RFC 9457 problem documents (`application/problem+json`) with `type`, `title`, "
    "`status`, `detail` and the rejection's `code`, `field` and `params`: 422 bad input "
    "(`invalid-input`), 409 a request that does not fit the current step (`not-allowed-now`), "
    "413 a body over the limit, 503 with `Retry-After` when Temporal cannot take the request in "
    "time. 202 with a `Location` to poll: accepted, not finished within the request's time."
)

log = structlog.get_logger("api")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect to Temporal unless a client was given; keep retrying in the background if it fails."""
    temporal: Temporal = app.state.temporal
    retry: asyncio.Task[None] | None = None
    if temporal.client is None and not await temporal.connect():
        log.warning("Temporal not reachable at startup", target=temporal.target)
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
    app.state.page_error = functools.partial(checklist.error_page, app.state.page)
    for group in (sellers, returns, operations, broker, checklist, health):
        app.include_router(group.router)
    errors.install(app)
    app.add_middleware(
        BoundedBody, max_bytes=settings.api_max_body_bytes, timeout=settings.api_body_timeout_seconds
    )
    app.add_middleware(Timing)  # outermost: the arrival is noted before anything else runs
    # FastAPI's documented way to customise the document is to replace this method.
    app.openapi = functools.partial(openapi.document, app)  # type: ignore[method-assign]
    return app
