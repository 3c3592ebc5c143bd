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


async def test_a_legacy_poa_seller_is_cleared_again_without_a_new_poa(dev_stack: Stack) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller, legacy_poa=True, language="fr")
    await sellers.apply_event(
        dev_stack.client, seller, {"type": "registration_requested_by_broker", "party": "broker"}
    )
    asked = await mail(dev_stack, "registration_requested", seller_id=seller)
    assert "Votre procuration approuvée reste valide" in asked["body"]
    assert "start-passer-fra.html" in asked["body"]
    status = await sellers.seller_status(dev_stack.client, seller)
    assert not status.cleared_for_returns
    assert "submit_poa" not in [a.code for a in status.actions]
    steps = [
        {"type": "business_number_provided", "business_number": "123456782"},
        {"type": "importer_account_provided", "program_account": "RM0001"},
        {"type": "carm_registered"},
        {"type": "rpp_enrolled"},
        {"type": "doa_requested", "party": "broker"},
        {"type": "doa_accepted"},
        {"type": "program_access_granted", "party": "broker"},
    ]
    status = await dev_stack.send(seller, *steps)
    assert status.cleared_for_returns and status.stage == "cleared"
    assert [e.type for e in await sellers.seller_audit(dev_stack.client, seller)].count("poa_submitted") == 0
    await mail(dev_stack, "seller_cleared", seller_id=seller)
