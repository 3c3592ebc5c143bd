"""(a) Onboarding throughput and ``apply_event`` latency, against the trivial baseline.

N sellers are signed up and driven through every step of ``FULL_JOURNEY`` at once (each seller's
events one after another, as a seller and the broker would send them); then N ``BenchTrivial``
workflows get the same number of no-op updates with the same concurrency, on the same server,
in the same process. A workflow counts as done when it is idle: no workflow task and no activity
pending (so the notifications an event causes are part of the time, as they are of the events).
Each side also reports how long its workflow tasks ran on the worker and whether any timed out:
run with twice the sellers the worker keeps up with, this is the check on the worker's slots.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

import gateway.onboarding as sellers
from bench.common import gather_limited, percentile, plain_worker, settle
from bench.trivial import ACTIVITIES, WORKFLOWS, BenchTrivial
from domain.payloads import SignUp
from testing.journeys import FULL_JOURNEY
from testing.stack import make_settings
from worker import build_worker


@dataclass
class Phase:
    """One side of the comparison: N workflows driven through the same number of updates."""

    name: str
    workflows: int
    wall_seconds: float = 0.0
    history_events: int = 0
    latencies: list[float] = field(default_factory=list)
    task_seconds: list[float] = field(default_factory=list)
    """Each workflow task's run on the worker (started → completed), from the histories."""
    task_timeouts: int = 0

    @property
    def events_per_second(self) -> float:
        return self.history_events / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def updates_per_second(self) -> float:
        return len(self.latencies) / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies, 95) * 1000

    async def read_tasks(self, handle: WorkflowHandle[Any, Any]) -> None:
        """How long the workflow's tasks ran, and whether any ran past its timeout."""
        started = None
        async for e in handle.fetch_history_events():
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = e.event_time.ToDatetime()
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and started is not None:
                self.task_seconds.append((e.event_time.ToDatetime() - started).total_seconds())
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                self.task_timeouts += 1

    def summary(self) -> dict[str, Any]:
        return {
            "workflows": self.workflows,
            "workflow_task_max_s": round(max(self.task_seconds, default=0.0), 3),
            "workflow_task_p95_s": round(percentile(self.task_seconds, 95), 3) if self.task_seconds else 0.0,
            "workflow_task_timeouts": self.task_timeouts,
            "updates": len(self.latencies),
            "wall_s": round(self.wall_seconds, 2),
            "history_events": self.history_events,
            "events_per_workflow": round(self.history_events / max(self.workflows, 1), 1),
            "events_per_s": round(self.events_per_second, 1),
            "updates_per_s": round(self.updates_per_second, 1),
            "update_p50_ms": round(self.p50_ms, 1),
            "update_p95_ms": round(self.p95_ms, 1),
        }


async def drive_onboardings(client: Client, task_queue: str, n: int, concurrency: int) -> Phase:
    phase = Phase("onboarding", n)
    run = uuid.uuid4().hex[:6]

    async def one(i: int) -> int:
        seller = f"bench-{run}-{i}"
        handle = (
            await sellers.sign_up(
                client, SignUp(seller_id=seller, email=f"{seller}@example.com"), task_queue=task_queue
            )
        ).handle
        for event in FULL_JOURNEY:
            t = time.perf_counter()
            await sellers.apply_event(client, seller, event)
            phase.latencies.append(time.perf_counter() - t)
        length = await settle(handle)
        await phase.read_tasks(handle)
        return length

    t0 = time.perf_counter()
    lengths = await gather_limited([one(i) for i in range(n)], concurrency)
    phase.wall_seconds = time.perf_counter() - t0
    phase.history_events = sum(lengths)
    return phase


async def drive_trivial(client: Client, task_queue: str, n: int, concurrency: int) -> Phase:
    phase = Phase("trivial", n)
    run = uuid.uuid4().hex[:6]

    async def one(i: int) -> int:
        handle = await client.start_workflow(
            BenchTrivial.run, id=f"bench-trivial-{run}-{i}", task_queue=task_queue
        )
        for event in FULL_JOURNEY:
            t = time.perf_counter()
            await handle.execute_update(BenchTrivial.touch, event)
            phase.latencies.append(time.perf_counter() - t)
        length = await settle(handle)
        await phase.read_tasks(handle)
        return length

    t0 = time.perf_counter()
    lengths = await gather_limited([one(i) for i in range(n)], concurrency)
    phase.wall_seconds = time.perf_counter() - t0
    phase.history_events = sum(lengths)
    return phase


async def run_throughput(
    client: Client, data_dir: Path, n: int, concurrency: int | None = None
) -> dict[str, Any]:
    """Trivial, then onboarding, each on its own task queue and worker; a small warm-up first."""
    concurrency = concurrency or n
    tag = uuid.uuid4().hex[:8]
    settings = make_settings(
        data_dir,
        temporal_task_queue=f"bench-onb-{tag}",
        log_level="WARNING",
    )
    trivial_queue = f"bench-trivial-{tag}"
    warm = max(2, min(10, n // 10))
    async with plain_worker(client, trivial_queue, WORKFLOWS, ACTIVITIES):
        await drive_trivial(client, trivial_queue, warm, warm)
        trivial = await drive_trivial(client, trivial_queue, n, concurrency)
    async with build_worker(client, settings):
        await drive_onboardings(client, settings.temporal_task_queue, warm, warm)
        onboarding = await drive_onboardings(client, settings.temporal_task_queue, n, concurrency)
    await asyncio.sleep(0)
    return {
        "n": n,
        "concurrency": concurrency,
        "updates_per_workflow": len(FULL_JOURNEY),
        "trivial": trivial.summary(),
        "onboarding": onboarding.summary(),
        "events_per_s_ratio": round(onboarding.events_per_second / trivial.events_per_second, 3),
        "updates_per_s_ratio": round(onboarding.updates_per_second / trivial.updates_per_second, 3),
        "p50_latency_ratio": round(onboarding.p50_ms / trivial.p50_ms, 3),
        "p95_latency_ratio": round(onboarding.p95_ms / trivial.p95_ms, 3),
    }
