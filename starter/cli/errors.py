"""Exit codes, the user's error, and which code each of the service's errors leaves with.

An error is one line on stderr that names the problem, and an exit code a script can branch on.
The code is chosen by the error's type — the domain's two rejections and the gateway's errors —
never by its message, so a reworded message cannot change what a script sees.
"""

from enum import IntEnum

from domain.errors import InvalidInput, NotAllowedNow
from gateway.errors import GatewayError, NotFound


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    """Anything else: Temporal unreachable or slow, a worker not answering, a file not written."""
    INVALID = 2
    """Bad arguments or values: nothing was changed."""
    NOT_ALLOWED = 3
    """Well formed, but it does not fit the seller's step or the parcel's state now."""
    NOT_FOUND = 4
    """No such seller or parcel (no workflow)."""


MEANING: dict[ExitCode, str] = {
    ExitCode.OK: "done",
    ExitCode.ERROR: "other errors",
    ExitCode.INVALID: "invalid input",
    ExitCode.NOT_ALLOWED: "not allowed now",
    ExitCode.NOT_FOUND: "no such seller or parcel",
}


def exit_codes_line() -> str:
    """``Exit codes: 0 done, 1 other errors, ...``, for --help and the docs."""
    return "Exit codes: " + ", ".join(f"{int(code)} {MEANING[code]}" for code in ExitCode) + "."


class CliError(Exception):
    """An error for the user: one line on stderr and an exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# The first match wins, so a subclass comes before its base (NotFound before GatewayError).
_BY_TYPE: tuple[tuple[type[Exception], ExitCode], ...] = (
    (InvalidInput, ExitCode.INVALID),
    (NotAllowedNow, ExitCode.NOT_ALLOWED),
    (NotFound, ExitCode.NOT_FOUND),
    (GatewayError, ExitCode.ERROR),  # Unavailable, TimedOut, QueryFailed
)


def from_service_error(err: Exception) -> CliError | None:
    """The user's error for a domain or gateway error; None for anything else (a bug)."""
    for kind, code in _BY_TYPE:
        if isinstance(err, kind):
            message: str = getattr(err, "message", None) or str(err)
            return CliError(message, code)
    return None
