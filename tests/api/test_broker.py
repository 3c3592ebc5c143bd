"""``POST /v1/broker/events``: the broker's signed webhook, its redeliveries, and what it refuses."""

import asyncio
import json
from typing import Any

import pytest

from domain.workflow_ids import seller_workflow_id
from starter.webhooks import sign
from tests.api.helpers import BN, SECRET, TO_CARM, Api, at_carm_registration, updates_accepted
from tests.conftest import new_id


async def test_broker_webhook_applies_signed_events(api: Api) -> None:
    seller = await at_carm_registration(api)
    r = await api.broker({"seller_id": seller, "type": "doa_requested", "event_id": "evt-1"})
    assert r.status_code == 200, r.text
    assert r.json()["next_action"]["code"] in ("enrol_in_rpp", "accept_doa")
    status = await api.seller(seller)
    assert "accept_doa" in [a["code"] for a in status["actions"]]


async def test_broker_redelivery_with_the_same_event_id_is_200_and_changes_nothing(api: Api) -> None:
    seller = await at_carm_registration(api)
    body = {"seller_id": seller, "type": "doa_requested", "event_id": "broker-42"}
    first = await api.broker(body)
    assert first.status_code == 200, first.text
    await asyncio.sleep(1)  # let the first delivery's messages go out
    status = await api.seller(seller)
    notices = api.stack.outbox.notifications(seller_id=seller)
    for _ in range(2):
        again = await api.broker(body)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    await asyncio.sleep(1)
    assert await api.seller(seller) == status
    assert api.stack.outbox.notifications(seller_id=seller) == notices
    # Without the event id the same event is a new one, which no longer fits.
    r = await api.broker({"seller_id": seller, "type": "doa_requested"})
    assert r.status_code == 409 and "already requested" in r.json()["detail"]


@pytest.mark.parametrize("case", ["missing", "wrong", "wrong_scheme", "altered", "other_secret", "empty"])
async def test_broker_webhook_refuses_bad_signatures_and_changes_nothing(api: Api, case: str) -> None:
    seller = await at_carm_registration(api)
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    accepted = await updates_accepted(handle)
    before = await api.seller(seller)
    body = json.dumps({"seller_id": seller, "type": "doa_requested"}).encode()
    if case == "missing":
        r = await api.broker(body, signed=False)
    elif case == "wrong":
        r = await api.broker(body, signature="sha256=" + "0" * 64)
    elif case == "wrong_scheme":
        r = await api.broker(body, signature=sign(body, SECRET).replace("sha256=", "sha1="))
    elif case == "altered":
        altered = json.dumps({"seller_id": seller, "type": "doa_requested", "event_id": "x"}).encode()
        r = await api.broker(altered, signature=sign(body, SECRET))
    elif case == "other_secret":
        r = await api.broker(body, signature=sign(body, "another-secret"))
    else:
        r = await api.broker(body, signature="")
    assert r.status_code == 401, r.text
    assert "X-Broker-Signature" in r.json()["detail"]
    assert await api.seller(seller) == before
    assert await updates_accepted(handle) == accepted


async def test_a_reserialised_body_does_not_match_its_signature(api: Api) -> None:
    seller = await at_carm_registration(api)
    body = {"seller_id": seller, "type": "doa_requested"}
    compact = json.dumps(body, separators=(",", ":")).encode()
    r = await api.broker(json.dumps(body, indent=1).encode(), signature=sign(compact, SECRET))
    assert r.status_code == 401
    assert (await api.broker(compact, signature=sign(compact, SECRET))).status_code == 200


@pytest.mark.parametrize(
    ("event", "code", "problem"),
    [
        ({"type": "carm_registered"}, 422, "the broker may not send 'carm_registered' (sent by the seller)"),
        ({"type": "business_number_provided", "business_number": BN}, 422, "broker may not send"),
        ({"type": "poa_denied", "reason": "bored"}, 422, "reason"),
        ({"type": "doa_requested", "note": "hi"}, 422, "note: unknown field"),
        ({"type": "poa_approved"}, 409, "poa_approval cannot be completed before poa_submission"),
        (
            {"type": "affinity_figures_provided", "statement_month": "2025-01", "statement_balance": "1.00"},
            409,
            "no affinity",
        ),
        ({"type": "poa_revoked"}, 409, "does not apply"),
    ],
)
async def test_bad_broker_events_are_rejected_and_change_nothing(
    api: Api, event: dict[str, Any], code: int, problem: str
) -> None:
    seller = await at_carm_registration(api)
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    accepted = await updates_accepted(handle)
    before = await api.seller(seller)
    r = await api.broker({"seller_id": seller, **event})
    assert r.status_code == code, r.text
    assert problem in r.json()["detail"]
    assert await api.seller(seller) == before
    assert await updates_accepted(handle) == accepted


async def test_broker_events_need_a_valid_seller_id_and_an_existing_seller(api: Api) -> None:
    r = await api.broker({"type": "doa_requested"})
    assert r.status_code == 422 and "seller_id: required field is missing" in r.json()["detail"]
    r = await api.broker({"seller_id": "bad id!", "type": "doa_requested"})
    assert r.status_code == 422 and "seller_id" in r.json()["detail"]
    r = await api.broker(b"[1, 2]")
    assert r.status_code == 422 and "JSON object" in r.json()["detail"]
    unknown = new_id("nobody")
    r = await api.broker({"seller_id": unknown, "type": "doa_requested"})
    assert r.status_code == 404 and unknown in r.json()["detail"]


async def test_broker_webhook_does_not_take_the_bearer_token_instead_of_a_signature(api: Api) -> None:
    seller = await at_carm_registration(api)
    r = await api.http.post("/v1/broker/events", json={"seller_id": seller, "type": "doa_requested"})
    assert r.status_code == 401


async def test_affinity_figures_go_from_the_broker_to_the_seller(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    for event in TO_CARM[:2]:
        assert (await api.event(seller, event)).status_code == 200
    r = await api.event(seller, {"type": "affinity_figures_requested"})
    assert r.status_code == 200, r.text
    assert r.json()["next_action"]["code"] == "await_affinity_figures"
    assert r.json()["waiting_on"] == ["broker"]
    assert (await api.broker({"seller_id": seller, "type": "affinity_figures_requested"})).status_code == 422
    figures = {"transaction_number": "12345678901234", "transaction_total": "123.45"}
    r = await api.broker({"seller_id": seller, "type": "affinity_figures_provided", **figures})
    assert r.status_code == 200, r.text
    assert r.json()["next_action"]["code"] == "register_in_carm"

    async def sent() -> list[dict[str, Any]]:
        return api.stack.outbox.notifications("affinity_figures", seller_id=seller)

    async with asyncio.timeout(15):
        while not await sent():
            await asyncio.sleep(0.1)
    [notice] = await sent()
    assert "12345678901234" in notice["body"]
    assert [d["kind"] for d in api.stack.outbox.read("broker")].count("affinity_request") == 1
