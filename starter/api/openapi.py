"""The API's OpenAPI document: FastAPI's, with our error bodies and the request bodies we parse.

The document is committed as ``docs/openapi.json`` (``python -m starter.api --write-openapi``)
and the fuzzing tests generate their cases from it, so it must describe exactly what the API
answers: FastAPI's generic 422 is dropped (our errors are :class:`~starter.api.problems.Problem`
documents, added to the components), and the request bodies, which the routes read by hand, are
added from the domain's models.
"""

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi

from config.settings import Settings
from starter.api.bodies import BODY_SCHEMAS
from starter.api.problems import Problem

DOCUMENT_SECRET = "whsec_" + "A" * 32
"""A well-formed secret, enough to build the app whose document this is (nothing is verified)."""

TAGS = [
    {"name": "sellers", "description": "Sign-up, onboarding status, seller events, the page"},
    {"name": "returns", "description": "Returned parcels held at the U.S. warehouse"},
    {"name": "operations", "description": "Reassigning parcels, the audit, deliveries given up"},
    {"name": "broker", "description": "The customs broker's signed webhook"},
    {"name": "health", "description": "Liveness"},
]


def _drop_generic_validation_errors(document: dict[str, Any]) -> None:
    # FastAPI documents a pydantic-shaped 422 on every route with parameters; every real error
    # is a Problem, documented by the route.
    for operations in document["paths"].values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            if "HTTPValidationError" in json.dumps(answer):
                del operation["responses"]["422"]
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _add_request_bodies(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in BODY_SCHEMAS.components.items():
        if components.setdefault(name, definition) != definition:
            raise RuntimeError(f"two different schemas named {name} in the OpenAPI document")


def document(app: FastAPI) -> dict[str, Any]:
    """The document of ``app`` (built once, then kept on the app as FastAPI does)."""
    if app.openapi_schema is None:
        generated = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=TAGS,
        )
        _drop_generic_validation_errors(generated)
        _add_request_bodies(generated)
        generated["components"]["schemas"] = dict(sorted(generated["components"]["schemas"].items()))
        app.openapi_schema = jsonable_encoder(generated)
    return app.openapi_schema


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (independent of the secrets and of Temporal)."""
    # Imported here: the app module installs this module's document() on every app it builds.
    from starter.api.app import create_app

    app = create_app(Settings(api_token="openapi", broker_webhook_secret=DOCUMENT_SECRET))
    return app.openapi()


def write_openapi(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n")
