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


def build_worker(client: Client, settings: Settings, **options: Any) -> Worker:
    """The worker, with every activity's adapters built from ``settings`` (tests use this too)."""
    deliveries = build_delivery_activities(settings)
    snapshot = SettingsActivities(settings)
    directory = DirectoryActivities(TemporalDirectory(client))
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
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
