"""What the routers are given, as FastAPI dependencies: settings, secrets, Temporal, the caller's proof.

:func:`starter.api.app.create_app` puts one of each on ``app.state``; a route asks for them with
``Depends`` (the ``...Dep`` aliases below), so the routers are plain module-level functions that a
test can reach with any app. Who may call what:

* ``/v1/...`` (all but the broker webhook): a bearer token with a role the route serves
  (:mod:`starter.api.auth`);
* ``POST /v1/broker/events``: a Standard Webhooks signature (checked against the raw body by the
  broker router, see :mod:`starter.webhooks`);
* the checklist page: the per-seller token of :mod:`starter.links`.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from standardwebhooks import Webhook
from temporalio.client import Client

from config.settings import Settings
from gateway.budget import Budget
from gateway.connection import connect, describe_target
from starter import webhooks
from starter.api.auth import TokenError, Tokens
from starter.api.errors import refuse
from starter.api.listing import page_key
from starter.api.page import ChecklistPage
from starter.api.timing import ARRIVED
from starter.links import checklist_keys

log = structlog.get_logger("api")

RECONNECT_FIRST_DELAY = 0.5
RECONNECT_MAX_DELAY = 10.0
ADMISSION_WAIT_SECONDS = 2.0
"""How long a request waits for a place among ``API_MAX_IN_FLIGHT`` before it is 503."""


class ApiConfigError(ValueError):
    """The API cannot start with these settings (a secret is missing or malformed)."""


@dataclass(frozen=True)
class Secrets:
    """The API's keys, checked present and well formed when the app is built."""

    tokens: Tokens
    webhooks: list[Webhook]
    link_keys: list[bytes]

    @property
    def link_key(self) -> bytes:
        """The key that signs new checklist links."""
        return self.link_keys[0]

    @property
    def page_key(self) -> bytes:
        """The key that seals the lists' page tokens."""
        return page_key(self.link_key)


def require_secrets(settings: Settings) -> Secrets:
    """The secrets, or :class:`ApiConfigError` naming what is missing: the API refuses to start."""
    entries = settings.api_tokens.get_secret_value() if settings.api_tokens else None
    try:
        tokens = Tokens.parse(settings.api_token, entries)
        verifiers = webhooks.secrets_from(settings.broker_webhook_secret)
    except (TokenError, webhooks.SecretError) as err:
        raise ApiConfigError(str(err)) from None
    missing = [
        name
        for name, present in (("API_TOKEN or API_TOKENS", tokens), ("BROKER_WEBHOOK_SECRET", verifiers))
        if not present
    ]
    if missing:
        raise ApiConfigError(
            f"the API needs {' and '.join(missing)} set (the bearer tokens of the /v1 endpoints and "
            "the Standard Webhooks secret of the broker's webhook); `make run` creates development values"
        )
    if not settings.api_token and not settings.checklist_link_secret:
        raise ApiConfigError(
            "with API_TOKENS and no API_TOKEN, set CHECKLIST_LINK_SECRET (the key of the sellers' "
            "checklist links, otherwise derived from API_TOKEN)"
        )
    return Secrets(tokens, verifiers, checklist_keys(settings))


class Temporal:
    """The app's Temporal client: injected, or connected on startup (and retried until it is)."""

    def __init__(self, settings: Settings, client: Client | None) -> None:
        self.settings = settings
        self.client = client
        self.last_error: str | None = None
        self.target = describe_target(settings)
        self.places = asyncio.Semaphore(settings.api_max_in_flight)

    async def connect(self) -> bool:
        try:
            self.client = await connect(self.settings)
        except Exception as err:  # any failure to connect: keep serving, report 503, retry
            self.last_error = str(err)
            return False
        log.info("connected to Temporal", target=self.target)
        return True

    async def keep_connecting(self) -> None:
        delay = RECONNECT_FIRST_DELAY
        while not await self.connect():
            log.warning("Temporal not reachable; retrying", target=self.target, in_seconds=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY)

    def get(self) -> Client:
        """The client, or 503 while Temporal has not been reached.

        Routes call this after validating the request, so bad input is 422 even without Temporal.
        """
        if self.client is None:
            refuse(
                503,
                f"Temporal is not reachable at {self.target}"
                + (f": {self.last_error}" if self.last_error else "")
                + "; try again shortly",
                code="temporal_unreachable",
            )
        return self.client

    def budget(self) -> Budget:
        """The time one request gives Temporal (``API_TEMPORAL_TIMEOUT_SECONDS``), from now."""
        return Budget.of(self.settings.api_temporal_timeout_seconds)


@dataclass(frozen=True)
class Call:
    """One request's way to Temporal: the client, and the time the request has for it.

    The time counts from the request's arrival (:data:`starter.api.timing.ARRIVED`), so a request
    that waited for the CPU in a busy API does not also wait its full time on Temporal.
    """

    temporal: Temporal
    budget: Budget

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[Client]:
        """The client, for as long as the request needs it: 503 at once while Temporal is not
        reached, and when ``API_MAX_IN_FLIGHT`` requests already wait on it and none is done
        within a moment (the request is then refused before anything was sent)."""
        client = self.temporal.get()
        try:
            async with asyncio.timeout(min(ADMISSION_WAIT_SECONDS, self.budget.left())):
                await self.temporal.places.acquire()
        except TimeoutError:
            log.warning("request shed: too many waiting on Temporal")
            refuse(
                503,
                "the service is busy: too many requests are waiting on Temporal; nothing was done, "
                "send it again after Retry-After",
                code="overloaded",
            )
        try:
            yield client
        finally:
            self.temporal.places.release()


# ``app.state`` is untyped: these name what create_app put there, with its type. Every dependency
# is a coroutine: FastAPI runs plain functions in a thread pool, which a burst would queue on.


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _secrets(request: Request) -> Secrets:
    secrets: Secrets = request.app.state.secrets
    return secrets


async def _temporal(request: Request) -> Temporal:
    temporal: Temporal = request.app.state.temporal
    return temporal


async def _call(request: Request) -> Call:
    temporal: Temporal = request.app.state.temporal
    loop = asyncio.get_running_loop()
    arrived: float = request.scope.get(ARRIVED, loop.time())
    return Call(temporal, Budget(arrived + temporal.settings.api_temporal_timeout_seconds))


async def _page(request: Request) -> ChecklistPage:
    page: ChecklistPage = request.app.state.page
    return page


SettingsDep = Annotated[Settings, Depends(_settings)]
SecretsDep = Annotated[Secrets, Depends(_secrets)]
TemporalDep = Annotated[Temporal, Depends(_temporal)]
CallDep = Annotated[Call, Depends(_call)]
PageDep = Annotated[ChecklistPage, Depends(_page)]

webhook_signature = APIKeyHeader(
    name=webhooks.SIGNATURE_HEADER,
    auto_error=False,
    scheme_name="StandardWebhooks",
    description=(
        f"Standard Webhooks: `{webhooks.ID_HEADER}` (the event's id), `{webhooks.TIMESTAMP_HEADER}` "
        f"(Unix seconds) and `{webhooks.SIGNATURE_HEADER}` (`v1,<base64 HMAC-SHA256 of "
        '"{id}.{timestamp}.{body}" with BROKER_WEBHOOK_SECRET>`)'
    ),
)
WebhookSignature = Annotated[str | None, Depends(webhook_signature)]
"""The signature header as sent (documents the scheme; the route checks all three headers)."""
