"""Every CBSA and CRA page the service sends a seller to, in English and in French, in one place.

Each link says which page it was checked against and when (see also docs/sources.md). CBSA and
CRA publish every page in both official languages; a seller is sent to the page in their own
language. Where no copy of the French page could be read, the French URL follows the CBSA's fixed
pattern (``…-eng.html`` ↔ ``…-fra.html``) and ``fr_checked`` is False: those are to be checked by
hand before release (docs/sources.md lists them). canada.ca translates its URL slugs, so no
French canada.ca URL is guessed: only checked ones are used.

URLs are never messages of the translation catalogue: a translator must not be able to break one.
"""

from dataclasses import dataclass

from domain.identifiers import Language
from domain.translatable import N_


@dataclass(frozen=True)
class Link:
    title: str
    """What the link is called on the page and in messages (translated where shown)."""
    en: str
    fr: str
    checked: str
    """The page read to check it, and the date of the copy read."""
    fr_checked: bool
    """False: the French URL follows the CBSA's -eng/-fra pattern, no French copy was read."""

    def url(self, language: Language | str) -> str:
        return self.fr if language == "fr" else self.en


CBSA = "https://www.cbsa-asfc.gc.ca"

LINKS: dict[str, Link] = {
    # Replaces prep-eng.html, which no longer exists.
    "carm_get_started": Link(
        title=N_("Get started with CARM (CBSA)"),
        en=f"{CBSA}/services/carm-gcra/start-passer-eng.html",
        fr=f"{CBSA}/services/carm-gcra/start-passer-fra.html",
        checked="CBSA “Get started with CARM”, copy of spring 2025 (banner of May 20, 2025)",
        fr_checked=False,
    ),
    # The portal is an application behind GCKey: its root, not a deep path (those have moved).
    "carm_portal": Link(
        title=N_("CARM Client Portal"),
        en="https://ccp-pcc.cbsa-asfc.cloud-nuage.canada.ca/en/",
        fr="https://ccp-pcc.cbsa-asfc.cloud-nuage.canada.ca/fr/",
        checked="the /en/ root in use since 2024; /fr/auth/login published by a broker's French FAQ",
        fr_checked=False,
    ),
    "carm_home": Link(
        title=N_("CARM at the CBSA"),
        en=f"{CBSA}/services/carm-gcra/menu-eng.html",
        fr=f"{CBSA}/services/carm-gcra/menu-fra.html",
        checked="CBSA “CARM: Assess and pay duties and taxes on imported commercial goods”, "
        "copy of winter 2024–25",
        fr_checked=False,
    ),
    "carm_helpdesk": Link(
        title=N_("CARM Client Support Helpdesk (CBSA)"),
        en=f"{CBSA}/services/carm-gcra/support-eng.html",
        fr=f"{CBSA}/services/carm-gcra/support-fra.html",
        checked="CBSA “CARM client service and helpdesk”, copies of October 2024 to 2025 "
        "(1-800-461-9999, Monday to Friday 7 am to 7 pm ET)",
        fr_checked=False,
    ),
    "customs_notice_24_18": Link(
        title=N_("Customs Notice 24-18 (CBSA)"),
        en=f"{CBSA}/publications/cn-ad/cn24-18-eng.html",
        fr=f"{CBSA}/publications/cn-ad/cn24-18-fra.html",
        checked="CBSA Customs Notice 24-18 (RM accounts registered by the CBSA, no longer the CRA, "
        "from May 13, 2024); the date read in brokers' copies of the notice",
        fr_checked=False,
    ),
    # Both languages read: the French page's banner states the May 13, 2024 change verbatim.
    "cra_business_number": Link(
        title=N_("When you need a business number (CRA)"),
        en="https://www.canada.ca/en/revenue-agency/services/tax/businesses/topics/registering-your-business/"
        "you-need-a-business-number-a-program-account.html",
        fr="https://www.canada.ca/fr/agence-revenu/services/impot/entreprises/sujets/inscrire-votre-entreprise/"
        "avez-vous-besoin-numero-entreprise-compte-programme.html",
        checked="CRA “When you need a business number or CRA program accounts” (English text through a "
        "mirror copy) and its French page (stored copy), 2024–25",
        fr_checked=True,
    ),
    "rpp_memo": Link(
        title=N_("Release Prior to Payment, memorandum D17-1-8 (CBSA)"),
        en=f"{CBSA}/publications/dm-md/d17/d17-1-8-eng.html",
        fr=f"{CBSA}/publications/dm-md/d17/d17-1-8-fra.html",
        checked="listed on CBSA's D17 memoranda index (copy of 2025); the memo itself was not read",
        fr_checked=False,
    ),
    "doa_video": Link(
        title=N_("How to accept a third party's request in the portal (CBSA video)"),
        en=f"{CBSA}/multimedia/carm-gcra/portal-portail-r1-4-eng.html",
        fr=f"{CBSA}/multimedia/carm-gcra/portal-portail-r1-4-fra.html",
        checked="CBSA “How to set up a delegation of authority for a third party service provider in "
        "the CARM Client Portal”, 2021-11-09 (“Manage pending third party requests”, Approve)",
        fr_checked=False,
    ),
}

CHECKED_ON = "2026-12-01"
"""When the links above were last checked (against the stored copies named in each)."""


def link(key: str, language: Language | str = "en") -> str:
    return LINKS[key].url(language)
