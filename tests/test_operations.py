"""Operations correct what goes wrong, see who did what, and never lose a delivery silently.

On the real dev server: each correction and its refusals, the audit after a mixed sequence, a
parcel moved to its right seller, and a broker handoff refused by the broker's endpoint, given up,
alerted, retried once the endpoint is back, and delivered once.
"""

import itertools
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.errors import InvalidInput, NotAllowedNow
from domain.payloads import Arrival, DeliveryAction, DisposeDecision, Reassign
from domain.steps import Step
from domain.workflow_ids import shipment_id_of
from gateway.errors import Conflict
from testing.endpoints import loopback_api
from testing.journeys import BN, FULL_JOURNEY
from testing.probes import wait_for
from testing.stack import Stack, make_settings, new_id, running
from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold

OTHER_BN = "046454286"


async def cleared(stack: Stack) -> str:
    seller = new_id("s")
    await stack.sign_up(seller)
    await stack.send(seller, *FULL_JOURNEY)
    return seller


async def test_an_email_change_moves_later_messages_and_tells_the_old_address(dev_stack: Stack) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller, email="old@example.com")
    status = await dev_stack.send(
        seller, {"type": "email_changed", "email": "new@example.com", "actor": "ops-jo"}
    )
    assert status.stage == "business_number"
    await dev_stack.send(seller, {"type": "business_number_provided", "business_number": BN})

    async def told() -> bool:
        return bool(dev_stack.outbox.notifications("email_changed", seller_id=seller)) and bool(
            [
                n
                for n in dev_stack.outbox.notifications("onboarding_next_step", seller_id=seller)
                if n["to"] == "new@example.com"
            ]
        )

    await wait_for(told)
    [notice] = dev_stack.outbox.notifications("email_changed", seller_id=seller)
    # The old address is told, and gets no link: it must not open the page any more.
    assert notice["to"] == "old@example.com" and notice["link_epoch"] is None
    with pytest.raises(NotAllowedNow) as same:
        await dev_stack.send(seller, {"type": "email_changed", "email": "NEW@example.com"})
    assert same.value.code == "same_email"
    with pytest.raises(InvalidInput) as two:
        await dev_stack.send(seller, {"type": "email_changed", "email": "a,b@example.com"})
    assert two.value.code == "email_invalid"


async def test_a_corrected_business_number_reaches_the_broker_in_a_new_handoff(dev_stack: Stack) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller)
    with pytest.raises(NotAllowedNow):  # nothing to correct before a business number is given
        await dev_stack.send(
            seller, {"type": "business_number_corrected", "business_number": OTHER_BN, "reason": "x"}
        )
    await dev_stack.send(seller, *FULL_JOURNEY[:3])  # BN, RM0001, CARM registered: handed off once
    with pytest.raises(InvalidInput) as other:
        await dev_stack.send(
            seller,
            {
                "type": "business_number_corrected",
                "business_number": OTHER_BN,
                "program_account": f"{BN}RM0001",
                "reason": "typo",
            },
        )
    assert other.value.code == "program_account_other_business_number"
    before = await sellers.seller_status(dev_stack.client, seller)
    after = await dev_stack.send(
        seller,
        {"type": "business_number_corrected", "business_number": OTHER_BN, "reason": "typo at sign-up"},
    )
    assert after.completed_steps == before.completed_steps and after.handoffs == 2

    async def handed_twice() -> bool:
        return len([h for h in dev_stack.outbox.read("broker") if h["seller_id"] == seller]) == 2

    await wait_for(handed_twice)
    second = max(
        (h for h in dev_stack.outbox.read("broker") if h["seller_id"] == seller),
        key=lambda h: h["handoff_number"],
    )
    assert (second["business_number"], second["program_account"]) == (OTHER_BN, "RM0001")


