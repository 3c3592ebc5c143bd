"""Replay: its cost per history event against a trivial workflow's, and the worst case of a run.

A worker that has a seller's workflow out of its cache — restarted, evicted, another worker
taking over — replays the run's whole history before it can handle the next event, within one
workflow task: the workflow task timeout (10 s by default) bounds it. A seller's run is longest
just before it continues as new, after ``CONTINUE_AS_NEW_AFTER_EVENTS`` events (10,000 by default).

Recorded on a dev server (its own, so a long history does not meet the server's own suggestion
to continue as new, 4,096 events by default: that would end the run before the setting does):

- a seller's first run: ``FULL_JOURNEY``, then ``CLEARED_CYCLE`` again and again (each event once
  the previous update has returned), with ``continue_as_new_after_events`` set to the target, until
  the run continues as new — the history a replay at the threshold meets;
- a ``BenchTrivial`` workflow with as many updates as make a history of the same length.

Both are replayed with ``temporalio.worker.Replayer``, with the service's sandbox
(``worker.workflow_runner()``) and data converter, each replay a fresh replayer and a fresh
workflow instance (a cache miss), seller and trivial alternately so a change of load on the
machine hits both. The first replay of each, of a short history, only warms the process up (the
host imports every passed-through module once, as a running worker has done long before).

When the target is below the setting (``--quick`` may record a shorter run), the replay time at
the threshold is extrapolated linearly from the run measured, and the result says so.
"""

import itertools
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import bench.trivial as trivial
import gateway.onboarding as sellers
from bench.common import median, plain_worker, settle
from config.settings import Settings
from domain.payloads import SignUp
from testing.journeys import CLEARED_CYCLE, FULL_JOURNEY
from testing.stack import make_settings
from worker import WORKFLOWS, build_worker, workflow_runner

# The dev server's own suggestion to continue as new (4,096 events or 4 MiB) moved out of the way,
# so the seller's run ends where the service's setting says; and its limit of 2,000 updates per
# run (history.maxTotalUpdates), which the trivial workflow's run of the same length passes.
SERVER_ARGS = [
    "--dynamic-config-value",
    "limit.historyCount.suggestContinueAsNew=1000000",
    "--dynamic-config-value",
    "limit.historySize.suggestContinueAsNew=1000000000",
    "--dynamic-config-value",
    "history.maxTotalUpdates=1000000",
]
CHECK_EVERY = 25
"""Events sent between two looks at whether the run has continued as new."""


@dataclass
class Recorded:
    history: WorkflowHistory
    updates: int
    seconds: float
    complete: bool
    """The seller's run reached the threshold and continued as new (else: the budget ran out)."""

    @property
    def events(self) -> int:
        return len(self.history.events)

    @property
    def bytes(self) -> int:
        return sum(e.ByteSize() for e in self.history.events)

    @property
    def task_timeout_s(self) -> float:
        started = self.history.events[0].workflow_execution_started_event_attributes
        return started.workflow_task_timeout.ToTimedelta().total_seconds()


async def _run_ended(handle: WorkflowHandle[Any, Any], first_run: str) -> bool:
    desc = await handle.describe()
    return desc.run_id != first_run or desc.status != WorkflowExecutionStatus.RUNNING


async def record_seller(client: Client, task_queue: str, seller: str, budget_s: float) -> Recorded:
    """A seller's first run, driven until it continues as new (or ``budget_s`` runs out)."""
    signup = SignUp(seller_id=seller, email=f"{seller}@example.com")
    handle = (await sellers.sign_up(client, signup, task_queue=task_queue)).handle
    first_run = (await handle.describe()).run_id
    assert first_run is not None
    t0 = time.perf_counter()
    sent, complete = 0, False
    for event in itertools.chain(FULL_JOURNEY, itertools.cycle(CLEARED_CYCLE)):
        await sellers.apply_event(client, seller, event)
        sent += 1
        if sent % CHECK_EVERY == 0 and await _run_ended(handle, first_run):
            complete = True
            break
        if time.perf_counter() - t0 > budget_s:
            break
    if not complete:
        await settle(handle)
    seconds = time.perf_counter() - t0
    history = await client.get_workflow_handle(handle.id, run_id=first_run).fetch_history()
    await handle.terminate("benchmark recorded its first run")
    return Recorded(history, sent, seconds, complete)


