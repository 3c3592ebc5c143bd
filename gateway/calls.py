"""How the gateway calls Temporal: start a workflow once, call an update, ask a query.

Every call goes through :func:`gateway.errors.translated`, and a call that meets no running
workflow says which of the two it was — never there (``NotFound``) or there and ended
(``NotAllowedNow``, worded by the caller) — by asking Temporal to describe the workflow.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.errors import NotAllowedNow
from gateway.errors import NotFound, is_gone, translated

W = TypeVar("W")
R = TypeVar("R")


@dataclass(frozen=True)
class Started(Generic[W]):
    """A workflow the caller asked for: started now, or the one already running with that id."""

    handle: WorkflowHandle[W, Any]
    created: bool


async def start_once(
    client: Client,
    run: Callable[[W, Any], Awaitable[Any]],
    arg: Any,
    *,
    workflow_id: str,
    task_queue: str,
    reuse: WorkflowIDReusePolicy,
    summary: str,
    details: str,
) -> Started[W]:
    """Start a workflow unless one runs with that id (conflict policy ``FAIL``, "already started"
    taken as success), so no starter of the service ever runs a second one beside it."""
    async with translated():
        try:
            handle: WorkflowHandle[W, Any] = await client.start_workflow(
                run,
                arg,
                id=workflow_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=reuse,
                # No personal data here: summaries are visible to anyone with UI access.
                static_summary=summary,
                static_details=details,
            )
            return Started(handle, True)
        except WorkflowAlreadyStartedError:
            return Started(client.get_workflow_handle_for(run, workflow_id), False)


async def existing(handle: WorkflowHandle[Any, Any]) -> WorkflowExecutionStatus | None:
    """The workflow's status, or None when Temporal has no such workflow (any more)."""
    async with translated():
        try:
            return (await handle.describe()).status
        except RPCError as err:
            if is_gone(err):
                return None
            raise


async def call(
    handle: WorkflowHandle[Any, Any],
    request: Callable[[], Awaitable[R]],
    *,
    missing: NotFound,
    ended: Callable[[], Awaitable[NotAllowedNow]],
) -> R:
    """Run ``request`` (an update or query on ``handle``), naming what it met if not a workflow."""
    async with translated():
        try:
            return await request()
        except RPCError as err:
            if not is_gone(err):
                raise
    status = await existing(handle)
    if status is None:
        raise missing
    if status == WorkflowExecutionStatus.RUNNING:
        # Closed and continued as new between the call and the description: one more try.
        async with translated():
            return await request()
    raise await ended()
