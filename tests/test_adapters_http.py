import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from activities.adapters import PermanentDeliveryError, TransientDeliveryError
from activities.adapters.http import HttpBroker, HttpWarehouse
from domain.deliveries import BrokerAffinityRequest, BrokerHandoff, WarehouseInstruction


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeApi:
    """What the local API server saw, and how it should answer the next requests."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    seen_keys: set[str] = field(default_factory=set)
    answer: int | None = None
    """Answer every request with this status instead of 201/409."""
    delay: float = 0.0


class Handler(BaseHTTPRequestHandler):
    api: FakeApi

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.api.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        time.sleep(self.api.delay)
        key = self.headers.get("Idempotency-Key", "")
        status = self.api.answer or (409 if key in self.api.seen_keys else 201)
        if status == 201:
            self.api.seen_keys.add(key)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeApi(url=f"http://127.0.0.1:{server.server_address[1]}/v1/")
    server.RequestHandlerClass = type("BoundHandler", (Handler,), {"api": fake})
    # A short poll interval keeps shutdown (and so each test) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


HANDOFF = BrokerHandoff(
    idempotency_key="handoff:s-1:1",
    seller_id="s-1",
    returns_account_number="s-1",
    business_number="123456782",
    program_account="RM0001",
    handoff_number=1,
)
INSTRUCTION = WarehouseInstruction(
    idempotency_key="warehouse:SHIP-1",
    shipment_id="SHIP-1",
    seller_id="s-1",
    action="release",
    reason="seller cleared for returns",
)


async def test_handoff_is_posted_with_idempotency_key_and_token(api: FakeApi) -> None:
    async with HttpBroker(api.url, token="secret", timeout=5) as broker:
        receipt = await broker.hand_off(HANDOFF)

    assert not receipt.duplicate and receipt.channel == "http"
    [request] = api.requests
    assert request.path == "/v1/handoffs"
    assert request.headers["idempotency-key"] == "handoff:s-1:1"
    assert request.headers["authorization"] == "Bearer secret"
    assert request.headers["content-type"] == "application/json"
    assert request.body == HANDOFF.model_dump(mode="json")


async def test_a_key_the_server_already_has_is_a_successful_duplicate(api: FakeApi) -> None:
    async with HttpBroker(api.url, token=None, timeout=5) as broker:
        first = await broker.hand_off(HANDOFF)
        again = await broker.hand_off(HANDOFF)

    assert not first.duplicate and again.duplicate
    assert "authorization" not in api.requests[0].headers
    assert len(api.seen_keys) == 1


async def test_affinity_requests_and_instructions_go_to_their_endpoints(api: FakeApi) -> None:
    request = BrokerAffinityRequest(idempotency_key="affinity:s-1:1", seller_id="s-1")
    async with HttpBroker(api.url, None, 5) as broker, HttpWarehouse(api.url, "w-token", 5) as warehouse:
        await broker.request_affinity_figures(request)
        await warehouse.instruct(INSTRUCTION)

    assert [r.path for r in api.requests] == ["/v1/affinity-requests", "/v1/instructions"]
    assert api.requests[1].body["action"] == "release"
    assert api.requests[1].headers["idempotency-key"] == "warehouse:SHIP-1"


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_a_client_error_is_permanent(api: FakeApi, status: int) -> None:
    api.answer = status
    async with HttpWarehouse(api.url, None, 5) as warehouse:
        with pytest.raises(PermanentDeliveryError, match=str(status)):
            await warehouse.instruct(INSTRUCTION)


@pytest.mark.parametrize("status", [500, 503, 429, 401])
async def test_server_errors_throttling_and_bad_tokens_are_retryable(api: FakeApi, status: int) -> None:
    api.answer = status
    async with HttpBroker(api.url, "expired", 5) as broker:
        with pytest.raises(TransientDeliveryError, match=str(status)):
            await broker.hand_off(HANDOFF)

    api.answer = None
    async with HttpBroker(api.url, "renewed", 5) as broker:
        assert not (await broker.hand_off(HANDOFF)).duplicate


async def test_a_slow_server_times_out_as_a_retryable_error(api: FakeApi) -> None:
    api.delay = 1.0
    async with HttpBroker(api.url, None, timeout=0.2) as broker:
        with pytest.raises(httpx.TimeoutException):
            await broker.hand_off(HANDOFF)


async def test_an_unreachable_server_is_a_retryable_error(api: FakeApi) -> None:
    async with HttpBroker("http://127.0.0.1:9", None, timeout=2) as broker:
        with pytest.raises(httpx.TransportError):
            await broker.hand_off(HANDOFF)


async def test_an_injected_client_is_used_and_left_open(api: FakeApi) -> None:
    async with httpx.AsyncClient(headers={"User-Agent": "carm-returns-test"}) as client:
        async with HttpBroker(api.url, None, 5, client=client) as broker:
            await broker.hand_off(HANDOFF)
        assert not client.is_closed

    assert api.requests[0].headers["user-agent"] == "carm-returns-test"
