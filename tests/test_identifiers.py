"""Identifiers: business numbers, importer/exporter (RM) program accounts, seller and shipment ids."""

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from domain.identifiers import (
    BusinessNumber,
    ProgramAccount,
    SellerId,
    ShipmentId,
    normalize_business_number,
    parse_program_account,
    program_account,
)

VALID_BN = "123456782"

# --- business numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["123456782", "123 456 782", "123-456-782", " 123-456 782 "])
def test_business_number_ignores_spaces_and_hyphens(raw: str) -> None:
    assert normalize_business_number(raw) == VALID_BN


def test_business_number_with_wrong_check_digit_is_rejected_naming_the_check_digit() -> None:
    with pytest.raises(ValueError, match="check digit") as err:
        normalize_business_number("123456789")
    assert "123456789" in str(err.value)


@pytest.mark.parametrize("raw", ["12345678", "1234567890", "", "123 456 78"])
def test_business_number_of_wrong_length_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="9 digits"):
        normalize_business_number(raw)


@pytest.mark.parametrize("raw", ["12345678A", "ABCDEFGHI", "12345.782"])
def test_business_number_with_letters_or_other_characters_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="9 digits"):
        normalize_business_number(raw)


@pytest.mark.parametrize("raw", ["000000000", "000-000-000"])
def test_all_zero_business_number_is_rejected_although_its_luhn_sum_is_valid(raw: str) -> None:
    with pytest.raises(ValueError, match="not a number CRA issues"):
        normalize_business_number(raw)


def test_program_account_given_as_business_number_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="is a program account, not a business number") as err:
        normalize_business_number("123456782RM0001")
    assert "9-digit business number" in str(err.value)


def test_business_number_type_normalizes_inside_a_model() -> None:
    class Seller(BaseModel):
        bn: BusinessNumber

    assert Seller(bn="123 456-782").bn == VALID_BN
    with pytest.raises(ValidationError, match="check digit"):
        Seller(bn="123456789")


# --- program accounts --------------------------------------------------------------------------


def test_short_rm_account_has_no_business_number_part() -> None:
    assert parse_program_account("RM0001") == (None, "RM0001")
    assert program_account("RM0001") == "RM0001"


def test_full_rm_account_splits_into_business_number_and_account() -> None:
    assert parse_program_account("123456782RM0001") == (VALID_BN, "RM0001")
    assert program_account("123456782RM0001") == "123456782RM0001"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("rm0001", "RM0001"),
        ("Rm0042", "RM0042"),
        ("123456782rm0001", "123456782RM0001"),
        ("123 456 782 RM 0001", "123456782RM0001"),
        ("123-456-782-RM-0001", "123456782RM0001"),
    ],
)
def test_program_account_is_compacted_and_upper_cased(raw: str, expected: Any) -> None:
    assert program_account(raw) == expected


@pytest.mark.parametrize("program", ["RT", "RP", "RC", "RR", "RZ"])
def test_program_account_on_another_program_is_rejected_naming_both_programs(program: str) -> None:
    for raw in (f"{program}0001", f"123456782{program}0001"):
        with pytest.raises(ValueError) as err:
            parse_program_account(raw)
        message = str(err.value)
        assert f"on the {program} program" in message
        assert "(RM)" in message


@pytest.mark.parametrize("raw", ["RM01", "RM00001", "123456782RM0", "123456782RM00001", "", "RM"])
def test_program_account_of_wrong_length_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match=r"RM plus 4 digits \(RM0001\) or the full 15-character form"):
        parse_program_account(raw)


@pytest.mark.parametrize("raw", ["RMABCD", "R10001", "0001RM", "123456782RMABCD"])
def test_malformed_program_account_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="2-letter program identifier and 4 digits"):
        parse_program_account(raw)


def test_full_program_account_with_bad_business_number_check_digit_is_rejected() -> None:
    with pytest.raises(ValueError, match="'123456789' has a wrong check digit"):
        parse_program_account("123456789RM0001")


def test_full_program_account_with_letters_in_business_number_part_is_rejected() -> None:
    with pytest.raises(ValueError, match="first 9 characters must be the business number"):
        parse_program_account("12345678ARM0001")


@pytest.mark.parametrize("raw", ["RM0000", "123456782RM0000"])
def test_program_account_reference_0000_is_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match="reference number 0000"):
        parse_program_account(raw)


def test_full_program_account_with_all_zero_business_number_is_rejected() -> None:
    with pytest.raises(ValueError):
        parse_program_account("000000000RM0001")


def test_program_account_type_validates_inside_a_model() -> None:
    class Account(BaseModel):
        account: ProgramAccount

    assert Account(account="rm0001").account == "RM0001"
    with pytest.raises(ValidationError, match="RT program"):
        Account(account="RT0001")


# --- seller and shipment ids -------------------------------------------------------------------


class Ids(BaseModel):
    seller_id: SellerId
    shipment_id: ShipmentId


@pytest.mark.parametrize("value", ["s", "seller_1", "A-z_09", "x" * 64, "123"])
def test_ids_of_1_to_64_letters_digits_underscores_and_hyphens_are_accepted(value: str) -> None:
    ids = Ids(seller_id=value, shipment_id=value)
    assert (ids.seller_id, ids.shipment_id) == (value, value)


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65, "a b", "a/b", "a.b", "é", "seller:1", "abc\n", " abc", "{seller}"],
    ids=[
        "empty",
        "65-chars",
        "space",
        "slash",
        "dot",
        "non-ascii",
        "colon",
        "newline",
        "lead-space",
        "braces",
    ],
)
def test_ids_with_other_characters_or_lengths_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError) as err:
        Ids(seller_id=value, shipment_id="ok")
    assert err.value.errors()[0]["loc"] == ("seller_id",)
    with pytest.raises(ValidationError) as err:
        Ids(seller_id="ok", shipment_id=value)
    assert err.value.errors()[0]["loc"] == ("shipment_id",)
