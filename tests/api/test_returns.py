"""``/v1/returns``: arrivals, a parcel's status, the seller's decision, an operations extension."""

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from domain.workflow_ids import hold_workflow_id
from tests.api.helpers import Api
from tests.conftest import new_id
from tests.test_return_hold_workflow import ADDRESS


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
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": f"no returned parcel '{unknown}' has been recorded",
        "code": "parcel_not_found",
        "params": {"shipment_id": unknown},
    }


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
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
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
