"""The HTTP API: sign-up, events, returned parcels, the broker webhook and the seller's checklist page.

    python -m starter.api                                  serve on API_HOST:API_PORT (make run does)
    python -m starter.api --write-openapi docs/openapi.json  write the OpenAPI document and exit

Everything goes through :mod:`gateway` (the command line's way to Temporal too), so a request is
validated with the same strict models the workflows use *before* Temporal is called, and a sign-up
or an arrival never starts a second workflow beside a running one.

A request that fails its credentials check (a token with the route's role, :mod:`starter.api.auth`)
is refused before its body is even read, so it changes nothing; bodies are bounded in size and
time before any route reads them (:mod:`starter.api.limits`). Errors are RFC 9457 problem
documents naming the problem (:mod:`starter.api.problems`); the contract's rejection types decide
the code: ``InvalidInput`` is 422, ``NotAllowedNow`` is 409, and Temporal that cannot take a
request in time is 503 with ``Retry-After`` (:mod:`starter.api.errors`). Event bodies, business
numbers and the broker's Statement of Account figures are never logged.

The app and its routers: :mod:`starter.api.app`.
"""

from starter.api.app import create_app
from starter.api.deps import ApiConfigError
from starter.api.openapi import openapi_document, write_openapi

__all__ = ["ApiConfigError", "create_app", "openapi_document", "write_openapi"]
