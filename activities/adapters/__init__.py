"""Adapters that deliver to one channel each (outbox files, SMTP, HTTP), idempotently by key.

Adapters raise :class:`PermanentDeliveryError` when the receiving end refused a delivery for good,
and any other exception when a retry may succeed, which Temporal's retry policy then takes care of.
Error messages never carry the refused address or the server's text, which may echo personal data:
they end up in workflow history.
"""

from datetime import timedelta


class PermanentDeliveryError(Exception):
    """The receiving end refused the delivery for good; sending it again cannot help."""


class TransientDeliveryError(Exception):
    """The receiving end could not take the delivery now; a later attempt may succeed."""

    def __init__(self, message: str, *, ready_in: timedelta | None = None) -> None:
        super().__init__(message)
        self.ready_in = ready_in
        """How soon a retry can succeed at the earliest, when the adapter knows (a claim going stale)."""
