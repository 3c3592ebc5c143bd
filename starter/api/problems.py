"""RFC 9457 problem documents: the body of every error the API answers under ``/v1`` and ``/healthz``.

A problem is ``application/problem+json`` with ``type`` (its kind, a URI reference ending in the
kind's name: ``/problems/invalid-input``…), ``title`` (the kind in words), ``status``, ``detail``
(the sentence naming this problem) and three members of our own: ``code``, ``field`` and
``params``, the same problem as data (for a rejection: its details), so that every front end can
word it in its caller's language. The seller's page answers its errors in HTML instead
(:mod:`starter.api.errors`).
"""

from enum import StrEnum
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "/problems/"
"""Relative to the API's own address, as RFC 9457 allows: the kinds are the API's."""


class Kind(StrEnum):
    """The kinds of problem; the value is the last segment of ``type``."""

    invalid_input = "invalid-input"
    not_allowed_now = "not-allowed-now"
    not_found = "not-found"
    unauthorized = "unauthorized"
    forbidden = "forbidden"
    conflict = "conflict"
    too_large = "too-large"
    request_timeout = "request-timeout"
    method_not_allowed = "method-not-allowed"
    unavailable = "unavailable"
    internal_error = "internal-error"


TITLES: dict[Kind, str] = {
    Kind.invalid_input: "Invalid input",
    Kind.not_allowed_now: "Not allowed now",
    Kind.not_found: "Not found",
    Kind.unauthorized: "Unauthorized",
    Kind.forbidden: "Forbidden",
    Kind.conflict: "Conflict",
    Kind.too_large: "Request body too large",
    Kind.request_timeout: "Request body not received in time",
    Kind.method_not_allowed: "Method not allowed",
    Kind.unavailable: "Service unavailable",
    Kind.internal_error: "Internal error",
}

BY_STATUS: dict[int, Kind] = {
    401: Kind.unauthorized,
    403: Kind.forbidden,
    404: Kind.not_found,
    405: Kind.method_not_allowed,
    408: Kind.request_timeout,
    409: Kind.conflict,
    413: Kind.too_large,
    422: Kind.invalid_input,
    503: Kind.unavailable,
}
"""The kind a status has unless the cause says otherwise (409 ``NotAllowedNow`` is ``not-allowed-now``)."""


class Problem(BaseModel):
    """An error, as RFC 9457 describes it, with the rejection's code, field and parameters."""

    type: str
    """``/problems/<kind>``: ``invalid-input``, ``not-allowed-now``, ``not-found``, ``unauthorized``,
    ``forbidden``, ``conflict``, ``too-large``, ``request-timeout``, ``method-not-allowed``,
    ``unavailable`` or ``internal-error``."""
    title: str
    """The kind of problem, in words."""
    status: int
    """The HTTP status code."""
    detail: str
    """One sentence naming this problem."""
    code: str
    """The problem as a code (``business_number_check_digit``, ``seller_not_found``…)."""
    field: str | None = None
    """The field at fault, when one is (``business_number``, ``us_address.state``…)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """What the wording needs (the value given, the limits…)."""


def kind_of(status: int) -> Kind:
    if status in BY_STATUS:
        return BY_STATUS[status]
    return Kind.internal_error if status >= 500 else Kind.invalid_input


class ApiProblem(HTTPException):
    """An error answered as a problem document (raised from routes, dependencies, the body reader).

    An ``HTTPException``, so that FastAPI lets it through its own body parsing unchanged and the
    app's handler renders it (:func:`starter.api.errors.http_error`).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str,
        kind: Kind | None = None,
        field: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.kind = kind or kind_of(status)
        self.code = code
        self.field = field
        self.params = params or {}

    def document(self) -> Problem:
        return Problem(
            type=TYPE_BASE + self.kind,
            title=TITLES[self.kind],
            status=self.status_code,
            detail=str(self.detail),
            code=self.code,
            field=self.field,
            params=self.params,
        )

    def response(self) -> JSONResponse:
        body = self.document().model_dump(mode="json", exclude_none=True)
        return JSONResponse(body, status_code=self.status_code, headers=self.headers, media_type=MEDIA_TYPE)
