"""Bounded request bodies: at most ``API_MAX_BODY_BYTES``, arrived within ``API_BODY_TIMEOUT_SECONDS``.

An ASGI middleware in front of every route, so no route (the broker's webhook included, whose
signature can only be checked over the whole body) ever holds more than the limit or waits on a
client that stopped sending. A ``Content-Length`` over the limit is 413 before the app runs at
all; a body that grows past it while streaming (chunked, or lying about its length) is 413 the
moment it does; a body still incomplete when its time is up is 408. Both close the connection.

Starlette's own body limit answers in plain text and only once the app reads or answers, and has
no read timeout; this one answers like every other error (:func:`starter.api.errors.answer`:
problem documents, HTML on the seller's page).
"""

import asyncio

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starter.api.errors import answer
from starter.api.problems import ApiProblem

CLOSE = {"Connection": "close"}


def too_large(limit: int) -> ApiProblem:
    return ApiProblem(
        413,
        f"the request body is larger than {limit} bytes",
        code="body_too_large",
        params={"max_bytes": limit},
        headers=CLOSE,
    )


def too_slow(seconds: float) -> ApiProblem:
    return ApiProblem(
        408,
        f"the request body did not arrive within {seconds:g} seconds",
        code="body_timeout",
        params={"seconds": seconds},
        headers=CLOSE,
    )


def declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isdigit() else None


class BoundedBody:
    """Refuse bodies over ``max_bytes`` and bodies slower than ``timeout`` seconds."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self.max_bytes:
            await answer(Request(scope), too_large(self.max_bytes))(scope, receive, send)
            return
        await self.app(scope, _Reader(receive, self.max_bytes, self.timeout), send)


class _Reader:
    """``receive`` for the app: counts the body's bytes, and bounds the time until its end.

    Raises the problem (an ``HTTPException``) into whatever reads the body, so the app's error
    handler answers it. Once the body is complete, ``receive`` is passed through untouched: the app
    may then wait on it for a disconnect as long as it likes.
    """

    def __init__(self, receive: Receive, max_bytes: int, timeout: float) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._deadline: float | None = None
        self._received = 0
        self._complete = False

    async def __call__(self) -> Message:
        if self._complete:
            return await self._receive()
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self._timeout
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise too_slow(self._timeout) from None
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._max_bytes:
                raise too_large(self._max_bytes)
            self._complete = not message.get("more_body", False)
        else:
            self._complete = True
        return message
