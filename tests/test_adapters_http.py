from collections.abc import Iterator

import httpx
import pytest

from activities.adapters import PermanentDeliveryError, TransientDeliveryError
from activities.adapters.http import HttpBroker, HttpWarehouse
from domain.deliveries import BrokerAffinityRequest, BrokerHandoff, WarehouseInstruction
from testing.endpoints import FakeApi, loopback_api


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with loopback_api() as fake:
        yield fake


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
