"""The API's error answers: what maps to which status, their bodies, and their documentation.

Every error under ``/v1`` and ``/healthz`` is an RFC 9457 problem document
(:mod:`starter.api.problems`); the seller's page (``/sellers/…``) answers in HTML, every status
included. The contract's rejection types decide the code (``InvalidInput`` 422, ``NotAllowedNow``
409) and give the document its ``code``, ``field`` and ``params``; the gateway's errors become 404,
409, 503 (with ``Retry-After``) or 202. The mapping lives here, once, so that every router answers
the same way for the same cause.

Temporal that has not taken a request in time is 503 with ``Retry-After`` (nothing was done, or
what was done is safe to ask again: a sign-up, an event with an ``event_id``); a request Temporal
took but did not finish within the request's time is 202 with a ``Location`` to poll. Never an
error for work that was done.
"""

import contextlib
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NoReturn, TypeVar

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import NotAllowedNow, Rejection
from gateway.errors import (
    RETRYABLE,
    Accepted,
    Conflict,
    NotFound,
    QueryFailed,
    QueryRefused,
    TimedOut,
    Unavailable,
)
from starter.api.problems import MEDIA_TYPE, ApiProblem, Kind

log = structlog.get_logger("api")
T = TypeVar("T")

PAGE_PREFIX = "/sellers/"
"""The seller's page and its forms: errors there are HTML pages, not problem documents."""


class Pending(BaseModel):
    """202: Temporal accepted the request but it had not finished within the request's time."""

    detail: str
    """What happened, and where to look."""
    status_url: str
    """Poll this (``GET``) for the outcome; the same as the ``Location`` header."""


class StillRunning(Exception):
    """Answer 202 with a ``Location`` to poll (raised by :func:`temporal_errors`)."""

    def __init__(self, detail: str, location: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.location = location


_MEANINGS = {
    401: "Missing or wrong credentials",
    403: "The token's role does not allow this",
    404: "Not found",
    408: "The request body did not arrive in time",
    409: "Not allowed at the current step (NotAllowedNow), or recorded otherwise (conflict)",
    413: "The request body is too large",
    422: "Malformed or invalid input (InvalidInput)",
    503: "Temporal cannot take the request now: retry after Retry-After seconds",
}

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
""":class:`starter.api.problems.Problem`, which :mod:`starter.api.openapi` adds to the components."""


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that may answer these error codes, for the OpenAPI document."""
    answers: dict[int | str, dict[str, Any]] = {
        code: {"description": _MEANINGS[code], "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
        for code in codes
    }
    return answers


ACCEPTED_RESPONSE: dict[int | str, dict[str, Any]] = {
    202: {
        "model": Pending,
        "description": "Accepted by Temporal, not finished within the request's time: poll `Location`",
    }
}

BODY_ERRORS = (408, 413, 422)
"""What every route that reads a body may answer about the body itself."""


def refuse(
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    code: str,
    field: str | None = None,
    kind: Kind | None = None,
    params: dict[str, Any] | None = None,
) -> NoReturn:
    raise ApiProblem(status, detail, code=code, kind=kind, field=field, params=params, headers=headers)


def rejected(err: Rejection) -> ApiProblem:
    """A rejection as the API answers it: 409 ``not-allowed-now`` or 422 ``invalid-input``."""
    if isinstance(err, NotAllowedNow):
        status, kind = 409, Kind.not_allowed_now
    else:
        status, kind = 422, Kind.invalid_input
    return ApiProblem(status, err.message, code=err.code, kind=kind, field=err.field, params=err.params)


@contextlib.contextmanager
def temporal_errors(poll: str | None = None) -> Iterator[None]:
    """Turn the gateway's answers into the API's; ``poll``: where a 202 sends the caller."""
    try:
        yield
    except Rejection as err:
        raise rejected(err) from None
    except NotFound as err:
        refuse(404, err.message, code=err.code, params=err.params)
    except Conflict as err:
        refuse(409, err.message, code=err.code, kind=Kind.conflict, params=err.params)
    except Accepted as err:
        if poll is None:
            raise
        raise StillRunning(f"{err.message}: poll {poll} for the outcome", poll) from None
    except RETRYABLE as err:
        refuse(503, err.message, code=err.code, params=err.params)
    except QueryFailed as err:
        log.error("query failed", error=err.message)
        refuse(500, "the workflow could not answer this query (see the API log)", code=err.code)
    except QueryRefused as err:
        log.error("list query refused", error=err.message)
        refuse(500, "the list could not be read (see the API log)", code=err.code)


async def after_done(awaitable: Awaitable[T]) -> T:
    """The answer to a request that changed something: ``awaitable`` (the new status), or, when
    Temporal does not give it in time, ``Accepted`` (202): the change is made, only its answer is late.
    """
    try:
        return await awaitable
    except (TimedOut, Unavailable):
        raise Accepted("the request was carried out, but its status did not come in time") from None


def is_page(request: Request) -> bool:
    return request.url.path.startswith(PAGE_PREFIX)


def _page_error(request: Request, status: int) -> Response:
    page_error: Callable[[int], Response] = request.app.state.page_error
    return page_error(status)


def _with_retry_after(request: Request, problem: ApiProblem) -> ApiProblem:
    if problem.status_code == 503 and "Retry-After" not in (problem.headers or {}):
        seconds = request.app.state.settings.api_retry_after_seconds
        problem.headers = {**(problem.headers or {}), "Retry-After": str(seconds)}
    return problem


def answer(request: Request, problem: ApiProblem) -> Response:
    """The response for ``problem``: an HTML page on the seller's page, else the problem document."""
    problem = _with_retry_after(request, problem)
    if is_page(request):
        response = _page_error(request, problem.status_code)
        response.headers.update(problem.headers or {})
        return response
    return problem.response()


_GENERIC_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error(request: Request, exc: Exception) -> Response:
    """``ApiProblem`` as it is; Starlette's own (an unknown path, a wrong method) as problems too."""
    if isinstance(exc, ApiProblem):
        return answer(request, exc)
    assert isinstance(exc, StarletteHTTPException)
    problem = ApiProblem(
        exc.status_code,
        str(exc.detail),
        code=_GENERIC_CODES.get(exc.status_code, "http_error"),
        headers=dict(exc.headers or {}),
    )
    return answer(request, problem)


async def rejection_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Rejection)
    return answer(request, rejected(exc))


