"""What the workflows send a seller, end to end through the worker: language, address and link.

A seller's language and address change while a parcel is held: the parcel's own messages follow,
the old address is told of the change without a link that would open the page, and links minted
after the change carry the new epoch.
"""

import asyncio
import re
from typing import Any

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.payloads import ExtendHold
from starter.links import checklist_keys, read_checklist_token
from tests.conftest import Stack, new_id

LINK = re.compile(r"https?://\S+/checklist\?token=(\S+)")


async def mail(stack: Stack, template: str, **match: Any) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while not (found := stack.outbox.notifications(template, **match)):
            await asyncio.sleep(0.1)
    return found[-1]


async def test_messages_follow_the_sellers_language_and_address(dev_stack: Stack) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller, email="old@example.com")
    parcel = (await dev_stack.arrive(seller)).id.removeprefix("return-hold-")
    held = await mail(dev_stack, "return_held", seller_id=seller)
    assert held["language"] == "en" and held["to"] == "old@example.com"

    await sellers.apply_event(dev_stack.client, seller, {"type": "language_changed", "language": "fr"})
    await sellers.apply_event(dev_stack.client, seller, {"type": "email_changed", "email": "new@example.com"})
    told = await mail(dev_stack, "email_changed", seller_id=seller)
    assert told["to"] == "old@example.com" and told["language"] == "fr"
    assert "new@example.com" in told["body"] and LINK.search(told["body"]) is None

    await asyncio.sleep(1)  # the parcel hears of the change (a signal away)
    await holds.extend_hold(dev_stack.client, parcel, ExtendHold(business_days=2, reason="asked"))
    extended = await mail(dev_stack, "return_hold_extended", seller_id=seller)
    assert extended["to"] == "new@example.com" and extended["language"] == "fr"
    assert extended["subject"].startswith("Plus de temps pour le colis retourné")
    found = LINK.search(extended["body"])
    assert found is not None
    token = read_checklist_token(seller, found[1], checklist_keys(dev_stack.settings))
    assert token is not None and token.epoch == 2
