"""The carm-returns worker: both workflows and their activities on one task queue.

Run it with ``python worker.py`` (``make run`` does). Settings come from the environment
(see the README); SIGTERM or SIGINT drains in-flight activities and stops cleanly.
"""

import asyncio
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
from gateway.connection import connect
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
        ],
        activity_executor=ThreadPoolExecutor(max_workers=8),
        graceful_shutdown_timeout=timedelta(seconds=20),
        **options,
    )


async def main() -> None:
    settings = Settings()
    configure_logging(settings)
    log = structlog.get_logger("worker")
    client = await connect(settings)
    worker = build_worker(client, settings)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    log.info(
        "worker started",
        address=settings.temporal_address,
        namespace=settings.temporal_namespace,
        task_queue=settings.temporal_task_queue,
        notify_channel=settings.notify_channel,
        broker_channel=settings.broker_channel,
        warehouse_channel=settings.warehouse_channel,
    )
    async with worker:
        await stop.wait()
        log.info("stopping: finishing in-flight tasks")
    log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
