"""Temporal's errors, translated into the service's own.

The front ends map these (and the domain's ``InvalidInput`` / ``NotAllowedNow``) to their answers:
HTTP statuses, exit codes. Translation goes by error type and gRPC status, never by message text.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import (
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import rebuilt


class GatewayError(Exception):
    """A request Temporal could not carry out; the message names the problem, the code words it."""

    code = "temporal_error"

    def __init__(self, message: str, *, code: str | None = None, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.params = params


class NotFound(GatewayError):
    """No such workflow: the seller never signed up, the parcel was never recorded."""

    code = "not_found"


class Conflict(GatewayError):
    """The request names something recorded otherwise (a parcel under another seller)."""

    code = "conflict"


class Unavailable(GatewayError):
    """Temporal cannot take the request now (unreachable, overloaded): try again later."""

    code = "unavailable"


class TimedOut(GatewayError):
    """Temporal did not answer in time; the request may still be carried out."""

    code = "timed_out"


RETRYABLE: tuple[type[GatewayError], ...] = (Unavailable, TimedOut)
"""The errors after which the same request may be sent again (the API's 503 with ``Retry-After``):
nothing was done, or what was done is safe to ask again (a start keeps the running workflow, an
event with an ``event_id`` applies once). A client that retries these with backoff rides out a
Temporal outage."""


class Accepted(GatewayError):
    """Temporal accepted the request (an update is in the workflow's history) but it has not finished
    within the caller's time: it will, and its outcome can be asked for later."""

    code = "accepted"


class QueryRefused(GatewayError):
    """The visibility store refused a list query (the namespace lacks the search attributes)."""

    code = "list_query_refused"


class QueryFailed(GatewayError):
    """The workflow could not answer a query."""

    code = "query_failed"


_UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED})
_TIMED_OUT = frozenset({RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED})
_GONE = frozenset({RPCStatusCode.NOT_FOUND, RPCStatusCode.ABORTED})
"""Statuses of a call that met no running workflow (never started, or closed meanwhile)."""


def rejection(cause: BaseException | None) -> Exception | None:
    """The domain error an update's validator or handler raised, rebuilt on this side."""
    if not isinstance(cause, ApplicationError):
        return None
    try:
        details = cause.details
    except KeyError:  # encrypted, and this client has no key: the type still tells the kind
        details = ()
    return rebuilt(cause.type, cause.message, details[0] if details else None)


def is_gone(err: RPCError) -> bool:
    """The call found no running workflow with that id."""
    return err.status in _GONE


def translate(err: Exception) -> Exception:
    """The service's error for one of Temporal's, or ``err`` itself when there is none."""
    if isinstance(err, WorkflowUpdateFailedError):
        return rejection(err.cause) or GatewayError(f"the update failed: {err.cause or err}")
    if isinstance(err, WorkflowUpdateRPCTimeoutOrCancelledError):
        return TimedOut("Temporal did not confirm the request in time; it may still apply: retry it")
    if isinstance(err, WorkflowQueryFailedError):
        return QueryFailed(f"the workflow could not answer: {err.message}")
    if isinstance(err, RPCError):
        if err.status in _UNAVAILABLE:
            return Unavailable(f"Temporal cannot take the request now: {err.message}")
        if err.status in _TIMED_OUT:
            return TimedOut(f"Temporal did not answer in time: {err.message}")
    return err


_TRANSLATED = (
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    RPCError,
)


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Raise the service's errors for Temporal's within the block."""
    try:
        yield
    except (
        WorkflowUpdateFailedError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
        WorkflowQueryFailedError,
    ) as err:
        raise translate(err) from None
    except RPCError as err:
        mapped = translate(err)
        if mapped is err:
            raise
        raise mapped from None
