"""SellerOnboarding on the real dev server: the journey, rejections, idempotency, search attributes."""

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

import gateway.onboarding as sellers
from domain.errors import InvalidInput, NotAllowedNow
from domain.onboarding import OnboardingStatus
from domain.payloads import SellerOnboardingInput, SignUp
from testing.journeys import BN, FULL_JOURNEY
from testing.probes import history_length, rejection, send, settled, wait_for
from tests.conftest import Stack, new_id


async def test_full_journey_clears_the_seller_and_hands_off_to_the_broker(dev_stack: Stack) -> None:
    seller = new_id("s")
    started = await sellers.sign_up(
        dev_stack.client, SignUp(seller_id=seller, email="owner@example.com"), task_queue=dev_stack.task_queue
    )
    handle, created = started.handle, started.created
    dev_stack.started.append(handle)
    assert created
    status = await handle.query("status", result_type=OnboardingStatus)
    assert status.stage == "business_number"
    assert status.waiting_on == ["seller"]

    for event in FULL_JOURNEY:
        status = await send(handle, event)
    assert status.stage == "cleared"
    assert status.cleared_for_returns
    assert status.pending_steps == []
    assert status.waiting_on == []

    async def handed_off() -> bool:
        return len(dev_stack.outbox.read("broker")) == 1

    await wait_for(handed_off)
    handoff = dev_stack.outbox.read("broker")[0]
    assert handoff["business_number"] == BN
    assert handoff["returns_account_number"] == seller
    assert handoff["handoff_number"] == 1

    async def cleared_message() -> bool:
        return bool(dev_stack.outbox.notifications("seller_cleared", seller_id=seller))

    await wait_for(cleared_message)


async def test_rejected_events_name_the_problem_and_leave_history_untouched(dev_stack: Stack) -> None:
    handle = await dev_stack.sign_up(new_id("s"))
    await send(handle, {"type": "business_number_provided", "business_number": BN})
    before = await settled(handle)

    again = await rejection(handle, {"type": "business_number_provided", "business_number": BN})
    assert again.type == "NotAllowedNow" and "already complete" in again.message
    wrong_check = await rejection(handle, {"type": "importer_account_provided", "program_account": "RT0001"})
    assert wrong_check.type == "InvalidInput"
    assert "RT program" in wrong_check.message
    other_bn = await rejection(
        handle, {"type": "importer_account_provided", "program_account": "046454286RM0001"}
    )
    assert other_bn.type == "InvalidInput" and "belongs to business number" in other_bn.message
    early = await rejection(handle, {"type": "poa_approved"})
    assert early.type == "NotAllowedNow" and "poa_submission" in early.message
    unknown = await rejection(handle, {"type": "carm_registred"})
    assert unknown.type == "InvalidInput" and "unknown event type" in unknown.message
    extra = await rejection(handle, {"type": "carm_registered", "surprise": 1})
    assert extra.type == "InvalidInput" and "unknown field" in extra.message

    assert await history_length(handle) == before
    status = await handle.query("status", result_type=OnboardingStatus)
    assert status.completed_steps == ["business_number"]


async def test_bad_business_number_is_rejected_with_its_reason(dev_stack: Stack) -> None:
    handle = await dev_stack.sign_up(new_id("s"))
    err = await rejection(handle, {"type": "business_number_provided", "business_number": "123456783"})
    assert err.type == "InvalidInput"
    assert "check digit" in err.message


async def test_event_id_makes_redelivery_harmless(dev_stack: Stack) -> None:
    handle = await dev_stack.sign_up(new_id("s"))
    event = {"type": "business_number_provided", "business_number": BN, "event_id": "webhook-1"}
    first = await send(handle, event)
    again = await send(handle, event)
    assert first.completed_steps == again.completed_steps == ["business_number"]


async def test_second_sign_up_keeps_the_running_workflow(dev_stack: Stack) -> None:
    seller = new_id("s")
    started = await sellers.sign_up(
        dev_stack.client, SignUp(seller_id=seller, email="o@example.com"), task_queue=dev_stack.task_queue
    )
    first, created = started.handle, started.created
    dev_stack.started.append(first)
    await send(first, {"type": "business_number_provided", "business_number": BN})
    again = await sellers.sign_up(
        dev_stack.client, SignUp(seller_id=seller, email="other@example.com"), task_queue=dev_stack.task_queue
    )
    second, created_again = again.handle, again.created
    assert created and not created_again
    assert (await second.describe()).run_id == first.result_run_id
    status = await second.query("status", result_type=OnboardingStatus)
    assert status.completed_steps == ["business_number"]


async def test_invalid_input_fails_the_workflow_at_once_not_forever(dev_stack: Stack) -> None:
    handle = await dev_stack.client.start_workflow(
        "SellerOnboarding",
        SellerOnboardingInput(seller_id="bad id!", email="nope"),
        id=f"seller-onboarding-{new_id('bad')}",
        task_queue=dev_stack.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    with pytest.raises(WorkflowFailureError) as info:
        await asyncio.wait_for(handle.result(), timeout=20)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidInput"
    assert "seller_id" in cause.message and "email" in cause.message


async def test_search_attributes_follow_the_stage(dev_stack: Stack) -> None:
    seller = new_id("s")
    handle = await dev_stack.sign_up(seller)
    for event in FULL_JOURNEY[:3]:
        await send(handle, event)

    async def listed() -> bool:
        query = f"SellerId = '{seller}' AND OnboardingStage = 'rpp_enrollment' AND ClearedForReturns = false"
        found = [wf async for wf in dev_stack.client.list_workflows(query)]
        return len(found) == 1

    await wait_for(listed)
    desc = await handle.describe()
    attrs = desc.typed_search_attributes
    from domain import search_attributes as sa

    assert attrs.get(sa.WAITING_ON) == ["broker", "seller"]
    assert attrs.get(sa.STALLED) is False
    # No personal data in search attributes.
    assert all("example.com" not in str(p.value) for p in attrs)
    history = await handle.fetch_history()
    upserts = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]
    assert upserts, "search attributes are upserted"


async def test_rejections_reach_the_caller_with_their_code_field_and_parameters(dev_stack: Stack) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller)
    with pytest.raises(InvalidInput) as bad:
        await dev_stack.send(seller, {"type": "business_number_provided", "business_number": "123456789"})
    assert bad.value.detail == {
        "code": "business_number_check_digit",
        "field": "business_number",
        "params": {"value": "123456789"},
    }
    with pytest.raises(NotAllowedNow) as early:
        await dev_stack.send(seller, {"type": "carm_registered"})
    assert early.value.code == "step_prerequisites"
    assert early.value.params == {"step": "carm_registration", "missing": ["importer_account"]}
