"""``GET /healthz``, and the API without Temporal: 503 until it connects."""

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.api import create_app
from tests.api.helpers import AUTH, Api, api_settings, free_port
from tests.conftest import Stack


async def test_healthz_is_200_with_temporal_reachable(api: Api) -> None:
    r = await api.http.get("/healthz", headers={"Authorization": ""})
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "temporal": "reachable"}


async def test_healthz_is_503_when_temporal_is_not_reachable(dev_stack: Stack) -> None:
    port = free_port()  # nothing listens there
    unreachable = await Client.connect(f"127.0.0.1:{port}", lazy=True, data_converter=pydantic_data_converter)
    app = create_app(api_settings(dev_stack), client=unreachable)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as http:
        r = await http.get("/healthz")
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"].startswith("Temporal is not reachable")
        assert r.json()["type"].endswith("/unavailable") and "Retry-After" in r.headers


async def test_without_temporal_at_startup_the_api_answers_503_until_it_connects(dev_stack: Stack) -> None:
    settings = api_settings(dev_stack).model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=AUTH) as http:
            assert (await http.get("/healthz")).status_code == 503
            r = await http.get("/v1/sellers/s-1")
            assert r.status_code == 503 and "Temporal is not reachable" in r.json()["detail"]
            r = await http.post("/v1/sellers", json={"seller_id": "s-1", "email": "a@example.com"})
            assert r.status_code == 503
