"""A wake-up time that can move, shaped like samples-python's ``updatable_timer``.

Both workflows sleep until their next deadline (a reminder, an escalation, a parcel's disposal)
or until something happens that they must act on. The deadline is recomputed after every
change, but most changes do not move it: this timer keeps the running Temporal timer while the
wake-up time stays the same, and replaces it only when the time moves, so a busy workflow does not
start and cancel a timer for every event it handles.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

# A timer shorter than this fires in the same breath; the floor keeps a deadline that is due now
# from becoming a busy loop.
MINIMUM_SLEEP = timedelta(seconds=1)


class UpdatableTimer:
    """Sleep until a wake-up time, or until a condition holds, whichever comes first."""

    def __init__(self, summary: str) -> None:
        self.summary = summary
        self.wake_at: datetime | None = None
        self._timer: asyncio.Task[None] | None = None
        self.keep_earlier = False
        """Keep a running timer when the wake-up moves later (see :meth:`_set`)."""

    def _set(self, wake_at: datetime | None) -> None:
        if wake_at == self.wake_at and (self._timer is not None or wake_at is None):
            return
        if self.keep_earlier and self._running and (wake_at is None or self._earlier_than(wake_at)):
            # Most changes move the wake-up later (a step done restarts a reminder clock):
            # replacing the timer would cost a cancellation and a new timer for each of them. The
            # running one fires early instead, now and then, and the wake-up is recomputed then.
            return
        self._stop()
        self.wake_at, self._timer = wake_at, None
        if wake_at is not None:
            delay = max(wake_at - workflow.now(), MINIMUM_SLEEP)
            self._timer = asyncio.ensure_future(workflow.sleep(delay, summary=self.summary))

    async def sleep(self, wake_at: datetime | None, interrupt: Callable[[], bool]) -> bool:
        """Wait for ``wake_at`` (None: no deadline) or ``interrupt()``; True when the time came."""
        self._set(wake_at)
        await workflow.wait_condition(lambda: interrupt() or self.fired)
        if self.fired:
            self.wake_at, self._timer = None, None
            return True
        return False

    @property
    def fired(self) -> bool:
        return self._timer is not None and self._timer.done() and not self._timer.cancelled()

    @property
    def _running(self) -> bool:
        return self._timer is not None and not self._timer.done()

    def _earlier_than(self, wake_at: datetime) -> bool:
        return self.wake_at is not None and self.wake_at <= wake_at

    def _stop(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self.wake_at, self._timer = None, None

    def cancel(self) -> None:
        """Stop the timer (before the workflow completes or continues as new)."""
        self._stop()
