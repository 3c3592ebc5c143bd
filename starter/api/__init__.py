"""The HTTP API: sign-up, events, returned parcels, the broker webhook and the seller's checklist page.

    python -m starter.api                                  serve on API_HOST:API_PORT (make run does)
    python -m starter.api --write-openapi docs/openapi.json  write the OpenAPI document and exit

Everything goes through :mod:`gateway` (the command line's way to Temporal too), so a request is
validated with the same strict models the workflows use *before* Temporal is called, and a sign-up
or an arrival never starts a second workflow beside a running one.

A request that fails its credentials check (:mod:`starter.api.deps`) is refused before its body
is even read, so it changes nothing. Errors are JSON ``{"detail": "..."}`` naming the problem; the
contract's rejection types decide the code: ``InvalidInput`` is 422, ``NotAllowedNow`` is 409
(:mod:`starter.api.errors`). Event bodies, business numbers and the broker's Statement of Account
figures are never logged.

The app and its routers: :mod:`starter.api.app`.
"""

from starter.api.app import create_app
from starter.api.deps import ApiConfigError
from starter.api.openapi import openapi_document, write_openapi

__all__ = ["ApiConfigError", "create_app", "openapi_document", "write_openapi"]
