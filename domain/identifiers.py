"""Identifiers: seller and shipment ids, business numbers and importer/exporter (RM) accounts.

Business numbers are checked with python-stdnum (Luhn check digit, as CRA issues them). stdnum
accepts ``000000000`` (its Luhn sum is 0); CRA never issues it, so it is rejected here.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from stdnum.ca import bn as stdnum_bn
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

SellerId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=64)]
ShipmentId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=64)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]

_PROGRAM_RE = re.compile(r"^(?P<program>[A-Z]{2})(?P<reference>\d{4})$")


def normalize_business_number(raw: str) -> str:
    """Return the 9-digit BN, or raise ``ValueError`` with a message a seller can act on."""
    compact = stdnum_bn.compact(raw)
    if len(compact) == 15:
        raise ValueError(
            f"'{raw}' is a program account, not a business number: give the 9-digit business number"
        )
    try:
        number = stdnum_bn.validate(compact)
    except InvalidLength:
        raise ValueError(
            f"business number must have 9 digits (spaces and hyphens ignored), got '{raw}'"
        ) from None
    except InvalidFormat:
        raise ValueError(f"business number must be 9 digits, got '{raw}'") from None
    except InvalidChecksum:
        raise ValueError(
            f"business number '{raw}' has a wrong check digit (the 9th digit); check it against "
            "your CRA documents"
        ) from None
    if number == "000000000":
        raise ValueError("business number '000000000' is not a number CRA issues")
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
            raise ValueError(f"program account '{raw}': business number 000000000 is not issued by CRA")
        try:
            stdnum_bn.validate(compact)
        except InvalidChecksum:
            raise ValueError(
                f"program account '{raw}': the business number '{bn_part}' has a wrong check digit"
            ) from None
        except (InvalidFormat, InvalidComponent):
            pass  # reported below with a more specific message
    elif len(compact) != 6:
        raise ValueError(
            f"program account must be RM plus 4 digits (RM0001) or the full 15-character form "
            f"(123456782RM0001), got '{raw}'"
        )
    if bn_part is not None and not bn_part.isdigit():
        raise ValueError(f"program account '{raw}': the first 9 characters must be the business number")
    match = _PROGRAM_RE.match(account)
    if match is None:
        raise ValueError(
            f"program account must be a 2-letter program identifier and 4 digits (RM0001), got '{raw}'"
        )
    if match["program"] != "RM":
        raise ValueError(
            f"program account '{raw}' is on the {match['program']} program; returns need the "
            "importer/exporter program account (RM)"
        )
    if match["reference"] == "0000":
        raise ValueError(f"program account '{raw}': reference number 0000 is not issued by CRA")
    return bn_part, account


def program_account(raw: str) -> str:
    """Validate a program account and return it in the form it was given (compacted, upper case)."""
    bn_part, account = parse_program_account(raw)
    return f"{bn_part}{account}" if bn_part else account


ProgramAccount = Annotated[str, AfterValidator(program_account)]
