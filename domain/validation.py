"""Turn pydantic validation errors into one sentence that names every problem."""

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from domain.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def describe(exc: ValidationError, what: str = "input") -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int) or len(err["loc"]) == 1)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        elif err["type"] == "missing":
            msg = "required field is missing"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return f"invalid {what}: " + "; ".join(parts)


def parse_strict(model: type[M], data: Any, what: str | None = None) -> M:
    """Validate ``data`` into ``model`` or raise the contract's ``InvalidInput``."""
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_unset=True)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, what or model.__name__)) from None


def parse_with(adapter: TypeAdapter[Any], data: Any, what: str) -> Any:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, what)) from None
