"""Record workflow histories for the replay tests: ``python -m scripts.record_histories RELEASE``.

Each release of the workflows gets its histories committed under ``tests/histories/<release>/``;
``tests/test_replay.py`` replays every one of them against the current code, so a change that would
break a running workflow fails in CI (see docs/versioning.md).
"""

import argparse
import asyncio
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.payloads import DisposeDecision, ExtendHold, ForwardDecision, Reassign
from testing.endpoints import loopback_api
from testing.journeys import ADDRESS, LONG_JOURNEY
from testing.servers import dev_server, time_skipping_server
from testing.stack import Stack, make_settings, running, settle

ROOT = Path(__file__).resolve().parents[1]


async def _save(handle: WorkflowHandle[Any, Any], folder: Path, name: str) -> None:
    history = await handle.fetch_history()
    (folder / f"{name}.json").write_text(history.to_json())
    print(f"  {name}: {len(history.events)} events")


async def _dev_scenarios(stack: Stack, folder: Path) -> None:
    seller = f"rec-{uuid.uuid4().hex[:8]}"
    onboarding = await stack.sign_up(seller, business_name="Maple")
    held = await stack.arrive(seller, shipment_id=f"{seller}-p1")
    forwarded = await stack.arrive(seller, shipment_id=f"{seller}-p2")
    disposed = await stack.arrive(seller, shipment_id=f"{seller}-p4")
    for parcel in (held, forwarded, disposed):
        await settle(parcel)
    client = stack.client
    await holds.decide(
        client, f"{seller}-p2", ForwardDecision.model_validate({"action": "forward", "us_address": ADDRESS})
    )
    await holds.decide(client, f"{seller}-p4", DisposeDecision(action="dispose"))
    await holds.extend_hold(
        client, f"{seller}-p1", ExtendHold(business_days=2, reason="seller asked for time")
    )
    await stack.send(seller, *LONG_JOURNEY)
    for parcel in (held, forwarded, disposed):
        await parcel.result()
    instant = await stack.arrive(seller, shipment_id=f"{seller}-p3")
    await instant.result()
    opted = f"{seller}-out"
    out_handle = await stack.sign_up(opted)
    await stack.send(opted, {"type": "no_business_number", "return_method": "dispose"}, {"type": "opted_in"})
    await settle(onboarding)
    await settle(out_handle)
    await _save(onboarding, folder, "onboarding_full_journey")
    await _save(out_handle, folder, "onboarding_opt_out_and_in")
    await _save(held, folder, "hold_released_on_clearance")
    await _save(forwarded, folder, "hold_forwarded_by_seller")
    await _save(disposed, folder, "hold_disposed_by_seller")
    await _save(instant, folder, "hold_released_at_once")
    await _corrections(stack, folder, cleared=seller)


async def _corrections(stack: Stack, folder: Path, *, cleared: str) -> None:
    """Operations at work: numbers and address corrected, a parcel moved, a seller leaving."""
    seller = f"rec-{uuid.uuid4().hex[:8]}-ops"
    handle = await stack.sign_up(seller)
    mis_scanned = await stack.arrive(seller, shipment_id=f"{seller}-p1")
    await settle(mis_scanned)
    await holds.reassign(
        stack.client, f"{seller}-p1", Reassign(seller_id=cleared, reason="mis-scanned", actor="ops")
    )
    await mis_scanned.result()
    await stack.send(
        seller,
        *LONG_JOURNEY[:2],
        {"type": "carm_registered"},
        {"type": "email_changed", "email": "new@example.com", "actor": "ops", "party": "operations"},
        {
            "type": "business_number_corrected",
            "business_number": "046454286",
            "reason": "typo",
            "actor": "ops",
        },
        {"type": "language_changed", "language": "fr", "actor": "seller", "party": "seller"},
        {"type": "seller_offboarded", "reason": "closed the account", "actor": "ops"},
    )
    await handle.result()
    await _save(handle, folder, "onboarding_corrected_and_offboarded")
    await _save(mis_scanned, folder, "hold_reassigned_and_released")


async def _failed_delivery(client: Client, data_dir: Path, folder: Path) -> None:
    """A broker handoff refused until it is given up, then retried once the endpoint is back."""
    with loopback_api() as broker:
        broker.answer = 503
        settings = make_settings(
            data_dir,
            temporal_task_queue="record-histories-failed",
            broker_channel="http",
            broker_url=broker.url,
            delivery_give_up_after_seconds=2,
        )
        async with running(client, settings) as stack:
            seller = f"rec-{uuid.uuid4().hex[:8]}-down"
            handle = await stack.sign_up(seller)
            await stack.send(seller, *LONG_JOURNEY[:2], {"type": "carm_registered"})
            for _ in range(100):
                status = await sellers.seller_status(client, seller)
                if status.failed_deliveries:
                    break
                await asyncio.sleep(0.2)
            broker.answer = None
            key = status.failed_deliveries[0].idempotency_key
            await stack.send(seller, {"type": "delivery_retried", "idempotency_key": key, "actor": "ops"})
            await settle(handle)
            await _save(handle, folder, "onboarding_handoff_given_up_and_retried")


async def _time_scenarios(env: WorkflowEnvironment, stack: Stack, folder: Path) -> None:
    seller = f"rec-{uuid.uuid4().hex[:8]}"
    onboarding = await stack.sign_up(seller)
    parcel = await stack.arrive(seller, arrived_at=await env.get_current_time(), shipment_id=f"{seller}-p1")
    # Three weeks: the seller is reminded and stalls; then the parcel is disposed at its deadline.
    await env.sleep(timedelta(days=22))
    await _save(onboarding, folder, "onboarding_reminders_and_stall")
    await onboarding.terminate("recorded")
    await parcel.result()
    await _save(parcel, folder, "hold_disposed_at_deadline")
    cleared = f"{seller}-c"
    handle = await stack.sign_up(
        cleared,
        completed_steps=[
            "business_number",
            "importer_account",
            "carm_registration",
            "rpp_enrollment",
            "doa_acceptance",
            "poa_submission",
            "poa_approval",
            "program_access",
        ],
    )
    # Most of a year: the login reminders, the overdue alert, the yearly RPP review reminder.
    await env.sleep(timedelta(days=330))
    await _save(handle, folder, "onboarding_cleared_watch")
    await handle.terminate("recorded")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("release", help="folder name under tests/histories, e.g. release-1")
    args = parser.parse_args()
    folder = ROOT / "tests" / "histories" / args.release
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), temporal_task_queue="record-histories")
        async with dev_server() as env:
            async with running(env.client, settings) as stack:
                await _dev_scenarios(stack, folder)
            await _failed_delivery(env.client, Path(tmp) / "down", folder)
        async with time_skipping_server() as skip, running(skip.client, settings) as stack:
            await _time_scenarios(skip, stack, folder)
    print(f"recorded at {datetime.now(UTC).isoformat(timespec='seconds')} into {folder}")


if __name__ == "__main__":
    asyncio.run(main())
