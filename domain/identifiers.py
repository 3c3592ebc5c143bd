"""Identifiers: seller and shipment ids, business numbers and importer/exporter (RM) accounts.

Business numbers are checked with python-stdnum (Luhn check digit, as CRA issues them). stdnum
accepts ``000000000`` (its Luhn sum is 0); CRA never issues it, so it is rejected here.
"""

import re
from typing import Annotated, Literal

import email_validator
from pydantic import AfterValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError
from stdnum.ca import bn as stdnum_bn
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

SellerId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=64)]
ShipmentId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=64)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Actor = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
"""Who sent a request: a person's or a system's name (1–128 characters)."""
DeliveryKey = Annotated[str, StringConstraints(min_length=1, max_length=256)]
"""The idempotency key of one delivery (a message, a broker request, a warehouse instruction)."""
Language = Literal["en", "fr"]
"""The languages sellers are served in: English, and French as Quebec's Charter requires."""

_PROGRAM_RE = re.compile(r"^(?P<program>[A-Z]{2})(?P<reference>\d{4})$")


def _problem(code: str, template: str, value: str, **params: str) -> PydanticCustomError:
    """A validation error with a code and parameters, which the rejection carries to front ends.

    ``value`` is what the caller gave; templates use ``{value}`` and the other parameters by name.
    """
    return PydanticCustomError(code, template, {"value": value, **params})


def normalize_business_number(raw: str) -> str:
    """Return the 9-digit BN, or raise a coded ``ValueError`` with a message a seller can act on."""
    compact = stdnum_bn.compact(raw)
    if len(compact) == 15:
        raise _problem(
            "business_number_is_program_account",
            "'{value}' is a program account, not a business number: give the 9-digit business number",
            raw,
        )
    try:
        number = stdnum_bn.validate(compact)
    except InvalidLength:
        raise _problem(
            "business_number_length",
            "business number must have 9 digits (spaces and hyphens ignored), got '{value}'",
            raw,
        ) from None
    except InvalidFormat:
        raise _problem(
            "business_number_format", "business number must be 9 digits, got '{value}'", raw
        ) from None
    except InvalidChecksum:
        raise _problem(
            "business_number_check_digit",
            "business number '{value}' has a wrong check digit (the 9th digit); check it against "
            "your CRA documents",
            raw,
        ) from None
    if number == "000000000":
        raise _problem(
            "business_number_not_issued", "business number '{value}' is not a number CRA issues", raw
        )
    return number


def business_number(raw: str) -> str:
    return normalize_business_number(raw)


BusinessNumber = Annotated[str, AfterValidator(business_number)]


def parse_program_account(raw: str) -> tuple[str | None, str]:
    """Split ``RM0001`` or ``123456782RM0001`` into (BN or None, ``RM0001``).

    Raises ``ValueError`` naming the problem: another program (RT, RP, RC…), a malformed
    reference, or a BN with a wrong check digit.
    """
    compact = stdnum_bn.compact(raw).upper()
    bn_part: str | None = None
    account = compact
    if len(compact) == 15:
        bn_part, account = compact[:9], compact[9:]
        if bn_part == "000000000":
            raise _problem(
                "program_account_business_number_not_issued",
                "program account '{value}': business number 000000000 is not issued by CRA",
                raw,
            )
        try:
            stdnum_bn.validate(compact)
        except InvalidChecksum:
            raise _problem(
                "program_account_check_digit",
                "program account '{value}': the business number '{business_number}' has a wrong check digit",
                raw,
                business_number=bn_part,
            ) from None
        except (InvalidFormat, InvalidComponent):
            pass  # reported below with a more specific message
    elif len(compact) != 6:
        raise _problem(
            "program_account_length",
            "program account must be RM plus 4 digits (RM0001) or the full 15-character form "
            "(123456782RM0001), got '{value}'",
            raw,
        )
    if bn_part is not None and not bn_part.isdigit():
        raise _problem(
            "program_account_format",
            "program account '{value}': the first 9 characters must be the business number",
            raw,
        )
    match = _PROGRAM_RE.match(account)
    if match is None:
        raise _problem(
            "program_account_format",
            "program account must be a 2-letter program identifier and 4 digits (RM0001), got '{value}'",
            raw,
        )
    if match["program"] != "RM":
        raise _problem(
            "program_account_other_program",
            "program account '{value}' is on the {program} program; returns need the "
            "importer/exporter program account (RM)",
            raw,
            program=match["program"],
        )
    if match["reference"] == "0000":
        raise _problem(
            "program_account_reference_not_issued",
            "program account '{value}': reference number 0000 is not issued by CRA",
            raw,
        )
    return bn_part, account


def program_account(raw: str) -> str:
    """Validate a program account and return it in the form it was given (compacted, upper case)."""
    bn_part, account = parse_program_account(raw)
    return f"{bn_part}{account}" if bn_part else account


ProgramAccount = Annotated[str, AfterValidator(program_account)]


def email_address(raw: str) -> str:
    """A single deliverable-looking e-mail address (email-validator), normalized; no DNS lookup.

    A regex let ``a,b@c.d`` through, which an SMTP library reads as two recipients.
    """
    try:
        return email_validator.validate_email(raw, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as err:
        raise PydanticCustomError(
            "email_invalid",
            "'{value}' is not a valid e-mail address: {reason}",
            {"value": raw, "reason": str(err)},
        ) from None


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(email_address),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]
"""One e-mail address."""
