"""Rejections in the seller's words: each code the validators raise, as a sentence to translate.

The domain's rejections carry a code and parameters (:mod:`domain.errors`) precisely so that a
front end can word them in the caller's language; these are the seller page's words. A code not
listed falls back to a general sentence of its kind.
"""

import gettext
from typing import Any

from domain.translatable import N_

PROBLEMS: dict[str, str] = {
    "business_number_length": N_(
        "A business number has 9 digits (spaces and hyphens are ignored): “%(value)s” does not."
    ),
    "business_number_format": N_("A business number is 9 digits: “%(value)s” is not."),
    "business_number_check_digit": N_(
        "The business number %(value)s has a wrong check digit (the 9th digit): check it against "
        "your CRA documents."
    ),
    "business_number_not_issued": N_("%(value)s is not a business number the CRA issues."),
    "business_number_is_program_account": N_(
        "“%(value)s” is a program account, not a business number: enter its first 9 digits."
    ),
    "program_account_length": N_(
        "Enter RM and 4 digits (RM0001), or the full 15-character account (123456782RM0001)."
    ),
    "program_account_format": N_("A program account is 2 letters and 4 digits, for example RM0001."),
    "program_account_other_program": N_(
        "%(value)s is on the %(program)s program: returns need the import-export program account (RM)."
    ),
    "program_account_check_digit": N_(
        "In %(value)s, the business number %(business_number)s has a wrong check digit."
    ),
    "program_account_reference_not_issued": N_("Reference number 0000 is not issued: check your RM account."),
    "program_account_business_number_not_issued": N_(
        "Business number 000000000 is not issued: check your RM account."
    ),
    "program_account_other_business_number": N_(
        "The account %(value)s belongs to another business number than the one you gave us."
    ),
    "us_state": N_("“%(value)s” is not a U.S. state: use its two-letter USPS code (NY, WA, PR…)."),
    "string_pattern_mismatch": N_("Enter a ZIP code: 5 digits, or ZIP+4 (98230-1234)."),
    "required": N_("Please fill in this field."),
    "string_too_short": N_("Please fill in this field."),
    "string_too_long": N_("This is too long: at most %(max_length)s characters."),
    "us_address_required": N_("Give the U.S. address to send your returns to."),
    "literal_error": N_("Choose one of the options."),
    "step_complete": N_("This step is already done."),
    "step_prerequisites": N_("This step comes later: first complete the steps before it."),
    "seller_opted_out": N_("You opted out of CARM: opt back in first."),
    "not_opted_out": N_("You have not opted out."),
    "business_number_given": N_(
        "You already gave us a business number: opting out is for businesses without one."
    ),
    "parcel_closed": N_("This parcel is no longer held."),
    "parcel_closing": N_("This parcel is already on its way."),
    "too_many_link_requests": N_(
        "We have sent you %(limit)s fresh links in the last hour: please use the latest e-mail, or "
        "try again later."
    ),
    "carm_not_registered": N_("First confirm your registration in the CARM Client Portal."),
    "nothing_to_reopen": N_("There is nothing to report: that step is not complete."),
    "affinity_already_requested": N_("You have already asked: our broker is getting the figures."),
    "seller_offboarded": N_("This returns account is closed."),
    "unknown_event_type": N_("We do not know this form: please reload the page."),
    "unknown_field": N_("We do not know this form: please reload the page."),
    "same_email": N_("That is already the address we have."),
}

FALLBACK = {
    "InvalidInput": N_("We could not accept what you entered: please check it."),
    "NotAllowedNow": N_("This cannot be done now: reload the page to see what is open."),
}


def problem_words(t: gettext.NullTranslations, kind: str, code: str, params: dict[str, Any]) -> str:
    message = PROBLEMS.get(code)
    if message is None:
        return t.gettext(FALLBACK.get(kind, FALLBACK["InvalidInput"]))
    translated = t.gettext(message)
    if "%(" not in message:
        return translated
    try:
        return translated % params
    except (KeyError, TypeError, ValueError):  # a parameter the code did not bring: say it plainly
        return t.gettext(FALLBACK.get(kind, FALLBACK["InvalidInput"]))
