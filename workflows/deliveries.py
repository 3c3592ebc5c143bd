"""Starting delivery activities from workflow code, and noticing the ones that fail for good.

Deliveries run beside the workflow's main loop (a slow SMTP server must not hold up a disposal
deadline) and are drained before a run continues as new or completes, so none is abandoned.
A transient failure is retried with backoff for up to ``DELIVERY_GIVE_UP_AFTER_SECONDS``; a
delivery refused for good, or still failing then, becomes a :class:`PendingDelivery` that the
workflow shows to operations and keeps until they retry or abandon it — never silently dropped.

Local first (``local_first``, the ``lean-commands`` patch): a delivery is tried once as a local
activity, which costs one marker in the workflow task already running instead of three events and
a workflow task of its own to learn the result; only when that attempt fails for a reason worth
retrying does the regular activity take over, with its backoff and give-up time. Every delivery
is idempotent on its key, so an attempt repeated after a crash sends nothing twice.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from activities.deliveries import DeliveryActivities
    from domain.deliveries import (
        Audience,
        BrokerAffinityRequest,
        BrokerHandoff,
        DeliveryKind,
        DeliveryReceipt,
        FailedDelivery,
        Notification,
        WarehouseInstruction,
        notice_key,
    )
    from domain.state import PendingDelivery

PERMANENT_ERRORS = ("PermanentDeliveryError", "TemplateError")
"""The adapters' errors that no retry can fix (a refused recipient, a template that fails)."""
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=list(PERMANENT_ERRORS),
)
DELIVERY_TIMEOUT = timedelta(seconds=30)
"""One attempt; the retry policy and the give-up time bound all of them."""
LOCAL_ATTEMPT_TIMEOUT = timedelta(seconds=5)
"""The local attempt holds its workflow task open: it must end well within the task's timeout."""

# What each kind of delivery is sent with, and the model its request is kept as.
ACTIVITIES: dict[DeliveryKind, tuple[Callable[..., Any], type[BaseModel]]] = {
    "notification": (DeliveryActivities.send_notification, Notification),
    "broker_handoff": (DeliveryActivities.hand_off_to_broker, BrokerHandoff),
    "affinity_request": (DeliveryActivities.request_affinity_figures, BrokerAffinityRequest),
    "warehouse_instruction": (DeliveryActivities.instruct_warehouse, WarehouseInstruction),
}


def failure_reason(err: BaseException, give_up_after: timedelta) -> str:
    """Why a delivery was given up, in the words its adapter used (they carry no personal data)."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, TimeoutError):
        return f"still failing {int(give_up_after.total_seconds())} s after the first attempt"
    if isinstance(cause, ApplicationError):
        return f"{cause.type or 'refused'}: {cause.message}"
    return str(cause or err)


DELIVERY_FAILED = (ActivityError, ApplicationError, TimeoutError)
"""How a delivery's failure reaches the workflow: a retried activity's as an ``ActivityError``, a
local attempt's as the error it raised (or its timeout)."""


def _permanent(err: BaseException) -> bool:
    cause = err.cause if isinstance(err, ActivityError) else err
    return isinstance(cause, ApplicationError) and (cause.non_retryable or cause.type in PERMANENT_ERRORS)


async def deliver(
    activity: Callable[..., Any],
    request: BaseModel,
    *,
    give_up_after: timedelta,
    summary: str,
    local_first: bool,
) -> DeliveryReceipt:
    """Run one delivery: a local attempt first (if ``local_first``), then the retried activity."""
    if local_first:
        try:
            receipt: DeliveryReceipt = await workflow.execute_local_activity_method(
                activity,
                request,
                start_to_close_timeout=LOCAL_ATTEMPT_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=1),
                # No summary: it is one more payload for the worker to encode with every attempt
                # (measured: 6 % of a replay); the marker's activity type says what it was.
            )
            return receipt
        except DELIVERY_FAILED as err:
            if _permanent(err):
                raise
    receipt = await workflow.execute_activity_method(
        activity,
        request,
        start_to_close_timeout=DELIVERY_TIMEOUT,
        schedule_to_close_timeout=give_up_after,
        retry_policy=DELIVERY_RETRY,
        summary=summary,
    )
    return receipt


@dataclass
class _InFlight:
    task: asyncio.Task[DeliveryReceipt]
    kind: DeliveryKind
    request: BaseModel


class Deliveries:
    """The delivery activities of one workflow run."""

    def __init__(self) -> None:
        self._in_flight: list[_InFlight] = []
        self.give_up_after = timedelta(days=1)
        """Set from the run's settings snapshot before the first delivery."""
        self.local_first = False
        """Try each delivery once as a local activity first (set by the workflow's patch)."""

    def start(self, kind: DeliveryKind, request: BaseModel, *, summary: str) -> None:
        activity, _ = ACTIVITIES[kind]
        task: asyncio.Task[DeliveryReceipt]
        if self.local_first:
            task = asyncio.ensure_future(
                deliver(
                    activity, request, give_up_after=self.give_up_after, summary=summary, local_first=True
                )
            )
        else:  # the commands release 1 recorded
            task = workflow.start_activity_method(
                activity,
                request,
                start_to_close_timeout=DELIVERY_TIMEOUT,
                schedule_to_close_timeout=self.give_up_after,
                retry_policy=DELIVERY_RETRY,
                summary=summary,
            )
        self._in_flight.append(_InFlight(task, kind, request))

    def notify(
        self,
        *,
        key: str,
        audience: Audience,
        template: str,
        to: str | None = None,
        seller_id: str | None = None,
        shipment_id: str | None = None,
        language: str = "en",
        link_epoch: int | None = None,
        link_nonce: str | None = None,
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
            language=language,
            link_epoch=link_epoch,
            link_nonce=link_nonce,
        )
        # Its number and what it says (not behind a patch: replay does not compare an activity's
        # input, so a recorded run meets the same commands; docs/versioning.md).
        note.idempotency_key = notice_key(key, note)
        self.start("notification", note, summary=f"{template} to {audience}")

    def retry(self, pending: PendingDelivery) -> None:
        """Send a given-up delivery again, under its own idempotency key."""
        _, model = ACTIVITIES[pending.kind]
        self.start(pending.kind, model.model_validate(pending.request), summary=f"retry {pending.kind}")

    @property
    def failed_some(self) -> bool:
        """A delivery has failed for good and waits to be taken up (wakes the main loop)."""
        return any(d.task.done() and d.task.exception() is not None for d in self._in_flight)

    def take_failures(self) -> list[PendingDelivery]:
        """Forget the deliveries that are done; the failed ones, for the workflow to keep."""
        failed, still = [], []
        for d in self._in_flight:
            if not d.task.done():
                still.append(d)
            elif (err := d.task.exception()) is not None:
                failed.append(self._pending(d, err))
        self._in_flight = still
        return failed

    async def drain(self) -> list[PendingDelivery]:
        """Wait for every delivery; the failed ones, for the workflow to keep."""
        await asyncio.gather(*(d.task for d in self._in_flight), return_exceptions=True)
        return self.take_failures()

    def _pending(self, d: _InFlight, err: BaseException) -> PendingDelivery:
        key = str(getattr(d.request, "idempotency_key", ""))
        failure = FailedDelivery(
            idempotency_key=key,
            kind=d.kind,
            error=failure_reason(err, self.give_up_after),
            since=workflow.now(),
        )
        return PendingDelivery(failure=failure, request=d.request.model_dump(mode="json"))
