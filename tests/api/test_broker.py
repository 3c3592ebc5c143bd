"""``POST /v1/broker/events``: the broker's Standard Webhooks, their replays, and what they refuse."""

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.workflow_ids import seller_workflow_id
from starter import webhooks
from starter.api import create_app
from tests.api.helpers import (
    BN,
    SECRET,
    TO_CARM,
    Api,
    api_settings,
    at_carm_registration,
    updates_accepted,
    webhook_headers,
)
from tests.conftest import new_id

PROBLEM = "application/problem+json"


async def test_broker_webhook_applies_signed_events_as_the_broker(api: Api) -> None:
    seller = await at_carm_registration(api)
    r = await api.broker({"seller_id": seller, "type": "doa_requested", "actor": "someone else"})
    assert r.status_code == 200, r.text
    assert r.json()["next_action"]["code"] in ("enrol_in_rpp", "accept_doa")
    status = await api.seller(seller)
    assert "accept_doa" in [a["code"] for a in status["actions"]]
    audit = await api.client.get_workflow_handle(seller_workflow_id(seller)).query("audit")
    assert audit[-1]["type"] == "doa_requested"
    assert (audit[-1]["actor"], audit[-1]["party"]) == ("broker", "broker")
    assert audit[-1]["event_id"].startswith("msg_")  # the webhook-id


async def test_a_redelivery_with_the_same_webhook_id_is_200_and_changes_nothing(api: Api) -> None:
    seller = await at_carm_registration(api)
    body = {"seller_id": seller, "type": "doa_requested"}
    first = await api.broker(body, webhook_id="msg_broker_42")
    assert first.status_code == 200, first.text
    await asyncio.sleep(1)  # let the first delivery's messages go out
    status = await api.seller(seller)
    notices = api.stack.outbox.notifications(seller_id=seller)
    accepted = await updates_accepted(api.client.get_workflow_handle(seller_workflow_id(seller)))
    # The broker retries later, re-signing with a fresh timestamp; with or without event_id.
    for again_body in (body, {**body, "event_id": "msg_broker_42"}):
        again = await api.broker(again_body, webhook_id="msg_broker_42", at=datetime.now(UTC))
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    await asyncio.sleep(1)
    assert await api.seller(seller) == status
    assert api.stack.outbox.notifications(seller_id=seller) == notices
    assert await updates_accepted(api.client.get_workflow_handle(seller_workflow_id(seller))) == accepted
    # Under a new id the same event is a new one, which no longer fits.
    r = await api.broker(body, webhook_id="msg_broker_43")
    assert r.status_code == 409 and "already requested" in r.json()["detail"]
    assert r.json()["type"].endswith("/not-allowed-now")


async def test_a_captured_body_re_signed_under_a_new_id_is_refused_and_changes_nothing(api: Api) -> None:
    seller = await at_carm_registration(api)
    captured = json.dumps({"seller_id": seller, "type": "doa_requested", "event_id": "msg_1"}).encode()
    assert (await api.broker(captured, headers=webhook_headers(captured, "msg_1"))).status_code == 200
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    before, accepted = await api.seller(seller), await updates_accepted(handle)
    replay = await api.broker(captured, headers=webhook_headers(captured, "msg_2"))
    assert replay.status_code == 422, replay.text
    problem = replay.json()
    assert problem["code"] == "event_id_mismatch" and problem["field"] == "event_id"
    assert problem["type"].endswith("/invalid-input")
    assert await api.seller(seller) == before
    assert await updates_accepted(handle) == accepted


async def test_an_old_or_future_timestamp_is_401_and_changes_nothing(api: Api) -> None:
    seller = await at_carm_registration(api)
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    before, accepted = await api.seller(seller), await updates_accepted(handle)
    raw = json.dumps({"seller_id": seller, "type": "doa_requested"}).encode()
    captured_yesterday = webhook_headers(raw, "msg_old", at=datetime.now(UTC) - timedelta(days=1))
    old = await api.broker(raw, headers=captured_yesterday)
    assert old.status_code == 401, old.text
    assert old.headers["content-type"] == PROBLEM
    assert old.json()["code"] == "webhook_timestamp_too_old"
    future = await api.broker(raw, headers=webhook_headers(raw, at=datetime.now(UTC) + timedelta(minutes=6)))
    assert future.status_code == 401 and future.json()["code"] == "webhook_timestamp_too_new"
    assert await api.seller(seller) == before
    assert await updates_accepted(handle) == accepted
    # Within the five minutes of tolerance: accepted.
    recent = await api.broker(raw, headers=webhook_headers(raw, at=datetime.now(UTC) - timedelta(minutes=4)))
    assert recent.status_code == 200, recent.text
    assert await updates_accepted(handle) == accepted + 1


