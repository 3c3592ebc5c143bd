"""What the API tests share: the test secrets, the app's settings, and a client that speaks the API.

:func:`serving` runs an app in uvicorn inside the test's event loop, for the tests that need a
real socket (``python -m starter.api`` aside: the fuzzer, the browser).
"""

import asyncio
import base64
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from config.settings import Settings
from domain.workflow_ids import hold_workflow_id, seller_workflow_id
from starter import webhooks
from tests.conftest import Stack, new_id

TOKEN = "test-api-token-0123456789"
"""``API_TOKEN``: every role, named admin."""
SECRET = "whsec_" + base64.b64encode(b"test broker webhook secret, 32 b").decode()
LINK_SECRET = "test-checklist-link-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROLE_TOKENS = {
    "signup": "test-signup-token-0123",
    "warehouse": "test-warehouse-token-0123",
    "operations": "test-operations-token-0123",
}
NAMES = {"signup": "shop", "warehouse": "dock", "operations": "ops-desk"}
API_TOKENS = ",".join(f"{NAMES[role]}:{role}:{token}" for role, token in ROLE_TOKENS.items())


def bearer(role: str) -> dict[str, str]:
    """The ``Authorization`` header of the test token with ``role``."""
    return {"Authorization": f"Bearer {ROLE_TOKENS[role]}"}


def webhook_headers(
    raw: bytes,
    webhook_id: str | None = None,
    *,
    at: datetime | None = None,
    secrets: Sequence[str] = (SECRET,),
) -> dict[str, str]:
    """Standard Webhooks headers for ``raw``, as the broker signs a delivery."""
    return {
        **webhooks.sign(secrets, webhook_id or f"msg_{uuid.uuid4().hex}", raw, at),
        "Content-Type": "application/json",
    }


ROOT = Path(__file__).resolve().parents[2]

BN = "123456782"
TO_CARM = [
    {"type": "business_number_provided", "business_number": "123 456 782"},
    {"type": "importer_account_provided", "program_account": "RM0001"},
    {"type": "carm_registered"},
]


def api_settings(stack: Stack) -> Settings:
    return stack.settings.model_copy(
        update={"api_token": TOKEN, "api_tokens": SecretStr(API_TOKENS), "broker_webhook_secret": SECRET}
    )


@dataclass
class Api:
    http: httpx.AsyncClient
    stack: Stack
    app: FastAPI

    @property
    def client(self) -> Client:
        return self.stack.client

    def track(self, workflow_id: str) -> WorkflowHandle[Any, Any]:
        handle = self.client.get_workflow_handle(workflow_id)
        self.stack.started.append(handle)
        return handle

    async def sign_up(self, seller_id: str | None = None, **fields: Any) -> dict[str, Any]:
        seller_id = seller_id or new_id("s")
        body = {"seller_id": seller_id, "email": "owner@example.com", **fields}
        r = await self.http.post("/v1/sellers", json=body)
        assert r.status_code == 201, r.text
        self.track(seller_workflow_id(seller_id))
        # Settled: the workflow's first task has run (it starts the waiting clocks).
        async with asyncio.timeout(10):
            while True:
                status = await self.seller(seller_id)
                if status["waiting_since"] is not None or not status["waiting_on"]:
                    return {**status, "checklist_url": r.json()["checklist_url"]}
                await asyncio.sleep(0.05)

    async def event(self, seller_id: str, event: dict[str, Any], role: str = "signup") -> httpx.Response:
        """An event sent with the test token of ``role`` (the sign-up system's, by default)."""
        return await self.http.post(f"/v1/sellers/{seller_id}/events", json=event, headers=bearer(role))

    async def seller(self, seller_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/sellers/{seller_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def arrive(self, seller_id: str, shipment_id: str | None = None) -> dict[str, Any]:
        shipment_id = shipment_id or new_id("p")
        body = {
            "shipment_id": shipment_id,
            "seller_id": seller_id,
            "arrived_at": datetime.now(UTC).isoformat(),
        }
        r = await self.http.post("/v1/returns", json=body)
        assert r.status_code == 201, r.text
        self.track(hold_workflow_id(shipment_id))
        status = dict(r.json())
        async with asyncio.timeout(15):  # the answer has the deadline unless the worker is slow
            while status["state"] == "held" and status["disposal_due_on"] is None:
                await asyncio.sleep(0.1)
                status = await self.parcel(shipment_id)
        return status

    async def parcel(self, shipment_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/returns/{shipment_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def broker(
        self,
        body: dict[str, Any] | bytes,
        *,
        webhook_id: str | None = None,
        at: datetime | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A delivery of the broker's webhook, signed (unless ``headers`` are given instead)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if webhook_id is None and isinstance(body, dict) and isinstance(body.get("event_id"), str):
            webhook_id = body["event_id"]
        sent = headers if headers is not None else webhook_headers(raw, webhook_id, at=at)
        # No bearer token: the webhook is authenticated by its signature alone.
        return await self.http.post("/v1/broker/events", content=raw, headers={**sent, "Authorization": ""})


async def updates_accepted(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events
    )


async def at_carm_registration(api: Api) -> str:
    seller = (await api.sign_up())["seller_id"]
    for event in TO_CARM:
        r = await api.event(seller, event)
        assert r.status_code == 200, r.text
    return str(seller)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _QuietServer(uvicorn.Server):
    """uvicorn in the test's event loop, leaving the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port, as a task of the running loop."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
