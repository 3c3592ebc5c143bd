"""The API's error answers: their body, their documentation, and what maps to which status.

Every error is ``{"detail": "..."}`` naming the problem. The contract's rejection types decide the
code (``InvalidInput`` 422, ``NotAllowedNow`` 409); the gateway's errors become 404, 503, 504 or
500. The mapping lives here, once, so that every router answers the same way for the same cause.
"""

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Iterator
from typing import Any, NoReturn, TypeVar

import structlog
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from gateway.errors import NotFound, QueryFailed, TimedOut, Unavailable

TEMPORAL_CALL_TIMEOUT = 20.0
"""Seconds an API call waits for Temporal before answering 504."""

T = TypeVar("T")
log = structlog.get_logger("api")


class ErrorBody(BaseModel):
    """Every error: one sentence naming the problem."""

    detail: str


_MEANINGS = {
    401: "Missing or wrong credentials",
    404: "Not found",
    409: "Not allowed at the current step (NotAllowedNow)",
    422: "Malformed or invalid input (InvalidInput)",
    503: "Temporal is not reachable",
    504: "Temporal did not answer in time",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that may answer these error codes, for the OpenAPI document."""
    return {code: {"model": ErrorBody, "description": _MEANINGS[code]} for code in codes}


def refuse(status: int, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers)


def _rejection(err: ApplicationError) -> NoReturn:
    if err.type == "InvalidInput":
        refuse(422, err.message)
    if err.type == "NotAllowedNow":
        refuse(409, err.message)
    raise err


@contextlib.contextmanager
def temporal_errors() -> Iterator[None]:
    """Turn the gateway's answers into the API's: 404, 409/422 rejections, 503/504."""
    try:
        yield
    except ApplicationError as err:  # InvalidInput / NotAllowedNow
        _rejection(err)
    except NotFound as err:
        refuse(404, err.message)
    except Unavailable as err:
        refuse(503, err.message)
    except TimedOut as err:
        refuse(504, err.message)
    except QueryFailed as err:
        log.error("query failed", error=err.message)
        refuse(500, "the workflow could not answer this query (see the API log)")


async def bounded(awaitable: Awaitable[T]) -> T:
    """Await a call on Temporal, answering 504 rather than holding the caller indefinitely."""
    try:
        return await asyncio.wait_for(awaitable, timeout=TEMPORAL_CALL_TIMEOUT)
    except TimeoutError:
        refuse(504, "Temporal did not answer in time; try again")


def _readable(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "path", "query", "header"))
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            msg = "required field is missing"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid request: " + "; ".join(parts)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own parameter checks answer in our shape: one sentence, not pydantic's list."""
    return JSONResponse(status_code=422, content={"detail": _readable(exc)})


class ContainUnexpected:
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