async def record_trivial(client: Client, task_queue: str, name: str, events: int) -> Recorded:
    """A ``BenchTrivial`` workflow with updates until its history has ``events`` events."""
    handle = await client.start_workflow(trivial.BenchTrivial.run, id=name, task_queue=task_queue)
    t0 = time.perf_counter()
    updates = 0
    length = await settle(handle)
    while length < events:
        # An update costs the trivial workflow 5 events (accepted, completed, a workflow task).
        for _ in range(max(1, min(CHECK_EVERY, (events - length) // 5))):
            await handle.execute_update(trivial.BenchTrivial.touch, {"type": "noop", "n": updates})
            updates += 1
        length = (await handle.describe()).raw_description.workflow_execution_info.history_length
    await handle.signal(trivial.BenchTrivial.stop)
    await handle.result()
    return Recorded(await handle.fetch_history(), updates, time.perf_counter() - t0, True)


def replayer(executor: ThreadPoolExecutor | None = None) -> Replayer:
    """A fresh replayer of both workflows and the trivial ones, with the service's sandbox and
    data converter (``executor``: the thread the workflow code runs on; None, the SDK's own)."""
    return Replayer(
        workflows=[*WORKFLOWS, *trivial.WORKFLOWS],
        workflow_runner=workflow_runner(),
        data_converter=pydantic_data_converter,
        workflow_task_executor=executor,
    )


async def replay_seconds(history: WorkflowHistory) -> float:
    """One cold replay (a fresh replayer, a fresh workflow instance) of a whole history."""
    fresh = replayer()
    t = time.perf_counter()
    await fresh.replay_workflow(history, raise_on_replay_failure=True)
    return time.perf_counter() - t


def _head(history: WorkflowHistory, events: int) -> WorkflowHistory:
    """The history up to the last completed workflow task within ``events`` (a replayable prefix)."""
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    cut = max(i for i, e in enumerate(history.events[:events]) if e.event_type == completed)
    return WorkflowHistory(history.workflow_id, list(history.events[: cut + 1]))


async def time_replays(seller: Recorded, baseline: Recorded, repeats: int) -> dict[str, list[float]]:
    """Replay seller and trivial histories alternately, after one warm-up replay of each."""
    for warm in (seller, baseline):
        await replay_seconds(_head(warm.history, 200))
    times: dict[str, list[float]] = {"seller": [], "trivial": []}
    for _ in range(repeats):
        times["seller"].append(await replay_seconds(seller.history))
        times["trivial"].append(await replay_seconds(baseline.history))
    return times


async def run_replay(
    client: Client, data_dir: Path, *, target_events: int | None, repeats: int, budget_s: float
) -> dict[str, Any]:
    """Record at ``target_events`` (None: the setting's threshold), replay, compare, extrapolate."""
    threshold = Settings().continue_as_new_after_events
    seller, baseline = await record_pair(client, data_dir, target_events or threshold, budget_s)
    times = await time_replays(seller, baseline, repeats)
    return _report(seller, baseline, times, threshold)


async def record_pair(
    client: Client, data_dir: Path, target_events: int, budget_s: float
) -> tuple[Recorded, Recorded]:
    """A seller's first run continued as new at ``target_events``, and a trivial run as long."""
    tag = uuid.uuid4().hex[:8]
    settings = make_settings(
        data_dir,
        temporal_task_queue=f"bench-replay-{tag}",
        log_level="WARNING",
        continue_as_new_after_events=target_events,
    )
    async with build_worker(client, settings):
        seller = await record_seller(client, settings.temporal_task_queue, f"replay-{tag}", budget_s)
    trivial_queue = f"bench-replay-trivial-{tag}"
    async with plain_worker(client, trivial_queue, trivial.WORKFLOWS, trivial.ACTIVITIES):
        baseline = await record_trivial(client, trivial_queue, f"replay-trivial-{tag}", seller.events)
    return seller, baseline


def _report(
    seller: Recorded, baseline: Recorded, times: dict[str, list[float]], threshold: int
) -> dict[str, Any]:
    seller_per_event = median(times["seller"]) / seller.events
    trivial_per_event = median(times["trivial"]) / baseline.events
    worst = max(times["seller"])
    at_threshold = seller.complete and seller.events >= threshold
    return {
        "threshold_events": threshold,
        "seller": _recorded(seller, times["seller"]),
        "trivial": _recorded(baseline, times["trivial"]),
        "seller_per_event_ms": round(seller_per_event * 1000, 4),
        "trivial_per_event_ms": round(trivial_per_event * 1000, 4),
        "per_event_ratio": round(seller_per_event / trivial_per_event, 3),
        "seller_per_update_ms": round(median(times["seller"]) / seller.updates * 1000, 3),
        "trivial_per_update_ms": round(median(times["trivial"]) / baseline.updates * 1000, 3),
        "threshold_extrapolated": not at_threshold,
        "replay_at_threshold_s": round(worst if at_threshold else worst * threshold / seller.events, 3),
        "workflow_task_timeout_s": seller.task_timeout_s,
    }


def _recorded(r: Recorded, times: list[float]) -> dict[str, Any]:
    return {
        "events": r.events,
        "updates": r.updates,
        "history_mib": round(r.bytes / 2**20, 2),
        "recorded_in_s": round(r.seconds, 1),
        "continued_as_new": r.complete,
        "replay_s": [round(t, 3) for t in times],
    }
