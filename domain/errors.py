"""The two rejection types of the contract, each with a code that front ends can word.

They subclass Temporal's ``ApplicationError`` so that the same exception, raised by a pure rule,
reaches an update caller with the contract's ``type``, a message that names the problem (in
English, for logs and for callers that show it as it is), and ``details``
``{"code", "field"?, "params"}``: the same problem as data, so that the seller's page, the API's
problem documents and the command line can each put it in the caller's own words and language.
Both are non-retryable: bad input stays bad on a retry.
"""

from typing import Any, ClassVar

from temporalio.exceptions import ApplicationError

REJECTION_TYPES = ("InvalidInput", "NotAllowedNow")


class Rejection(ApplicationError):
    """A request refused with a reason: the message, and the same reason as a code."""

    kind: ClassVar[str]

    def __init__(self, message: str, *, code: str, field: str | None = None, **params: Any) -> None:
        detail: dict[str, Any] = {"code": code, "params": _plain(params)}
        if field is not None:
            detail["field"] = field
        super().__init__(message, detail, type=self.kind, non_retryable=True)
        self.code = code
        self.field = field
        self.params = detail["params"]

    @property
    def detail(self) -> dict[str, Any]:
        """``{"code", "field"?, "params"}``, as carried in the error's details."""
        found: dict[str, Any] = {"code": self.code, "params": self.params}
        if self.field is not None:
            found["field"] = self.field
        return found


class InvalidInput(Rejection):
    """The values are wrong: a bad business number, a malformed RM account, an unknown field."""

    kind = "InvalidInput"


class NotAllowedNow(Rejection):
    """The request is well formed but does not fit the current step or state."""

    kind = "NotAllowedNow"


def rebuilt(error_type: str | None, message: str, detail: object) -> Rejection | None:
    """The rejection an ``ApplicationError`` of ``error_type`` carried, rebuilt on the caller's side."""
    kinds: dict[str | None, type[Rejection]] = {"InvalidInput": InvalidInput, "NotAllowedNow": NotAllowedNow}
    kind = kinds.get(error_type)
    if kind is None:
        return None
    found: dict[str, Any] = detail if isinstance(detail, dict) else {}
    given = found.get("params")
    params: dict[str, Any] = given if isinstance(given, dict) else {}
    return kind(message, code=str(found.get("code") or "unknown"), field=found.get("field"), **params)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON values (a rejection crosses Temporal as a payload)."""
    plain: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or isinstance(value, bool | int | float | str):
            plain[name] = value
        elif isinstance(value, list | tuple | set | frozenset):
            plain[name] = [v if isinstance(v, bool | int | float | str) else str(v) for v in value]
        else:
            plain[name] = str(value)
    return plain
