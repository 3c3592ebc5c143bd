"""A message's HTML alternative shows what it was given as text: its only links are the service's.

The HTML is the body read as Markdown, so without care a business name, a broker's reason or a
remote server's error could carry a link whose words are not its address, an image fetched from
anywhere, or emphasis (i18n/markdown.py).
"""

import re
from html import escape, unescape
from typing import Any

import pytest

from activities.adapters.rendering import TemplateRenderer
from tests.test_docs import WORKFLOW_TEMPLATES

GIVEN = (
    "[Pay here](https://evil.example/pay) ![logo](https://evil.example/pixel.gif) **Urgent** "
    "<b>bold</b> _new_ `code` &amp; # 1.\n\n> quote\n\n    indented"
)
URL = "https://returns.example/sellers/s1/checklist?token=t&lang=fr"
LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>')
FREE_TEXT = {"delivery_failed": "error", "return_released": "reason", "return_disposed": "reason"}
"""Parameters a template shows as they are, besides the business name."""


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("template", sorted(WORKFLOW_TEMPLATES))
def test_values_are_text_and_the_only_links_are_the_services_addresses(template: str, language: str) -> None:
    params: dict[str, Any] = {"seller": "s1", "business_name": GIVEN, "shipment": "p1"}
    params.update(WORKFLOW_TEMPLATES[template])
    if template in FREE_TEXT:
        params[FREE_TEXT[template]] = GIVEN
    message = TemplateRenderer().render(template, params, language=language, checklist_url=URL)

    page = message.html
    assert "<img" not in page and "<strong>" not in page and "<em>" not in page and "<code>" not in page
    assert "<blockquote>" not in page and "<h1>" not in page and "<pre>" not in page
    links = LINK.findall(page)
    assert all(href == words for href, words in links), "a link shows other words than its address"
    assert all("evil.example" not in href for href, _ in links)
    if GIVEN in message.body:  # the text part shows the value as given; the HTML as text, on one line
        assert " ".join(GIVEN.split()) in unescape(re.sub(r"<[^>]+>", "", page))
    if URL in message.body:
        assert (escape(URL), escape(URL)) in links
    # Every address the service wrote into the text is a link in the HTML.
    written = set(re.findall(r"https://[^\s<>]+", message.body.replace(GIVEN, "")))
    assert written == {href.replace("&amp;", "&") for href, _ in links}
