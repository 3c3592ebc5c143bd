"""Deliveries as JSON files, one per idempotency key: the default channel for development and demos.

``<root>/notifications/``, ``<root>/broker/`` and ``<root>/warehouse/`` each get one file per
delivery, named after its key, so a person (or a test) can read what the service would have sent.
The files hold personal data (addresses, business numbers): only their owner may read them
(files 0600, folders 0700), whatever the process's umask.
"""

import asyncio
import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from activities.adapters.rendering import RenderedMessage
from domain.deliveries import (
    BrokerAffinityRequest,
    BrokerHandoff,
    DeliveryReceipt,
    Notification,
    WarehouseInstruction,
)

CHANNEL = "outbox"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def file_name(key: str) -> str:
    """A file name for ``key``: a readable part for people, a hash part for uniqueness and safety."""
    readable = _UNSAFE.sub("_", key).strip("_")[:60] or "key"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{readable}-{digest}.json"


class OutboxSink:
    """Writes each delivery once: a second write of the same key is refused, even a concurrent one."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, folder: str, key: str) -> Path:
        """Where the delivery with ``key`` lands in ``folder``."""
        return self.root / folder / file_name(key)

    async def write(self, folder: str, key: str, document: dict[str, Any]) -> DeliveryReceipt:
        """Write ``document`` (plus ``delivered_at``) unless ``key`` was already written."""
        now = datetime.now(UTC)
        content = json.dumps({**document, "delivered_at": now.isoformat()}, indent=2, ensure_ascii=False)
        written = await asyncio.to_thread(self._write_once, self.path_for(folder, key), content + "\n")
        return DeliveryReceipt(idempotency_key=key, duplicate=not written, channel=CHANNEL, at=now)

    @staticmethod
    def _write_once(path: Path, content: str) -> bool:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.exists():
            return False
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)  # mkstemp's mode already; said again so no later change widens it
            # A hard link publishes the complete file atomically *and* fails if the name exists;
            # os.replace would be atomic too but would let a concurrent writer overwrite the winner.
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(tmp)


def _document(kind: str, delivery: BaseModel) -> dict[str, Any]:
    return {"kind": kind, **delivery.model_dump(mode="json")}


class OutboxNotifier:
    """Notifications as files under ``notifications/``, with their rendered subject and body."""

    channel = CHANNEL

    def __init__(self, sink: OutboxSink) -> None:
        self._sink = sink

    async def send(self, notification: Notification, message: RenderedMessage) -> DeliveryReceipt:
        """Write the notification unless its key was already written."""
        rendered = {
            "language": message.language,
            "subject": message.subject,
            "body": message.body,
            "html": message.html,
        }
        document = {**_document("notification", notification), **rendered}
        return await self._sink.write("notifications", notification.idempotency_key, document)


class OutboxBroker:
    """Broker handoffs and affinity-figure requests as files under ``broker/``."""

    channel = CHANNEL

    def __init__(self, sink: OutboxSink) -> None:
        self._sink = sink

    async def hand_off(self, handoff: BrokerHandoff) -> DeliveryReceipt:
        """Write the handoff unless its key was already written."""
        return await self._sink.write("broker", handoff.idempotency_key, _document("handoff", handoff))

    async def request_affinity_figures(self, request: BrokerAffinityRequest) -> DeliveryReceipt:
        """Write the request unless its key was already written."""
        document = _document("affinity_request", request)
        return await self._sink.write("broker", request.idempotency_key, document)


class OutboxWarehouse:
    """Warehouse instructions as files under ``warehouse/``."""

    channel = CHANNEL

    def __init__(self, sink: OutboxSink) -> None:
        self._sink = sink

    async def instruct(self, instruction: WarehouseInstruction) -> DeliveryReceipt:
        """Write the instruction unless its key was already written."""
        document = _document("instruction", instruction)
        return await self._sink.write("warehouse", instruction.idempotency_key, document)
