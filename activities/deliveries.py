"""The delivery activities: render, deliver through an injected adapter, and report a receipt.

Each activity takes one model and returns a :class:`DeliveryReceipt`. Adapters refuse a key they
have already delivered, so a retried activity or a replayed worker never sends twice. A refusal
that cannot change on retry becomes a non-retryable ``ApplicationError`` for the workflow to handle.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.adapters import PermanentDeliveryError, TransientDeliveryError
from activities.adapters.rendering import RenderedMessage, TemplateError, TemplateRenderer
from domain.deliveries import (
    BrokerAffinityRequest,
    BrokerHandoff,
    DeliveryReceipt,
    Notification,
    WarehouseInstruction,
)

logger = structlog.get_logger()


class Notifier(Protocol):
    """Delivers a rendered notification to its audience."""

    channel: str

    async def send(self, notification: Notification, message: RenderedMessage) -> DeliveryReceipt: ...


class Broker(Protocol):
    """Delivers requests to the customs broker."""

    channel: str

    async def hand_off(self, handoff: BrokerHandoff) -> DeliveryReceipt: ...

    async def request_affinity_figures(self, request: BrokerAffinityRequest) -> DeliveryReceipt: ...


class Warehouse(Protocol):
    """Delivers parcel instructions to the U.S. warehouse."""

    channel: str

    async def instruct(self, instruction: WarehouseInstruction) -> DeliveryReceipt: ...


LinkMinter = Callable[[str, int, str], str]
"""Mints a seller's checklist link: (seller id, link epoch, link nonce) -> URL."""


class DeliveryActivities:
    """Activities that deliver notifications, broker requests and warehouse instructions."""

    def __init__(
        self,
        notifier: Notifier,
        broker: Broker,
        warehouse: Warehouse,
        renderer: TemplateRenderer,
        mint_link: LinkMinter | None = None,
    ) -> None:
        self.notifier, self.broker, self.warehouse = notifier, broker, warehouse
        self.renderer = renderer
        self.mint_link = mint_link

    def _checklist_url(self, n: Notification) -> str | None:
        """A link minted for this one message (it expires after ``CHECKLIST_LINK_DAYS``)."""
        if n.audience != "seller" or n.link_epoch is None or not n.link_nonce or not n.seller_id:
            return None
        if self.mint_link is None:
            return None
        return self.mint_link(n.seller_id, n.link_epoch, n.link_nonce)

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: Notification) -> DeliveryReceipt:
        """Render the notification's template and send it to its audience."""
        template, audience = notification.template, notification.audience
        log = _log(notification, self.notifier.channel, template=template, audience=audience)
        try:
            message = self.renderer.render(
                notification.template,
                notification.params,
                language=notification.language if audience == "seller" else "en",
                checklist_url=self._checklist_url(notification),
                audience=audience,
            )
        except TemplateError as err:
            log.error("template_failed", error=str(err))
            raise ApplicationError(str(err), type="TemplateError", non_retryable=True) from err
        return await _deliver(log, self.notifier.send(notification, message))

    @activity.defn(name="hand_off_to_broker")
    async def hand_off_to_broker(self, handoff: BrokerHandoff) -> DeliveryReceipt:
        """Forward the seller's Returns Account number and BN to the broker."""
        log = _log(handoff, self.broker.channel, handoff_number=handoff.handoff_number)
        return await _deliver(log, self.broker.hand_off(handoff))

    @activity.defn(name="request_affinity_figures")
    async def request_affinity_figures(self, request: BrokerAffinityRequest) -> DeliveryReceipt:
        """Ask the broker for figures from the seller's Statement of Account."""
        log = _log(request, self.broker.channel)
        return await _deliver(log, self.broker.request_affinity_figures(request))

    @activity.defn(name="instruct_warehouse")
    async def instruct_warehouse(self, instruction: WarehouseInstruction) -> DeliveryReceipt:
        """Tell the warehouse to release, forward or dispose of one parcel."""
        log = _log(instruction, self.warehouse.channel, action=instruction.action)
        return await _deliver(log, self.warehouse.instruct(instruction))


Delivery = Notification | BrokerHandoff | BrokerAffinityRequest | WarehouseInstruction


def _log(delivery: Delivery, channel: str, **extra: object) -> Any:
    # Identifiers only: addresses, business numbers and message bodies are personal data.
    return logger.bind(
        idempotency_key=delivery.idempotency_key,
        seller_id=getattr(delivery, "seller_id", None),
        shipment_id=getattr(delivery, "shipment_id", None),
        channel=channel,
        attempt=activity.info().attempt,
        **extra,
    )


def next_retry_delay(ready_in: timedelta | None) -> timedelta | None:
    """The retry policy's next interval, but no later than the moment a retry can succeed.

    A claim left by a worker that died mid-send goes stale two minutes after it was made; backing
    off 1, 2, 4 … s, the attempt that finds it stale could come two minutes after that (at 255 s
    rather than 121 s). None leaves the policy alone: no hint, or a local attempt (no retries).
    """
    info = activity.info()
    policy = info.retry_policy
    if ready_in is None or policy is None or info.is_local:
        return None
    natural = policy.initial_interval * policy.backoff_coefficient ** (info.attempt - 1)
    if policy.maximum_interval is not None:
        natural = min(natural, policy.maximum_interval)
    return min(natural, ready_in + READY_MARGIN)


READY_MARGIN = timedelta(seconds=1)
"""Past the moment a claim goes stale: clocks of the worker and the ledger's database differ."""


async def _deliver(log: Any, delivery: Awaitable[DeliveryReceipt]) -> DeliveryReceipt:
    try:
        receipt = await delivery
    except PermanentDeliveryError as err:
        log.error("delivery_refused", error=str(err))
        raise ApplicationError(str(err), type="PermanentDeliveryError", non_retryable=True) from err
    except TransientDeliveryError as err:
        log.warning("delivery_failed_will_retry", error_type=type(err).__name__, error=str(err))
        delay = next_retry_delay(err.ready_in)
        if delay is None:
            raise
        raise ApplicationError(str(err), type=type(err).__name__, next_retry_delay=delay) from err
    except Exception as err:
        log.warning("delivery_failed_will_retry", error_type=type(err).__name__, error=str(err))
        raise
    log.info("delivery_duplicate" if receipt.duplicate else "delivered")
    return receipt
