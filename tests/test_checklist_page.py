"""The seller's checklist page in a real headless browser (Debian's chromium), phone-sized.

The app is served by uvicorn on a loopback port and backed by the real dev server and worker;
chromium loads the page as a phone would (390×844), dumps the DOM it rendered and takes a
screenshot, kept under ``test-artifacts/`` for a person to look at. Chromium is installed by
``make test`` (scripts/install_system_deps.sh); without it these tests fail.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from starter.api import create_app
from starter.links import checklist_key, mint_checklist_token
from tests.api.helpers import AUTH, TO_CARM, api_settings, serving, webhook_headers
from tests.conftest import Stack, new_id
from tests.test_return_hold_workflow import ADDRESS

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PHONE = "390,844"


def chromium_args(user_data_dir: Path, window: str = PHONE) -> list[str]:
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={user_data_dir}",
        f"--window-size={window}",
    ]


async def run_chromium(args: list[str]) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


@dataclass
class Browser:
    tmp: Path

    async def dom(self, url: str) -> "Page":
        out = await run_chromium([*chromium_args(self.tmp / "profile-dom"), "--dump-dom", url])
        return Page.parse(out.decode())

    async def screenshot(self, url: str, name: str, window: str = PHONE) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        path.unlink(missing_ok=True)
        await run_chromium([*chromium_args(self.tmp / "profile-shot", window), f"--screenshot={path}", url])
        assert path.exists() and path.stat().st_size > 5_000, f"no screenshot at {path}"
        return path


@dataclass
class Page:
    """What the browser rendered: the visible text, the step rows, the cards and the parcels."""

    html: str
    text: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    parcels: list[str] = field(default_factory=list)
    scripts: int = 0
    view: str | None = None

    @classmethod
    def parse(cls, html: str) -> "Page":
        page = cls(html)
        parser = _Collector(page)
        parser.feed(html)
        page.text = " ".join(" ".join(parser.chunks).split())
        return page


class _Collector(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page
        self.chunks: list[str] = []
        self._hidden = 0
        self._step: str | None = None
        self._step_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("style", "script", "title"):
            self._hidden += 1
            self.page.scripts += tag == "script"
        if tag == "li" and a.get("data-state"):
            self._step, self._step_text = a["data-state"], []
        if a.get("data-action"):
            self.page.actions.append(str(a["data-action"]))
        if a.get("data-shipment"):
            self.page.parcels.append(str(a["data-shipment"]))
        if a.get("data-view"):
            self.page.view = a["data-view"]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._hidden -= 1
        if tag == "li" and self._step is not None:
            self.page.steps.append((self._step, " ".join(" ".join(self._step_text).split())))
            self._step = None

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self.chunks.append(data)
        if self._step is not None:
            self._step_text.append(data)


@pytest.fixture
def browser(tmp_path: Path) -> Browser:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the checklist page is tested in Debian's chromium. "
            "Install it with `make system-deps` (as root or with sudo; `make test` does it first)."
        )
    return Browser(tmp_path)


@dataclass
class Site:
    base_url: str
    http: httpx.AsyncClient
    stack: Stack
    key: bytes

    def page_url(self, seller_id: str) -> str:
        token = mint_checklist_token(seller_id, self.key)
        return f"{self.base_url}/sellers/{seller_id}/checklist?token={token}"

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.http.post(path, json=body)
        assert r.status_code in (200, 201), r.text
        return dict(r.json())

    async def sign_up(self, **fields: Any) -> str:
        seller = new_id("s")
        await self.post("/v1/sellers", {"seller_id": seller, "email": "owner@example.com", **fields})
        self.stack.started.append(self.stack.client.get_workflow_handle(f"seller-onboarding-{seller}"))
        return seller

    async def arrive(self, seller: str) -> str:
        shipment = new_id("p")
        body = {"shipment_id": shipment, "seller_id": seller, "arrived_at": datetime.now(UTC).isoformat()}
        status = await self.post("/v1/returns", body)
        self.stack.started.append(self.stack.client.get_workflow_handle(f"return-hold-{shipment}"))
        async with asyncio.timeout(15):  # the answer has the deadline unless the worker is slow
            while status["disposal_due_on"] is None:
                await asyncio.sleep(0.1)
                status = dict((await self.http.get(f"/v1/returns/{shipment}")).json())
        return shipment

    async def broker(self, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        r = await self.http.post("/v1/broker/events", content=raw, headers=webhook_headers(raw))
        assert r.status_code == 200, r.text

    async def held_on_page(self, seller: str, parcels: list[str]) -> None:
        """Wait until the seller's workflow has been told of the parcels (a signal away)."""
        async with asyncio.timeout(15):
            while True:
                status = await self.http.get(f"/v1/sellers/{seller}")
                if set(parcels) <= set(status.json()["held_shipments"]):
                    return
                await asyncio.sleep(0.1)


@pytest.fixture
async def site(dev_stack: Stack) -> AsyncIterator[Site]:
    settings = api_settings(dev_stack)
    app = create_app(settings, client=dev_stack.client)
    async with serving(app) as base_url, httpx.AsyncClient(base_url=base_url, headers=AUTH) as http:
        yield Site(base_url, http, dev_stack, checklist_key(settings))


