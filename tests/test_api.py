"""The HTTP API against a real dev server and worker: every endpoint, every answer, the signatures.

Requests go through ``httpx.ASGITransport`` into the app, which talks to the session's Temporal
dev server through ``dev_stack.client``; one test also runs ``python -m starter.api`` itself.
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from domain.events import SENDERS
from domain.workflow_ids import hold_workflow_id, seller_workflow_id
from starter.api import ApiConfigError, create_app, openapi_document
from starter.api.access_log import RedactTokens
from starter.links import checklist_key, mint_checklist_token
from starter.webhooks import sign
from testing.probes import wait_for
from tests.conftest import Stack, new_id
from tests.test_return_hold_workflow import ADDRESS

TOKEN = "test-api-token-0123456789"
SECRET = "test-broker-webhook-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parent.parent

BN = "123456782"
TO_CARM = [
    {"type": "business_number_provided", "business_number": "123 456 782"},
    {"type": "importer_account_provided", "program_account": "RM0001"},
    {"type": "carm_registered"},
]


def api_settings(stack: Stack) -> Settings:
    return stack.settings.model_copy(update={"api_token": TOKEN, "broker_webhook_secret": SECRET})


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

    async def event(self, seller_id: str, event: dict[str, Any]) -> httpx.Response:
        return await self.http.post(f"/v1/sellers/{seller_id}/events", json=event)

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
        self, body: dict[str, Any] | bytes, *, signature: str | None = None, signed: bool = True
    ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Broker-Signature"] = signature
        elif signed:
            headers["X-Broker-Signature"] = sign(raw, SECRET)
        # No bearer token: the webhook is authenticated by its signature alone.
        return await self.http.post(
            "/v1/broker/events", content=raw, headers={**headers, "Authorization": ""}
        )


@pytest.fixture
async def api(dev_stack: Stack) -> AsyncIterator[Api]:
    app = create_app(api_settings(dev_stack), client=dev_stack.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=AUTH) as http:
        yield Api(http, dev_stack, app)


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


# --- starting up --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "missing"),
    [
        ({"api_token": None}, "API_TOKEN"),
        ({"broker_webhook_secret": None}, "BROKER_WEBHOOK_SECRET"),
        ({"api_token": "", "broker_webhook_secret": ""}, "API_TOKEN and BROKER_WEBHOOK_SECRET"),
    ],
)
def test_the_api_refuses_to_be_built_without_its_secrets(update: dict[str, Any], missing: str) -> None:
    settings = Settings(api_token="t", broker_webhook_secret="s").model_copy(update=update)
    with pytest.raises(ApiConfigError, match=missing):
        create_app(settings)


async def test_python_m_starter_api_refuses_to_start_without_secrets() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "BROKER_WEBHOOK_SECRET")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starter.api",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert "API_TOKEN and BROKER_WEBHOOK_SECRET" in err.decode()


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


async def test_python_m_starter_api_serves_against_the_dev_server(dev_env: WorkflowEnvironment) -> None:
    port = free_port()
    env = {
        **os.environ,
        "API_TOKEN": TOKEN,
        "BROKER_WEBHOOK_SECRET": SECRET,
        "API_PORT": str(port),
        "API_HOST": "127.0.0.1",
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": dev_env.client.namespace,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starter.api",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async with asyncio.timeout(30):
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        health = await http.get("/healthz")
                        if health.status_code == 200:
                            break
                    await asyncio.sleep(0.2)
            assert health.json() == {"status": "ok", "temporal": "reachable"}
            unknown = await http.get(f"/v1/sellers/{new_id('nobody')}", headers=AUTH)
            assert unknown.status_code == 404
            assert (await http.get("/v1/sellers/x")).status_code == 401
    finally:
        proc.terminate()
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
        assert await asyncio.wait_for(proc.wait(), timeout=30) in (0, -15)


def test_committed_openapi_document_is_current(dev_stack: Stack) -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    app = create_app(api_settings(dev_stack), client=dev_stack.client)
    assert committed == app.openapi() == openapi_document(), (
        "docs/openapi.json is out of date: run `python -m starter.api --write-openapi docs/openapi.json`"
    )


# --- who may call what ---------------------------------------------------------------------------

INTERNAL = [
    ("POST", "/v1/sellers", {"seller_id": "s-x", "email": "a@example.com"}),
    ("GET", "/v1/sellers/s-x", None),
    ("POST", "/v1/sellers/s-x/events", {"type": "carm_registered"}),
    ("POST", "/v1/returns", {"shipment_id": "p-x", "seller_id": "s-x", "arrived_at": "2026-01-05T10:00:00Z"}),
    ("GET", "/v1/returns/p-x", None),
    ("POST", "/v1/returns/p-x/decision", {"action": "dispose"}),
    ("POST", "/v1/returns/p-x/extension", {"business_days": 2, "reason": "broker asked"}),
]


@pytest.mark.parametrize(("method", "path", "body"), INTERNAL)
@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}"],
)
async def test_internal_endpoints_need_the_bearer_token(
    api: Api, method: str, path: str, body: dict[str, Any] | None, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=headers) as bare:
        r = await bare.request(method, path, json=body)
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "bearer token" in r.json()["detail"]


async def test_requests_that_fail_auth_change_nothing(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    parcel = (await api.arrive(seller))["shipment_id"]

    async def settled() -> bool:  # the parcel registers with its seller a moment after arrival
        return parcel in (await api.seller(seller))["held_shipments"]

    await wait_for(settled)
    seller_before, parcel_before = await api.seller(seller), await api.parcel(parcel)
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    accepted = await updates_accepted(handle)
    new_seller, new_parcel = new_id("s"), new_id("p")
    wrong = {"Authorization": "Bearer not-the-token"}
    attempts = [
        ("/v1/sellers", {"seller_id": new_seller, "email": "a@example.com"}),
        (f"/v1/sellers/{seller}/events", {"type": "business_number_provided", "business_number": BN}),
        (
            "/v1/returns",
            {"shipment_id": new_parcel, "seller_id": seller, "arrived_at": "2026-01-05T10:00:00Z"},
        ),
        (f"/v1/returns/{parcel}/decision", {"action": "dispose"}),
        (f"/v1/returns/{parcel}/extension", {"business_days": 5, "reason": "because"}),
    ]
    for path, body in attempts:
        assert (await api.http.post(path, json=body, headers=wrong)).status_code == 401
    assert (await api.http.get(f"/v1/sellers/{new_seller}")).status_code == 404
    assert (await api.http.get(f"/v1/returns/{new_parcel}")).status_code == 404
    assert await api.seller(seller) == seller_before
    after = await api.parcel(parcel)
    assert after["state"] == "held" and after["disposal_due_on"] == parcel_before["disposal_due_on"]
    assert after["extensions"] == []
    assert await updates_accepted(handle) == accepted


# --- sellers -------------------------------------------------------------------------------------


async def test_sign_up_is_201_then_200_with_the_same_workflow(api: Api) -> None:
    seller = new_id("s")
    r = await api.http.post("/v1/sellers", json={"seller_id": seller, "email": "owner@example.com"})
    assert r.status_code == 201, r.text
    api.track(seller_workflow_id(seller))
    assert r.headers["Location"] == f"/v1/sellers/{seller}"
    body = r.json()
    assert body["seller_id"] == seller
    assert body["stage"] == "business_number"
    assert body["waiting_on"] == ["seller"]
    assert body["next_action"]["code"] == "provide_business_number"
    token = mint_checklist_token(seller, checklist_key(api_settings(api.stack)))
    assert body["checklist_url"].endswith(f"/sellers/{seller}/checklist?token={token}")
    first_run = (await api.client.get_workflow_handle(seller_workflow_id(seller)).describe()).run_id

    again = await api.http.post(
        "/v1/sellers", json={"seller_id": seller, "email": "other@example.com", "business_name": "Other"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["seller_id"] == seller
    assert (await api.client.get_workflow_handle(seller_workflow_id(seller)).describe()).run_id == first_run


async def test_legacy_poa_sign_up_is_cleared_at_once(api: Api) -> None:
    body = await api.sign_up(legacy_poa=True, business_name="Maple Goods")
    assert body["cleared_for_returns"] is True
    assert body["legacy_poa"] is True


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"email": "owner@example.com"}, "seller_id: required field is missing"),
        ({"seller_id": "has space", "email": "owner@example.com"}, "seller_id"),
        ({"seller_id": "s-1", "email": "not-an-email"}, "email"),
        ({"seller_id": "s-1", "email": "owner@example.com", "colour": "red"}, "colour: unknown field"),
        ({"seller_id": "s-1", "email": "owner@example.com", "legacy_poa": "maybe"}, "legacy_poa"),
        (["seller_id"], "must be a JSON object"),
        (b"{not json", "not valid JSON"),
    ],
)
async def test_bad_sign_ups_are_422_and_start_nothing(api: Api, body: Any, problem: str) -> None:
    if isinstance(body, bytes):
        r = await api.http.post("/v1/sellers", content=body, headers={"Content-Type": "application/json"})
    else:
        r = await api.http.post("/v1/sellers", json=body)
    assert r.status_code == 422, r.text
    assert problem in r.json()["detail"]
    if isinstance(body, dict) and body.get("seller_id") == "s-1":
        assert (await api.http.get("/v1/sellers/s-1")).status_code == 404


async def test_get_seller_is_200_or_404(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    body = await api.seller(seller)
    assert body["seller_id"] == seller and body["cleared_for_returns"] is False
    unknown = new_id("nobody")
    r = await api.http.get(f"/v1/sellers/{unknown}")
    assert r.status_code == 404
    assert r.json() == {"detail": f"no seller '{unknown}': they have not signed up"}
    r = await api.http.get("/v1/sellers/no%20such%20id!")
    assert r.status_code == 404 and "ids are 1–64 characters" in r.json()["detail"]


async def test_seller_events_walk_the_steps(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    r = await api.event(seller, TO_CARM[0])
    assert r.status_code == 200, r.text
    assert r.json()["completed_steps"] == ["business_number"]
    assert r.json()["stage"] == "importer_account"
    for event in TO_CARM[1:]:
        assert (await api.event(seller, event)).status_code == 200
    status = await api.seller(seller)
    assert status["completed_steps"] == ["business_number", "importer_account", "carm_registration"]
    assert status["handoffs"] == 1


@pytest.mark.parametrize(
    ("event", "code", "problem"),
    [
        ({"type": "business_number_provided", "business_number": "123456789"}, 422, "check digit"),
        ({"type": "importer_account_provided", "program_account": "RT0001"}, 422, "RT program"),
        ({"type": "carm_registered", "colour": "red"}, 422, "colour: unknown field"),
        ({"type": "teleported"}, 422, "unknown event type 'teleported'"),
        ({}, 422, "'type' is required"),
        ({"type": "poa_approved"}, 422, "the seller may not send 'poa_approved' (sent by the broker)"),
        ({"type": "program_access_granted"}, 422, "may not send 'program_access_granted'"),
        ({"type": "carm_registered"}, 409, "carm_registration cannot be completed before importer_account"),
        ({"type": "opted_in"}, 409, "has not opted out"),
    ],
)
async def test_bad_seller_events_are_rejected_and_change_nothing(
    api: Api, event: dict[str, Any], code: int, problem: str
) -> None:
    seller = (await api.sign_up())["seller_id"]
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    before = await api.seller(seller)
    r = await api.event(seller, event)
    assert r.status_code == code, r.text
    assert problem in r.json()["detail"]
    assert await api.seller(seller) == before
    assert await updates_accepted(handle) == 0


async def test_events_for_an_unknown_seller_are_404(api: Api) -> None:
    unknown = new_id("nobody")
    r = await api.event(unknown, {"type": "carm_registered"})
    assert r.status_code == 404
    assert unknown in r.json()["detail"]
    assert (await api.event("bad id!", {"type": "carm_registered"})).status_code == 404


async def test_every_seller_event_type_is_accepted_by_the_seller_endpoint_only_if_the_seller_sends_it(
    api: Api,
) -> None:
    unknown = new_id("nobody")
    for kind, senders in SENDERS.items():
        r = await api.event(unknown, {"type": kind})
        if "seller" in senders:
            assert r.status_code in (404, 422), (kind, r.text)  # 422 when the event needs fields
            if r.status_code == 422:
                assert "may not send" not in r.json()["detail"]
        else:
            assert r.status_code == 422 and "the seller may not send" in r.json()["detail"], kind


async def test_no_business_number_opts_out_and_the_page_shows_it(api: Api) -> None:
    created = await api.sign_up()
    seller = created["seller_id"]
    r = await api.event(seller, {"type": "no_business_number", "return_method": "own_us_address"})
    assert r.status_code == 422 and "us_address is required" in r.json()["detail"]
    r = await api.event(
        seller, {"type": "no_business_number", "return_method": "own_us_address", "us_address": ADDRESS}
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "opted_out"
    page = await api.http.get(httpx.URL(created["checklist_url"]).raw_path.decode())
    assert page.status_code == 200
    assert "Your U.S. returns go to your own U.S. address." in page.text


# --- returned parcels ----------------------------------------------------------------------------


async def test_arrival_is_201_then_200_and_the_parcel_is_held_with_its_deadline(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    shipment = new_id("p")
    body = {"shipment_id": shipment, "seller_id": seller, "arrived_at": datetime.now(UTC).isoformat()}
    r = await api.http.post("/v1/returns", json=body)
    assert r.status_code == 201, r.text
    handle = api.track(hold_workflow_id(shipment))
    assert r.headers["Location"] == f"/v1/returns/{shipment}"
    status = r.json()
    assert status["state"] == "held"
    assert status["business_days_left"] == 15
    assert date.fromisoformat(status["disposal_due_on"]) > date.today()
    run_id = (await handle.describe()).run_id

    again = await api.http.post("/v1/returns", json={**body, "origin": "us_return"})
    assert again.status_code == 200, again.text
    assert again.json()["shipment_id"] == shipment
    assert (await handle.describe()).run_id == run_id

    got = await api.parcel(shipment)
    assert got["seller_id"] == seller and got["disposal_due_on"] == status["disposal_due_on"]


async def test_parcel_of_a_cleared_seller_is_released(api: Api) -> None:
    seller = (await api.sign_up(legacy_poa=True))["seller_id"]
    parcel = (await api.arrive(seller))["shipment_id"]
    handle = api.client.get_workflow_handle(hold_workflow_id(parcel))
    await asyncio.wait_for(handle.result(), timeout=30)
    assert (await api.parcel(parcel))["state"] == "released"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"arrived_at": "2026-01-05T10:00:00"}, "arrived_at"),
        ({"arrived_at": "yesterday"}, "arrived_at"),
        ({"shipment_id": "bad id"}, "shipment_id"),
        ({"origin": "mars"}, "origin"),
        ({"weight": 2}, "weight: unknown field"),
        ({"arrived_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()}, "in the future"),
        ({"arrived_at": "2001-01-05T10:00:00+00:00"}, "more than a year ago"),
    ],
)
async def test_bad_arrivals_are_422_and_start_nothing(api: Api, change: dict[str, Any], problem: str) -> None:
    shipment = new_id("p")
    body = {
        "shipment_id": shipment,
        "seller_id": "s-1",
        "arrived_at": datetime.now(UTC).isoformat(),
        **change,
    }
    r = await api.http.post("/v1/returns", json=body)
    assert r.status_code == 422, r.text
    assert problem in r.json()["detail"]
    assert (await api.http.get(f"/v1/returns/{shipment}")).status_code == 404


async def test_get_parcel_unknown_is_404(api: Api) -> None:
    unknown = new_id("p")
    r = await api.http.get(f"/v1/returns/{unknown}")
    assert r.status_code == 404
    assert r.json() == {"detail": f"no returned parcel '{unknown}' has been recorded"}


async def test_decision_forward_then_409_while_closing_and_once_closed(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    parcel = (await api.arrive(seller))["shipment_id"]
    r = await api.http.post(
        f"/v1/returns/{parcel}/decision", json={"action": "forward", "us_address": ADDRESS}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "forwarded"

    again = await api.http.post(f"/v1/returns/{parcel}/decision", json={"action": "dispose"})
    assert again.status_code == 409, again.text
    assert "no longer held" in again.json()["detail"]

    handle = api.client.get_workflow_handle(hold_workflow_id(parcel))
    await asyncio.wait_for(handle.result(), timeout=30)
    assert (await handle.describe()).status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
    closed = await api.http.post(f"/v1/returns/{parcel}/decision", json={"action": "dispose"})
    assert closed.status_code == 409, closed.text
    assert closed.json()["detail"] == "the parcel is no longer held: it was forwarded"
    assert (await api.parcel(parcel))["state"] == "forwarded"


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        ({"action": "forward"}, "us_address"),
        ({"action": "forward", "us_address": {**ADDRESS, "state": "XX"}}, "USPS"),
        ({"action": "forward", "us_address": {**ADDRESS, "postal_code": "1234"}}, "postal_code"),
        ({"action": "burn"}, "action"),
        ({"action": "dispose", "extra": 1}, "unknown field"),
    ],
)
async def test_bad_decisions_are_422_and_change_nothing(
    api: Api, decision: dict[str, Any], problem: str
) -> None:
    seller = (await api.sign_up())["seller_id"]
    parcel = (await api.arrive(seller))["shipment_id"]
    r = await api.http.post(f"/v1/returns/{parcel}/decision", json=decision)
    assert r.status_code == 422, r.text
    assert problem in r.json()["detail"]
    after = await api.parcel(parcel)
    assert after["state"] == "held" and after["closing"] is None


async def test_decision_for_an_unknown_parcel_is_404(api: Api) -> None:
    r = await api.http.post(f"/v1/returns/{new_id('p')}/decision", json={"action": "dispose"})
    assert r.status_code == 404


async def test_extension_moves_the_deadline_then_409_once_disposed(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    held = await api.arrive(seller)
    parcel = held["shipment_id"]
    r = await api.http.post(
        f"/v1/returns/{parcel}/extension", json={"business_days": 5, "reason": "seller is registering"}
    )
    assert r.status_code == 200, r.text
    extended = r.json()
    assert extended["disposal_due_on"] > held["disposal_due_on"]
    assert extended["business_days_left"] == 20
    assert [e["reason"] for e in extended["extensions"]] == ["seller is registering"]

    for bad, problem in [
        ({"business_days": 0, "reason": "x"}, "business_days"),
        ({"business_days": 5}, "reason: required field is missing"),
        ({"business_days": 5, "reason": "   "}, "reason"),
        ({"business_days": "lots", "reason": "x"}, "business_days"),
    ]:
        r = await api.http.post(f"/v1/returns/{parcel}/extension", json=bad)
        assert r.status_code == 422, r.text
        assert problem in r.json()["detail"]

    assert (
        await api.http.post(f"/v1/returns/{parcel}/decision", json={"action": "dispose"})
    ).status_code == 200
    r = await api.http.post(
        f"/v1/returns/{parcel}/extension", json={"business_days": 5, "reason": "too late"}
    )
    assert r.status_code == 409 and "no longer held" in r.json()["detail"]

    r = await api.http.post(f"/v1/returns/{new_id('p')}/extension", json={"business_days": 1, "reason": "x"})
    assert r.status_code == 404


# --- the broker's webhook ------------------------------------------------------------------------


async def test_broker_webhook_applies_signed_events(api: Api) -> None:
    seller = await at_carm_registration(api)
    r = await api.broker({"seller_id": seller, "type": "doa_requested", "event_id": "evt-1"})
    assert r.status_code == 200, r.text
    assert r.json()["next_action"]["code"] in ("enrol_in_rpp", "accept_doa")
    status = await api.seller(seller)
    assert "accept_doa" in [a["code"] for a in status["actions"]]


async def test_broker_redelivery_with_the_same_event_id_is_200_and_changes_nothing(api: Api) -> None:
    seller = await at_carm_registration(api)
    body = {"seller_id": seller, "type": "doa_requested", "event_id": "broker-42"}
    first = await api.broker(body)
    assert first.status_code == 200, first.text
    await asyncio.sleep(1)  # let the first delivery's messages go out
    status = await api.seller(seller)
    notices = api.stack.outbox.notifications(seller_id=seller)
    for _ in range(2):
        again = await api.broker(body)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    await asyncio.sleep(1)
    assert await api.seller(seller) == status
    assert api.stack.outbox.notifications(seller_id=seller) == notices
    # Without the event id the same event is a new one, which no longer fits.
    r = await api.broker({"seller_id": seller, "type": "doa_requested"})
    assert r.status_code == 409 and "already requested" in r.json()["detail"]


@pytest.mark.parametrize("case", ["missing", "wrong", "wrong_scheme", "altered", "other_secret", "empty"])
async def test_broker_webhook_refuses_bad_signatures_and_changes_nothing(api: Api, case: str) -> None:
    seller = await at_carm_registration(api)
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    accepted = await updates_accepted(handle)
    before = await api.seller(seller)
    body = json.dumps({"seller_id": seller, "type": "doa_requested"}).encode()
    if case == "missing":
        r = await api.broker(body, signed=False)
    elif case == "wrong":
        r = await api.broker(body, signature="sha256=" + "0" * 64)
    elif case == "wrong_scheme":
        r = await api.broker(body, signature=sign(body, SECRET).replace("sha256=", "sha1="))
    elif case == "altered":
        altered = json.dumps({"seller_id": seller, "type": "doa_requested", "event_id": "x"}).encode()
        r = await api.broker(altered, signature=sign(body, SECRET))
    elif case == "other_secret":
        r = await api.broker(body, signature=sign(body, "another-secret"))
    else:
        r = await api.broker(body, signature="")
    assert r.status_code == 401, r.text
    assert "X-Broker-Signature" in r.json()["detail"]
    assert await api.seller(seller) == before
    assert await updates_accepted(handle) == accepted


async def test_a_reserialised_body_does_not_match_its_signature(api: Api) -> None:
    seller = await at_carm_registration(api)
    body = {"seller_id": seller, "type": "doa_requested"}
    compact = json.dumps(body, separators=(",", ":")).encode()
    r = await api.broker(json.dumps(body, indent=1).encode(), signature=sign(compact, SECRET))
    assert r.status_code == 401
    assert (await api.broker(compact, signature=sign(compact, SECRET))).status_code == 200


@pytest.mark.parametrize(
    ("event", "code", "problem"),
    [
        ({"type": "carm_registered"}, 422, "the broker may not send 'carm_registered' (sent by the seller)"),
        ({"type": "business_number_provided", "business_number": BN}, 422, "broker may not send"),
        ({"type": "poa_denied", "reason": "bored"}, 422, "reason"),
        ({"type": "doa_requested", "note": "hi"}, 422, "note: unknown field"),
        ({"type": "poa_approved"}, 409, "poa_approval cannot be completed before poa_submission"),
        (
            {"type": "affinity_figures_provided", "statement_month": "2025-01", "statement_balance": "1.00"},
            409,
            "no affinity",
        ),
        ({"type": "poa_revoked"}, 409, "does not apply"),
    ],
)
async def test_bad_broker_events_are_rejected_and_change_nothing(
    api: Api, event: dict[str, Any], code: int, problem: str
) -> None:
    seller = await at_carm_registration(api)
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    accepted = await updates_accepted(handle)
    before = await api.seller(seller)
    r = await api.broker({"seller_id": seller, **event})
    assert r.status_code == code, r.text
    assert problem in r.json()["detail"]
    assert await api.seller(seller) == before
    assert await updates_accepted(handle) == accepted


async def test_broker_events_need_a_valid_seller_id_and_an_existing_seller(api: Api) -> None:
    r = await api.broker({"type": "doa_requested"})
    assert r.status_code == 422 and "seller_id: required field is missing" in r.json()["detail"]
    r = await api.broker({"seller_id": "bad id!", "type": "doa_requested"})
    assert r.status_code == 422 and "seller_id" in r.json()["detail"]
    r = await api.broker(b"[1, 2]")
    assert r.status_code == 422 and "JSON object" in r.json()["detail"]
    unknown = new_id("nobody")
    r = await api.broker({"seller_id": unknown, "type": "doa_requested"})
    assert r.status_code == 404 and unknown in r.json()["detail"]


async def test_broker_webhook_does_not_take_the_bearer_token_instead_of_a_signature(api: Api) -> None:
    seller = await at_carm_registration(api)
    r = await api.http.post("/v1/broker/events", json={"seller_id": seller, "type": "doa_requested"})
    assert r.status_code == 401


async def test_affinity_figures_go_from_the_broker_to_the_seller(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    for event in TO_CARM[:2]:
        assert (await api.event(seller, event)).status_code == 200
    r = await api.event(seller, {"type": "affinity_figures_requested"})
    assert r.status_code == 200, r.text
    assert r.json()["next_action"]["code"] == "await_affinity_figures"
    assert r.json()["waiting_on"] == ["broker"]
    assert (await api.broker({"seller_id": seller, "type": "affinity_figures_requested"})).status_code == 422
    figures = {"transaction_number": "12345678901234", "transaction_total": "123.45"}
    r = await api.broker({"seller_id": seller, "type": "affinity_figures_provided", **figures})
    assert r.status_code == 200, r.text
    assert r.json()["next_action"]["code"] == "register_in_carm"

    async def sent() -> list[dict[str, Any]]:
        return api.stack.outbox.notifications("affinity_figures", seller_id=seller)

    async with asyncio.timeout(15):
        while not await sent():
            await asyncio.sleep(0.1)
    [notice] = await sent()
    assert "12345678901234" in notice["body"]
    assert [d["kind"] for d in api.stack.outbox.read("broker")].count("affinity_request") == 1


# --- the page and health --------------------------------------------------------------------------


async def test_checklist_needs_the_sellers_token(api: Api) -> None:
    created = await api.sign_up()
    seller = created["seller_id"]
    other = (await api.sign_up())["seller_id"]
    url = httpx.URL(created["checklist_url"])
    token = url.params["token"]
    bare = httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://api.test")
    async with bare:
        ok = await bare.get(f"/sellers/{seller}/checklist", params={"token": token})
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/html")
        assert ok.headers["Referrer-Policy"] == "no-referrer"
        assert "Give us your Business Number" in ok.text
        for params in [{}, {"token": ""}, {"token": token[:-1] + "0"}, {"token": "x" * 64}]:
            r = await bare.get(f"/sellers/{seller}/checklist", params=params)
            assert r.status_code == 403, params
            assert "This link does not work" in r.text
            assert "Business Number" not in r.text
        # One seller's token does not open another's page.
        r = await bare.get(f"/sellers/{other}/checklist", params={"token": token})
        assert r.status_code == 403
        unknown = new_id("nobody")
        key = checklist_key(api_settings(api.stack))
        r = await bare.get(
            f"/sellers/{unknown}/checklist", params={"token": mint_checklist_token(unknown, key)}
        )
        assert r.status_code == 404


async def test_healthz_is_200_with_temporal_reachable(api: Api) -> None:
    r = await api.http.get("/healthz", headers={"Authorization": ""})
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "temporal": "reachable"}


async def test_healthz_is_503_when_temporal_is_not_reachable(dev_stack: Stack) -> None:
    port = free_port()  # nothing listens there
    unreachable = await Client.connect(f"127.0.0.1:{port}", lazy=True, data_converter=pydantic_data_converter)
    app = create_app(api_settings(dev_stack), client=unreachable)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as http:
        r = await http.get("/healthz")
        assert r.status_code == 503
        assert r.json()["detail"].startswith("Temporal is not reachable")


async def test_without_temporal_at_startup_the_api_answers_503_until_it_connects(dev_stack: Stack) -> None:
    settings = api_settings(dev_stack).model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=AUTH) as http:
            assert (await http.get("/healthz")).status_code == 503
            r = await http.get("/v1/sellers/s-1")
            assert r.status_code == 503 and "Temporal is not reachable" in r.json()["detail"]
            r = await http.post("/v1/sellers", json={"seller_id": "s-1", "email": "a@example.com"})
            assert r.status_code == 503


# --- what is logged -------------------------------------------------------------------------------


async def test_an_unexpected_error_is_a_plain_500_and_its_locals_are_not_logged(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    async def boom() -> None:
        statement_balance = "98765.43"  # what a webhook's local variables could hold
        raise RuntimeError(f"failed after reading {len(statement_balance)} characters")

    api.app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        r = await http.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error: the request could not be completed (see the API log)"}
    logged = capsys.readouterr()
    assert "RuntimeError" in logged.out + logged.err
    assert "98765.43" not in logged.out + logged.err


def test_checklist_tokens_are_kept_out_of_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/sellers/s-1/checklist?token=abc123&x=1", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert "abc123" not in record.getMessage()
    assert "/sellers/s-1/checklist?token=…&x=1" in record.getMessage()
