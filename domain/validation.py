"""Turn pydantic validation errors into one sentence that names every problem, and a code.

The domain's own validators raise ``PydanticCustomError`` with a code (``business_number_check_digit``)
and parameters (``{"value": "123456789"}``); pydantic's built-in errors bring theirs (``missing``,
``extra_forbidden``, ``string_pattern_mismatch``…). The first problem becomes the rejection's
``code``, ``field`` and ``params``; the message names them all.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from domain.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

# pydantic's codes for what callers word the same way.
_CODES = {"extra_forbidden": "unknown_field", "missing": "required"}


def _location(err: ErrorDetails) -> str:
    loc = err["loc"]
    return ".".join(str(p) for p in loc if not isinstance(p, int) or len(loc) == 1)


def _words(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    return err["msg"].removeprefix("Value error, ")


def describe(exc: ValidationError, what: str = "input") -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = _location(err)
        parts.append(f"{loc}: {_words(err)}" if loc else _words(err))
    return f"invalid {what}: " + "; ".join(parts)


def rejection(exc: ValidationError, what: str) -> InvalidInput:
    """The contract's ``InvalidInput`` for a validation error: every problem named, the first coded."""
    first = exc.errors(include_url=False)[0]
    params: dict[str, Any] = dict(first.get("ctx") or {})
    if "value" not in params and isinstance(first.get("input"), str | int | float | bool):
        params["value"] = first["input"]
    return InvalidInput(
        describe(exc, what),
        code=_CODES.get(first["type"], first["type"]),
        field=_location(first) or None,
        **params,
    )


def parse_strict(model: type[M], data: Any, what: str | None = None) -> M:
    """Validate ``data`` into ``model`` or raise the contract's ``InvalidInput``."""
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_unset=True)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise rejection(exc, what or model.__name__) from None


def parse_with(adapter: TypeAdapter[Any], data: Any, what: str) -> Any:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise rejection(exc, what) from None