async def test_offboarding_waits_for_held_parcels_then_ends_and_a_new_sign_up_starts_afresh(
    dev_stack: Stack,
) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller)
    parcel = await dev_stack.arrive(seller)
    shipment = shipment_id_of(parcel.id)

    async def registered() -> bool:
        return shipment in (await sellers.seller_status(dev_stack.client, seller)).held_shipments

    await wait_for(registered)
    with pytest.raises(NotAllowedNow) as held:
        await dev_stack.send(seller, {"type": "seller_offboarded", "reason": "closing the account"})
    assert held.value.code == "parcels_held" and shipment in held.value.message
    await holds.decide(dev_stack.client, shipment, DisposeDecision(action="dispose", actor="ops"))
    await parcel.result()
    await wait_for(lambda: _no_held(dev_stack, seller))
    status = await dev_stack.send(seller, {"type": "seller_offboarded", "reason": "closing the account"})
    assert status.stage == "offboarded"
    handle = sellers.seller_handle(dev_stack.client, seller)
    assert (await handle.result()).stage == "offboarded"
    ended_run = await handle.describe()
    assert ended_run.status == WorkflowExecutionStatus.COMPLETED
    with pytest.raises(NotAllowedNow) as ended:
        await dev_stack.send(seller, {"type": "carm_registered"})
    assert ended.value.code == "seller_ended"
    # Meanwhile a parcel is an unknown seller's; signing up again starts a fresh workflow.
    stray = await dev_stack.arrive(seller)
    await wait_for(lambda: _seller_known_is(dev_stack, shipment_id_of(stray.id), False))
    again = await dev_stack.sign_up(seller)
    assert (await again.describe()).run_id != ended_run.run_id
    assert (await sellers.seller_status(dev_stack.client, seller)).stage == "business_number"


async def _no_held(stack: Stack, seller: str) -> bool:
    return not (await sellers.seller_status(stack.client, seller)).held_shipments


async def _seller_known_is(stack: Stack, shipment: str, known: bool) -> bool:
    return (await holds.hold_status(stack.client, shipment)).seller_known is known


async def test_a_mis_scanned_parcel_moves_to_its_cleared_seller_and_is_released(dev_stack: Stack) -> None:
    wrong = new_id("s")
    await dev_stack.sign_up(wrong)
    right = await cleared(dev_stack)
    parcel = await dev_stack.arrive(wrong)
    shipment = shipment_id_of(parcel.id)
    await wait_for(lambda: _held_by(dev_stack, wrong, shipment))
    due_on = (await holds.hold_status(dev_stack.client, shipment)).disposal_due_on
    with pytest.raises(NotAllowedNow):
        await holds.reassign(dev_stack.client, shipment, Reassign(seller_id=wrong, reason="same seller"))

    status = await holds.reassign(
        dev_stack.client,
        shipment,
        Reassign(seller_id=right, reason="scanned under the wrong seller", actor="jo"),
    )
    assert status.seller_id == right and status.reassigned_from == [wrong]
    assert status.closing == "released" or status.state == "released"
    assert (await parcel.result()).outcome == "released"
    assert not (await _held_by(dev_stack, wrong, shipment))
    assert shipment not in (await sellers.seller_status(dev_stack.client, right)).held_shipments
    [instruction] = [i for i in dev_stack.outbox.read("warehouse") if i["shipment_id"] == shipment]
    assert (instruction["action"], instruction["seller_id"]) == ("release", right)
    audit = await holds.hold_audit(dev_stack.client, shipment)
    assert [(e.type, e.party, e.actor) for e in audit] == [("reassign", "operations", "jo")]
    assert due_on is not None

    # The parcel is recorded under its new seller: arriving again under it is fine, the old one not.
    arrival = Arrival.model_validate(
        {"shipment_id": shipment, "seller_id": right, "arrived_at": status.arrived_at}
    )
    assert not (
        await holds.record_arrival(dev_stack.client, arrival, task_queue=dev_stack.task_queue)
    ).created
    with pytest.raises(Conflict) as conflict:
        await holds.record_arrival(
            dev_stack.client, arrival.model_copy(update={"seller_id": wrong}), task_queue=dev_stack.task_queue
        )
    assert conflict.value.params == {"seller_id": right} and right in conflict.value.message


async def _held_by(stack: Stack, seller: str, shipment: str) -> bool:
    return shipment in (await sellers.seller_status(stack.client, seller)).held_shipments


async def test_the_audit_says_who_sent_what_when(dev_stack: Stack) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller)
    await dev_stack.send(
        seller,
        {"type": "business_number_provided", "business_number": BN, "actor": "seller", "party": "seller"},
        {
            "type": "importer_account_provided",
            "program_account": "RM0001",
            "actor": "ops-jo",
            "party": "operations",
        },
        {"type": "carm_registered", "event_id": "e-3"},
        {"type": "doa_requested", "actor": "broker", "party": "broker", "event_id": "wh-1"},
        {"type": "doa_requested", "actor": "broker", "party": "broker", "event_id": "wh-1"},  # redelivery
        {"type": "language_changed", "language": "fr", "actor": "ops-jo", "party": "operations"},
    )
    audit = await sellers.seller_audit(dev_stack.client, seller)
    assert [(e.type, e.party, e.actor, e.event_id) for e in audit] == [
        ("business_number_provided", "seller", "seller", None),
        ("importer_account_provided", "operations", "ops-jo", None),
        ("carm_registered", "seller", None, "e-3"),
        ("doa_requested", "broker", "broker", "wh-1"),
        ("language_changed", "operations", "ops-jo", None),
    ]
    assert all(a.at <= b.at for a, b in itertools.pairwise(audit))
    details = await sellers.seller_handle(dev_stack.client, seller).query("__temporal_workflow_metadata")
    assert "language_changed" in str(details)