async def test_onboarding_seller_sees_steps_next_actions_and_parcel_countdowns(
    site: Site, browser: Browser
) -> None:
    seller = await site.sign_up(business_name="Maple & Pine <Goods>")
    for event in [*TO_CARM, {"type": "poa_submitted"}]:
        await site.post(f"/v1/sellers/{seller}/events", event)
    parcels = [await site.arrive(seller) for _ in range(2)]
    await site.post(f"/v1/returns/{parcels[1]}/extension", {"business_days": 3, "reason": "seller asked"})
    await site.held_on_page(seller, parcels)
    url = site.page_url(seller)

    page = await browser.dom(url)
    assert page.scripts == 0
    assert page.view == "onboarding"
    assert "Your CARM checklist" in page.text
    assert "Your U.S. returns are on hold until every step is done." in page.text
    assert "4 of 8 steps done" in page.text
    assert [state for state, _ in page.steps] == [
        "done",  # business number
        "done",  # RM account
        "done",  # CARM registration
        "you",  # RPP
        "broker",  # DOA: the broker must request it first
        "done",  # POA submitted
        "broker",  # POA review
        "later",  # program access
    ]
    assert page.steps[3] == ("you", "4 Release Prior to Payment (RPP) Your turn")
    assert page.steps[7] == ("later", "8 Program access for our broker Not yet")
    # What to do next, in plain words, with the CBSA link.
    assert page.actions == ["enrol_in_rpp", "await_doa_request", "await_poa_review"]
    assert "Enrol in Release Prior to Payment (RPP)" in page.text
    assert "post your financial security" in page.text
    assert 'href="https://www.cbsa-asfc.gc.ca/publications/dm-md/d17/d17-1-8-eng.html"' in page.html
    assert "Broker reviewing the Power of Attorney" in page.text
    assert "up to 30 business days" in page.text
    # Each held parcel with its business-day countdown, the nearest deadline first.
    assert page.parcels == parcels
    assert f"Parcel {parcels[0]}" in page.text
    assert "15 business days left" in page.text
    assert "18 business days left" in page.text
    assert "Disposed of after" in page.text

    shot = await browser.screenshot(url, "checklist-onboarding.png")
    await browser.screenshot(url, "checklist-onboarding-full.png", window="390,2700")
    assert shot.exists()


async def test_the_page_follows_the_seller_through_a_denied_poa(site: Site, browser: Browser) -> None:
    seller = await site.sign_up()
    for event in [*TO_CARM, {"type": "poa_submitted"}]:
        await site.post(f"/v1/sellers/{seller}/events", event)
    await site.broker({"seller_id": seller, "type": "poa_denied", "reason": "importer_account_missing"})
    page = await browser.dom(site.page_url(seller))
    assert page.actions[0] == "provide_importer_account"
    assert [s for s, _ in page.steps] == ["done", "you", "done", "you", "broker", "you", "later", "later"]
    assert "Add your importer/exporter (RM) program account" in page.text
    assert "resubmit_poa" in page.actions
    assert "The POA was denied because the RM importer/exporter program account is missing." in page.text


async def test_cleared_and_opted_out_sellers_get_their_own_view(site: Site, browser: Browser) -> None:
    cleared = await site.sign_up()
    every_step = [
        *TO_CARM,
        {"type": "rpp_enrolled"},
        {"type": "poa_submitted"},
        {"type": "doa_accepted"},
    ]
    for event in every_step:
        await site.post(f"/v1/sellers/{cleared}/events", event)
    for broker_event in ("poa_approved", "program_access_granted"):
        await site.broker({"seller_id": cleared, "type": broker_event})
    page = await browser.dom(site.page_url(cleared))
    assert page.view == "cleared"
    assert "You're cleared for U.S. returns" in page.text
    assert "All 8 steps are done." in page.text
    assert "180 days without a login" in page.text
    assert [s for s, _ in page.steps] == ["done"] * 8
    assert page.actions == [] and page.parcels == []
    await browser.screenshot(site.page_url(cleared), "checklist-cleared.png")

    opted = await site.sign_up()
    await site.post(
        f"/v1/sellers/{opted}/events",
        {"type": "no_business_number", "return_method": "own_us_address", "us_address": ADDRESS},
    )
    page = await browser.dom(site.page_url(opted))
    assert page.view == "opted_out"
    assert "You opted out of CARM" in page.text
    assert "Your U.S. returns go to your own U.S. address." in page.text
    assert "opt back in at any time" in page.text
    assert page.steps == []
    await browser.screenshot(site.page_url(opted), "checklist-opted-out.png")


async def test_a_bad_link_shows_a_plain_refusal(site: Site, browser: Browser) -> None:
    seller = await site.sign_up()
    page = await browser.dom(f"{site.base_url}/sellers/{seller}/checklist?token=forged")
    assert "This link does not work" in page.text
    assert page.steps == [] and page.actions == []
    with contextlib.suppress(Exception):
        await browser.screenshot(f"{site.base_url}/sellers/{seller}/checklist", "checklist-bad-link.png")
