"""The two rejection types of the contract.

They subclass Temporal's ``ApplicationError`` so that the same exception, raised by a pure rule,
reaches an update caller with the contract's ``type`` and a message that names the problem.
Both are non-retryable: bad input stays bad on a retry.
"""

from temporalio.exceptions import ApplicationError


class InvalidInput(ApplicationError):
    """The values are wrong: a bad business number, a malformed RM account, an unknown field."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="InvalidInput", non_retryable=True)


class NotAllowedNow(ApplicationError):
    """The request is well formed but does not fit the current step or state."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="NotAllowedNow", non_retryable=True)


REJECTION_TYPES = ("InvalidInput", "NotAllowedNow")
