"""How long a caller lets Temporal take over one request, end to end.

The API gives each request a :class:`Budget`; every call the request makes gets what is left,
both as its RPC timeout and as a hard bound — an RPC timeout alone is per attempt, and the SDK
retries an unavailable or overloaded server for up to ten seconds past it. The command line gives
none and waits as long as its own ``--timeout``.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from gateway.errors import GatewayError

SMALLEST_RPC_TIMEOUT = 0.05
"""Seconds an RPC gets even when the budget is spent (an RPC timeout of 0 means none)."""


@dataclass(frozen=True)
class Budget:
    """A deadline on the running event loop's clock."""

    deadline: float

    @classmethod
    def of(cls, seconds: float) -> "Budget":
        return cls(asyncio.get_running_loop().time() + seconds)

    def left(self) -> float:
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    def rpc_timeout(self) -> timedelta:
        return timedelta(seconds=max(self.left(), SMALLEST_RPC_TIMEOUT))


def rpc_timeout(budget: Budget | None) -> timedelta | None:
    return None if budget is None else budget.rpc_timeout()


@contextlib.asynccontextmanager
async def within(
    budget: Budget | None, exceeded: Callable[[], GatewayError], *, grace: float = 0.0
) -> AsyncIterator[None]:
    """Raise ``exceeded()`` when the block outlasts the budget (plus ``grace`` seconds).

    The SDK reports an update call it gave up on, or that was cancelled, as its own
    ``WorkflowUpdateRPCTimeoutOrCancelledError`` rather than as the ``TimeoutError`` of the bound:
    both mean the same here.
    """
    if budget is None:
        yield
        return
    try:
        async with asyncio.timeout(budget.left() + grace):
            yield
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise exceeded() from None
