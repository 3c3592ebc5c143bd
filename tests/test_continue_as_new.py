"""A seller's workflow lives for years: it continues as new and carries everything across."""

from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.onboarding import OnboardingStatus
from testing.journeys import FULL_JOURNEY
from testing.probes import send, wait_for
from testing.stack import Stack, make_settings, new_id
from worker import build_worker


async def run_id(handle: WorkflowHandle[Any, Any]) -> str:
    return (await handle.describe()).run_id or ""


async def test_state_survives_continue_as_new(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    # A low threshold stands in for the thousands of events of a long-lived seller.
    settings = make_settings(tmp_path, continue_as_new_after_events=40)
    async with build_worker(dev_env.client, settings):
        stack = Stack(dev_env.client, settings)
        seller = new_id("s")
        handle = await stack.sign_up(seller)
        first_run = await run_id(handle)
        parcel = await stack.arrive(seller)

        async def parcel_listed() -> bool:
            status = await handle.query("status", result_type=OnboardingStatus)
            return len(status.held_shipments) == 1

        await wait_for(parcel_listed)
        for i, event in enumerate(FULL_JOURNEY[:5]):
            await send(handle, {**event, "event_id": f"e{i}"})
        # Confirmations from a chatty integration push the history past the threshold.
        for i in range(15):
            await send(handle, {"type": "carm_login_confirmed", "event_id": f"login-{i}"})

        async def continued() -> bool:
            return await run_id(handle) != first_run

        await wait_for(continued, 20)
        status = await handle.query("status", result_type=OnboardingStatus)
        assert status.completed_steps == [
            "business_number",
            "importer_account",
            "carm_registration",
            "rpp_enrollment",
            "poa_submission",
        ]
        assert status.held_shipments == [parcel.id.removeprefix("return-hold-")]
        # Event ids applied in an earlier run are still recognised.
        again = await send(handle, {**FULL_JOURNEY[0], "event_id": "e0"})
        assert again.completed_steps == status.completed_steps

        # The link to the parcel survives: clearance in the new run releases it.
        for event in FULL_JOURNEY[5:]:
            await send(handle, event)
        result = await parcel.result()
        assert result.outcome == "released"

        # Notification keys never repeat across runs: the receiving end saw no duplicate.
        keys = [n["idempotency_key"] for n in stack.outbox.notifications()]
        assert len(keys) == len(set(keys))
        assert len(stack.outbox.read("broker")) == 1
        await stack.stop_everything()
