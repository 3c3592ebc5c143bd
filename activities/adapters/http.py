"""Broker and warehouse deliveries as JSON POSTs carrying an ``Idempotency-Key`` header.

The receiving end is expected to answer 409 to a key it has already accepted, which is how a
retry after a lost response is told apart from a new request.
"""

from datetime import UTC, datetime
from typing import Self

import httpx
from pydantic import BaseModel

from activities.adapters import PermanentDeliveryError, TransientDeliveryError
from domain.deliveries import BrokerAffinityRequest, BrokerHandoff, DeliveryReceipt, WarehouseInstruction

CHANNEL = "http"

# 4xx answers that say "not now" rather than "never". 401/403 are among them because a bad or
# expired token is a configuration fault: once operations fixes it, the retry delivers.
_RETRYABLE_4XX = frozenset({401, 403, 408, 425, 429})


class _JsonEndpoint:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 10,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()

    async def aclose(self) -> None:
        """Close the HTTP client, unless it was passed in (then its owner closes it)."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _post(self, path: str, what: str, delivery: BaseModel, key: str) -> DeliveryReceipt:
        response = await self._client.post(
            f"{self.base_url}{path}",
            json=delivery.model_dump(mode="json"),
            headers={**self._headers, "Idempotency-Key": key},
            timeout=self._timeout,
        )
        now = datetime.now(UTC)
        status = response.status_code
        if response.is_success or status == 409:
            return DeliveryReceipt(idempotency_key=key, duplicate=status == 409, channel=CHANNEL, at=now)
        # Only the status goes into the error: a response body may echo the seller's details.
        problem = f"{what} refused: HTTP {status} {response.reason_phrase}"
        if 400 <= status < 500 and status not in _RETRYABLE_4XX:
            raise PermanentDeliveryError(problem)
        raise TransientDeliveryError(problem)


class HttpBroker(_JsonEndpoint):
    """The broker's API: ``POST /handoffs`` and ``POST /affinity-requests``."""

    channel = CHANNEL

    async def hand_off(self, handoff: BrokerHandoff) -> DeliveryReceipt:
        """Send the handoff; a 409 means the broker already has it."""
        return await self._post("/handoffs", "broker handoff", handoff, handoff.idempotency_key)

    async def request_affinity_figures(self, request: BrokerAffinityRequest) -> DeliveryReceipt:
        """Ask for Statement of Account figures; a 409 means the broker already has the request."""
        key = request.idempotency_key
        return await self._post("/affinity-requests", "affinity-figures request", request, key)


class HttpWarehouse(_JsonEndpoint):
    """The warehouse's API: ``POST /instructions``."""

    channel = CHANNEL

    async def instruct(self, instruction: WarehouseInstruction) -> DeliveryReceipt:
        """Send the instruction; a 409 means the warehouse already has it."""
        key = instruction.idempotency_key
        return await self._post("/instructions", "warehouse instruction", instruction, key)
