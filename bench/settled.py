"""Events as life sends them: each one after the previous has settled.

Real events arrive days apart, so by the time the next one comes every notice and handoff the last
one caused has been delivered and the workflow is idle. The throughput part (a) sends a seller's
events back to back instead (a burst); this part waits for the workflow to settle — no workflow
task and no activity pending (``testing.stack.settle``) — before sending the next event.

Measured here, on the dev server:

- **a full onboarding settled one by one** (``FULL_JOURNEY``): history events, workflow tasks,
  timers started and cancelled, and each event's share of them;
- **what a parcel adds to its seller's history** (its arrival and its outcome):
  *released at once* — the seller cleared and idle, the seller's history before and after the
  parcel; *released on clearance* — the parcel arrives while the seller is idle (the growth then is
  its arrival), then the seller goes through the same journey as a twin seller without a parcel,
  side by side, and the clearing event's growth beyond the twin's is the parcel's outcome;
- **a parcel released at once**: its own history;
- the update latency of a settled event against a trivial workflow's settled update.

Each measure is taken on ``repeats`` sellers at once and the median reported with its range: two
activities finishing together share a workflow task, or not, so a count can vary by 3 events.
"""

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

import gateway.holds as holds
import gateway.onboarding as sellers
from bench.common import percentile, plain_worker, settle
from bench.history import kinds
from bench.trivial import ACTIVITIES, WORKFLOWS, BenchTrivial
from domain.payloads import Arrival, SignUp
from testing.journeys import FULL_JOURNEY
from testing.stack import make_settings
from worker import build_worker


@dataclass
class Journey:
    """One seller (or trivial workflow) driven event by event, settled after each."""

    handle: WorkflowHandle[Any, Any]
    lengths: list[int] = field(default_factory=list)
    """History length once settled: after sign-up, then after each event."""
    latencies: list[float] = field(default_factory=list)

    @property
    def growth(self) -> list[int]:
        """What each event added to the history, settled."""
        return [b - a for a, b in zip(self.lengths, self.lengths[1:], strict=False)]


async def _signed_up(client: Client, task_queue: str, seller: str) -> Journey:
    signup = SignUp(seller_id=seller, email=f"{seller}@example.com")
    handle = (await sellers.sign_up(client, signup, task_queue=task_queue)).handle
    journey = Journey(handle)
    journey.lengths.append(await settle(handle))
    return journey


async def _go_through(client: Client, seller: str, journey: Journey, events: list[dict[str, Any]]) -> None:
    for event in events:
        t = time.perf_counter()
        await sellers.apply_event(client, seller, event)
        journey.latencies.append(time.perf_counter() - t)
        journey.lengths.append(await settle(journey.handle))


async def _trivial(client: Client, task_queue: str, name: str, updates: int) -> Journey:
    handle = await client.start_workflow(BenchTrivial.run, id=name, task_queue=task_queue)
    journey = Journey(handle)
    journey.lengths.append(await settle(handle))
    for event in FULL_JOURNEY[:updates]:
        t = time.perf_counter()
        await handle.execute_update(BenchTrivial.touch, event)
        journey.latencies.append(time.perf_counter() - t)
        journey.lengths.append(await settle(handle))
    await handle.signal(BenchTrivial.stop)
    return journey


async def _arrive(client: Client, task_queue: str, seller: str, shipment: str) -> WorkflowHandle[Any, Any]:
    arrival = Arrival(shipment_id=shipment, seller_id=seller, arrived_at=datetime.now(UTC))
    return (await holds.record_arrival(client, arrival, task_queue=task_queue)).handle


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


