"""Release 2's commands (the ``lean-commands`` patch), seen in the histories they write.

The workflows' behaviour is tested elsewhere; these tests pin what the patch is for — the work
done in fewer commands — so that a change that quietly brings a command back shows here. The
budgets are issue 12's (``docs/performance.md``); the benchmarks measure the same things in bulk.
"""

from datetime import UTC, datetime

from temporalio.common import WorkflowIDReusePolicy

from bench.history import kinds
from domain.payloads import HoldResult, ReturnHoldInput
from domain.workflow_ids import hold_workflow_id
from testing.journeys import FULL_JOURNEY
from testing.stack import Stack, new_id, settle
from tests.test_operations import cleared
from workflows.return_hold import ReturnHold


async def test_a_parcel_released_at_once_is_two_workflow_tasks_and_the_instruction(dev_stack: Stack) -> None:
    seller = await cleared(dev_stack)
    parcel = await dev_stack.arrive(seller)
    assert HoldResult.model_validate(await parcel.result()).outcome == "released"
    seen = kinds(await parcel.fetch_history())
    # The starter looked the seller up and the notice went as a local activity; the instruction
    # is a regular activity, so that its action is in history before the warehouse hears of it
    # (the ``instruction-in-history`` patch).
    assert seen["WORKFLOW_TASK_COMPLETED"] == 2
    assert seen["ACTIVITY_TASK_SCHEDULED"] == 1
    assert sum(seen.values()) <= 18


async def test_a_held_parcel_costs_its_seller_one_signal_and_no_answer(dev_stack: Stack) -> None:
    seller = new_id("s")
    onboarding = await dev_stack.sign_up(seller)
    before = await settle(onboarding)
    parcel = await dev_stack.arrive(seller)
    await settle(parcel)
    after = await settle(onboarding)
    seller_kinds = kinds(list((await onboarding.fetch_history()).events[before:]))
    # The parcel's registration (a signal and the task that takes it in) and nothing sent back:
    # the parcel already knew what the seller would have told it.
    assert after - before <= 4, seller_kinds
    assert seller_kinds["SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED"] == 0
    status = await dev_stack.send(seller, *FULL_JOURNEY)
    assert status.cleared_for_returns
    # The clearance still reaches it, by a local activity in the seller's task.
    assert HoldResult.model_validate(await parcel.result()).outcome == "released"


async def test_a_parcel_started_without_its_sellers_situation_asks_for_it(dev_stack: Stack) -> None:
    seller = await cleared(dev_stack)
    shipment = new_id("p")
    # As a starter that could not reach the seller's workflow in time would start it.
    parcel = await dev_stack.client.start_workflow(
        ReturnHold.run,
        ReturnHoldInput(shipment_id=shipment, seller_id=seller, arrived_at=datetime.now(UTC).isoformat()),
        id=hold_workflow_id(shipment),
        task_queue=dev_stack.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    assert (await parcel.result()).outcome == "released"
    # look_up_seller, and the warehouse instruction
    assert kinds(await parcel.fetch_history())["ACTIVITY_TASK_SCHEDULED"] == 2


async def test_an_onboarding_keeps_its_timer_while_the_wake_up_only_moves_later(dev_stack: Stack) -> None:
    seller = new_id("s")
    onboarding = await dev_stack.sign_up(seller)
    await settle(onboarding)
    for event in FULL_JOURNEY:
        await dev_stack.send(seller, event)
        await settle(onboarding)
    seen = kinds(await onboarding.fetch_history())
    # Each step done restarts a reminder clock, later each time: release 1 replaced the timer
    # for nearly every event (10 started, 9 cancelled on this journey).
    assert seen["TIMER_CANCELED"] <= 2, seen
    assert seen["ACTIVITY_TASK_SCHEDULED"] == 0, seen
