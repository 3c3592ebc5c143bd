"""The seller's checklist page over HTTP: its links, its forms' answers, the messages that carry it.

The page in a real browser (forms filled and submitted, axe-core) is tests/test_checklist_page.py.
"""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.workflow_ids import seller_workflow_id
from starter.links import checklist_keys, checklist_path, mint_checklist_token, read_checklist_token
from tests.api.helpers import TO_CARM, Api, api_settings, updates_accepted
from tests.conftest import new_id
from tests.test_return_hold_workflow import ADDRESS

LINK = re.compile(r"https?://\S+/sellers/[^/\s]+/checklist\?token=\S+")


def bare(api: Api) -> httpx.AsyncClient:
    """A browser's view: no bearer token, no redirects followed."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://api.test")


def path_of(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.path}?{parsed.query.decode()}"


def token_of(url: str) -> str:
    return str(httpx.URL(url).params["token"])


async def form(
    http: httpx.AsyncClient, seller: str, token: str, fields: dict[str, str], lang: str | None = None
) -> httpx.Response:
    query = f"?lang={lang}" if lang else ""
    return await http.post(
        f"/sellers/{seller}/checklist/events{query}",
        data={"token": token, "event_id": new_id("e"), **fields},
    )


async def test_checklist_needs_the_sellers_token(api: Api) -> None:
    created = await api.sign_up()
    seller = created["seller_id"]
    other = (await api.sign_up())["seller_id"]
    token = token_of(created["checklist_url"])
    async with bare(api) as http:
        ok = await http.get(f"/sellers/{seller}/checklist", params={"token": token})
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/html")
        assert ok.headers["Referrer-Policy"] == "no-referrer"
        assert "form-action 'self'" in ok.headers["Content-Security-Policy"]
        assert '<html lang="en">' in ok.text and "Give us your Business Number" in ok.text
        # Flip the last hex digit, whatever it is, so the tampered token always differs.
        tampered = token[:-1] + ("1" if token[-1] == "0" else "0")
        for params in [{}, {"token": ""}, {"token": tampered}, {"token": "x" * 64}]:
            r = await http.get(f"/sellers/{seller}/checklist", params=params)
            assert r.status_code == 403, params
            assert "This link does not work" in r.text
            assert "Business Number" not in r.text
        # One seller's token does not open another's page.
        r = await http.get(f"/sellers/{other}/checklist", params={"token": token})
        assert r.status_code == 403
        unknown = new_id("nobody")
        expires = datetime.now(UTC) + timedelta(days=1)
        key = checklist_keys(api_settings(api.stack))[0]
        forged = mint_checklist_token(unknown, epoch=1, nonce="x", expires_at=expires, key=key)
        r = await http.get(f"/sellers/{unknown}/checklist", params={"token": forged})
        assert r.status_code == 404


async def test_the_page_is_in_the_sellers_language_or_the_one_asked_for(api: Api) -> None:
    created = await api.sign_up(language="fr")
    seller, token = created["seller_id"], token_of(created["checklist_url"])
    async with bare(api) as http:
        fr = await http.get(f"/sellers/{seller}/checklist", params={"token": token})
        assert '<html lang="fr">' in fr.text
        assert "Donnez-nous votre numéro d’entreprise" in fr.text
        assert "start-passer-fra.html" in fr.text and "start-passer-eng.html" not in fr.text
        en = await http.get(f"/sellers/{seller}/checklist", params={"token": token, "lang": "en"})
        assert '<html lang="en">' in en.text and "Give us your Business Number" in en.text


async def test_an_expired_link_offers_a_fresh_one_a_few_times_an_hour(api: Api) -> None:
    created = await api.sign_up(language="fr")
    seller = created["seller_id"]
    status = await api.seller(seller)
    key = checklist_keys(api_settings(api.stack))[0]
    old = mint_checklist_token(
        seller,
        epoch=status["link_epoch"],
        nonce=status["link_nonce"],
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
        key=key,
    )
    async with bare(api) as http:
        r = await http.get(f"/sellers/{seller}/checklist", params={"token": old})
        assert r.status_code == 403
        assert "Ce lien est expiré" in r.text
        assert "owner@example.com" not in r.text  # the address on file is never shown
        assert "Donnez-nous" not in r.text
        # The page's own form asks for a fresh link; a second submission of it sends nothing more.
        event_id = re.search(r'name="event_id" value="([0-9a-f]+)"', r.text)
        assert event_id is not None
        body = {"token": old, "event_id": event_id[1]}
        for _ in range(2):
            sent = await http.post(f"/sellers/{seller}/checklist/link", data=body)
            assert sent.status_code == 200, sent.text
            assert "Un nouveau lien est en route" in sent.text
        for _ in range(2):
            sent = await http.post(
                f"/sellers/{seller}/checklist/link", data={"token": old, "event_id": new_id("e")}
            )
            assert sent.status_code == 200
        refused = await http.post(
            f"/sellers/{seller}/checklist/link", data={"token": old, "event_id": new_id("e")}
        )
        assert refused.status_code == 409
        assert "3 nouveaux liens dans la dernière heure" in refused.text

    async def fresh_links() -> list[dict[str, Any]]:
        return api.stack.outbox.notifications("checklist_link", seller_id=seller)

    async with asyncio.timeout(15):
        while len(await fresh_links()) < 3:
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    letters = await fresh_links()
    assert len(letters) == 3
    assert all(n["language"] == "fr" and n["to"] == "owner@example.com" for n in letters)
    link = LINK.search(letters[0]["body"])
    assert link is not None
    async with bare(api) as http:
        assert (await http.get(path_of(link[0]))).status_code == 200


async def test_links_sent_before_an_email_change_or_an_offboarding_stop_working(api: Api) -> None:
    created = await api.sign_up()
    seller, token = created["seller_id"], token_of(created["checklist_url"])
    r = await api.event(seller, {"type": "email_changed", "email": "new-owner@example.com"})
    assert r.status_code == 200, r.text
    async with bare(api) as http:
        old = await http.get(f"/sellers/{seller}/checklist", params={"token": token})
        assert old.status_code == 403 and "This link no longer works" in old.text
        fresh = token_of((await api.seller(seller))["checklist_url"])
        assert (await http.get(f"/sellers/{seller}/checklist", params={"token": fresh})).status_code == 200
        offboarded = {"type": "seller_offboarded", "reason": "left", "party": "operations"}
        await sellers.apply_event(api.client, seller, offboarded)
        gone = await http.get(f"/sellers/{seller}/checklist", params={"token": fresh})
        assert gone.status_code == 403 and "closed" in gone.text


async def test_a_form_answers_303_or_the_page_with_the_problem_beside_it(api: Api) -> None:
    created = await api.sign_up(language="fr")
    seller, token = created["seller_id"], token_of(created["checklist_url"])
    handle = api.client.get_workflow_handle(seller_workflow_id(seller))
    async with bare(api) as http:
        wrong = await form(
            http, seller, token, {"type": "business_number_provided", "business_number": "123456789"}
        )
        assert wrong.status_code == 422
        assert '<html lang="fr">' in wrong.text
        assert (
            "Le chiffre de contrôle (le 9e chiffre) du numéro d’entreprise 123456789 est erroné" in wrong.text
        )
        assert 'value="123456789"' in wrong.text and 'aria-invalid="true"' in wrong.text
        assert (await api.seller(seller))["completed_steps"] == []
        assert await updates_accepted(handle) == 0

        too_early = await form(http, seller, token, {"type": "carm_registered"})
        assert too_early.status_code == 409
        assert "Cette étape vient plus tard" in too_early.text

        fields = {"type": "business_number_provided", "business_number": "123 456 782"}
        body = {"token": token, "event_id": "same-form", **fields}
        for _ in range(2):  # a double submission applies once
            ok = await http.post(f"/sellers/{seller}/checklist/events", data=body)
            assert ok.status_code == 303, ok.text
            assert ok.headers["location"] == checklist_path(seller, token)
        audit = await sellers.seller_audit(api.client, seller)
        assert [e.type for e in audit] == ["business_number_provided"]  # applied once
        assert (await api.seller(seller))["completed_steps"] == ["business_number"]

        doubled = f"token={token}&type=carm_registered&type=rpp_enrolled"
        # Before the link is read, the page speaks the browser's language.
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "fr-CA,fr;q=0.9"}
        r = await http.post(f"/sellers/{seller}/checklist/events", content=doubled, headers=headers)
        assert r.status_code == 422 and "Nous n’avons pas pu lire ce formulaire" in r.text
        r = await http.post(
            f"/sellers/{seller}/checklist/events", content=b"x=" + b"a" * 20_000, headers=headers
        )
        assert r.status_code == 413 and "<html" in r.text

        other_program = await form(
            http, seller, token, {"type": "importer_account_provided", "program_account": "RT0001"}, lang="en"
        )
        assert other_program.status_code == 422 and '<html lang="en">' in other_program.text
        assert "RT0001 is on the RT program" in other_program.text

        switched = await form(http, seller, token, {"type": "language_changed", "language": "en"}, lang="fr")
        assert switched.status_code == 303 and "lang=" not in switched.headers["location"]
        assert (await api.seller(seller))["language"] == "en"
        audit = await sellers.seller_audit(api.client, seller)
        assert all(e.actor == "seller" and e.party == "seller" for e in audit)


async def test_a_parcel_decision_from_the_page(api: Api) -> None:
    created = await api.sign_up()
    seller, token = created["seller_id"], token_of(created["checklist_url"])
    other = (await api.sign_up())["seller_id"]
    mine = (await api.arrive(seller))["shipment_id"]
    theirs = (await api.arrive(other))["shipment_id"]
    async with bare(api) as http:
        url = f"/sellers/{seller}/checklist/parcels"
        r = await http.post(f"{url}/{theirs}/decision", data={"token": token, "action": "dispose"})
        assert r.status_code == 404 and "We cannot find this parcel" in r.text
        r = await http.post(f"{url}/{new_id('p')}/decision", data={"token": token, "action": "dispose"})
        assert r.status_code == 404
        bad = {"token": token, "action": "forward", **ADDRESS, "postal_code": "9823"}
        r = await http.post(f"{url}/{mine}/decision", data=bad)
        assert r.status_code == 422 and "Enter a ZIP code" in r.text
        good = {"token": token, "action": "forward", **ADDRESS}
        r = await http.post(f"{url}/{mine}/decision", data=good)
        assert r.status_code == 303, r.text
        again = await http.post(f"{url}/{mine}/decision", data=good)
        assert again.status_code == 303  # submitted twice: it is going where asked
        r = await http.post(f"{url}/{mine}/decision", data={"token": token, "action": "dispose"})
        assert r.status_code == 409 and "This parcel is no longer held" in r.text
    parcel = await api.parcel(mine)
    assert parcel["state"] == "forwarded"
    audit = await holds.hold_audit(api.client, mine)
    assert [e.actor for e in audit if e.type == "decide"] == ["seller"]


async def test_a_french_sellers_messages_each_carry_a_working_link(api: Api) -> None:
    created = await api.sign_up(language="fr", business_name="Boutique Lune")
    seller = created["seller_id"]
    for event in TO_CARM:
        assert (await api.event(seller, event)).status_code == 200
    await api.arrive(seller)

    def letters() -> list[dict[str, Any]]:
        return api.stack.outbox.notifications(seller_id=seller, audience="seller")

    async with asyncio.timeout(20):
        while {n["template"] for n in letters()} < {"onboarding_next_step", "return_held"}:
            await asyncio.sleep(0.1)
    async with bare(api) as http:
        for letter in letters():
            assert letter["language"] == "fr"
            assert letter["body"].startswith("Bonjour Boutique Lune,")
            assert "Bonjour" in letter["html"] and '<html lang="fr">' in letter["html"]
            found = LINK.search(letter["body"])
            assert found is not None, letter["template"]
            assert found[0] in letter["html"]
            page = await http.get(path_of(found[0]))
            assert page.status_code == 200, letter["template"]
            assert '<html lang="fr">' in page.text
            token = read_checklist_token(seller, token_of(found[0]), checklist_keys(api_settings(api.stack)))
            assert token is not None and token.expires_at > datetime.now(UTC) + timedelta(days=29)
    held = [n for n in letters() if n["template"] == "return_held"]
    assert held[0]["subject"].startswith("Le colis retourné") and "jusqu’au " in held[0]["subject"]
    assert re.search(r"(lundi|mardi|mercredi|jeudi|vendredi) \d+(er)? \w+ 20\d\d", held[0]["subject"])
