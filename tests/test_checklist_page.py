"""The seller's checklist page in a real browser: Debian's chromium, driven by Debian's chromedriver.

A seller opens the link of the e-mail the service sent them, and does every step from the page's
forms — a mistyped business number read in their language first — in English and in French;
axe-core checks each view for accessibility. One browser and one app server for the module, on
the session's dev server; screenshots (phone-sized) are kept under ``test-artifacts/``.
Chromium, chromedriver and axe-core are installed by ``make test``.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from temporalio.testing import WorkflowEnvironment

import gateway.onboarding as sellers
from starter.api import create_app
from starter.links import checklist_keys, mint_checklist_token
from testing.journeys import ADDRESS
from testing.stack import Stack, make_settings, new_id, running
from tests.api.helpers import SECRET, TOKEN, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
LINK = re.compile(r"https?://\S+/sellers/[^/\s]+/checklist\?token=\S+")
T = TypeVar("T")

# What the seller reads, per language (the rest of the tests go by the page's data attributes).
WORDS = {
    "fr": {
        "title": "Votre liste de vérification de la GCRA",
        "check_digit": "Le chiffre de contrôle (le 9e chiffre) du numéro d’entreprise 123456789 est erroné",
        "other_program": "RT0001 est un compte du programme RT",
        "zip": "Saisissez un code ZIP",
        "cleared": "Vos retours des États-Unis peuvent être dédouanés",
        "opted_out": "Vous avez renoncé à la GCRA",
        "days_left": "jours ouvrables restants",
    },
    "en": {
        "title": "Your CARM checklist",
        "check_digit": "The business number 123456789 has a wrong check digit (the 9th digit)",
        "other_program": "RT0001 is on the RT program",
        "zip": "Enter a ZIP code",
        "cleared": "You're cleared for U.S. returns",
        "opted_out": "You opted out of CARM",
        "days_left": "business days left",
    },
}


@dataclass
class Page:
    """What the browser shows: the visible text, the step rows, the cards, the parcels, the forms."""

    html: str
    text: str = ""
    lang: str | None = None
    steps: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    parcels: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
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
        self.page, self._hidden, self._problem = page, 0, False
        self.chunks: list[str] = []
        self._problem_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.page.lang = a.get("lang")
        if tag in ("style", "script", "title"):
            self._hidden += 1
            self.page.scripts += tag == "script"
        for name, found in (
            ("data-state", self.page.steps),
            ("data-action", self.page.actions),
            ("data-shipment", self.page.parcels),
            ("data-form", self.page.forms),
        ):
            if a.get(name):
                found.append(str(a[name]))
        if a.get("data-view"):
            self.page.view = a["data-view"]
        if "problem" in (a.get("class") or "").split():
            self._problem, self._problem_text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._hidden -= 1
        if tag == "p" and self._problem:
            self.page.problems.append(" ".join("".join(self._problem_text).split()))
            self._problem = False

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)
        if self._problem:
            self._problem_text.append(data)


class Browser:
    """One chromium session. Selenium blocks, and the app serves from this test's event loop:
    every browser action runs in a thread so the server can answer it."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    async def _run(self, action: Callable[[], T]) -> T:
        return await asyncio.to_thread(action)

    def _now(self) -> Page:
        return Page.parse(self.driver.page_source)

    async def open(self, url: str) -> Page:
        def go() -> Page:
            self.driver.get(url)
            return self._now()

        return await self._run(go)

    async def reload(self) -> Page:
        return await self.open(self.driver.current_url)

    async def submit(self, form: str, **values: str) -> Page:
        """Fill the form's fields (a radio button by ``name=value``), send it, wait for the answer."""

        def send() -> Page:
            d = self.driver
            node = d.find_element(By.CSS_SELECTOR, f'form[data-form="{form}"]')
            details = node.find_elements(By.XPATH, "ancestor::details")
            if details and details[0].get_attribute("open") is None:
                details[0].find_element(By.TAG_NAME, "summary").click()
            for name, value in values.items():
                radios = node.find_elements(By.CSS_SELECTOR, f'input[type=radio][name="{name}"]')
                if radios:
                    next(r for r in radios if r.get_attribute("value") == value).click()
                    continue
                box = node.find_element(By.CSS_SELECTOR, f'[name="{name}"]')
                if box.tag_name == "select":
                    box.find_element(By.CSS_SELECTOR, f'option[value="{value}"]').click()
                else:
                    box.clear()
                    box.send_keys(value)
            old = d.find_element(By.TAG_NAME, "html")
            node.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            WebDriverWait(d, 30).until(lambda _: _left(old))
            WebDriverWait(d, 30).until(lambda w: w.execute_script("return document.readyState") == "complete")
            return self._now()

        return await self._run(send)

    async def until(self, check: Callable[[Page], bool], seconds: float = 20) -> Page:
        """Reload until the page shows what ``check`` wants (a parcel released a moment later)."""
        async with asyncio.timeout(seconds):
            while not check(page := await self.reload()):
                await asyncio.sleep(0.3)
        return page

    async def axe(self) -> list[tuple[str, list[Any]]]:
        """axe-core's WCAG 2.1 A/AA violations on the page, and contrast it could not decide."""
        script = AXE.read_text()

        def run() -> list[tuple[str, list[Any]]]:
            self.driver.execute_script(script)
            result: dict[str, Any] = self.driver.execute_async_script(
                """
                const done = arguments[arguments.length - 1];
                document.querySelectorAll('details').forEach(d => d.open = true);
                const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
                axe.run(document, {runOnly: {type: 'tag', values: tags},
                                   resultTypes: ['violations', 'incomplete']})
                   .then(r => done(r)).catch(e => done({error: String(e)}));
                """
            )
            assert "error" not in result, result
            undecided = [i for i in result["incomplete"] if i["id"] == "color-contrast"]
            return _described([*result["violations"], *undecided])

        return await self._run(run)

    async def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        await self._run(lambda: self.driver.save_screenshot(str(ARTIFACTS / name)))


