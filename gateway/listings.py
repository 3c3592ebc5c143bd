"""Lists of workflows from Temporal's visibility, a page at a time: what the API and the command line list.

The queries come from :mod:`domain.visibility` (whitelisted values only). A page carries the token
of the next one, as Temporal gives it; the API hands it to its caller, the command line follows it
to its ``--limit``. Both go through :func:`page`, so they list the same things the same way.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import InvalidInput
from gateway.budget import Budget, rpc_timeout, within
from gateway.errors import QueryRefused, TimedOut, translated

MAX_PAGE_SIZE = 1000
"""The most Temporal's visibility returns in one page."""


@dataclass(frozen=True)
class Page:
    executions: list[WorkflowExecution]
    next_page_token: bytes | None
    """None on the last page."""


def _not_answered() -> TimedOut:
    return TimedOut("Temporal's visibility did not answer in time; try again")


async def page(
    client: Client,
    query: str,
    *,
    page_size: int,
    page_token: bytes | None = None,
    budget: Budget | None = None,
) -> Page:
    """One page of the workflows ``query`` matches, from ``page_token`` (None: the first page)."""
    listing = client.list_workflows(
        query, page_size=page_size, next_page_token=page_token, rpc_timeout=rpc_timeout(budget)
    )
    try:
        async with within(budget, _not_answered), translated():
            await listing.fetch_next_page()
    except RPCError as err:
        if err.status != RPCStatusCode.INVALID_ARGUMENT:
            raise
        if page_token:
            raise InvalidInput(
                "page_token is not a token this list gave", code="page_token_invalid", field="page_token"
            ) from None
        # The queries are built from whitelisted values, so a refusal means the namespace lacks
        # the contract's search attributes, not that the caller asked for something wrong.
        raise QueryRefused(
            f"the visibility store refused the query ({err.message}); are the search attributes "
            "registered in this namespace?"
        ) from None
    return Page(list(listing.current_page or []), listing.next_page_token or None)


async def executions(client: Client, query: str, limit: int) -> AsyncIterator[WorkflowExecution]:
    """At most ``limit`` workflows matching ``query``, page after page."""
    token: bytes | None = None
    left = limit
    while left > 0:
        found = await page(client, query, page_size=min(left, MAX_PAGE_SIZE), page_token=token)
        for execution in found.executions[:left]:
            yield execution
        left -= len(found.executions)
        token = found.next_page_token
        if token is None:
            return
