"""Request bodies: the one strict parser every router reads its JSON with, and its documentation.

Bodies are parsed by hand with the domain's models (:func:`domain.validation.parse_strict`, and
:func:`domain.events.parse_event` for events), not by FastAPI, so errors read exactly as on the
command line and in the workflows' update validators, and unknown fields are refused. Any limit
on what a body may be (its size, its shape) belongs here, so that every endpoint gets it:

* its size and how long it may take to arrive: :mod:`starter.api.limits`, before anything here
  reads it;
* JSON that parsers disagree on or that costs more to read than it says is refused (422), never
  a 500: a key given twice (which value counts depends on the parser), nesting deeper than
  :data:`MAX_DEPTH` (Python's parser recurses), a number of more than :data:`MAX_DIGITS` digits
  (converting one is quadratic; Python refuses past 4300), and ``NaN`` / ``Infinity`` (not JSON).

:func:`request_body` *describes* a body for the OpenAPI document; it does not validate anything.
"""

import json
import re
from typing import Any, NoReturn, TypeVar, overload

from fastapi import Request
from pydantic import BaseModel, TypeAdapter

from domain import validation
from domain.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

REF_TEMPLATE = "#/components/schemas/{model}"

MAX_DEPTH = 32
"""Deepest nesting of objects and arrays a body may have (ours need four)."""
MAX_DIGITS = 100
"""Most digits a number in a body may have (amounts need fourteen)."""

_DIGIT = re.compile(r"\d")


def _invalid(message: str, *, code: str, **params: Any) -> NoReturn:
    raise InvalidInput(f"the request body is not acceptable JSON: {message}", code=code, **params)


def _too_deep() -> NoReturn:
    _invalid(f"it nests deeper than {MAX_DEPTH} levels", code="json_too_deep", max_depth=MAX_DEPTH)


def _check_depth(data: Any) -> None:
    # A loop, not a recursion: the point is not to recurse as deep as the body says.
    level = [data]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for node in level
            if isinstance(node, dict | list)
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return
    if any(isinstance(node, dict | list) for node in level):
        _too_deep()


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            _invalid(f"the key {key!r} is given twice", code="json_duplicate_key", key=key)
        found[key] = value
    return found


def _digits(literal: str) -> None:
    if len(_DIGIT.findall(literal)) > MAX_DIGITS:
        _invalid(
            f"a number has more than {MAX_DIGITS} digits", code="json_number_too_long", max_digits=MAX_DIGITS
        )


def _int(literal: str) -> int:
    _digits(literal)
    return int(literal)


def _float(literal: str) -> float:
    _digits(literal)
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        _invalid("a number is too large", code="json_number_too_large")
    return value


def _constant(name: str) -> NoReturn:
    _invalid(f"{name} is not a JSON value", code="json_invalid", value=name)


def strict_json(raw: bytes) -> Any:
    """``raw`` parsed as JSON, or ``InvalidInput`` naming why it is not acceptable."""
    try:
        data = json.loads(
            raw,
            object_pairs_hook=_no_repeated_keys,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except RecursionError:  # Python's parser recurses: nested far beyond MAX_DEPTH
        _too_deep()
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidInput(f"the request body is not valid JSON: {err}", code="json_invalid") from None
    _check_depth(data)
    return data


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or 422 naming why it is not one."""
    return object_of(await request.body())


def object_of(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object, or ``InvalidInput`` naming why it is not one."""
    data = strict_json(raw)
    if not isinstance(data, dict):
        raise InvalidInput(
            f"the request body must be a JSON object, got {type(data).__name__}",
            code="json_not_object",
            value=type(data).__name__,
        )
    return data


@overload
def parse_strict(tp: type[M], fields: dict[str, Any], what: str) -> M: ...
@overload
def parse_strict(tp: Any, fields: dict[str, Any], what: str) -> Any: ...
def parse_strict(tp: Any, fields: dict[str, Any], what: str) -> Any:
    """``fields`` validated into ``tp`` (a model, or a union such as ``Decision``), or ``InvalidInput``."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return validation.parse_strict(tp, fields, what)
    return validation.parse_with(TypeAdapter(tp), fields, what)


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
