"""Who may call what: the internal endpoints need the bearer token, and a refused request changes nothing."""

from typing import Any

import httpx
import pytest

from domain.workflow_ids import seller_workflow_id
from testing.probes import wait_for
from tests.api.helpers import BN, TOKEN, Api, updates_accepted
from tests.conftest import new_id

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
