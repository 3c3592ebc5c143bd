"""``GET /v1/sellers`` and ``GET /v1/returns``: filtered lists from visibility, a page at a time."""

from datetime import date, timedelta
from typing import Any

from testing.probes import wait_for
from tests.api.helpers import TO_CARM, Api, bearer


async def all_pages(api: Api, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, following ``next_page_token``; and how many pages it took."""
    items: list[dict[str, Any]] = []
    token, pages = None, 0
    while True:
        r = await api.http.get(path, params={**params, **({"page_token": token} if token else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_page_token"}
        items += body["items"]
        pages += 1
        token = body["next_page_token"]
        if token is None:
            return items, pages


async def test_sellers_are_listed_by_stage_waiting_on_stalled_and_cleared(api: Api) -> None:
    fresh = (await api.sign_up())["seller_id"]
    further = (await api.sign_up())["seller_id"]
    for event in TO_CARM:
        assert (await api.event(further, event)).status_code == 200
    legacy = (await api.sign_up(legacy_poa=True))["seller_id"]

    async def listed() -> bool:
        items, _ = await all_pages(api, "/v1/sellers", stage="business_number", page_size=200)
        return fresh in {i["seller_id"] for i in items}

    await wait_for(listed)
    by_stage, _ = await all_pages(api, "/v1/sellers", stage="rpp_enrollment", page_size=200)
    ids = {i["seller_id"] for i in by_stage}
    assert further in ids and fresh not in ids
    [item] = [i for i in by_stage if i["seller_id"] == further]
    assert item == {
        "seller_id": further,
        "stage": "rpp_enrollment",
        "waiting_on": ["broker", "seller"],
        "stalled": False,
        "cleared_for_returns": False,
    }
    cleared, _ = await all_pages(api, "/v1/sellers", cleared="true", page_size=200)
    assert legacy in {i["seller_id"] for i in cleared} and fresh not in {i["seller_id"] for i in cleared}
    on_broker, _ = await all_pages(api, "/v1/sellers", waiting_on="broker", stalled="false", page_size=200)
    assert further in {i["seller_id"] for i in on_broker} and fresh not in {i["seller_id"] for i in on_broker}


async def test_pages_hold_at_most_page_size_and_chain_by_token(api: Api) -> None:
    mine = {(await api.sign_up())["seller_id"] for _ in range(3)}

    async def listed() -> bool:
        items, _ = await all_pages(api, "/v1/sellers", stage="business_number", page_size=200)
        return mine <= {i["seller_id"] for i in items}

    await wait_for(listed)
    one_by_one, pages = await all_pages(api, "/v1/sellers", stage="business_number", page_size=1)
    assert mine <= {i["seller_id"] for i in one_by_one}
    assert pages >= len(one_by_one) >= 3
    r = await api.http.get("/v1/sellers", params={"page_token": "bm90IGEgdG9rZW4"})
    assert r.status_code == 422 and r.json()["code"] == "page_token_invalid"
    # A token is for the filters it was made with.
    first = (await api.http.get("/v1/sellers", params={"stage": "business_number", "page_size": 1})).json()
    token = first["next_page_token"]
    assert token is not None
    r = await api.http.get("/v1/sellers", params={"stage": "cleared", "page_token": token})
    assert r.status_code == 422 and r.json()["code"] == "page_token_invalid"
    r = await api.http.get("/v1/sellers", params={"stage": "business_number", "page_token": token})
    assert r.status_code == 200
    for bad in ({"page_size": 0}, {"page_size": 201}, {"stage": "nowhere"}, {"waiting_on": "nobody"}):
        r = await api.http.get("/v1/sellers", params=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["field"] == next(iter(bad))


async def test_parcels_are_listed_by_seller_state_and_due_date(api: Api) -> None:
    seller = (await api.sign_up())["seller_id"]
    other = (await api.sign_up(legacy_poa=True))["seller_id"]
    held = [await api.arrive(seller) for _ in range(2)]
    released = await api.arrive(other)
    due = date.fromisoformat(held[0]["disposal_due_on"])

    async def listed() -> bool:
        items, _ = await all_pages(api, "/v1/returns", seller_id=seller)
        return len(items) == 2

    await wait_for(listed)
    items, _ = await all_pages(api, "/v1/returns", seller_id=seller, state="held")
    assert {i["shipment_id"] for i in items} == {p["shipment_id"] for p in held}
    assert {i["disposal_due_on"] for i in items} == {due.isoformat()}
    assert all(i["seller_id"] == seller and i["state"] == "held" for i in items)
    on_the_day, _ = await all_pages(api, "/v1/returns", seller_id=seller, due_before=due.isoformat())
    assert len(on_the_day) == 2
    day_before = (due - timedelta(days=1)).isoformat()
    assert (await all_pages(api, "/v1/returns", seller_id=seller, due_before=day_before))[0] == []

    async def released_listed() -> bool:
        items, _ = await all_pages(api, "/v1/returns", seller_id=other, state="released")
        return [i["shipment_id"] for i in items] == [released["shipment_id"]]

    await wait_for(released_listed, 20)  # closed by then: a final state lists closed parcels too
    r = await api.http.get("/v1/returns", params={"due_before": "soon"})
    assert r.status_code == 422 and r.json()["field"] == "due_before"
    r = await api.http.get("/v1/returns", params={"state": "lost"})
    assert r.status_code == 422 and r.json()["field"] == "state"


async def test_lists_are_for_operations(api: Api) -> None:
    for role in ("signup", "warehouse"):
        for path in ("/v1/sellers", "/v1/returns"):
            assert (await api.http.get(path, headers=bearer(role))).status_code == 403
    assert (await api.http.get("/v1/returns", headers=bearer("operations"))).status_code == 200
