"""The words for each ``next_action`` code: who acts, what to do, and where CBSA/CRA explain it.

Workflows only ever produce codes; the command line, the messages, the Web UI details and the
seller's page all render them from this one catalogue, so the wording can change without a
workflow change (and without a patch). The strings are English and marked with :func:`N_` for the
translation catalogue (``locale/``): whoever shows them to a seller passes them through gettext
in the seller's language. Where each fact comes from is in docs/sources.md.

Placeholders, filled where the words are shown: ``%(broker)s`` (``BROKER_LEGAL_NAME``, or "our
customs broker") and ``%(days)s`` (``CARM_INACTIVITY_DAYS``).
"""

from dataclasses import dataclass, field
from typing import Any

from domain.links import LINKS
from domain.steps import Party, Step
from domain.translatable import N_

POA_INSTRUCTIONS = "poa_instructions"
"""The company's own POA instructions (``POA_INSTRUCTIONS_URL``): a link key that is not CBSA's."""

HELPDESK_PHONE = "1-800-461-9999"
"""CARM Client Support Helpdesk, toll-free from Canada and the U.S. (CBSA "CARM client service and
helpdesk", docs/sources.md)."""


@dataclass(frozen=True)
class Guidance:
    party: Party | None
    title: str
    instructions: str
    links: tuple[str, ...] = field(default=())
    """Keys of :data:`domain.links.LINKS` (or :data:`POA_INSTRUCTIONS`), the most useful first."""

    @property
    def link(self) -> str | None:
        """The first CBSA/CRA page, in English (the command line and the Web UI)."""
        for key in self.links:
            if key in LINKS:
                return LINKS[key].en
        return None


_SIGN_IN_AGAIN = N_(
    "Your CARM Client Portal user profile may have been deactivated. Your business's registration is "
    "not affected: you do not need to register again. Sign in to the portal again and, if you cannot, "
    "contact the CARM Client Support Helpdesk (1-800-461-9999, or its online contact form). Then "
    "confirm on your checklist that you can sign in."
)