async def _journey_cost(journey: Journey) -> dict[str, Any]:
    by_kind = kinds(await journey.handle.fetch_history())
    return {
        "events": journey.lengths[-1],
        "workflow_tasks": by_kind["WORKFLOW_TASK_COMPLETED"],
        "timers_started": by_kind["TIMER_STARTED"],
        "timers_canceled": by_kind["TIMER_CANCELED"],
        "activities": by_kind["ACTIVITY_TASK_SCHEDULED"],
        "upserts": by_kind["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
        "growth_by_event": journey.growth,
        "by_kind": dict(by_kind.most_common()),
    }


class _Pair:
    """A seller with a parcel that is released when the seller clears, and a twin without one."""

    def __init__(self, client: Client, task_queue: str, run: str, i: int) -> None:
        self.client, self.tq = client, task_queue
        self.twin_id, self.seller_id = f"settled-{run}-{i}-twin", f"settled-{run}-{i}"
        self.shipment = f"settled-{run}-{i}-p"

    async def drive(self) -> dict[str, Any]:
        twin, seller = await asyncio.gather(
            _signed_up(self.client, self.tq, self.twin_id), _signed_up(self.client, self.tq, self.seller_id)
        )
        parcel = await _arrive(self.client, self.tq, self.seller_id, self.shipment)
        await settle(parcel)
        signed_up = seller.lengths[-1]
        seller.lengths[-1] = await settle(seller.handle)  # the journey's growth is counted from here
        arrival = seller.lengths[-1] - signed_up
        await asyncio.gather(
            _go_through(self.client, self.twin_id, twin, FULL_JOURNEY),
            _go_through(self.client, self.seller_id, seller, FULL_JOURNEY),
        )
        await parcel.result()
        outcome = seller.growth[-1] - twin.growth[-1]  # the clearing event, with and without the parcel
        return {
            "twin": twin,
            "arrival": arrival,
            "outcome": outcome,
            "journey_beyond_twin": sum(seller.growth) - sum(twin.growth),
        }


async def _released_at_once(client: Client, task_queue: str, cleared: Journey, seller: str) -> dict[str, Any]:
    """A parcel of a cleared, idle seller: its own history, and the seller's growth."""
    before = await settle(cleared.handle)
    parcel = await _arrive(client, task_queue, seller, f"{seller}-now")
    await parcel.result()
    after = await settle(cleared.handle)
    by_kind = kinds(await parcel.fetch_history())
    return {
        "events": sum(by_kind.values()),
        "workflow_tasks": by_kind["WORKFLOW_TASK_COMPLETED"],
        "seller_events": after - before,
        "by_kind": dict(by_kind.most_common()),
    }


async def run_settled(client: Client, data_dir: Path, repeats: int) -> dict[str, Any]:
    """``repeats`` pairs of sellers (with a parcel, and its twin without), and trivial workflows."""
    tag = uuid.uuid4().hex[:8]
    settings = make_settings(data_dir, temporal_task_queue=f"bench-settled-{tag}", log_level="WARNING")
    trivial_queue = f"bench-settled-trivial-{tag}"
    async with plain_worker(client, trivial_queue, WORKFLOWS, ACTIVITIES):
        trivial = await asyncio.gather(
            *(
                _trivial(client, trivial_queue, f"settled-trivial-{tag}-{i}", len(FULL_JOURNEY))
                for i in range(repeats)
            )
        )
    async with build_worker(client, settings):
        pairs = [_Pair(client, settings.temporal_task_queue, tag, i) for i in range(repeats)]
        driven = await asyncio.gather(*(p.drive() for p in pairs))
        twins: list[Journey] = [d["twin"] for d in driven]
        costs = [await _journey_cost(t) for t in twins]
        at_once = [
            await _released_at_once(client, settings.temporal_task_queue, t, p.twin_id)
            for t, p in zip(twins, pairs, strict=True)
        ]
    return _report(costs, driven, at_once, twins, trivial)


def _report(
    costs: list[dict[str, Any]],
    driven: list[dict[str, Any]],
    at_once: list[dict[str, Any]],
    twins: list[Journey],
    trivial: list[Journey],
) -> dict[str, Any]:
    on_clearance = [float(d["arrival"] + d["outcome"]) for d in driven]
    onb_latencies = [x for t in twins for x in t.latencies]
    trivial_latencies = [x for t in trivial for x in t.latencies]
    p50 = percentile(onb_latencies, 50) / percentile(trivial_latencies, 50)
    p95 = percentile(onb_latencies, 95) / percentile(trivial_latencies, 95)
    return {
        "repeats": len(costs),
        "onboarding": {
            key: _spread([float(c[key]) for c in costs])
            for key in (
                "events",
                "workflow_tasks",
                "timers_started",
                "timers_canceled",
                "activities",
                "upserts",
            )
        },
        "onboarding_samples": costs,
        "trivial_events": _spread([float(t.lengths[-1]) for t in trivial]),
        "hold_released_at_once": {
            "events": _spread([float(a["events"]) for a in at_once]),
            "workflow_tasks": _spread([float(a["workflow_tasks"]) for a in at_once]),
            "seller_events": _spread([float(a["seller_events"]) for a in at_once]),
            "by_kind": at_once[0]["by_kind"],
        },
        "hold_released_on_clearance": {
            "seller_events": _spread(on_clearance),
            "arrival": _spread([float(d["arrival"]) for d in driven]),
            "outcome": _spread([float(d["outcome"]) for d in driven]),
            "journey_beyond_twin": _spread([float(d["journey_beyond_twin"]) for d in driven]),
        },
        "update_p50_ms": round(percentile(onb_latencies, 50) * 1000, 1),
        "update_p95_ms": round(percentile(onb_latencies, 95) * 1000, 1),
        "trivial_update_p50_ms": round(percentile(trivial_latencies, 50) * 1000, 1),
        "trivial_update_p95_ms": round(percentile(trivial_latencies, 95) * 1000, 1),
        "update_p50_ratio": round(p50, 3),
        "update_p95_ratio": round(p95, 3),
    }
