"""``/v1/sellers``: sign-up, a seller's status, the events a seller sends."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.events import SENDERS
from domain.workflow_ids import seller_workflow_id
from starter.links import checklist_keys, read_checklist_token
from tests.api.helpers import TO_CARM, Api, api_settings, updates_accepted
from tests.conftest import new_id
from tests.test_return_hold_workflow import ADDRESS


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
    url = httpx.URL(body["checklist_url"])
    assert url.path == f"/sellers/{seller}/checklist"
    token = read_checklist_token(seller, url.params["token"], checklist_keys(api_settings(api.stack)))
    assert token is not None and token.epoch == body["link_epoch"] == 1
    assert token.nonce == body["link_nonce"] != ""
    assert timedelta(days=30) < token.expires_at - datetime.now(UTC) <= timedelta(days=30, hours=1)
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
    assert r.json() == {
        "type": "/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": f"no seller '{unknown}': they have not signed up",
        "code": "seller_not_found",
        "params": {"seller_id": unknown},
    }
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
