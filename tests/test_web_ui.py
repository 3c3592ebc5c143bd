"""What operations see in the Temporal Web UI, in a real browser (Debian's chromium and chromedriver).

The dev server of this module serves the Web UI; a seller's workflow and a held parcel run on it,
and the browser opens their pages as an operator would: the "User Metadata" tab shows the current
details — the stage, who must act, and the last accepted events with who sent them — and the
workflow list answers the README's query for everything waiting on operations. Screenshots go to
``test-artifacts/``. Chromium and chromedriver are installed by ``make test``.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from temporalio.testing import WorkflowEnvironment

from domain.workflow_ids import hold_workflow_id, seller_workflow_id, shipment_id_of
from testing.journeys import BN
from testing.servers import dev_server, free_port
from testing.stack import Stack, make_settings, new_id, running, settle

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.devserver


@pytest.fixture(scope="module")
def ui_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
async def ui_env(ui_port: int) -> AsyncIterator[WorkflowEnvironment]:
    async with dev_server(ui=True, ui_port=ui_port) as env:
        yield env


@pytest.fixture
async def stack(ui_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(ui_env.client, make_settings(tmp_path / "data")) as stack:
        yield stack


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    for needed in (CHROMIUM, CHROMEDRIVER):
        if not needed.exists():
            pytest.fail(f"{needed} is missing: run `make test` (it installs chromium and chromedriver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()


def _text_appears(driver: WebDriver, *texts: str, seconds: float = 40) -> str:
    """The page's visible text once it shows every one of ``texts``."""

    def shown(d: WebDriver) -> str | bool:
        body = _visible_text(d)
        return body if all(t in body for t in texts) else False

    try:
        return str(WebDriverWait(driver, seconds, poll_frequency=0.5).until(shown))
    except TimeoutException:
        _shot(driver, "failed")
        body = _visible_text(driver)
        raise AssertionError(f"the page never showed {texts}; it showed:\n{body}") from None


def _visible_text(driver: WebDriver) -> str:
    """The page's text and its frames' (the UI renders the details' markdown in a sandboxed frame)."""
    parts = [str(driver.find_element(By.TAG_NAME, "body").text)]
    for frame in driver.find_elements(By.TAG_NAME, "iframe"):
        try:
            driver.switch_to.frame(frame)
            parts.append(str(driver.find_element(By.TAG_NAME, "body").text))
        except WebDriverException:
            pass  # a frame that went away while the page re-rendered
        finally:
            driver.switch_to.default_content()
    return "\n".join(parts)


def _open_tab(driver: WebDriver, name: str) -> None:
    def clicked(d: WebDriver) -> bool:
        for element in d.find_elements(By.XPATH, f"//*[self::a or self::button][normalize-space()='{name}']"):
            if element.is_displayed():
                element.click()
                return True
        return False

    try:
        WebDriverWait(driver, 40, poll_frequency=0.5).until(clicked)
    except TimeoutException:
        _shot(driver, "failed")
        raise AssertionError(f"no '{name}' tab; the page showed:\n{_visible_text(driver)}") from None


def _shot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"web-ui-{name}.png"))


async def test_a_sellers_page_shows_its_details_and_who_sent_the_last_events(
    stack: Stack, driver: WebDriver, ui_port: int
) -> None:
    seller = new_id("s")
    handle = await stack.sign_up(seller, business_name="Maple Goods")
    await stack.send(seller, {"type": "business_number_provided", "business_number": BN, "actor": "ops-jo"})
    await settle(handle)
    url = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{seller_workflow_id(seller)}"
    await asyncio.to_thread(driver.get, url)
    await asyncio.to_thread(_open_tab, driver, "User Metadata")
    text = await asyncio.to_thread(
        _text_appears, driver, f"Seller {seller}", "accepted events", "business_number_provided"
    )
    _shot(driver, "seller-details")
    assert "ops-jo" in text  # who sent it
    assert "Waiting on" in text


async def test_the_operations_query_lists_a_parcel_of_an_unknown_seller(
    stack: Stack, driver: WebDriver, ui_port: int
) -> None:
    parcel = await stack.arrive(new_id("nobody"))
    await settle(parcel)
    shipment = shipment_id_of(parcel.id)
    query = "WorkflowType = 'ReturnHold' AND WaitingOn = 'operations'"
    url = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows?query={query}"
    await asyncio.to_thread(driver.get, url)
    await asyncio.to_thread(_text_appears, driver, hold_workflow_id(shipment), seconds=60)
    _shot(driver, "operations-query")
    page = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{hold_workflow_id(shipment)}"
    await asyncio.to_thread(driver.get, page)
    await asyncio.to_thread(_open_tab, driver, "User Metadata")
    await asyncio.to_thread(_text_appears, driver, "No onboarding workflow for this seller")
    _shot(driver, "parcel-details")
