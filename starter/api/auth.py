"""Who may call what under ``/v1``: bearer tokens, each with a name and the roles it carries.

``API_TOKENS`` holds ``name:role:token`` entries; ``API_TOKEN`` is one token with every role, named
``admin``. A route names the roles it serves (``operations`` serves everything), and a token
without any of them is 403 — before the request's body is read, so it changes nothing. The
token's name is recorded as the ``actor`` of what it sends, its role decides the ``party``.

| role | may |
|---|---|
| ``signup`` | sign a seller up, read a seller's status, send the seller's events, decide a parcel |
| ``warehouse`` | record an arrival, read a parcel's status |
| ``operations`` | everything under ``/v1`` (and send operations' events as well as the seller's) |
"""

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.identifiers import ID_PATTERN
from domain.steps import Party
from starter.api.errors import refuse

_ID = re.compile(ID_PATTERN)


class Role(StrEnum):
    signup = "signup"
    warehouse = "warehouse"
    operations = "operations"


ADMIN = "admin"
"""The name of ``API_TOKEN``, which has every role."""


class TokenError(ValueError):
    """``API_TOKENS`` is malformed; the message says where (never the token itself)."""


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the token's name and its roles."""

    name: str
    roles: frozenset[Role]

    @property
    def party(self) -> Party:
        """On whose behalf its events are sent: operations, or the seller (a sign-up system)."""
        return Party.operations if Role.operations in self.roles else Party.seller


def _digest(token: str) -> bytes:
    # Tokens are looked up by their hash: a dictionary lookup then reveals nothing about a token
    # through its timing, and no token is kept in memory as given.
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class Tokens:
    """The accepted tokens, by hash."""

    def __init__(self, callers: dict[bytes, Caller]) -> None:
        self._callers = callers

    @classmethod
    def parse(cls, admin_token: str | None, entries: str | None) -> "Tokens":
        """``API_TOKEN`` (every role, named admin) and ``API_TOKENS`` (``name:role:token,...``)."""
        callers: dict[bytes, Caller] = {}
        if admin_token:
            callers[_digest(admin_token)] = Caller(ADMIN, frozenset(Role))
        for number, entry in enumerate((entries or "").split(","), start=1):
            if not entry.strip():
                continue
            caller, token = _entry(entry.strip(), number)
            if _digest(token) in callers:
                raise TokenError(f"API_TOKENS entry {number} ({caller.name}) repeats another token")
            callers[_digest(token)] = caller
        return cls(callers)

    def __bool__(self) -> bool:
        return bool(self._callers)

    def caller(self, token: str) -> Caller | None:
        return self._callers.get(_digest(token))


def _entry(entry: str, number: int) -> tuple[Caller, str]:
    name, _, rest = entry.partition(":")
    role, _, token = rest.partition(":")
    if not name or not role or not token:
        raise TokenError(f"API_TOKENS entry {number} is not name:role:token")
    if not _ID.fullmatch(name):
        raise TokenError(f"API_TOKENS entry {number}: the name must be 1–64 characters of A-Z a-z 0-9 _ -")
    if role not in Role.__members__:
        raise TokenError(
            f"API_TOKENS entry {number} ({name}): unknown role {role!r}; roles: {', '.join(Role)}"
        )
    return Caller(name, frozenset({Role(role)})), token


bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>` (API_TOKEN or API_TOKENS)")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def authenticated(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The caller its bearer token names, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        refuse(
            401, "missing bearer token: send Authorization: Bearer <token>", CHALLENGE, code="token_missing"
        )
    tokens: Tokens = request.app.state.secrets.tokens
    caller = tokens.caller(credentials.credentials)
    if caller is None:
        refuse(401, "wrong bearer token", CHALLENGE, code="token_wrong")
    return caller


def allowed(*roles: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency: the caller, if its token has one of ``roles`` (or ``operations``), else 403."""
    serves = frozenset({*roles, Role.operations})

    async def check(caller: Annotated[Caller, Depends(authenticated)]) -> Caller:
        if not caller.roles & serves:
            refuse(
                403,
                f"the token {caller.name!r} ({', '.join(sorted(caller.roles))}) may not do this; "
                f"it needs the role {' or '.join(sorted(serves))}",
                code="role_not_allowed",
                params={"token": caller.name, "roles": sorted(serves)},
            )
        return caller

    return check


SignupCaller = Annotated[Caller, Depends(allowed(Role.signup))]
WarehouseCaller = Annotated[Caller, Depends(allowed(Role.warehouse))]
OperationsCaller = Annotated[Caller, Depends(allowed(Role.operations))]
