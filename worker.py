"""The carm-returns worker: both workflows and their activities on one task queue.

Run it with ``python worker.py`` (``make run`` does). Settings come from the environment
(see the README); SIGTERM or SIGINT drains in-flight activities and stops cleanly. Without Temporal
it waits for it, retrying with backoff (:func:`serve`), rather than exiting.
"""

import asyncio
import contextlib
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.directory import DirectoryActivities
from activities.factory import build_delivery_activities
from activities.settings import SettingsActivities
from config.logging import configure_logging
from config.settings import Settings
from gateway.connection import connect_patiently, describe_target
from gateway.directory import TemporalDirectory
from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold

WORKFLOWS = [SellerOnboarding, ReturnHold]

# Libraries the domain calls from workflow code that load parts of themselves lazily (e-mail
# validation's IDNA tables): passed through whole, so the sandbox never imports them mid-task.
PASSTHROUGH = ("email_validator", "idna")


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every worker and replayer of the service runs the workflows in."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def build_worker(client: Client, settings: Settings, **options: Any) -> Worker:
    """The worker, with every activity's adapters built from ``settings`` (tests use this too)."""
    deliveries = build_delivery_activities(settings)
    snapshot = SettingsActivities(settings)
    directory = DirectoryActivities(TemporalDirectory(client))
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=[
            deliveries.send_notification,
            deliveries.hand_off_to_broker,
            deliveries.request_affinity_figures,
            deliveries.instruct_warehouse,
            snapshot.snapshot_settings,
            directory.find_held_parcels,
            directory.look_up_seller,
            directory.signal_hold_opened,
            directory.signal_hold_closed,
            directory.signal_parcels,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=8),
        graceful_shutdown_timeout=timedelta(seconds=20),
        **({**_concurrency(settings), **options}),
    )


def _concurrency(settings: Settings) -> dict[str, Any]:
    """The worker's slots and cache, from settings measured on this machine (see their notes)."""
    return {
        "max_concurrent_workflow_tasks": settings.worker_workflow_task_slots,
        "max_concurrent_local_activities": settings.worker_local_activity_slots,
        "max_cached_workflows": settings.worker_max_cached_workflows,
    }


WORKER_RESTART_DELAY = 5.0
"""Seconds before a worker that failed (its server gone for good, say) is built again."""


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run a worker until ``stop``: connecting (and reconnecting) to Temporal for as long as it takes.

    A worker that cannot reach Temporal at start keeps trying with backoff instead of exiting, so a
    restarted server (or one started after the worker) finds it polling, and the timers that fired
    meanwhile are acted on as soon as it does.
    """
    log = structlog.get_logger("worker")
    target = describe_target(settings)

    def unreachable(err: Exception, delay: float) -> None:
        log.warning("Temporal not reachable; retrying", target=target, error=str(err), in_seconds=delay)

    while not stop.is_set():
        client = await connect_patiently(settings, stop, unreachable)
        if client is None:
            return
        worker = build_worker(client, settings)
        log.info(
            "worker started",
            target=target,
            task_queue=settings.temporal_task_queue,
            notify_channel=settings.notify_channel,
            broker_channel=settings.broker_channel,
            warehouse_channel=settings.warehouse_channel,
        )
        running = asyncio.create_task(worker.run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if stop.is_set():
            log.info("stopping: finishing in-flight tasks")
            await worker.shutdown()
            with contextlib.suppress(Exception):  # the run's own end, after the shutdown it asked for
                await running
            return
        error = running.exception()
        log.error("worker failed; starting again", error=str(error), in_seconds=WORKER_RESTART_DELAY)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=WORKER_RESTART_DELAY)


async def main() -> None:
    settings = Settings()
    configure_logging(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)
    structlog.get_logger("worker").info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
