"""A worker of the service on a test server, with its settings, its outbox and starters.

Tests, benchmarks and the history recorder drive the service through this one class, so a
journey reads the same everywhere and every workflow it started can be stopped afterwards.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

import gateway.holds as holds
import gateway.onboarding as sellers
from config.settings import Settings
from domain.onboarding import OnboardingStatus
from domain.payloads import Arrival, SignUp
from worker import build_worker


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a worker on its own task queue, writing under ``data_dir``."""
    overrides.setdefault("temporal_task_queue", f"test-{uuid.uuid4().hex[:10]}")
    # Every seller message carries a signed link: the worker needs a key to mint them.
    overrides.setdefault("checklist_link_secret", "test-checklist-link-secret")
    return Settings(data_dir=data_dir, **overrides)


class Outbox:
    """Reads what the outbox adapters wrote: the deliveries as a person would find them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, channel: str) -> list[dict[str, Any]]:
        folder = self.root / channel
        if not folder.exists():
            return []
        # Dot files are the adapter's files being written (published by a hard link once complete).
        files = [p for p in sorted(folder.glob("*.json")) if not p.name.startswith(".")]
        return [json.loads(p.read_text()) for p in files]

    def notifications(self, template: str | None = None, **match: Any) -> list[dict[str, Any]]:
        found = []
        for doc in self.read("notifications"):
            if template is not None and doc.get("template") != template:
                continue
            if any(doc.get(k) != v for k, v in match.items()):
                continue
            found.append(doc)
        return found


async def settle(handle: WorkflowHandle[Any, Any], *, poll: float = 0.2, limit: float = 120) -> int:
    """Wait until the workflow is idle (no workflow task or activity pending); its history length."""
    async with asyncio.timeout(limit):
        while True:
            raw = (await handle.describe()).raw_description
            if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
                return int(raw.workflow_execution_info.history_length)
            await asyncio.sleep(poll)


class Stack:
    """A running worker on a test server, with its settings and outbox.

    Workflows started through it are terminated when the stack stops: on the time-skipping
    server a leftover workflow's timer, with no worker left to serve it, would stop time.
    """

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.task_queue = settings.temporal_task_queue
        self.outbox = Outbox(settings.data_dir / "outbox")
        self.started: list[WorkflowHandle[Any, Any]] = []

    async def sign_up(self, seller_id: str, **fields: Any) -> WorkflowHandle[Any, Any]:
        fields.setdefault("email", "owner@example.com")
        started = await sellers.sign_up(
            self.client, SignUp(seller_id=seller_id, **fields), task_queue=self.task_queue
        )
        self.started.append(started.handle)
        return started.handle

    async def send(self, seller_id: str, *events: dict[str, Any]) -> OnboardingStatus:
        """Apply events one after the other; the status after the last."""
        status = None
        for event in events:
            status = await sellers.apply_event(self.client, seller_id, event)
        assert status is not None, "send() needs at least one event"
        return status

    async def arrive(
        self, seller_id: str, arrived_at: datetime | None = None, **fields: Any
    ) -> WorkflowHandle[Any, Any]:
        fields.setdefault("shipment_id", new_id("p"))
        arrival = Arrival(seller_id=seller_id, arrived_at=arrived_at or datetime.now(UTC), **fields)
        started = await holds.record_arrival(self.client, arrival, task_queue=self.task_queue)
        assert started.created, f"parcel {arrival.shipment_id} was recorded before"
        self.started.append(started.handle)
        return started.handle

    async def stop_everything(self) -> None:
        for handle in self.started:
            with contextlib.suppress(RPCError):
                await handle.terminate(reason="test finished")


@contextlib.asynccontextmanager
async def running(client: Client, settings: Settings, **worker_options: Any) -> AsyncIterator[Stack]:
    """A stack whose worker runs for the duration of the block."""
    async with build_worker(client, settings, **worker_options):
        stack = Stack(client, settings)
        try:
            yield stack
        finally:
            await stack.stop_everything()