CATALOGUE: dict[str, Guidance] = {
    # Source: CBSA "Get started with CARM" (most resident businesses get their BN9 while
    # registering in the portal; trusts, non-residents and some others from the CRA first).
    "provide_business_number": Guidance(
        Party.seller,
        N_("Give us your Business Number"),
        N_(
            "Enter your 9-digit Business Number (BN) on your checklist. No BN yet? Most businesses "
            "resident in Canada get one while registering the business in the CARM Client Portal. "
            "Trusts, non-resident businesses and some other entities must first get it from the "
            "Canada Revenue Agency (CRA). Or have your U.S. returns sent to your own U.S. address, "
            "or disposed of."
        ),
        ("carm_get_started", "cra_business_number"),
    ),
    # Source: Customs Notice 24-18 and the CRA page's banner (no RM accounts from the CRA since
    # May 13, 2024); "Get started with CARM" (enrol for a commercial program in the portal).
    "provide_importer_account": Guidance(
        Party.seller,
        N_("Add your import-export program account (RM)"),
        N_(
            "Enter the import-export program account (RM) attached to your Business Number, for "
            "example RM0001. No RM account? Since May 13, 2024 the CRA no longer registers them: "
            "enrol for a commercial program when you register your business in the CARM Client "
            "Portal. Another program account (RT, RP, RC) will not do."
        ),
        ("carm_get_started", "customs_notice_24_18"),
    ),
    # The program and importer types are the parcel company's help page's; the business account
    # manager is "Get started with CARM"'s; the verification questions are CSCB's.
    "register_in_carm": Guidance(
        Party.seller,
        N_("Register your business in the CARM Client Portal"),
        N_(
            "Sign in to the CARM Client Portal, choose “Register my business”, Program Type "
            "“Importer” and Importer Type “Commercial”, then confirm your registration on your "
            "checklist. The first person to link their profile to the business becomes its business "
            "account manager. If the portal asks about your account history (a Statement of Account, "
            "a payment or a transaction) and you do not have the figures, ask us on your checklist: "
            "our customs broker can supply them."
        ),
        ("carm_get_started", "carm_portal"),
    ),
    # Source: CSCB on user-profile deactivation (the profile, not the business's registration).
    "sign_in_to_carm_again": Guidance(
        Party.seller,
        N_("Sign in to the CARM Client Portal again"),
        _SIGN_IN_AGAIN,
        ("carm_portal", "carm_helpdesk"),
    ),
    "await_affinity_figures": Guidance(
        Party.broker,
        N_("Our broker is getting your Statement of Account figures"),
        N_(
            "You asked for figures to answer the CARM Client Portal's verification questions. Our "
            "customs broker is getting them from your Statement of Account; we will e-mail them to you."
        ),
    ),
    # Source: the portal's menu path from brokers' 2025 guides, matching the parcel company's
    # "Sub-Programs tab"; financial security required since May 20, 2025 (CBSA news release).
    "enrol_in_rpp": Guidance(
        Party.seller,
        N_("Enrol in Release Prior to Payment (RPP)"),
        N_(
            "In the CARM Client Portal, open your program account profile, then the Sub-Programs tab, "
            "choose “Enrol in a sub-program” and Release Prior to Payment, and post your financial "
            "security (a surety bond or a cash deposit, for the amount the portal calculates). Until "
            "then, U.S. and USPS international returns stay on hold. Once you are enrolled, RPP shows "
            "in the Active section of the Sub-Programs tab: then confirm it on your checklist."
        ),
        ("carm_get_started", "rpp_memo"),
    ),
    "await_doa_request": Guidance(
        Party.broker,
        N_("Our broker will ask you for a business relationship"),
        N_(
            "We have sent your Returns Account number and Business Number to our customs broker, who "
            "will ask for a business relationship with your business in the CARM Client Portal. We "
            "will e-mail you when the request is waiting for you."
        ),
    ),
    # Source: CBSA video r1-4 ("Manage pending third party requests", Approve; only a business or
    # program account manager can delegate).
    "accept_doa": Guidance(
        Party.seller,
        N_("Accept our customs broker's request (delegation of authority)"),
        N_(
            "Our customs broker has asked for a business relationship with your business in the CARM "
            "Client Portal. On the portal's home page, open “Manage Pending Third Party Requests” and "
            "approve the request from %(broker)s, with the access it asks for (management of your "
            "import-export program account). Only a business account manager or a program account "
            "manager can approve it. Then confirm it on your checklist."
        ),
        ("doa_video", "carm_portal"),
    ),
    "submit_poa": Guidance(
        Party.seller,
        N_("Submit your Power of Attorney (POA)"),
        N_(
            "Submit the Power of Attorney that lets our customs broker clear returns on your behalf, "
            "as our POA instructions explain, then confirm it on your checklist. Submit it after your "
            "CARM registration: it is denied unless you are registered in CARM and have an RM account."
        ),
        (POA_INSTRUCTIONS,),
    ),
    "resubmit_poa": Guidance(
        Party.seller,
        N_("Your Power of Attorney was denied: fix it and submit it again"),
        N_(
            "Complete the step named here, then submit your POA again as our POA instructions "
            "explain, and confirm it on your checklist."
        ),
        (POA_INSTRUCTIONS,),
    ),
    "await_poa_review": Guidance(
        Party.broker,
        N_("Our broker is reviewing your Power of Attorney"),
        N_("Our customs broker reviews your POA; this can take up to 30 business days."),
    ),
    "await_program_access": Guidance(
        Party.broker,
        N_("Our broker is getting program access"),
        N_(
            "Our customs broker is getting program access to your CARM account; then your returns are "
            "cleared."
        ),
    ),
    "cleared": Guidance(
        None,
        N_("Cleared for U.S. returns"),
        N_(
            "Your U.S. returns are released to our customs broker for clearance into Canada. Sign in to "
            "the CARM Client Portal regularly: user profiles that go unused for %(days)s days may be "
            "deactivated. If yours is, sign in again or contact the CARM Client Support Helpdesk "
            "(1-800-461-9999): you do not need to register again."
        ),
        ("carm_portal", "carm_helpdesk"),
    ),
    "opted_out": Guidance(
        None,
        N_("Opted out of CARM"),
        N_(
            "Your U.S. returns are sent to your own U.S. address or disposed of, as you chose. You can "
            "opt back in at any time on your checklist."
        ),
    ),
    "offboarded": Guidance(None, N_("No longer a seller"), N_("This returns account is closed.")),
    "nothing_to_do": Guidance(None, N_("Nothing to do"), N_("No step can be taken right now.")),
}

DENIAL_REASONS = {
    "carm_not_registered": N_("you were not registered in CARM when the POA was submitted"),
    "importer_account_missing": N_("the import-export program account (RM) is missing"),
    "other": N_("our broker found a problem, explained in its note"),
}

STEP_LABELS: dict[Step, str] = {
    Step.business_number: N_("Business Number (BN)"),
    Step.importer_account: N_("Import-export program account (RM)"),
    Step.carm_registration: N_("Registration in the CARM Client Portal"),
    Step.rpp_enrollment: N_("Release Prior to Payment (RPP)"),
    Step.doa_acceptance: N_("Delegation of authority for our broker"),
    Step.poa_submission: N_("Power of Attorney (POA) submitted"),
    Step.poa_approval: N_("Power of Attorney approved by our broker"),
    Step.program_access: N_("Program access for our broker"),
}

OUR_BROKER = N_("our customs broker")
"""What the words call the broker when ``BROKER_LEGAL_NAME`` is not set."""


def guidance(code: str) -> Guidance:
    return CATALOGUE.get(code, Guidance(None, code.replace("_", " "), "", ()))


def english(text: str, params: dict[str, Any] | None = None) -> str:
    """A catalogue string in English with its placeholders filled (defaults for the missing ones)."""
    values: dict[str, Any] = {"broker": OUR_BROKER, "days": 180, **(params or {})}
    return text % values if "%(" in text else text


def describe_action(code: str, party: str | None, params: dict[str, object] | None = None) -> str:
    """One line for people: who must act and what to do."""
    g = guidance(code)
    who = f"{party}: " if party else ""
    extra = ""
    if params and params.get("denial_reason"):
        extra = f" ({DENIAL_REASONS.get(str(params['denial_reason']), params['denial_reason'])})"
    return f"{who}{g.title}{extra}"
