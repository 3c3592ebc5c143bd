"""The onboarding journeys the tests, benchmarks and history recordings send, in one place."""

from typing import Any

BN = "123456782"
"""A business number with a valid check digit."""

FULL_JOURNEY: list[dict[str, Any]] = [
    {"type": "business_number_provided", "business_number": "123 456 782"},
    {"type": "importer_account_provided", "program_account": "RM0001"},
    {"type": "carm_registered"},
    {"type": "poa_submitted"},
    {"type": "rpp_enrolled"},
    {"type": "doa_requested"},
    {"type": "doa_accepted"},
    {"type": "poa_approved"},
    {"type": "program_access_granted"},
]
"""Every step once, in the order real sellers often take them (POA before RPP)."""

LONG_JOURNEY: list[dict[str, Any]] = [
    {"type": "business_number_provided", "business_number": BN, "event_id": "e1"},
    {"type": "importer_account_provided", "program_account": "RM0001"},
    {"type": "affinity_figures_requested"},
    {"type": "affinity_figures_provided", "transaction_number": "T-1", "transaction_total": "12.50"},
    {"type": "carm_registered"},
    {"type": "poa_submitted"},
    {"type": "poa_denied", "reason": "carm_not_registered"},
    {"type": "carm_registered"},
    {"type": "poa_submitted"},
    {"type": "rpp_enrolled"},
    {"type": "doa_requested"},
    {"type": "doa_accepted"},
    {"type": "poa_approved"},
    {"type": "program_access_granted"},
    {"type": "carm_login_confirmed"},
    {"type": "rpp_suspended"},
    {"type": "rpp_enrolled"},
]
"""A denial, a re-registration and a suspension on the way: what the recorded histories cover."""

ADDRESS: dict[str, str] = {
    "name": "Jane Seller",
    "street": "1 Main St",
    "city": "Blaine",
    "state": "WA",
    "postal_code": "98230",
}
"""A U.S. address a parcel can be forwarded to."""

CLEARED_CYCLE: list[dict[str, Any]] = [
    {"type": "carm_login_confirmed"},
    {"type": "language_changed", "language": "fr"},
    {"type": "carm_deactivated"},
    {"type": "carm_registered"},
    {"type": "language_changed", "language": "en"},
    {"type": "rpp_suspended"},
    {"type": "rpp_enrolled"},
]
"""Events a cleared seller can send again and again, each cycle ending cleared: quiet ones (a login,
a language) and ones that lose and regain clearance (notices, a second broker handoff). Repeated
after ``FULL_JOURNEY`` it grows a seller's history for as long as a benchmark needs."""
