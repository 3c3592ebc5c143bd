"""Record workflow histories for the replay tests: ``python -m scripts.record_histories``.

Each released version of the workflows gets its histories committed under
``tests/histories/<version>/``; ``tests/test_replay.py`` replays every one of them against the
current code, so a change that would break a running workflow fails in CI (see
docs/versioning.md). Record a new version's set only when the workflows' commands change.
"""

import argparse
import asyncio
import shutil
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import domain.search_attributes as sa
import starter.client as starters
from domain.settings import Settings
from worker import build_worker

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
JOURNEY: list[dict[str, Any]] = [
    {"type": "business_number_provided", "business_number": "123456782", "event_id": "e1"},
    {"type": "importer_account_provided", "program_account": "RM0001"},
    {"type": "affinity_figures_requested"},
    {"type": "affinity_figures_provided", "transaction_number": "T-1", "transaction_total": "12.50"},
    {"type": "carm_registered"},
    {"type": "poa_submitted"},
    {"type": "poa_denied", "reason": "carm_not_registered"},
    {"type": "carm_registered"},
    {"type": "poa_submitted"},
    {"type": "rpp_enrolled"},
    {"type": "doa_requested"},
    {"type": "doa_accepted"},
    {"type": "poa_approved"},
    {"type": "program_access_granted"},
    {"type": "carm_login_confirmed"},
    {"type": "rpp_suspended"},
    {"type": "rpp_enrolled"},
]
ADDRESS = {"name": "J", "street": "1 Main St", "city": "Blaine", "state": "WA", "postal_code": "98230"}


def _binary(name: str) -> str:
    found = shutil.which(name) or str(BIN / name)
    return found


async def _settle(handle: WorkflowHandle[Any, Any]) -> None:
    for _ in range(100):
        desc = await handle.describe()
        if not desc.raw_description.pending_activities:
            return
        await asyncio.sleep(0.2)


async def _save(handle: WorkflowHandle[Any, Any], folder: Path, name: str) -> None:
    history = await handle.fetch_history()
    (folder / f"{name}.json").write_text(history.to_json())
    print(f"  {name}: {len(history.events)} events")


async def _dev_scenarios(client: Client, settings: Settings, folder: Path) -> None:
    tq = settings.temporal_task_queue
    seller = f"rec-{uuid.uuid4().hex[:8]}"
    onboarding, _ = await starters.sign_up(
        client, task_queue=tq, seller_id=seller, email="owner@example.com", business_name="Maple"
    )
    held, _ = await starters.record_arrival(
        client,
        task_queue=tq,
        shipment_id=f"{seller}-p1",
        seller_id=seller,
        arrived_at=datetime.now(UTC).isoformat(),
    )
    forwarded, _ = await starters.record_arrival(
        client,
        task_queue=tq,
        shipment_id=f"{seller}-p2",
        seller_id=seller,
        arrived_at=datetime.now(UTC).isoformat(),
    )
    await asyncio.sleep(2)
    await starters.decide(client, f"{seller}-p2", {"action": "forward", "us_address": ADDRESS})
    await starters.extend_hold(client, f"{seller}-p1", 2, "seller asked for time")
    for event in JOURNEY:
        await starters.apply_event(client, seller, event)
    await held.result()
    await forwarded.result()
    instant, _ = await starters.record_arrival(
        client,
        task_queue=tq,
        shipment_id=f"{seller}-p3",
        seller_id=seller,
        arrived_at=datetime.now(UTC).isoformat(),
    )
    await instant.result()
    opted = f"{seller}-out"
    out_handle, _ = await starters.sign_up(client, task_queue=tq, seller_id=opted, email="o@example.com")
    await starters.apply_event(client, opted, {"type": "no_business_number", "return_method": "dispose"})
    await starters.apply_event(client, opted, {"type": "opted_in"})
    await _settle(onboarding)
    await _settle(out_handle)
    await _save(onboarding, folder, "onboarding_full_journey")
    await _save(out_handle, folder, "onboarding_opt_out_and_in")
    await _save(held, folder, "hold_released_on_clearance")
    await _save(forwarded, folder, "hold_forwarded_by_seller")
    await _save(instant, folder, "hold_released_at_once")


async def _time_scenarios(env: WorkflowEnvironment, settings: Settings, folder: Path) -> None:
    client, tq = env.client, settings.temporal_task_queue
    seller = f"rec-{uuid.uuid4().hex[:8]}"
    onboarding, _ = await starters.sign_up(client, task_queue=tq, seller_id=seller, email="owner@example.com")
    parcel, _ = await starters.record_arrival(
        client,
        task_queue=tq,
        shipment_id=f"{seller}-p1",
        seller_id=seller,
        arrived_at=(await env.get_current_time()).isoformat(),
    )
    # Three weeks: the seller is reminded and stalls; then the parcel is disposed at its deadline.
    await env.sleep(timedelta(days=22))
    await _save(onboarding, folder, "onboarding_reminders_and_stall")
    await onboarding.terminate("recorded")
    await parcel.result()
    await _save(parcel, folder, "hold_disposed_at_deadline")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("version", help="folder name under tests/histories, e.g. v1")
    args = parser.parse_args()
    folder = ROOT / "tests" / "histories" / args.version
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(temporal_task_queue="record-histories", data_dir=Path(tmp))
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=_binary("temporal"),
            data_converter=pydantic_data_converter,
            search_attributes=list(sa.ALL),
            dev_server_log_level="error",
        )
        async with env, build_worker(env.client, settings):
            await _dev_scenarios(env.client, settings, folder)
        skip = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        )
        # The time-skipping server knows no custom search attributes until they are added.
        await skip.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=skip.client.namespace,
                search_attributes={k.name: int(k.indexed_value_type) for k in sa.ALL},  # type: ignore[misc]
            )
        )
        async with skip, build_worker(skip.client, settings):
            await _time_scenarios(skip, settings, folder)


if __name__ == "__main__":
    asyncio.run(main())
