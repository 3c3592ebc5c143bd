"""What the routers are given, as FastAPI dependencies: settings, secrets, Temporal, the caller's proof.

:func:`starter.api.app.create_app` puts one of each on ``app.state``; a route asks for them with
``Depends`` (the ``...Dep`` aliases below), so the routers are plain module-level functions that a
test can reach with any app. Who may call what:

* ``/v1/...`` (all but the broker webhook): ``Authorization: Bearer <API_TOKEN>``
  (:func:`require_token`);
* ``POST /v1/broker/events``: ``X-Broker-Signature`` (:data:`signature_header`; checked against
  the raw body by the broker router, see :mod:`starter.webhooks`);
* the checklist page: the per-seller token of :mod:`starter.links`.
"""

import asyncio
import hmac
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from config.settings import Settings
from gateway.connection import connect
from starter import webhooks
from starter.api.errors import refuse
from starter.api.page import ChecklistPage
from starter.links import checklist_key

log = structlog.get_logger("api")


class ApiConfigError(ValueError):
    """The API cannot start with these settings (a secret is missing)."""


@dataclass(frozen=True)
class Secrets:
    """The API's keys, checked present when the app is built."""

    api_token: str
    webhook_secret: str
    link_key: bytes


def require_secrets(settings: Settings) -> Secrets:
    """The secrets, or :class:`ApiConfigError` naming the missing ones: the API refuses to start."""
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
    return Secrets(settings.api_token, settings.broker_webhook_secret, checklist_key(settings))


class Temporal:
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
        """The client, or 503 while Temporal has not been reached.

        Routes call this after validating the request, so bad input is 422 even without Temporal.
        """
        if self.client is None:
            refuse(
                503,
                f"Temporal is not reachable at {self.settings.temporal_address}"
                + (f": {self.last_error}" if self.last_error else "")
                + "; try again shortly",
            )
        return self.client


# ``app.state`` is untyped: these name what create_app put there, with its type.


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _secrets(request: Request) -> Secrets:
    secrets: Secrets = request.app.state.secrets
    return secrets


def _temporal(request: Request) -> Temporal:
    temporal: Temporal = request.app.state.temporal
    return temporal


def _page(request: Request) -> ChecklistPage:
    page: ChecklistPage = request.app.state.page
    return page


SettingsDep = Annotated[Settings, Depends(_settings)]
SecretsDep = Annotated[Secrets, Depends(_secrets)]
TemporalDep = Annotated[Temporal, Depends(_temporal)]
PageDep = Annotated[ChecklistPage, Depends(_page)]

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API_TOKEN>`")
signature_header = APIKeyHeader(
    name=webhooks.SIGNATURE_HEADER,
    auto_error=False,
    scheme_name="BrokerSignature",
    description="`sha256=<hex HMAC-SHA256 of the raw request body, keyed with BROKER_WEBHOOK_SECRET>`",
)
BrokerSignature = Annotated[str | None, Depends(signature_header)]
"""The ``X-Broker-Signature`` header as sent (checked by the route, which has the raw body)."""


def require_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)], secrets: SecretsDep
) -> None:
    """401 unless the request carries ``Authorization: Bearer <API_TOKEN>``."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        refuse(401, "missing bearer token: send Authorization: Bearer <API_TOKEN>", challenge)
    given = credentials.credentials.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, secrets.api_token.encode()):
        refuse(401, "wrong bearer token", challenge)


INTERNAL = [Depends(require_token)]
"""The ``dependencies`` of a router whose endpoints need the bearer token."""