def _left(old: WebElement) -> bool:
    """The browser has left the page ``old`` belongs to (the form's answer is loading or loaded)."""
    try:
        old.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException:  # "node does not belong to the document": mid-navigation
        return True
    return False


def _described(found: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
    """Each rule with its nodes and, for contrast, the colours and ratio axe measured."""
    out = []
    for v in found:
        nodes = []
        for n in v["nodes"]:
            data = ((n.get("any") or [{}])[0].get("data")) or {}
            nodes.append((n["target"], data.get("fgColor"), data.get("bgColor"), data.get("contrastRatio")))
        out.append((v["id"], nodes))
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    for needed in (CHROMIUM, CHROMEDRIVER, AXE):
        if not needed.exists():
            pytest.fail(
                f"{needed} is missing: run `make test` (it installs chromium, chromedriver, axe-core)"
            )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=390,844",
    ):
        options.add_argument(flag)
    # An explicit driver: Selenium Manager downloads nothing.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    driver.set_page_load_timeout(30)
    try:
        yield Browser(driver)
    finally:
        driver.quit()


@dataclass
class Site:
    base_url: str
    stack: Stack

    async def sign_up(self, language: str, **fields: Any) -> str:
        seller = new_id("s")
        await self.stack.sign_up(seller, language=language, **fields)
        return seller

    async def link_in_mail(self, seller: str) -> str:
        """The checklist link of the first message the seller got, as they would click it."""
        async with asyncio.timeout(20):
            while not (mail := self.stack.outbox.notifications(seller_id=seller, audience="seller")):
                await asyncio.sleep(0.1)
        found = LINK.search(mail[0]["body"])
        assert found is not None, mail[0]["body"]
        url = httpx.URL(found[0])
        return f"{self.base_url}{url.path}?{url.query.decode()}"

    async def outcome(self, shipment_id: str) -> str:
        result = await self.stack.client.get_workflow_handle(f"return-hold-{shipment_id}").result()
        return str(result["outcome"])

    async def broker(self, seller: str, *kinds: str) -> None:
        for kind in kinds:
            await sellers.apply_event(
                self.stack.client, seller, {"type": kind, "party": "broker", "actor": "broker"}
            )


