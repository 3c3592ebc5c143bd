"""The codec server: Temporal's remote codec protocol, so the Web UI and CLI show decrypted payloads.

    python -m codec          (settings from the environment, see docs/encryption.md)

``POST .../encode`` and ``POST .../decode`` take and return ``{"payloads": [...]}``: Temporal's
``Payloads`` message in protobuf JSON (base64 ``data`` and metadata values). Only the last path
segment counts, so the server can sit under any prefix (``/default/decode`` works too). The
``X-Namespace`` header the UI and CLI send must name the namespace this server serves
(``TEMPORAL_NAMESPACE``); a request for another namespace is refused rather than encrypted with
this service's keys. Without the header the served namespace is assumed (curl, scripts).

Browsers reach it cross-origin from the Web UI, so CORS allows the configured UI origins
(``CODEC_CORS_ORIGINS``) with the ``Content-Type``, ``X-Namespace``, ``Authorization`` and
``Authorization-Extras`` headers; other origins get no CORS grant (preflight answered 400).

Access: with neither ``CODEC_SERVER_TOKEN`` nor ``CODEC_SERVER_OIDC_USERINFO_URL`` set, anyone who
can reach the port can decode, so it must listen on loopback only (the embedded dev stack). With
one of them set, every encode/decode needs ``Authorization: Bearer <token>`` (401 otherwise), and
the token must equal the shared token or be accepted by the OIDC provider's userinfo endpoint
(the Web UI forwards its user's access token there with ``TEMPORAL_CODEC_PASS_ACCESS_TOKEN``),
optionally restricted to ``CODEC_SERVER_ALLOWED_EMAILS``. Listening beyond loopback without a check
is refused unless ``CODEC_SERVER_ALLOW_UNAUTHENTICATED`` says another gate is in front.

Without a token check, the server also refuses (400) a request whose ``Host`` is not one it
serves (loopback names and the bind address, or ``CODEC_SERVER_ALLOWED_HOSTS``): a web page whose
own name an attacker points at 127.0.0.1 (DNS rebinding) would otherwise reach it "same-origin",
past CORS, and read decrypted payloads. With a token check the token is the gate: such a page
cannot know it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from codec.aes import CodecError, EncryptionCodec
from config.settings import Settings

log = logging.getLogger("codec.server")

ALLOWED_HEADERS = ["Content-Type", "X-Namespace", "Authorization", "Authorization-Extras"]
USERINFO_CACHE_SECONDS = 60.0
USERINFO_CACHE_SIZE = 1024
LOOPBACK_NAMES = {"localhost"}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
"""The ``Host`` names a browser on this machine uses for a loopback server (IPv6 in brackets)."""
WILDCARD_BINDS = {"0.0.0.0", "::"}


class ConfigError(ValueError):
    """The codec server's settings do not make a safe server; the message says what to set."""


