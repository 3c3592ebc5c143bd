"""Calls within a budget: not taken in time is ``TimedOut``, taken but not finished is ``Accepted``.

A stand-in for a workflow handle plays Temporal's part, so each stage can be made slow on purpose
(the dev-server tests of the API show the same with a task queue nobody polls).
"""

import asyncio
from typing import Any, cast

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateRPCTimeoutOrCancelledError

from gateway.budget import Budget
from gateway.calls import update
from gateway.errors import Accepted, TimedOut


class SlowUpdate:
    """A handle whose update is accepted after ``accept`` seconds and finishes ``finish`` later."""

    def __init__(self, accept: float, finish: float) -> None:
        self.accept, self.finish = accept, finish
        self.ids: list[str | None] = []

    async def start_update(self, method: Any, arg: Any, *, id: str | None, **options: Any) -> "SlowUpdate":
        self.ids.append(id)
        await asyncio.sleep(self.accept)
        return self

    async def result(self, **options: Any) -> str:
        try:
            await asyncio.sleep(self.finish)
        except asyncio.CancelledError:  # what the SDK makes of a cancelled poll
            raise WorkflowUpdateRPCTimeoutOrCancelledError() from None
        return "done"

    async def execute_update(self, method: Any, arg: Any, *, id: str | None) -> str:
        return "done without a budget"

    @property
    def handle(self) -> WorkflowHandle[Any, Any]:
        """Itself, as the gateway sees it: it has every method ``update`` calls."""
        return cast(WorkflowHandle[Any, Any], self)


async def test_an_update_taken_and_finished_in_time_returns_its_result() -> None:
    slow = SlowUpdate(accept=0.01, finish=0.01)
    assert await update(slow.handle, "m", {}, update_id="event-e1", budget=Budget.of(1)) == "done"
    assert slow.ids == ["event-e1"]


async def test_an_update_not_accepted_in_time_is_timed_out_within_the_budget() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimedOut, match="same event_id"):
        await update(SlowUpdate(accept=10, finish=0).handle, "m", {}, budget=Budget.of(0.3))
    assert loop.time() - started < 1


async def test_an_update_accepted_but_not_finished_in_time_is_accepted() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Accepted):
        await update(SlowUpdate(accept=0.05, finish=10).handle, "m", {}, budget=Budget.of(0.3))
    assert loop.time() - started < 1


async def test_without_a_budget_an_update_is_waited_for() -> None:
    assert await update(SlowUpdate(accept=10, finish=10).handle, "m", {}) == "done without a budget"
