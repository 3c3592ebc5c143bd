"""Small probes the tests use on running workflows: send an event, wait for a state."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.events import EventEnvelope
from domain.onboarding import OnboardingStatus
from workflows.onboarding import SellerOnboarding


async def send(handle: WorkflowHandle[Any, Any], event: dict[str, Any]) -> OnboardingStatus:
    """Apply one event straight on the workflow (no starter in between)."""
    return await handle.execute_update(SellerOnboarding.apply_event, EventEnvelope.model_validate(event))


async def rejection(handle: WorkflowHandle[Any, Any], event: dict[str, Any]) -> ApplicationError:
    """The error with which the workflow refuses ``event``."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await send(handle, event)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def history_length(handle: WorkflowHandle[Any, Any]) -> int:
    return len((await handle.fetch_history()).events)


async def settled(handle: WorkflowHandle[Any, Any]) -> int:
    """History length once the workflow is idle: no pending activity, no growth."""
    last = -1
    async with asyncio.timeout(20):
        while True:
            desc = await handle.describe()
            length = await history_length(handle)
            if not desc.raw_description.pending_activities and length == last:
                return length
            last = length
            await asyncio.sleep(0.3)


async def wait_for(predicate: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not await predicate():
            await asyncio.sleep(0.1)
