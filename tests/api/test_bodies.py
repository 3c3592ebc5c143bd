"""Request bodies: bounded in size and in time, strict JSON, and refusals as problem documents."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from domain.workflow_ids import seller_workflow_id
from starter.api import create_app
from tests.api.helpers import AUTH, Api, api_settings, serving, updates_accepted, webhook_headers
from tests.conftest import Stack, new_id

PROBLEM = "application/problem+json"
LIMIT = 65_536


def signup(seller: str, **extra: Any) -> dict[str, Any]:
    return {"seller_id": seller, "email": "owner@example.com", **extra}


async def test_a_body_over_the_limit_is_413_before_it_is_read(api: Api) -> None:
    seller = new_id("s")
    padded = json.dumps(signup(seller, business_name="x" * LIMIT)).encode()
    r = await api.http.post("/v1/sellers", content=padded, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/too-large") and r.json()["params"] == {"max_bytes": LIMIT}
    assert (await api.http.get(f"/v1/sellers/{seller}")).status_code == 404
    # Signed or not: the webhook's body is not read either (its signature would need all of it).
    r = await api.broker(padded, headers=webhook_headers(padded))
    assert r.status_code == 413
    # Unauthenticated too: the size is checked first.
    r = await api.http.post("/v1/sellers", content=padded, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 413


async def test_a_streamed_body_that_grows_past_the_limit_is_413(api: Api) -> None:
    seller = new_id("s")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked, as a client may send
        yield b'{"seller_id": "' + seller.encode() + b'", "email": "owner@example.com", "business_name": "'
        for _ in range(20):
            yield b"y" * 8192
        yield b'"}'

    r = await api.http.post("/v1/sellers", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert (await api.http.get(f"/v1/sellers/{seller}")).status_code == 404


async def test_the_sellers_page_answers_a_body_over_the_limit_in_html(api: Api) -> None:
    r = await api.http.post(
        "/sellers/s-1/checklist/events",
        content=b"type=opted_in&x=" + b"z" * LIMIT,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "What was sent is too long" in r.text


@contextlib.asynccontextmanager
async def raw_connection(base_url: str) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    host, port = httpx.URL(base_url).host, httpx.URL(base_url).port
    reader, writer = await asyncio.open_connection(host, port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_a_stalled_body_ends_the_request_and_a_huge_one_is_refused_unread(dev_stack: Stack) -> None:
    settings = api_settings(dev_stack).model_copy(update={"api_body_timeout_seconds": 1.0})
    app = create_app(settings, client=dev_stack.client)
    seller = new_id("s")
    head = (
        "POST /v1/sellers HTTP/1.1\r\nHost: api.test\r\nContent-Type: application/json\r\n"
        f"Authorization: {AUTH['Authorization']}\r\n"
    )
    async with serving(app) as base_url:
        loop = asyncio.get_running_loop()
        async with raw_connection(base_url) as (reader, writer):
            writer.write(f"{head}Content-Length: 200\r\n\r\n".encode() + b'{"seller_id": "' + seller.encode())
            await writer.drain()
            started = loop.time()
            answer = await asyncio.wait_for(reader.read(), timeout=10)  # the server closes the connection
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert 0.9 <= loop.time() - started < 5
            assert b"body_timeout" in answer
        # 100 MB announced: refused at once, without waiting for (or storing) a byte of it.
        async with raw_connection(base_url) as (reader, writer):
            writer.write(f"{head}Content-Length: {100 * 2**20}\r\n\r\n".encode() + b"{" * 1000)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(4096), timeout=5)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH) as http:
            assert (await http.get(f"/v1/sellers/{seller}")).status_code == 404


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        (
            b'{"seller_id": "s-1", "email": "a@example.com", "seller_id": "s-2"}',
            "json_duplicate_key",
            {"key": "seller_id"},
        ),
        (
            b'{"seller_id": "s-1", "email": "a@example.com", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
            "json_too_deep",
            {"max_depth": 32},
        ),
        (
            b'{"seller_id": "s-1", "email": "a@example.com", "x": ' + b"[" * 33 + b"]" * 33 + b"}",
            "json_too_deep",
            {"max_depth": 32},
        ),
        (
            b'{"seller_id": "s-1", "email": "a@example.com", "legacy_poa": ' + b"9" * 5000 + b"}",
            "json_number_too_long",
            {"max_digits": 100},
        ),
        (
            b'{"seller_id": "s-1", "email": "a@example.com", "legacy_poa": 1' + b"0" * 100 + b".5}",
            "json_number_too_long",
            {"max_digits": 100},
        ),
        (
            b'{"seller_id": "s-1", "email": "a@example.com", "legacy_poa": NaN}',
            "json_invalid",
            {"value": "NaN"},
        ),
        (b'{"seller_id": "s-1", "email": "a@example.com", "legacy_poa": 1e999}', "json_number_too_large", {}),
        (b'{"seller_id": "s-1",', "json_invalid", {}),
        (b"\xff\xfe", "json_invalid", {}),
        (b'["seller_id"]', "json_not_object", {"value": "list"}),
    ],
    ids=[
        "repeated key",
        "10000 deep",
        "33 deep",
        "5000 digits",
        "101-digit float",
        "NaN",
        "1e999",
        "truncated",
        "not UTF-8",
        "array",
    ],
)
async def test_json_that_parsers_disagree_on_or_that_costs_to_read_is_422(
    api: Api, raw: bytes, code: str, params: dict[str, Any]
) -> None:
    r = await api.http.post("/v1/sellers", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"].endswith("/invalid-input") and problem["code"] == code
    assert problem["params"] == params
    assert (await api.http.get("/v1/sellers/s-1")).status_code == 404


async def test_a_repeated_key_in_an_event_changes_nothing(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    raw = b'{"type": "business_number_provided", "business_number": "1", "business_number": "123456782"}'
    r = await api.http.post(
        f"/v1/sellers/{seller}/events", content=raw, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["params"] == {"key": "business_number"}
    assert await updates_accepted(handle) == 0


async def test_an_email_with_two_recipients_is_refused(api: Api) -> None:
    seller = new_id("s")
    r = await api.http.post("/v1/sellers", json={"seller_id": seller, "email": "a,b@c.d"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "email" and problem["type"].endswith("/invalid-input")
    assert (await api.http.get(f"/v1/sellers/{seller}")).status_code == 404
    known = (await api.sign_up())["seller_id"]
    r = await api.event(known, {"type": "email_changed", "email": "a,b@c.d"})
    assert r.status_code == 422 and r.json()["field"] == "email"


async def test_a_rejection_is_a_problem_document_with_its_code_field_and_params(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    r = await api.event(seller, {"type": "business_number_provided", "business_number": "123456789"})
    assert r.status_code == 422
    problem = r.json()
    assert problem == {
        "type": "/problems/invalid-input",
        "title": "Invalid input",
        "status": 422,
        "detail": problem["detail"],
        "code": "business_number_check_digit",
        "field": "business_number",
        "params": problem["params"],
    }
    assert "check digit" in problem["detail"] and problem["params"]["value"] == "123456789"
    r = await api.event(seller, {"type": "carm_registered"})
    assert r.status_code == 409
    assert r.json()["type"] == "/problems/not-allowed-now" and r.json()["title"] == "Not allowed now"


async def test_unknown_paths_and_methods_are_problem_documents(api: Api) -> None:
    r = await api.http.get("/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "not_found"
    r = await api.http.delete("/v1/sellers")
    assert r.status_code == 405 and r.json()["type"].endswith("/method-not-allowed")
    r = await api.http.get("/v1/sellers", params={"page_size": 500})
    assert r.status_code == 422 and r.json()["field"] == "page_size"


async def test_every_answer_says_how_long_the_api_took(api: Api) -> None:
    r = await api.http.get("/v1/sellers/nobody-at-all")
    assert r.status_code == 404
    name, _, duration = r.headers["Server-Timing"].partition(";dur=")
    assert name == "app" and float(duration) >= 0
