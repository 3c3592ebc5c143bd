"""(b) History cost: events, workflow tasks and billable actions per onboarding and per hold outcome.

Scenarios on the dev server: a full onboarding (``FULL_JOURNEY``, every step, with its
notifications and the broker handoff), a parcel released at once (its seller already cleared),
released on clearance, and forwarded at the seller's request. On the time-skipping server: a parcel
disposed at its deadline (seller known; the seller's own reminders moved out of the way so the
seller's history shows only what the parcel caused) and one whose seller is unknown.
For each parcel the events it caused in its seller's workflow are counted too.
"""

import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import gateway.holds as holds
import gateway.onboarding as sellers
from bench.common import settle
from bench.history import billable_actions, kinds
from domain.payloads import Arrival, ForwardDecision, SignUp
from testing.journeys import FULL_JOURNEY
from testing.stack import make_settings
from worker import build_worker

ADDRESS = {
    "name": "Maple Goods",
    "street": "1 Main St",
    "city": "Blaine",
    "state": "WA",
    "postal_code": "98230",
    "country": "US",
}


async def _measure(handle: WorkflowHandle[Any, Any], caused_in_seller: int | None = None) -> dict[str, Any]:
    history = await handle.fetch_history()
    by_kind = kinds(history)
    actions = billable_actions(history)
    return {
        "events": len(history.events),
        "workflow_tasks": by_kind["WORKFLOW_TASK_COMPLETED"],
        "billable_actions": sum(actions.values()),
        "by_kind": dict(by_kind.most_common()),
        "actions_by_kind": dict(actions.most_common()),
        "events_caused_in_seller_workflow": caused_in_seller,
    }


class _Scenarios:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client, self.tq = client, task_queue
        self.run = uuid.uuid4().hex[:6]
        self.n = 0

    def ids(self) -> tuple[str, str]:
        self.n += 1
        return f"cost-{self.run}-s{self.n}", f"cost-{self.run}-p{self.n}"

    async def seller(self, seller: str, journey: list[dict[str, Any]]) -> WorkflowHandle[Any, Any]:
        signup = SignUp(seller_id=seller, email="o@example.com")
        handle = (await sellers.sign_up(self.client, signup, task_queue=self.tq)).handle
        for event in journey:
            await sellers.apply_event(self.client, seller, event)
        await settle(handle)
        return handle

    async def arrive(
        self, seller: str, shipment: str, at: datetime | None = None
    ) -> WorkflowHandle[Any, Any]:
        arrival = Arrival(shipment_id=shipment, seller_id=seller, arrived_at=at or datetime.now(UTC))
        return (await holds.record_arrival(self.client, arrival, task_queue=self.tq)).handle


async def _length(handle: WorkflowHandle[Any, Any]) -> int:
    return await settle(handle)


async def dev_scenarios(client: Client, data_dir: Path) -> dict[str, Any]:
    settings = make_settings(
        data_dir,
        temporal_task_queue=f"bench-cost-{uuid.uuid4().hex[:6]}",
    )
    out: dict[str, Any] = {}
    async with build_worker(client, settings):
        s = _Scenarios(client, settings.temporal_task_queue)

        seller, shipment = s.ids()
        onboarding = await s.seller(seller, FULL_JOURNEY)
        out["onboarding_full_journey"] = await _measure(onboarding)

        before = await _length(onboarding)
        parcel = await s.arrive(seller, shipment)
        await parcel.result()
        out["hold_released_at_once"] = await _measure(parcel, await _length(onboarding) - before)

        seller, shipment = s.ids()
        onboarding = await s.seller(seller, [])
        before = await _length(onboarding)
        parcel = await s.arrive(seller, shipment)
        await settle(parcel)
        await holds.decide(
            client, shipment, ForwardDecision.model_validate({"action": "forward", "us_address": ADDRESS})
        )
        await parcel.result()
        out["hold_forwarded_by_seller"] = await _measure(parcel, await _length(onboarding) - before)

        seller, shipment = s.ids()
        onboarding = await s.seller(seller, [])
        before = await _length(onboarding)
        parcel = await s.arrive(seller, shipment)
        await settle(parcel)
        mid = await _length(onboarding)
        for event in FULL_JOURNEY:
            await sellers.apply_event(client, seller, event)
        await parcel.result()
        journey_alone = out["onboarding_full_journey"]["events"]
        after = await _length(onboarding)
        # What the parcel caused: its arrival, plus what the journey cost beyond a journey alone.
        out["hold_released_on_clearance"] = await _measure(parcel, (mid - before) + (after - journey_alone))
    return out


async def time_skipping_scenarios(env: WorkflowEnvironment, data_dir: Path) -> dict[str, Any]:
    # The seller's own reminders (3, 7, 14 days…) would land in the 3 weeks skipped; moved out of
    # the way so the seller's history grows only by what the parcel causes.
    settings = make_settings(
        data_dir,
        temporal_task_queue=f"bench-cost-skip-{uuid.uuid4().hex[:6]}",
        seller_reminder_days=[200],
        seller_escalate_after_days=300,
    )
    out: dict[str, Any] = {}
    async with build_worker(env.client, settings):
        s = _Scenarios(env.client, settings.temporal_task_queue)
        seller, shipment = s.ids()
        onboarding = await s.seller(seller, [])
        before = len((await onboarding.fetch_history()).events)
        parcel = await s.arrive(seller, shipment, await env.get_current_time())
        await parcel.result()
        after = len((await onboarding.fetch_history()).events)
        out["hold_disposed_at_deadline"] = await _measure(parcel, after - before)

        _, shipment = s.ids()
        parcel = await s.arrive(f"cost-{s.run}-nobody", shipment, await env.get_current_time())
        await parcel.result()
        out["hold_disposed_unknown_seller"] = await _measure(parcel, 0)
        await onboarding.terminate("benchmark finished")
    return out


def total_kinds(results: dict[str, Any]) -> Counter[str]:
    total: Counter[str] = Counter()
    for r in results.values():
        total.update(r["by_kind"])
    return total
