"""The seller's checklist page over HTTP: its token and its headers.

The page in a real browser is tests/test_checklist_page.py.
"""

import httpx

from starter.links import checklist_key, mint_checklist_token
from tests.api.helpers import Api, api_settings
from tests.conftest import new_id


async def test_checklist_needs_the_sellers_token(api: Api) -> None:
    created = await api.sign_up()
    seller = created["seller_id"]
    other = (await api.sign_up())["seller_id"]
    url = httpx.URL(created["checklist_url"])
    token = url.params["token"]
    bare = httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://api.test")
    async with bare:
        ok = await bare.get(f"/sellers/{seller}/checklist", params={"token": token})
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/html")
        assert ok.headers["Referrer-Policy"] == "no-referrer"
        assert "Give us your Business Number" in ok.text
        for params in [{}, {"token": ""}, {"token": token[:-1] + "0"}, {"token": "x" * 64}]:
            r = await bare.get(f"/sellers/{seller}/checklist", params=params)
            assert r.status_code == 403, params
            assert "This link does not work" in r.text
            assert "Business Number" not in r.text
        # One seller's token does not open another's page.
        r = await bare.get(f"/sellers/{other}/checklist", params={"token": token})
        assert r.status_code == 403
        unknown = new_id("nobody")
        key = checklist_key(api_settings(api.stack))
        r = await bare.get(
            f"/sellers/{unknown}/checklist", params={"token": mint_checklist_token(unknown, key)}
        )
        assert r.status_code == 404
