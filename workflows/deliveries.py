"""Starting delivery activities from workflow code, with the keys and retry rules they share.

Deliveries run beside the workflow's main loop (a slow SMTP server must not hold up a disposal
deadline) and are drained before a run continues as new or completes, so none is abandoned.
"""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.deliveries import DeliveryActivities
    from domain.deliveries import Audience, DeliveryReceipt, Notification

# Transient failures (server down, 5xx) are retried for as long as it takes; permanent ones are
# not retried and surface to operations.
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["PermanentDeliveryError", "TemplateError"],
)
DELIVERY_TIMEOUT = timedelta(seconds=30)


class Deliveries:
    """In-flight delivery activities of one workflow run."""

    def __init__(self) -> None:
        self._in_flight: list[asyncio.Task[Any]] = []

    def start(self, activity: Callable[..., Any], arg: Any, *, summary: str) -> asyncio.Task[DeliveryReceipt]:
        handle: asyncio.Task[DeliveryReceipt] = workflow.start_activity_method(
            activity,
            arg,
            start_to_close_timeout=DELIVERY_TIMEOUT,
            retry_policy=DELIVERY_RETRY,
            summary=summary,
        )
        self._in_flight.append(handle)
        return handle

    def notify(
        self,
        *,
        key: str,
        audience: Audience,
        template: str,
        to: str | None = None,
        seller_id: str | None = None,
        shipment_id: str | None = None,
        **params: Any,
    ) -> None:
        note = Notification(
            idempotency_key=key,
            audience=audience,
            to=to,
            template=template,
            params=params,
            seller_id=seller_id,
            shipment_id=shipment_id,
        )
        self.start(DeliveryActivities.send_notification, note, summary=f"{template} to {audience}")

    @property
    def idle(self) -> bool:
        return all(t.done() for t in self._in_flight)

    async def drain(self) -> None:
        """Wait for every delivery; a permanent failure is logged, never fatal to the workflow."""
        pending, self._in_flight = self._in_flight, []
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, BaseException):
                workflow.logger.warning("delivery failed for good: %s", outcome)

    def reap(self) -> None:
        """Forget deliveries that are done (logging failures) so the list stays short."""
        still = []
        for task in self._in_flight:
            if not task.done():
                still.append(task)
            elif task.exception() is not None:
                workflow.logger.warning("delivery failed for good: %s", task.exception())
        self._in_flight = still
