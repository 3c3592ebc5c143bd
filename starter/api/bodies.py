"""Request bodies: the one strict parser every router reads its JSON with, and its documentation.

Bodies are parsed by hand with the domain's models (:func:`domain.validation.parse_strict`, and
:func:`domain.events.parse_event` for events), not by FastAPI, so errors read exactly as on the
command line and in the workflows' update validators, and unknown fields are refused. Any limit
on what a body may be (its size, its shape) belongs here, so that every endpoint gets it.

:func:`request_body` *describes* a body for the OpenAPI document; it does not validate anything.
"""

import json
from typing import Any, TypeVar, overload

from fastapi import Request
from pydantic import BaseModel, TypeAdapter

from domain import validation
from domain.errors import InvalidInput
from starter.api.errors import refuse

M = TypeVar("M", bound=BaseModel)

REF_TEMPLATE = "#/components/schemas/{model}"


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or 422 naming why it is not one."""
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        refuse(422, f"the request body is not valid JSON: {err}")
    if not isinstance(data, dict):
        refuse(422, f"the request body must be a JSON object, got {type(data).__name__}")
    return data


@overload
def parse_strict(tp: type[M], fields: dict[str, Any], what: str) -> M: ...
@overload
def parse_strict(tp: Any, fields: dict[str, Any], what: str) -> Any: ...
def parse_strict(tp: Any, fields: dict[str, Any], what: str) -> Any:
    """``fields`` validated into ``tp`` (a model, or a union such as ``Decision``), or 422."""
    try:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return validation.parse_strict(tp, fields, what)
        return validation.parse_with(TypeAdapter(tp), fields, what)
    except InvalidInput as err:
        refuse(422, err.message)


@overload
async def strict_body(request: Request, tp: type[M], what: str) -> M: ...
@overload
async def strict_body(request: Request, tp: Any, what: str) -> Any: ...
async def strict_body(request: Request, tp: Any, what: str) -> Any:
    """The body, read as a JSON object and validated into ``tp``, or 422."""
    return parse_strict(tp, await json_object(request), what)


class BodySchemas:
    """Request-body schemas taken from the domain's models, for the OpenAPI document.

    The routes' ``openapi_extra`` refers to the models by ``$ref``; the definitions are kept
    here, as pydantic made them, and added to the document's components by
    :mod:`starter.api.openapi` (FastAPI would re-shape them if they travelled in the route).
    """

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def _add(self, schema: dict[str, Any]) -> dict[str, Any]:
        for name, definition in schema.pop("$defs", {}).items():
            known = self.components.setdefault(name, definition)
            if known != definition:
                raise RuntimeError(f"two different schemas named {name} in the API's request bodies")
        return schema

    def body(self, tp: Any, name: str, description: str) -> dict[str, Any]:
        """``openapi_extra`` documenting a required JSON body of type ``tp``, named ``name``."""
        schema = self._add(TypeAdapter(tp).json_schema(ref_template=REF_TEMPLATE, mode="validation"))
        if schema.get("type") == "object" and "properties" in schema:
            schema.pop("title", None)
            self._add({"$defs": {name: schema}})
            schema = {"$ref": REF_TEMPLATE.format(model=name)}
        return {
            "requestBody": {
                "required": True,
                "description": description,
                "content": {"application/json": {"schema": schema}},
            }
        }


BODY_SCHEMAS = BodySchemas()
"""Filled as the routers are declared (at import), read when a document is built."""

request_body = BODY_SCHEMAS.body
