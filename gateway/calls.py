"""How the gateway calls Temporal: start a workflow once, call an update, ask a query.

Every call goes through :func:`gateway.errors.translated`, and a call that meets no running
workflow says which of the two it was — never there (``NotFound``) or there and ended
(``NotAllowedNow``, worded by the caller) — by asking Temporal to describe the workflow.

With a :class:`~gateway.budget.Budget` a call answers within it: ``TimedOut`` when Temporal did
not take the request in time (a start may have happened: starting again keeps it; an update may
still be delivered: an ``event_id`` makes sending it again harmless), ``Accepted`` when an update
was accepted but had not finished.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.errors import NotAllowedNow
from gateway.budget import Budget, rpc_timeout, within
from gateway.errors import Accepted, NotFound, TimedOut, is_gone, translated

RESULT_GRACE = 0.1
"""Seconds an accepted update gets to hand over an outcome already known (a validator's refusal)
when the budget is spent: reading it costs no round trip."""

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
    budget: Budget | None = None,
) -> Started[W]:
    """Start a workflow unless one runs with that id (conflict policy ``FAIL``, "already started"
    taken as success), so no starter of the service ever runs a second one beside it."""
    async with within(budget, _start_timed_out), translated():
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
                rpc_timeout=rpc_timeout(budget),
            )
            return Started(handle, True)
        except WorkflowAlreadyStartedError:
            return Started(client.get_workflow_handle_for(run, workflow_id), False)


def _start_timed_out() -> TimedOut:
    return TimedOut(
        "Temporal did not confirm the start in time; it may have started: send it again "
        "(a second one keeps the running workflow)"
    )


def _not_answered() -> TimedOut:
    return TimedOut("Temporal did not answer in time; nothing was changed: try again")


def _not_accepted() -> TimedOut:
    return TimedOut(
        "Temporal did not accept the request in time; it may still apply: send it again with the "
        "same event_id (it then applies once)"
    )


def _not_finished() -> Accepted:
    return Accepted("Temporal accepted the request but it had not finished in time")


async def existing(
    handle: WorkflowHandle[Any, Any], budget: Budget | None = None
) -> WorkflowExecutionStatus | None:
    """The workflow's status, or None when Temporal has no such workflow (any more)."""
    async with within(budget, _not_answered), translated():
        try:
            return (await handle.describe(rpc_timeout=rpc_timeout(budget))).status
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
    budget: Budget | None = None,
) -> R:
    """Run ``request`` (an update or query on ``handle``), naming what it met if not a workflow.

    ``request`` keeps to ``budget`` itself (:func:`query`, :func:`update`); so does what follows.
    """
    async with translated():
        try:
            return await request()
        except RPCError as err:
            if not is_gone(err):
                raise
    status = await existing(handle, budget)
    if status is None:
        raise missing
    if status == WorkflowExecutionStatus.RUNNING:
        # Closed and continued as new between the call and the description: one more try.
        async with translated():
            return await request()
    async with within(budget, _not_answered), translated():
        raise await ended()


async def query(handle: WorkflowHandle[Any, Any], method: Any, budget: Budget | None) -> Any:
    """A query, answered within ``budget`` or ``TimedOut`` (a query changes nothing)."""
    async with within(budget, _not_answered):
        return await handle.query(method, rpc_timeout=rpc_timeout(budget))


async def update(
    handle: WorkflowHandle[Any, Any],
    method: Any,
    arg: Any,
    *,
    update_id: str | None = None,
    budget: Budget | None = None,
) -> Any:
    """An update, waited for to the end; with ``budget``: accepted in time or ``TimedOut``, then
    finished in time or ``Accepted``.

    The same ``update_id`` sent again joins the first request rather than making a second one
    (Temporal keeps the ids of a run's updates).
    """
    if budget is None:
        return await handle.execute_update(method, arg, id=update_id)
    async with within(budget, _not_accepted):
        pending = await handle.start_update(
            method,
            arg,
            id=update_id,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            rpc_timeout=budget.rpc_timeout(),
        )
    try:
        async with within(budget, _not_finished, grace=RESULT_GRACE):
            return await pending.result(rpc_timeout=budget.rpc_timeout())
    except RPCError as err:
        if is_gone(err):
            raise
        # Accepted is in history: whatever kept its outcome from us, the update will run.
        raise _not_finished() from None