def _bad_headers(case: str, raw: bytes, seller: str) -> dict[str, str]:
    good = webhook_headers(raw)
    if case == "missing":
        return {"Content-Type": "application/json"}
    if case == "old_scheme":  # the HMAC header this webhook used to take
        return {"Content-Type": "application/json", "X-Broker-Signature": "sha256=" + "0" * 64}
    if case == "wrong":
        return {**good, "webhook-signature": "v1," + base64.b64encode(b"0" * 32).decode()}
    if case == "garbage":
        return {**good, "webhook-signature": "garbage"}
    if case == "bad_base64":
        return {**good, "webhook-signature": "v1,abc"}
    if case == "altered":
        altered = json.dumps({"seller_id": seller, "type": "doa_requested", "event_id": "x"}).encode()
        return {**webhook_headers(altered), "webhook-id": good["webhook-id"]}
    if case == "other_secret":
        other = "whsec_" + base64.b64encode(b"another secret, thirty-two bytes").decode()
        return webhook_headers(raw, secrets=[other])
    if case == "bad_timestamp":
        return {**good, "webhook-timestamp": "yesterday"}
    return {**good, "webhook-signature": ""}


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "old_scheme",
        "wrong",
        "garbage",
        "bad_base64",
        "altered",
        "other_secret",
        "bad_timestamp",
        "empty",
    ],
)
async def test_broker_webhook_refuses_bad_signatures_and_changes_nothing(api: Api, case: str) -> None:
    seller = await at_carm_registration(api)
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    accepted = await updates_accepted(handle)
    before = await api.seller(seller)
    raw = json.dumps({"seller_id": seller, "type": "doa_requested"}).encode()
    r = await api.broker(raw, headers=_bad_headers(case, raw, seller))
    assert r.status_code == 401, r.text
    problem = r.json()
    assert problem["type"].endswith("/unauthorized") and problem["code"].startswith("webhook_")
    assert await api.seller(seller) == before
    assert await updates_accepted(handle) == accepted


async def test_a_reserialised_body_does_not_match_its_signature(api: Api) -> None:
    seller = await at_carm_registration(api)
    body = {"seller_id": seller, "type": "doa_requested"}
    compact = json.dumps(body, separators=(",", ":")).encode()
    r = await api.broker(json.dumps(body, indent=1).encode(), headers=webhook_headers(compact))
    assert r.status_code == 401
    assert (await api.broker(compact, headers=webhook_headers(compact))).status_code == 200


async def test_during_a_rotation_every_listed_secret_verifies(api: Api) -> None:
    new = "whsec_" + base64.b64encode(b"the new broker secret, 32 bytes!").decode()
    rotated = api_settings(api.stack).model_copy(update={"broker_webhook_secret": f"{new},{SECRET}"})
    app = create_app(rotated, client=api.client)
    seller = await at_carm_registration(api)
    raw = json.dumps({"seller_id": seller, "type": "doa_requested"}).encode()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as http:
        for secrets in ([SECRET], [new], [new, SECRET]):
            headers = webhook_headers(raw, "msg_rotated", secrets=secrets)
            r = await http.post("/v1/broker/events", content=raw, headers=headers)
            assert r.status_code == 200, (secrets, r.text)
        stranger = webhook_headers(raw, "msg_rotated", secrets=[SECRET.replace("d", "e")])
        assert (await http.post("/v1/broker/events", content=raw, headers=stranger)).status_code == 401


def test_secrets_must_be_standard_webhooks_secrets() -> None:
    assert len(webhooks.secrets_from(f"{SECRET}, {SECRET}")) == 2
    for bad, problem in [
        ("test-broker-webhook-secret", "does not start with whsec_"),
        ("whsec_***", "not base64"),
        ("whsec_c2hvcnQ=", "at least 24"),
    ]:
        with pytest.raises(webhooks.SecretError, match=problem):
            webhooks.secrets_from(f"{SECRET},{bad}")


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
    assert r.json()["field"] == "seller_id"
    r = await api.broker({"seller_id": "bad id!", "type": "doa_requested"})
    assert r.status_code == 422 and "seller_id" in r.json()["detail"]
    r = await api.broker(b"[1, 2]")
    assert r.status_code == 422 and "JSON object" in r.json()["detail"]
    unknown = new_id("nobody")
    r = await api.broker({"seller_id": unknown, "type": "doa_requested"})
    assert r.status_code == 404 and unknown in r.json()["detail"]
    assert r.json()["code"] == "seller_not_found" and r.json()["params"] == {"seller_id": unknown}


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
