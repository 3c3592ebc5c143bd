"""The words for each ``next_action`` code: who acts, what to do, and where CBSA/CRA explain it.

Workflows only ever produce codes; the command line, the messages, the Web UI details and the
seller's page all render them from this one catalogue, so the wording can change without a
workflow change (and without a patch).
"""

from dataclasses import dataclass

from domain.steps import Party


@dataclass(frozen=True)
class Guidance:
    party: Party | None
    title: str
    instructions: str
    link: str | None = None


CRA_REGISTER_BN = (
    "https://www.canada.ca/en/revenue-agency/services/tax/businesses/topics/registering-your-business/"
    "register.html"
)
CRA_PROGRAM_ACCOUNT = (
    "https://www.canada.ca/en/revenue-agency/services/tax/businesses/topics/registering-your-business/"
    "you-need-a-business-number-a-program-account.html"
)
CBSA_CARM_PREPARE = "https://www.cbsa-asfc.gc.ca/services/carm-gcra/prep-eng.html"
CBSA_CARM_PORTAL = "https://ccp-pcc.cbsa-asfc.cloud-nuage.canada.ca/en/"
CBSA_RPP = "https://www.cbsa-asfc.gc.ca/publications/dm-md/d17/d17-1-8-eng.html"

CATALOGUE: dict[str, Guidance] = {
    "provide_business_number": Guidance(
        Party.seller,
        "Give us your Business Number",
        "Enter your 9-digit CRA Business Number (BN) in your Return Settings. No Business Number? "
        "Register for one with CRA, or choose to have your U.S. returns sent to your own U.S. "
        "address or disposed of.",
        CRA_REGISTER_BN,
    ),
    "provide_importer_account": Guidance(
        Party.seller,
        "Add your importer/exporter (RM) program account",
        "Give the RM program account attached to your Business Number (for example RM0001). "
        "If you do not have one, open an import/export program account with CRA first; "
        "another program (RT, RP, RC) will not do.",
        CRA_PROGRAM_ACCOUNT,
    ),
    "register_in_carm": Guidance(
        Party.seller,
        "Register your business in the CARM Client Portal",
        "Create your CARM Client Portal account, choose 'Register my business', Program Type "
        "'Importer' and Importer Type 'Commercial', then confirm your registration in your Return "
        "Settings. If the portal asks for Statement of Account figures you do not have, ask us and "
        "we will get them from our broker.",
        CBSA_CARM_PREPARE,
    ),
    "await_affinity_figures": Guidance(
        Party.broker,
        "Broker to supply Statement of Account figures",
        "The seller cannot answer CARM's verification questions; the broker is asked for figures "
        "from the seller's Statement of Account.",
        None,
    ),
    "enrol_in_rpp": Guidance(
        Party.seller,
        "Enrol in Release Prior to Payment (RPP)",
        "In the CARM Client Portal, enrol in the RPP sub-program and post your financial security. "
        "Until then, U.S. and USPS international returns stay on hold. Once enrolled, RPP shows "
        "in the Active section of the Sub-Programs tab.",
        CBSA_RPP,
    ),
    "await_doa_request": Guidance(
        Party.broker,
        "Broker to request a business relationship (DOA)",
        "We have sent your Returns Account number and Business Number to our broker, who will ask "
        "you for a business relationship in the CARM Client Portal.",
        None,
    ),
    "accept_doa": Guidance(
        Party.seller,
        "Accept our broker's Delegation of Authority",
        "Our customs broker has asked for a business relationship: accept it in the CARM Client Portal.",
        CBSA_CARM_PORTAL,
    ),
    "submit_poa": Guidance(
        Party.seller,
        "Submit your Power of Attorney (POA)",
        "Submit the Power of Attorney that lets our customs broker clear returns on your behalf. "
        "It is denied unless you are registered in CARM and have an RM program account.",
        None,
    ),
    "resubmit_poa": Guidance(
        Party.seller,
        "Your Power of Attorney was denied: fix and resubmit it",
        "Our broker denied your POA. Complete the step it names, then submit your POA again.",
        None,
    ),
    "await_poa_review": Guidance(
        Party.broker,
        "Broker reviewing the Power of Attorney",
        "Our broker reviews your POA; this can take up to 30 business days.",
        None,
    ),
    "await_program_access": Guidance(
        Party.broker,
        "Broker to get program access",
        "Our broker gets program access to your CARM account; then your returns are cleared.",
        None,
    ),
    "cleared": Guidance(
        None,
        "Cleared for returns",
        "Your U.S. returns are released to our broker for customs clearance. Log in to the CARM "
        "Client Portal regularly: accounts are deactivated after 180 days without a login.",
        CBSA_CARM_PORTAL,
    ),
    "opted_out": Guidance(
        None,
        "Opted out of CARM",
        "Your U.S. returns are sent to your own U.S. address or disposed of, as you chose. You can "
        "opt back in at any time.",
        None,
    ),
    "nothing_to_do": Guidance(None, "Nothing to do", "No step can be taken right now.", None),
}

DENIAL_REASONS = {
    "carm_not_registered": "you were not registered in CARM when the POA was submitted",
    "importer_account_missing": "the RM importer/exporter program account is missing",
    "other": "see the broker's note",
}


def guidance(code: str) -> Guidance:
    return CATALOGUE.get(code, Guidance(None, code.replace("_", " "), "", None))


def describe_action(code: str, party: str | None, params: dict[str, object] | None = None) -> str:
    """One line for people: who must act and what to do."""
    g = guidance(code)
    who = f"{party}: " if party else ""
    extra = ""
    if params and params.get("denial_reason"):
        extra = f" ({DENIAL_REASONS.get(str(params['denial_reason']), params['denial_reason'])})"
    return f"{who}{g.title}{extra}"