@pytest.fixture(scope="module")
async def site(dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    settings = make_settings(
        tmp_path_factory.mktemp("page") / "data", api_token=TOKEN, broker_webhook_secret=SECRET
    )
    async with running(dev_env.client, settings) as stack:
        settings = settings.model_copy(update={"broker_legal_name": "Douanes Exemple inc."})
        app = create_app(settings, client=dev_env.client)
        async with serving(app) as base_url:
            stack.settings = settings.model_copy(update={"public_base_url": base_url})
            yield Site(base_url, stack)


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_a_seller_does_every_step_from_the_page_and_the_parcel_is_released(
    site: Site, browser: Browser, lang: str
) -> None:
    words = WORDS[lang]
    seller = await site.sign_up(lang, business_name="Boutique Lune")
    parcel = (await site.stack.arrive(seller)).id.removeprefix("return-hold-")
    page = await browser.open(await site.link_in_mail(seller))
    assert page.lang == lang and words["title"] in page.text and page.scripts == 0
    assert page.view == "onboarding" and page.actions == ["provide_business_number"]
    assert "Douanes Exemple inc." not in page.text  # named on the DOA step only
    await browser.screenshot(f"checklist-{lang}-start.png")

    # A business number with a wrong check digit: the reason, beside the field, in the seller's language.
    page = await browser.submit("business_number_provided", business_number="123456789")
    assert page.problems == [next(p for p in page.problems if words["check_digit"] in p)]
    assert page.actions == ["provide_business_number"] and page.steps[0] == "you"
    assert (found := await browser.axe()) == [], ("the page with a problem named", found)
    await browser.screenshot(f"checklist-{lang}-wrong-number.png")

    page = await browser.submit("business_number_provided", business_number="123 456 782")
    assert page.actions == ["provide_importer_account"] and not page.problems
    page = await browser.submit("importer_account_provided", program_account="RT0001")
    assert words["other_program"] in " ".join(page.problems)
    page = await browser.submit("importer_account_provided", program_account="RM0001")
    assert page.actions == ["register_in_carm"]
    page = await browser.submit("affinity_figures_requested")
    assert page.actions == ["none", "await_affinity_figures"]  # nothing for the seller: the broker acts
    await sellers.apply_event(
        site.stack.client,
        seller,
        {"type": "affinity_figures_provided", "statement_month": "2025-01", "statement_balance": "12.00"},
    )
    assert "carm_registered" in (await browser.reload()).forms  # the figures came: the seller registers
    page = await browser.submit("carm_registered")
    assert page.actions == ["enrol_in_rpp", "submit_poa", "await_doa_request"], page.actions
    assert (found := await browser.axe()) == [], ("side by side steps", found)
    page = await browser.submit("rpp_enrolled")
    page = await browser.submit("poa_submitted")
    await site.broker(seller, "doa_requested")
    page = await browser.reload()
    assert "accept_doa" in page.actions and "Douanes Exemple inc." in page.text
    page = await browser.submit("doa_accepted")
    assert page.steps.count("done") == 6 and parcel in page.parcels
    assert words["days_left"] in page.text
    await site.broker(seller, "poa_approved", "program_access_granted")

    page = await browser.until(lambda p: p.view == "cleared" and not p.parcels)
    assert words["cleared"] in page.text and page.steps == ["done"] * 8
    assert (found := await browser.axe()) == [], ("the cleared view", found)
    await browser.screenshot(f"checklist-{lang}-cleared.png")
    assert (await site.outcome(parcel)) == "released"

    # After clearance: a login confirmed, a deactivated profile, signed in again.
    page = await browser.submit("carm_login_confirmed")
    page = await browser.submit("carm_deactivated")
    assert page.view == "onboarding" and page.actions == ["sign_in_to_carm_again"]
    page = await browser.submit("carm_registered")
    assert page.view == "cleared"


@pytest.mark.parametrize("lang", ["en", "fr"])
async def test_a_seller_decides_parcels_opts_out_and_back_in_and_changes_language(
    site: Site, browser: Browser, lang: str
) -> None:
    words = WORDS[lang]
    seller = await site.sign_up(lang)
    forwarded, disposed = [
        (await site.stack.arrive(seller)).id.removeprefix("return-hold-") for _ in range(2)
    ]
    page = await browser.open(await site.link_in_mail(seller))
    page = await browser.until(lambda p: {forwarded, disposed} <= set(p.parcels))
    assert (found := await browser.axe()) == [], ("held parcels with their forms", found)
    await browser.screenshot(f"checklist-{lang}-parcels.png")

    page = await browser.submit(f"parcel:{forwarded}:forward", **{**ADDRESS, "postal_code": "9823"})
    assert words["zip"] in " ".join(page.problems)
    page = await browser.submit(f"parcel:{forwarded}:forward", **ADDRESS)
    page = await browser.submit(f"parcel:{disposed}:dispose")
    page = await browser.until(lambda p: not p.parcels)
    assert [await site.outcome(p) for p in (forwarded, disposed)] == ["forwarded", "disposed"]

    page = await browser.submit("no_business_number", return_method="own_us_address", **ADDRESS)
    assert page.view == "opted_out" and words["opted_out"] in page.text
    assert (found := await browser.axe()) == [], ("the opted-out view", found)
    page = await browser.submit("opted_in")
    assert page.view == "onboarding" and page.actions == ["provide_business_number"]
    page = await browser.submit("no_business_number", return_method="dispose")
    assert page.view == "opted_out"
    page = await browser.submit("opted_in")

    other = "en" if lang == "fr" else "fr"
    page = await browser.submit("language_changed", language=other)
    assert page.lang == other and WORDS[other]["title"] in page.text
    status = await sellers.seller_status(site.stack.client, seller)
    assert status.language == other


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_the_expired_link_page_is_accessible_and_offers_a_fresh_link(
    site: Site, browser: Browser, lang: str
) -> None:
    seller = await site.sign_up(lang)
    status = await sellers.seller_status(site.stack.client, seller)
    expired = mint_checklist_token(
        seller,
        epoch=status.link_epoch,
        nonce=status.link_nonce,
        expires_at=datetime.now(UTC) - timedelta(days=1),
        key=checklist_keys(site.stack.settings)[0],
    )
    page = await browser.open(f"{site.base_url}/sellers/{seller}/checklist?token={expired}")
    assert page.lang == lang and page.forms == ["checklist_link_requested"]
    assert (found := await browser.axe()) == [], ("the expired link's page", found)
    page = await browser.submit("checklist_link_requested")
    assert page.lang == lang and "link_sent" in page.html
