"""What the list verbs (``sellers``, ``parcels``) share: paging through Temporal's visibility."""

from collections.abc import AsyncIterator

from temporalio.client import Client, WorkflowExecution

from gateway.errors import QueryRefused
from gateway.listings import executions
from starter.cli.errors import CliError


async def listing(client: Client, query: str, limit: int) -> AsyncIterator[WorkflowExecution]:
    """At most ``limit`` workflows matching ``query`` (built by :mod:`domain.visibility`)."""
    try:
        async for wf in executions(client, query, limit):
            yield wf
    except QueryRefused as err:
        raise CliError(err.message) from None


def more_hint(shown: int, limit: int) -> str:
    """What to say when a list stopped at its limit."""
    return f" (the first {limit}; raise --limit for more)" if shown >= limit else ""
