"""When Temporal cannot take a request in time: 503 with ``Retry-After``, or 202 for work it took.

A task queue that no worker polls stands in for an overloaded one: Temporal starts workflows on it
at once, but nothing answers their queries or accepts their updates until a worker comes.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

import gateway.onboarding as sellers
from domain.payloads import SignUp
from domain.workflow_ids import seller_workflow_id
from gateway.errors import Accepted
from starter.api import create_app
from starter.api.deps import ADMISSION_WAIT_SECONDS
from testing.stack import make_settings, running
from tests.api.helpers import AUTH, api_settings
from tests.conftest import Stack, new_id

PROBLEM = "application/problem+json"


@pytest.fixture
async def unserved(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    """An API whose task queue has no worker yet (``Stack`` to start one), answering within 1.5 s."""
    settings = make_settings(tmp_path / "data")
    stack = Stack(dev_env.client, settings)
    api_like = api_settings(stack).model_copy(update={"api_temporal_timeout_seconds": 1.5})
    app = create_app(api_like, client=dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=AUTH) as http:
        try:
            yield stack, http
        finally:
            await stack.stop_everything()


async def test_a_sign_up_started_but_not_answered_in_time_is_202_with_a_location(
    unserved: tuple[Stack, httpx.AsyncClient],
) -> None:
    stack, http = unserved
    seller = new_id("s")
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await http.post("/v1/sellers", json={"seller_id": seller, "email": "owner@example.com"})
    stack.started.append(stack.client.get_workflow_handle(seller_workflow_id(seller)))
    assert r.status_code == 202, r.text
    assert loop.time() - started < 5
    assert r.headers["Location"] == f"/v1/sellers/{seller}" == r.json()["status_url"]
    assert int(r.headers["Retry-After"]) >= 0
    # Polling it while nothing answers is 503, never a timeout error; a retry of the sign-up is safe.
    r = await http.get(f"/v1/sellers/{seller}")
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/unavailable") and "Retry-After" in r.headers
    async with running(stack.client, stack.settings):
        again = await http.post("/v1/sellers", json={"seller_id": seller, "email": "owner@example.com"})
        assert again.status_code == 200, again.text
        assert (await http.get(f"/v1/sellers/{seller}")).json()["stage"] == "business_number"


async def test_an_event_not_accepted_in_time_is_503_and_safe_to_send_again(
    unserved: tuple[Stack, httpx.AsyncClient],
) -> None:
    stack, http = unserved
    seller = new_id("s")
    started = await sellers.sign_up(
        stack.client, SignUp(seller_id=seller, email="owner@example.com"), task_queue=stack.task_queue
    )
    stack.started.append(started.handle)
    event: dict[str, Any] = {
        "type": "business_number_provided",
        "business_number": "123456782",
        "event_id": "e-1",
    }
    r = await http.post(f"/v1/sellers/{seller}/events", json=event)
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "5"
    problem = r.json()
    assert problem["code"] == "timed_out" and "same event_id" in problem["detail"]
    # Temporal may still deliver it once a worker comes: sending it again applies it once.
    async with running(stack.client, stack.settings):
        for _ in range(2):
            again = await http.post(f"/v1/sellers/{seller}/events", json=event)
            assert again.status_code == 200, again.text
            assert again.json()["completed_steps"] == ["business_number"]
        audit = await started.handle.query("audit")
    assert [e.get("event_id") for e in audit if e["type"] == "business_number_provided"] == ["e-1"]


async def test_beyond_the_requests_let_through_one_is_shed_at_once_with_503(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    stack = Stack(dev_env.client, make_settings(tmp_path / "data"))
    settings = api_settings(stack).model_copy(
        update={"api_temporal_timeout_seconds": ADMISSION_WAIT_SECONDS + 3, "api_max_in_flight": 1}
    )
    app = create_app(settings, client=dev_env.client)
    transport = httpx.ASGITransport(app=app)
    seller = new_id("s")
    started = await sellers.sign_up(
        stack.client, SignUp(seller_id=seller, email="owner@example.com"), task_queue=stack.task_queue
    )
    stack.started.append(started.handle)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=AUTH) as http:
        waiting = asyncio.create_task(http.get(f"/v1/sellers/{seller}"))  # no worker: it waits it out
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        began = loop.time()
        shed = await http.get(f"/v1/sellers/{seller}")
        assert shed.status_code == 503 and shed.json()["code"] == "overloaded", shed.text
        assert loop.time() - began < ADMISSION_WAIT_SECONDS + 1 and "Retry-After" in shed.headers
        assert (await waiting).status_code == 503
    await stack.stop_everything()


async def test_an_update_accepted_but_not_finished_in_time_is_202(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seller = (await api.sign_up())["seller_id"]

    async def accepted_only(*args: Any, **kwargs: Any) -> Any:
        raise Accepted("Temporal accepted the request but it had not finished in time")

    monkeypatch.setattr(sellers, "apply_event", accepted_only)
    r = await api.event(seller, {"type": "carm_registered", "event_id": "e-2"})
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/v1/sellers/{seller}"
    assert "poll" in r.json()["detail"]
