"""Who may call what: a bearer token with a role the endpoint serves; a refused request changes nothing."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from config.settings import Settings
from domain.workflow_ids import seller_workflow_id
from starter.api import create_app
from testing.probes import wait_for
from tests.api.helpers import (
    API_TOKENS,
    BN,
    NAMES,
    ROLE_TOKENS,
    SECRET,
    TOKEN,
    Api,
    bearer,
    updates_accepted,
)
from tests.conftest import new_id

ARRIVAL = {"shipment_id": "p-x", "seller_id": "s-x", "arrived_at": "2026-01-05T10:00:00Z"}
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("POST", "/v1/sellers", {"seller_id": "s-x", "email": "a@example.com"}, {"signup"}),
    ("GET", "/v1/sellers", None, set()),
    ("GET", "/v1/sellers/s-x", None, {"signup"}),
    ("POST", "/v1/sellers/s-x/events", {"type": "carm_registered"}, {"signup"}),
    ("POST", "/v1/returns", ARRIVAL, {"warehouse"}),
    ("GET", "/v1/returns", None, set()),
    ("GET", "/v1/returns/p-x", None, {"warehouse"}),
    ("POST", "/v1/returns/p-x/decision", {"action": "dispose"}, {"signup"}),
    ("POST", "/v1/returns/p-x/extension", {"business_days": 2, "reason": "broker asked"}, set()),
]
"""Every ``/v1`` endpoint behind a bearer token, and the roles besides ``operations`` it serves."""


@pytest.fixture(scope="module")
def offline() -> FastAPI:
    """The app without Temporal: credentials are checked before Temporal is, so it answers them."""
    return create_app(
        Settings(api_token=TOKEN, api_tokens=SecretStr(API_TOKENS), broker_webhook_secret=SECRET)
    )


async def _as(app: FastAPI, authorization: str | None, method: str, path: str, body: Any) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=headers) as bare:
        return await bare.request(method, path, json=body)


@pytest.mark.parametrize(("method", "path", "body", "roles"), ENDPOINTS)
async def test_v1_endpoints_need_a_bearer_token(
    offline: FastAPI, method: str, path: str, body: dict[str, Any] | None, roles: set[str]
) -> None:
    for authorization in [
        None,
        f"Bearer {TOKEN}x",
        "Bearer ",
        f"Basic {TOKEN}",
        TOKEN,
        f"Bearer {TOKEN[:-1]}",
    ]:
        r = await _as(offline, authorization, method, path, body)
        assert r.status_code == 401, (authorization, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/unauthorized") and "bearer token" in r.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body", "roles"), ENDPOINTS)
async def test_a_token_outside_its_role_is_403(
    offline: FastAPI, method: str, path: str, body: dict[str, Any] | None, roles: set[str]
) -> None:
    for role, token in ROLE_TOKENS.items():
        r = await _as(offline, f"Bearer {token}", method, path, body)
        if role == "operations" or role in roles:
            assert r.status_code not in (401, 403), (role, r.text)
        else:
            assert r.status_code == 403, (role, r.text)
            problem = r.json()
            assert problem["type"].endswith("/forbidden") and problem["code"] == "role_not_allowed"
            assert NAMES[role] in problem["detail"]


async def test_a_warehouse_token_cannot_sign_a_seller_up(api: Api) -> None:
    seller = new_id("s")
    r = await api.http.post(
        "/v1/sellers", json={"seller_id": seller, "email": "a@example.com"}, headers=bearer("warehouse")
    )
    assert r.status_code == 403, r.text
    assert r.json()["params"] == {"token": "dock", "roles": ["operations", "signup"]}
    assert (await api.http.get(f"/v1/sellers/{seller}")).status_code == 404


async def test_events_are_recorded_as_sent_by_the_tokens_name_and_role(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    given_actor = {
        "type": "business_number_provided",
        "business_number": BN,
        "actor": "forged",
        "party": "broker",
    }
    assert (await api.event(seller, given_actor, role="signup")).status_code == 200
    email = {"type": "email_changed", "email": "new@example.com"}
    assert (await api.event(seller, email, role="signup")).status_code == 200  # the seller's own
    # An operations token sends operations' events as well as the seller's; a signup token does not.
    correction = {"type": "business_number_corrected", "business_number": "046454286", "reason": "typo"}
    assert (await api.event(seller, correction, role="signup")).status_code == 422
    assert (await api.event(seller, correction, role="operations")).status_code == 200, "operations corrects"
    audit = await api.client.get_workflow_handle(seller_workflow_id(seller)).query("audit")
    sent = [(e["type"], e["actor"], e["party"]) for e in audit]
    assert sent[-3:] == [
        ("business_number_provided", "shop", "seller"),
        ("email_changed", "shop", "seller"),
        ("business_number_corrected", "ops-desk", "operations"),
    ]


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
    attempts = [
        ("/v1/sellers", {"seller_id": new_seller, "email": "a@example.com"}, "warehouse"),
        (
            f"/v1/sellers/{seller}/events",
            {"type": "business_number_provided", "business_number": BN},
            "warehouse",
        ),
        (
            "/v1/returns",
            {"shipment_id": new_parcel, "seller_id": seller, "arrived_at": "2026-01-05T10:00:00Z"},
            "signup",
        ),
        (f"/v1/returns/{parcel}/decision", {"action": "dispose"}, "warehouse"),
        (f"/v1/returns/{parcel}/extension", {"business_days": 5, "reason": "because"}, "signup"),
    ]
    for path, body, role in attempts:
        assert (
            await api.http.post(path, json=body, headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        assert (await api.http.post(path, json=body, headers=bearer(role))).status_code == 403
    assert (await api.http.get(f"/v1/sellers/{new_seller}")).status_code == 404
    assert (await api.http.get(f"/v1/returns/{new_parcel}")).status_code == 404
    assert await api.seller(seller) == seller_before
    after = await api.parcel(parcel)
    assert after["state"] == "held" and after["disposal_due_on"] == parcel_before["disposal_due_on"]
    assert after["extensions"] == []
    assert await updates_accepted(handle) == accepted