def _location(err: Any) -> str:
    return ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "path", "query", "header"))


def _readable(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = _location(err)
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            msg = "required field is missing"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid request: " + "; ".join(parts)


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own parameter checks: one sentence, the first problem coded, not pydantic's list."""
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = dict(exc.errors()[0]) if exc.errors() else {}
    params = {k: v for k, v in (first.get("ctx") or {}).items() if isinstance(v, str | int | float | bool)}
    problem = ApiProblem(
        422,
        _readable(exc),
        code={"missing": "required"}.get(str(first.get("type")), str(first.get("type", "invalid"))),
        field=_location(first) or None,
        params=params,
    )
    return answer(request, problem)


async def still_running(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StillRunning)
    seconds = request.app.state.settings.api_retry_after_seconds
    body = Pending(detail=exc.detail, status_url=exc.location).model_dump()
    return JSONResponse(
        body, status_code=202, headers={"Location": exc.location, "Retry-After": str(seconds)}
    )


def install(app: FastAPI) -> None:
    """The app's exception handlers (``app.state.page_error`` renders the page's errors)."""
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(HTTPException)(http_error)
    app.exception_handler(RequestValidationError)(validation_error)
    app.exception_handler(Rejection)(rejection_error)
    app.exception_handler(StillRunning)(still_running)
    app.add_middleware(ContainUnexpected)


INTERNAL_ERROR = "internal error: the request could not be completed (see the API log)"


class ContainUnexpected:
    """Answer 500 on an unexpected error and log a plain traceback.

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
                problem = ApiProblem(500, INTERNAL_ERROR, code="internal_error")
                await answer(Request(scope), problem)(scope, receive, send)
