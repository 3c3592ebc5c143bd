"""What the list verbs (``sellers``, ``parcels``) share: paging through Temporal's visibility."""

from collections.abc import AsyncIterator

from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from starter.cli.errors import CliError


async def listing(client: Client, query: str, limit: int) -> AsyncIterator[WorkflowExecution]:
    """At most ``limit`` workflows matching ``query`` (built by :mod:`domain.visibility`)."""
    try:
        async for wf in client.list_workflows(query, limit=limit, page_size=min(limit, 1000)):
            yield wf
    except RPCError as err:
        # The queries are built from whitelisted values, so a refusal means the namespace lacks
        # the contract's search attributes, not that the user typed something wrong.
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise CliError(
                f"the visibility store refused the query ({err.message}); are the search attributes "
                "registered in this namespace?"
            ) from None
        raise


def more_hint(shown: int, limit: int) -> str:
    """What to say when a list stopped at its limit."""
    return f" (the first {limit}; raise --limit for more)" if shown >= limit else ""