async def test_a_refused_handoff_is_given_up_alerted_retried_and_delivered_once(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    with loopback_api() as broker:
        broker.answer = 503  # the broker's endpoint is down
        settings = make_settings(
            tmp_path, broker_channel="http", broker_url=broker.url, delivery_give_up_after_seconds=3
        )
        async with running(dev_env.client, settings) as stack:
            seller = new_id("s")
            await stack.sign_up(seller)
            await stack.send(seller, *FULL_JOURNEY[:3])

            async def given_up() -> bool:
                return bool((await sellers.seller_status(stack.client, seller)).failed_deliveries)

            await wait_for(given_up, seconds=30)
            status = await sellers.seller_status(stack.client, seller)
            [failed] = status.failed_deliveries
            assert (failed.kind, failed.idempotency_key) == ("broker_handoff", f"handoff:{seller}:1")
            assert "operations" in status.waiting_on
            await wait_for(lambda: _alerted(stack, seller), seconds=10)
            with pytest.raises(NotAllowedNow):
                await stack.send(seller, {"type": "delivery_retried", "idempotency_key": "nope"})

            broker.answer = None  # back up
            after = await stack.send(
                seller,
                {"type": "delivery_retried", "idempotency_key": failed.idempotency_key, "actor": "ops-jo"},
            )
            assert after.failed_deliveries == [] and "operations" not in after.waiting_on

            async def delivered() -> bool:
                return failed.idempotency_key in broker.seen_keys

            await wait_for(delivered, seconds=15)
            accepted = [
                r for r in broker.requests if r.headers.get("idempotency-key") == failed.idempotency_key
            ]
            assert len(accepted) >= 2  # refused while down, then delivered
            assert broker.seen_keys == {failed.idempotency_key}  # accepted exactly once


async def _alerted(stack: Stack, seller: str) -> bool:
    return bool(stack.outbox.notifications("delivery_failed", seller_id=seller, audience="operations"))


async def test_a_warehouse_instruction_given_up_keeps_the_parcel_until_it_is_retried(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    with loopback_api() as warehouse:
        warehouse.answer = 503
        settings = make_settings(
            tmp_path, warehouse_channel="http", warehouse_url=warehouse.url, delivery_give_up_after_seconds=3
        )
        async with running(dev_env.client, settings) as stack:
            seller = await cleared(stack)
            parcel = await stack.arrive(seller)
            shipment = shipment_id_of(parcel.id)

            async def given_up() -> bool:
                return bool((await holds.hold_status(stack.client, shipment)).failed_deliveries)

            await wait_for(given_up, seconds=30)
            status = await holds.hold_status(stack.client, shipment)
            assert status.state == "held" and status.closing == "released"
            assert status.waiting_on == ["operations"]
            [failed] = status.failed_deliveries
            with pytest.raises(NotAllowedNow) as refused:
                await holds.abandon_delivery(
                    stack.client, shipment, DeliveryAction(idempotency_key=failed.idempotency_key)
                )
            assert refused.value.code == "instruction_cannot_be_abandoned"
            warehouse.answer = None
            await holds.retry_delivery(
                stack.client, shipment, DeliveryAction(idempotency_key=failed.idempotency_key)
            )
            assert (await parcel.result()).outcome == "released"
            assert warehouse.seen_keys == {failed.idempotency_key}
            handle = holds.hold_handle(stack.client, shipment)
            assert [e.type for e in await handle.query(ReturnHold.audit)] == ["delivery_retried"]


async def test_a_legacy_poa_seller_is_cleared_again_without_a_new_poa(dev_stack: Stack) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller, legacy_poa=True)
    status = await dev_stack.send(seller, {"type": "registration_requested_by_broker"})
    assert not status.cleared_for_returns
    assert {Step.poa_submission, Step.poa_approval} <= set(status.completed_steps)
    journey = [e for e in FULL_JOURNEY if e["type"] not in ("poa_submitted", "poa_approved")]
    status = await dev_stack.send(seller, *journey)
    assert status.cleared_for_returns and status.stage == "cleared"
    handle = sellers.seller_handle(dev_stack.client, seller)
    assert "poa_submitted" not in [e.type for e in await handle.query(SellerOnboarding.audit)]
