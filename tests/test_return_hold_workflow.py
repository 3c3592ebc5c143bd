"""ReturnHold on the real dev server: release at once, forward, dispose, the seller link."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import gateway.holds as holds
from domain.errors import NotAllowedNow
from domain.payloads import Arrival, DisposeDecision, HoldResult, HoldStatus
from domain.workflow_ids import hold_workflow_id, shipment_id_of
from testing.endpoints import Recorded, loopback_api
from testing.journeys import FULL_JOURNEY
from testing.probes import history_length, send, settled, wait_for
from testing.stack import make_settings, running
from tests.conftest import Stack, new_id
from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold

ADDRESS = {
    "name": "Jane Seller",
    "street": "1 Main St",
    "city": "Blaine",
    "state": "WA",
    "postal_code": "98230",
    "country": "US",
}


async def cleared_seller(stack: Stack) -> str:
    seller = new_id("s")
    handle = await stack.sign_up(seller)
    for event in FULL_JOURNEY:
        await send(handle, event)
    return seller


async def new_seller(stack: Stack) -> tuple[str, WorkflowHandle[Any, Any]]:
    seller = new_id("s")
    handle = await stack.sign_up(seller)
    return seller, handle


async def arrive(stack: Stack, seller: str) -> WorkflowHandle[Any, Any]:
    return await stack.arrive(seller)


async def result(handle: WorkflowHandle[Any, Any]) -> HoldResult:
    return HoldResult.model_validate(await asyncio.wait_for(handle.result(), timeout=30))


async def held(handle: WorkflowHandle[Any, Any]) -> HoldStatus:
    async def is_held() -> bool:
        return (await handle.query(ReturnHold.status)).seller_known is not None

    await wait_for(is_held)
    return await handle.query(ReturnHold.status)


async def test_parcel_of_cleared_seller_is_released_at_once(dev_stack: Stack) -> None:
    seller = await cleared_seller(dev_stack)
    parcel = await arrive(dev_stack, seller)
    outcome = await result(parcel)
    assert outcome.outcome == "released"
    instructions = dev_stack.outbox.read("warehouse")
    assert [i["action"] for i in instructions] == ["release"]
    status = await parcel.query("status", result_type=HoldStatus)
    assert status.state == "released" and status.disposal_due_on is None


async def test_parcel_of_uncleared_seller_is_held_with_its_deadline(dev_stack: Stack) -> None:
    seller, _ = await new_seller(dev_stack)
    parcel = await arrive(dev_stack, seller)
    status = await held(parcel)
    assert status.state == "held"
    assert status.business_days_left == 15
    assert status.disposal_due_on is not None
    assert status.seller_known is True

    async def told() -> bool:
        return bool(dev_stack.outbox.notifications("return_held", shipment_id=status.shipment_id))

    await wait_for(told)
    await parcel.execute_update("decide", {"action": "dispose"}, result_type=HoldStatus)


async def test_seller_forwards_a_held_parcel_to_a_valid_us_address(dev_stack: Stack) -> None:
    seller, _ = await new_seller(dev_stack)
    parcel = await arrive(dev_stack, seller)
    await held(parcel)
    status = await parcel.execute_update(
        "decide", {"action": "forward", "us_address": ADDRESS}, result_type=HoldStatus
    )
    assert status.state == "forwarded"
    assert (await result(parcel)).outcome == "forwarded"
    [instruction] = dev_stack.outbox.read("warehouse")
    assert instruction["action"] == "forward"
    assert instruction["us_address"]["postal_code"] == "98230"


async def test_seller_asks_for_disposal_now(dev_stack: Stack) -> None:
    seller, _ = await new_seller(dev_stack)
    parcel = await arrive(dev_stack, seller)
    await held(parcel)
    await parcel.execute_update("decide", {"action": "dispose"}, result_type=HoldStatus)
    assert (await result(parcel)).outcome == "disposed"


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        ({"action": "forward"}, "us_address"),
        ({"action": "forward", "us_address": {**ADDRESS, "state": "XX"}}, "USPS"),
        ({"action": "forward", "us_address": {**ADDRESS, "postal_code": "1234"}}, "postal_code"),
        ({"action": "forward", "us_address": {**ADDRESS, "country": "CA"}}, "country"),
        ({"action": "burn"}, "action"),
        ({"action": "dispose", "extra": 1}, "unknown field"),
    ],
)
async def test_bad_decisions_are_rejected_and_change_nothing(
    dev_stack: Stack, decision: dict[str, Any], problem: str
) -> None:
    seller, _ = await new_seller(dev_stack)
    parcel = await arrive(dev_stack, seller)
    await held(parcel)
    before = await settled(parcel)
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await parcel.execute_update("decide", decision, result_type=HoldStatus)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidInput"
    assert problem in cause.message
    assert (await parcel.query("status", result_type=HoldStatus)).state == "held"
    # Refused in the validator: its speculative workflow task leaves no trace in history.
    assert await history_length(parcel) == before
    await parcel.execute_update("decide", {"action": "dispose"}, result_type=HoldStatus)


async def test_decisions_on_a_finished_parcel_are_refused(dev_stack: Stack) -> None:
    seller = await cleared_seller(dev_stack)
    parcel = await arrive(dev_stack, seller)
    await result(parcel)
    with pytest.raises(NotAllowedNow) as info:
        await holds.decide(dev_stack.client, shipment_id_of(parcel.id), DisposeDecision(action="dispose"))
    assert "no longer held: it was released" in info.value.message


async def test_bad_extensions_are_rejected(dev_stack: Stack) -> None:
    seller, _ = await new_seller(dev_stack)
    parcel = await arrive(dev_stack, seller)
    before = await held(parcel)
    for bad in (
        {"business_days": 0, "reason": "x"},
        {"business_days": 3},
        {"business_days": 2, "reason": " "},
    ):
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await parcel.execute_update("extend_hold", bad, result_type=HoldStatus)
        assert isinstance(info.value.cause, ApplicationError) and info.value.cause.type == "InvalidInput"
    after = await parcel.execute_update(
        "extend_hold", {"business_days": 5, "reason": "seller on holiday"}, result_type=HoldStatus
    )
    assert before.disposal_due_on is not None and after.disposal_due_on is not None
    assert after.disposal_due_on > before.disposal_due_on
    assert after.business_days_left == 20
    await parcel.execute_update("decide", {"action": "dispose"}, result_type=HoldStatus)


async def test_clearance_releases_every_held_parcel_of_the_seller(dev_stack: Stack) -> None:
    seller, seller_handle = await new_seller(dev_stack)
    parcels = [await arrive(dev_stack, seller) for _ in range(25)]
    for parcel in parcels:
        await held(parcel)

    async def all_listed() -> bool:
        status = await seller_handle.query("status")
        return len(status["held_shipments"]) == len(parcels)

    await wait_for(all_listed)
    for event in FULL_JOURNEY:
        await send(seller_handle, event)
    outcomes = [await result(p) for p in parcels]
    assert {o.outcome for o in outcomes} == {"released"}
    releases = [i for i in dev_stack.outbox.read("warehouse") if i["action"] == "release"]
    assert len(releases) == len(parcels)

    async def none_listed() -> bool:
        return (await seller_handle.query(SellerOnboarding.status)).held_shipments == []

    await wait_for(none_listed)


async def test_opted_out_seller_gets_parcels_forwarded_or_disposed_at_once(dev_stack: Stack) -> None:
    forwarder, handle = await new_seller(dev_stack)
    await send(
        handle, {"type": "no_business_number", "return_method": "own_us_address", "us_address": ADDRESS}
    )
    disposer, handle2 = await new_seller(dev_stack)
    await send(handle2, {"type": "no_business_number", "return_method": "dispose"})
    assert (await result(await arrive(dev_stack, forwarder))).outcome == "forwarded"
    assert (await result(await arrive(dev_stack, disposer))).outcome == "disposed"


async def test_parcel_of_unknown_seller_is_released_when_the_seller_signs_up_and_clears(
    dev_stack: Stack,
) -> None:
    seller = new_id("late")
    parcel = await arrive(dev_stack, seller)
    status = await held(parcel)
    assert status.seller_known is False

    async def ops_told() -> bool:
        return bool(dev_stack.outbox.notifications("return_unknown_seller", shipment_id=status.shipment_id))

    await wait_for(ops_told)

    # Visibility lists the held parcel once its search attributes are indexed.
    async def visible() -> bool:
        query = f"SellerId = '{seller}' AND ReturnState = 'held'"
        return len([w async for w in dev_stack.client.list_workflows(query)]) == 1

    await wait_for(visible)
    handle = await dev_stack.sign_up(seller)
    for event in FULL_JOURNEY:
        await send(handle, event)
    assert (await result(parcel)).outcome == "released"


async def test_invalid_arrival_fails_the_workflow_at_once(dev_stack: Stack) -> None:
    handle = await dev_stack.client.start_workflow(
        "ReturnHold",
        {"shipment_id": "p 1", "seller_id": "s1", "arrived_at": "2026-01-01T10:00:00"},
        id=f"return-hold-{new_id('bad')}",
        task_queue=dev_stack.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as info:
        await asyncio.wait_for(handle.result(), timeout=20)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidInput"
    assert "shipment_id" in cause.message and "arrived_at" in cause.message


async def test_legacy_poa_parcels_are_released_until_the_broker_asks_for_registration(
    dev_stack: Stack,
) -> None:
    seller = new_id("legacy")
    handle = await dev_stack.sign_up(seller, legacy_poa=True)
    assert (await result(await arrive(dev_stack, seller))).outcome == "released"
    await send(handle, {"type": "registration_requested_by_broker"})
    parcel = await arrive(dev_stack, seller)
    status = await held(parcel)
    assert status.state == "held"
    await parcel.execute_update("decide", {"action": "dispose"}, result_type=HoldStatus)


async def test_second_arrival_of_the_same_parcel_keeps_the_running_hold(dev_stack: Stack) -> None:
    seller, _ = await new_seller(dev_stack)
    parcel = await arrive(dev_stack, seller)
    arrival = Arrival.model_validate(
        {
            "shipment_id": shipment_id_of(parcel.id),
            "seller_id": seller,
            "arrived_at": "2026-01-05T10:00:00-05:00",
        }
    )
    again = await holds.record_arrival(dev_stack.client, arrival, task_queue=dev_stack.task_queue)
    assert not again.created
    assert (await again.handle.describe()).run_id == (await parcel.describe()).run_id
    await parcel.execute_update("decide", {"action": "dispose"}, result_type=HoldStatus)


async def test_a_burst_of_arrivals_for_a_cleared_seller_is_released_without_stalling(
    dev_stack: Stack,
) -> None:
    # Regression: a lookup run as a local activity held workflow-task slots while its query
    # waited for one, and a burst of ~100 arrivals stalled the worker.
    seller = await cleared_seller(dev_stack)
    parcels = await asyncio.gather(*(dev_stack.arrive(seller) for _ in range(150)))
    async with asyncio.timeout(120):
        for parcel in parcels:
            assert (await result(parcel)).outcome == "released"


def _instructed_actions(history: WorkflowHistory) -> list[str]:
    """The actions of the warehouse instructions scheduled in ``history``, in order."""
    actions = []
    for event in history.events:
        if not event.HasField("activity_task_scheduled_event_attributes"):
            continue
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name == "instruct_warehouse":
            [payload] = scheduled.input.payloads
            actions.append(json.loads(payload.data)["action"])
    return actions


@pytest.mark.parametrize("seller_decides", [False, True], ids=["released_at_once", "disposed_by_seller"])
async def test_the_warehouse_hears_of_an_action_only_once_it_is_in_history(
    dev_env: WorkflowEnvironment, tmp_path: Path, seller_decides: bool
) -> None:
    # A workflow task lost after the warehouse was told, and run again on another path (the
    # seller's clearance arriving meanwhile), would record another outcome than the warehouse's.
    loop = asyncio.get_running_loop()
    in_history_when_heard: list[list[str]] = []
    with loopback_api() as warehouse:
        settings = make_settings(tmp_path / "data", warehouse_channel="http", warehouse_url=warehouse.url)
        async with running(dev_env.client, settings) as stack:

            def look_at_history(request: Recorded) -> None:
                parcel = stack.client.get_workflow_handle(hold_workflow_id(request.body["shipment_id"]))
                history = asyncio.run_coroutine_threadsafe(parcel.fetch_history(), loop).result(30)
                in_history_when_heard.append(_instructed_actions(history))

            warehouse.on_request = look_at_history
            if seller_decides:
                seller, _ = await new_seller(stack)
                parcel = await arrive(stack, seller)
                await held(parcel)
                await parcel.execute_update("decide", {"action": "dispose"}, result_type=HoldStatus)
            else:
                parcel = await arrive(stack, await cleared_seller(stack))
            outcome = (await result(parcel)).outcome
    [request] = warehouse.requests
    action = request.body["action"]
    assert (outcome, action) in {("released", "release"), ("disposed", "dispose")}
    assert in_history_when_heard == [[action]]


async def test_parcels_queried_while_they_run_replay_on_a_worker_that_caches_nothing(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # A query that arrives during a workflow task's local activity ends that task early, so a
    # replay runs the code after the activity in an earlier task than it first ran in. A patch
    # asked after that point was announced in the later task only: on a cache miss, the replay
    # failed with "patch marker encountered … no corresponding change command". Without a cache
    # every workflow task and every query is a replay.
    async with running(dev_env.client, make_settings(tmp_path / "data"), max_cached_workflows=0) as stack:
        seller = await cleared_seller(stack)
        for _ in range(8):
            parcel = await arrive(stack, seller)
            for _ in range(12):
                await parcel.query(ReturnHold.status)
            assert (await result(parcel)).outcome == "released"
            await parcel.query(ReturnHold.status)
