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

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import gateway.holds as holds
from domain.payloads import DisposeDecision, ExtendHold, ForwardDecision
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
        async with dev_server() as env, running(env.client, settings) as stack:
            await _dev_scenarios(stack, folder)
        async with time_skipping_server() as skip, running(skip.client, settings) as stack:
            await _time_scenarios(skip, stack, folder)
    print(f"recorded at {datetime.now(UTC).isoformat(timespec='seconds')} into {folder}")


if __name__ == "__main__":
    asyncio.run(main())