def split_bind(bind: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8081`` for IPv6) to host and port."""
    host, sep, port = bind.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"CODEC_SERVER_BIND must be host:port, got {bind!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def served_hosts(bind_host: str) -> list[str]:
    """The ``Host`` names of a server bound to ``bind_host``: loopback names, and the address itself."""
    hosts = list(LOOPBACK_HOSTS)
    if bind_host not in WILDCARD_BINDS and not is_loopback(bind_host):
        hosts.append(f"[{bind_host}]" if ":" in bind_host else bind_host)
    return hosts


def _email_allowed(email: str, allowed: Sequence[str]) -> bool:
    email = email.lower()
    for entry in allowed:
        entry = entry.strip().lower()
        if entry.startswith("@") and email.endswith(entry):
            return True
        if email == entry:
            return True
    return False


@dataclass
class AccessCheck:
    """Who may call encode/decode: nobody is asked when neither a token nor OIDC is configured."""

    token: str | None = None
    userinfo_url: str | None = None
    allowed_emails: list[str] = field(default_factory=list)
    http: httpx.AsyncClient | None = None
    _cache: dict[str, tuple[float, bool]] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return bool(self.token or self.userinfo_url)

    async def allows(self, authorization: str | None) -> tuple[bool, str]:
        """Whether the ``Authorization`` header grants access, and why not."""
        if not self.required:
            return True, ""
        scheme, _, presented = (authorization or "").partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented:
            return False, "missing bearer token"
        if self.token and hmac.compare_digest(presented.encode(), self.token.encode()):
            return True, ""
        if self.userinfo_url:
            return await self._userinfo_allows(presented)
        return False, "invalid token"

    async def _userinfo_allows(self, presented: str) -> tuple[bool, str]:
        digest = hashlib.sha256(presented.encode()).hexdigest()
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[0] > now:
            return cached[1], "" if cached[1] else "token not accepted"
        assert self.userinfo_url is not None
        client = self.http or httpx.AsyncClient(timeout=5.0)
        try:
            response = await client.get(self.userinfo_url, headers={"Authorization": f"Bearer {presented}"})
        except httpx.HTTPError as err:
            log.warning("OIDC userinfo endpoint unreachable: %s", type(err).__name__)
            return False, "the identity provider could not be reached"
        finally:
            if self.http is None:
                await client.aclose()
        ok = response.status_code == 200
        reason = "token not accepted by the identity provider"
        if ok and self.allowed_emails:
            try:
                claims = response.json()
            except ValueError:
                claims = {}
            email = claims.get("email") if isinstance(claims, dict) else None
            verified = claims.get("email_verified", True) if isinstance(claims, dict) else False
            ok = (
                isinstance(email, str)
                and verified is not False
                and _email_allowed(email, self.allowed_emails)
            )
            reason = "user not allowed"
        if len(self._cache) >= USERINFO_CACHE_SIZE:
            self._cache.clear()
        self._cache[digest] = (now + USERINFO_CACHE_SECONDS, ok)
        return ok, "" if ok else reason


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers or None)


def create_app(
    codec: PayloadCodec,
    *,
    namespace: str,
    cors_origins: Sequence[str],
    access: AccessCheck | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The codec server for ``namespace``, encoding and decoding with ``codec``.

    ``allowed_hosts``: the ``Host`` names it answers (any when ``None``).
    """
    access = access or AccessCheck()
    app = FastAPI(
        title="carm-returns codec server",
        description="Temporal remote codec protocol (payload encryption). See docs/encryption.md.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_methods=["POST"],
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=True,  # TEMPORAL_CODEC_INCLUDE_CREDENTIALS (cookies to a gate in front)
        max_age=600,
    )
    if allowed_hosts is not None:
        # Outermost: a rebinding page's request is refused before anything else reads it.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=False)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/{path:path}")
    async def encode_or_decode(path: str, request: Request) -> Response:
        operation = path.rstrip("/").rsplit("/", 1)[-1]
        if operation not in ("encode", "decode"):
            return _error(404, "not found: POST .../encode or .../decode")
        allowed, why = await access.allows(request.headers.get("authorization"))
        if not allowed:
            return _error(401, f"unauthorized: {why}", **{"WWW-Authenticate": "Bearer"})
        asked = request.headers.get("x-namespace")
        if asked and asked != namespace:
            return _error(403, f"this codec server serves namespace {namespace!r}, not {asked!r}")
        try:
            body: Any = json.loads(await request.body())
            payloads = json_format.ParseDict(body, Payloads(), ignore_unknown_fields=True)
        except (ValueError, json_format.ParseError, TypeError) as err:
            return _error(400, f'body must be {{"payloads": [...]}} in protobuf JSON: {err}')
        try:
            if operation == "encode":
                result = await codec.encode(payloads.payloads)
            else:
                result = await codec.decode(payloads.payloads)
        except CodecError as err:
            return _error(400, str(err))
        return JSONResponse(json_format.MessageToDict(Payloads(payloads=result)))

    return app


def app_from_settings(settings: Settings, *, http: httpx.AsyncClient | None = None) -> FastAPI:
    """The app ``python -m codec`` serves; ``ConfigError`` when the settings are unsafe or incomplete."""
    if settings.payload_codec_keys is None:
        raise ConfigError("PAYLOAD_CODEC_KEYS is not set: there is nothing to encrypt or decrypt with")
    host, _ = split_bind(settings.codec_server_bind)
    access = AccessCheck(
        token=settings.codec_server_token.get_secret_value() if settings.codec_server_token else None,
        userinfo_url=settings.codec_server_oidc_userinfo_url,
        allowed_emails=list(settings.codec_server_allowed_emails),
        http=http,
    )
    if settings.codec_server_allowed_emails and not settings.codec_server_oidc_userinfo_url:
        raise ConfigError("CODEC_SERVER_ALLOWED_EMAILS needs CODEC_SERVER_OIDC_USERINFO_URL")
    if not access.required and not is_loopback(host) and not settings.codec_server_allow_unauthenticated:
        raise ConfigError(
            f"CODEC_SERVER_BIND {settings.codec_server_bind} is not loopback, and no access check is "
            "configured: set CODEC_SERVER_TOKEN or CODEC_SERVER_OIDC_USERINFO_URL (or, only when another "
            "gate stands in front, CODEC_SERVER_ALLOW_UNAUTHENTICATED=true)"
        )
    if not settings.codec_cors_origins:
        raise ConfigError("CODEC_CORS_ORIGINS is empty: the Web UI could not call the codec server")
    codec = EncryptionCodec.from_spec(settings.payload_codec_keys.get_secret_value())
    return create_app(
        codec,
        namespace=settings.temporal_namespace,
        cors_origins=settings.codec_cors_origins,
        access=access,
        allowed_hosts=None if access.required else settings.codec_server_allowed_hosts or served_hosts(host),
    )
