"""Operations through the API: corrections as events, a reassignment, the audit, deliveries given up."""

import asyncio
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from starter.api import create_app
from testing.endpoints import loopback_api
from testing.journeys import FULL_JOURNEY
from testing.stack import make_settings, running
from tests.api.helpers import AUTH, NAMES, TO_CARM, Api, api_settings, at_carm_registration, bearer


async def test_corrections_are_operations_events_and_refused_to_other_roles(api: Api) -> None:
    seller = await at_carm_registration(api)
    correction = {"type": "business_number_corrected", "business_number": "046454286", "reason": "typo"}
    refused = await api.event(seller, correction, role="signup")
    assert refused.status_code == 422 and refused.json()["code"] == "sender_not_allowed"
    r = await api.event(seller, correction, role="operations")
    assert r.status_code == 200, r.text
    assert r.json()["handoffs"] == 2  # already handed to the broker: a corrected handoff
    r = await api.event(seller, {"type": "email_changed", "email": "new@example.com"}, role="operations")
    assert r.status_code == 200, r.text
    audit = await api.http.get(f"/v1/sellers/{seller}/audit", headers=bearer("operations"))
    assert audit.status_code == 200, audit.text
    last = audit.json()[-2:]
    assert [(e["type"], e["party"], e["actor"]) for e in last] == [
        ("business_number_corrected", "operations", NAMES["operations"]),
        ("email_changed", "operations", NAMES["operations"]),
    ]
    assert (await api.http.get(f"/v1/sellers/{seller}/audit", headers=bearer("signup"))).status_code == 403


async def test_an_offboarding_is_refused_while_a_parcel_is_held(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    parcel = await api.arrive(seller)
    async with asyncio.timeout(10):
        while parcel["shipment_id"] not in (await api.seller(seller))["held_shipments"]:
            await asyncio.sleep(0.1)
    r = await api.event(seller, {"type": "seller_offboarded", "reason": "left"}, role="operations")
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "parcels_held" and parcel["shipment_id"] in r.json()["detail"]


async def test_a_parcel_moves_to_its_cleared_seller_and_a_second_arrival_names_the_first(api: Api) -> None:
    wrong = (await api.sign_up())["seller_id"]
    right = (await api.sign_up())["seller_id"]
    for event in FULL_JOURNEY:
        r = (
            await api.event(right, event)
            if event["type"] not in _BROKER
            else await _as_broker(api, right, event)
        )
        assert r.status_code == 200, r.text
    parcel = await api.arrive(wrong)
    shipment = parcel["shipment_id"]
    move = {"seller_id": right, "reason": "scanned under the wrong seller"}
    assert (
        await api.http.post(f"/v1/returns/{shipment}/reassign", json=move, headers=bearer("warehouse"))
    ).status_code == 403
    r = await api.http.post(f"/v1/returns/{shipment}/reassign", json=move, headers=bearer("operations"))
    assert r.status_code == 200, r.text
    assert r.json()["seller_id"] == right
    async with asyncio.timeout(15):
        while (await api.parcel(shipment))["state"] != "released":
            await asyncio.sleep(0.1)
    again = {"shipment_id": shipment, "arrived_at": parcel["arrived_at"]}
    assert (await api.http.post("/v1/returns", json={**again, "seller_id": right})).status_code == 200
    conflict = await api.http.post("/v1/returns", json={**again, "seller_id": wrong})
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["type"].endswith("/conflict") and right in conflict.json()["detail"]
    audit = (await api.http.get(f"/v1/returns/{shipment}/audit", headers=bearer("operations"))).json()
    assert [(e["type"], e["actor"]) for e in audit] == [("reassign", NAMES["operations"])]


_BROKER = {"doa_requested", "poa_approved", "program_access_granted"}


async def _as_broker(api: Api, seller: str, event: dict[str, object]) -> httpx.Response:
    return await api.broker({**event, "seller_id": seller})


async def test_a_delivery_given_up_is_retried_through_the_api(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    with loopback_api() as broker:
        broker.answer = 503
        settings = make_settings(
            tmp_path / "data", broker_channel="http", broker_url=broker.url, delivery_give_up_after_seconds=2
        )
        async with running(dev_env.client, settings) as stack:
            app = create_app(api_settings(stack), client=dev_env.client)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api.test", headers=AUTH
            ) as http:
                api = Api(http, stack, app)
                seller = (await api.sign_up())["seller_id"]
                for event in TO_CARM:
                    assert (await api.event(seller, event)).status_code == 200
                async with asyncio.timeout(30):
                    while not (status := await api.seller(seller))["failed_deliveries"]:
                        await asyncio.sleep(0.2)
                key = status["failed_deliveries"][0]["idempotency_key"]
                assert "operations" in status["waiting_on"]
                broker.answer = None
                url = f"/v1/sellers/{seller}/deliveries/{key}/retry"
                assert (await http.post(url, headers=bearer("signup"))).status_code == 403
                r = await http.post(url, json={"reason": "the broker is back"}, headers=bearer("operations"))
                assert r.status_code == 200, r.text
                assert r.json()["failed_deliveries"] == []
                async with asyncio.timeout(15):
                    while key not in broker.seen_keys:
                        await asyncio.sleep(0.1)
                unknown = await http.post(
                    f"/v1/sellers/{seller}/deliveries/nope/abandon", headers=bearer("operations")
                )
                assert unknown.status_code == 409 and unknown.json()["code"] == "no_failed_delivery"
