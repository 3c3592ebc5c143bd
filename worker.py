"""The carm-returns worker: both workflows and their activities on one task queue.

Run it with ``python worker.py`` (``make run`` does). Settings come from the environment
(see the README); SIGTERM or SIGINT drains in-flight activities and stops cleanly.
"""

import asyncio
import dataclasses
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.directory import DirectoryActivities
from activities.factory import build_delivery_activities
from activities.settings import SettingsActivities
from domain.settings import Settings
from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold

WORKFLOWS = [SellerOnboarding, ReturnHold]


def configure_logging(settings: Settings) -> None:
    """structlog for our own logs and for the SDK's stdlib logs, as JSON or for a console."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())


def runtime_for(settings: Settings) -> Runtime | None:
    """A runtime that serves the SDK's Prometheus metrics, when ``METRICS_BIND_ADDRESS`` is set."""
    if not settings.metrics_bind_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.metrics_bind_address))
    )


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic JSON payloads; encrypted (with failure messages too) when ``PAYLOAD_CODEC_KEYS`` is set.

    With a key, every payload Temporal stores (inputs, results, updates, queries, memos, summaries,
    failure details) is AES-256-GCM ciphertext, and failure messages and stack traces move into
    an encoded attribute (the SDK's ``DefaultFailureConverterWithEncodedAttributes``). Payloads
    written without a key still decode. See docs/encryption.md.
    """
    if settings.payload_codec_keys is None:
        return pydantic_data_converter
    from codec.aes import EncryptionCodec

    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec.from_spec(settings.payload_codec_keys.get_secret_value()),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings) -> Client:
    """The client every process of the service uses (worker, command line, API, dev stack apps)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime_for(settings) or Runtime.default(),
    )


def build_worker(client: Client, settings: Settings, **options: object) -> Worker:
    """The worker, with every activity's adapters built from ``settings`` (tests use this too)."""
    deliveries = build_delivery_activities(settings)
    snapshot = SettingsActivities(settings)
    directory = DirectoryActivities(client)
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
        **options,  # type: ignore[arg-type]
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
