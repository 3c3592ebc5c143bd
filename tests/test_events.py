"""Onboarding events: strict parsing at the edge, the lenient envelope, and who sends what."""

from typing import Any

import pytest

from domain.errors import InvalidInput
from domain.events import (
    EVENT_MODELS,
    EVENT_TYPES,
    SENDERS,
    BusinessNumberProvided,
    EventEnvelope,
    ImporterAccountProvided,
    NoBusinessNumber,
    PoaDenied,
    parse_event,
)
from domain.steps import Party

ADDRESS = {
    "name": "Jo Seller",
    "street": "1 Main St",
    "city": "Buffalo",
    "state": "NY",
    "postal_code": "14201",
}

# The smallest valid payload of every event type (besides "type").
MINIMAL_VALID: dict[str, dict[str, Any]] = {
    "business_number_provided": {"business_number": "123456782"},
    "no_business_number": {"return_method": "dispose"},
    "importer_account_provided": {"program_account": "RM0001"},
    "carm_registered": {},
    "rpp_enrolled": {},
    "doa_requested": {},
    "doa_accepted": {},
    "poa_submitted": {},
    "poa_approved": {},
    "poa_denied": {"reason": "other"},
    "program_access_granted": {},
    "carm_login_confirmed": {},
    "carm_deactivated": {},
    "rpp_suspended": {},
    "poa_revoked": {},
    "registration_requested_by_broker": {},
    "opted_in": {},
    "affinity_figures_requested": {},
    "checklist_link_requested": {},
    "affinity_figures_provided": {"transaction_number": "T-1", "transaction_total": "123.45"},
    "language_changed": {"language": "fr"},
    "email_changed": {"email": "new@example.com"},
    "business_number_corrected": {"business_number": "123456782", "reason": "typo"},
    "seller_offboarded": {"reason": "left"},
    "delivery_retried": {"idempotency_key": "k"},
    "delivery_abandoned": {"idempotency_key": "k"},
}

# The contract's "who sends it" column.
CONTRACT_SENDERS: dict[str, set[Party]] = {
    "business_number_provided": {Party.seller},
    "no_business_number": {Party.seller},
    "importer_account_provided": {Party.seller},
    "carm_registered": {Party.seller},
    "rpp_enrolled": {Party.seller},
    "doa_requested": {Party.broker},
    "doa_accepted": {Party.seller, Party.broker},
    "poa_submitted": {Party.seller},
    "poa_approved": {Party.broker},
    "poa_denied": {Party.broker},
    "program_access_granted": {Party.broker},
    "carm_login_confirmed": {Party.seller},
    "carm_deactivated": {Party.seller, Party.broker},
    "rpp_suspended": {Party.seller, Party.broker},
    "poa_revoked": {Party.broker},
    "registration_requested_by_broker": {Party.broker},
    "opted_in": {Party.seller},
    "affinity_figures_requested": {Party.seller},
    "affinity_figures_provided": {Party.broker},
    "checklist_link_requested": {Party.seller},
    "language_changed": {Party.seller, Party.operations},
    "email_changed": {Party.seller, Party.operations},
    "business_number_corrected": {Party.operations},
    "seller_offboarded": {Party.operations},
    "delivery_retried": {Party.operations},
    "delivery_abandoned": {Party.operations},
}


def rejection(data: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        parse_event(data)
    assert err.value.type == "InvalidInput"
    assert err.value.non_retryable
    return err.value


# --- every event type --------------------------------------------------------------------------


def test_minimal_payload_table_covers_every_event_type() -> None:
    assert set(MINIMAL_VALID) == set(EVENT_TYPES) == set(EVENT_MODELS)
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES)) == 26


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_event_type_parses_from_its_minimal_payload(kind: str) -> None:
    event = parse_event({"type": kind, **MINIMAL_VALID[kind]})
    assert event.type == kind
    assert event.event_id is None


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_event_type_accepts_an_event_id(kind: str) -> None:
    event = parse_event({"type": kind, "event_id": "evt-1", **MINIMAL_VALID[kind]})
    assert event.event_id == "evt-1"


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_event_type_parses_through_the_envelope(kind: str) -> None:
    envelope = EventEnvelope.model_validate({"type": kind, "event_id": "e", **MINIMAL_VALID[kind]})
    event = parse_event(envelope)
    assert (event.type, event.event_id) == (kind, "e")


def test_business_number_in_event_is_normalized() -> None:
    event = parse_event({"type": "business_number_provided", "business_number": "123-456 782"})
    assert isinstance(event, BusinessNumberProvided)
    assert event.business_number == "123456782"


def test_program_account_in_event_is_normalized() -> None:
    event = parse_event({"type": "importer_account_provided", "program_account": "123456782rm0001"})
    assert isinstance(event, ImporterAccountProvided)
    assert event.program_account == "123456782RM0001"


def test_no_business_number_with_own_us_address_keeps_the_address() -> None:
    address = {**ADDRESS, "state": "ny", "postal_code": "14201-1234", "street2": "Unit 5"}
    event = parse_event(
        {"type": "no_business_number", "return_method": "own_us_address", "us_address": address}
    )
    assert isinstance(event, NoBusinessNumber) and event.us_address is not None
    assert event.us_address.state == "NY"
    assert event.us_address.postal_code == "14201-1234"
    assert event.us_address.country == "US"


@pytest.mark.parametrize("reason", ["carm_not_registered", "importer_account_missing", "other"])
def test_poa_denied_accepts_each_contract_reason_with_optional_detail(reason: str) -> None:
    event = parse_event({"type": "poa_denied", "reason": reason, "detail": "see portal"})
    assert isinstance(event, PoaDenied)
    assert (event.reason, event.detail) == (reason, "see portal")


@pytest.mark.parametrize(
    "pair",
    [
        {"statement_month": "2025-03", "statement_balance": "10.00"},
        {"payment_month": "2024-12", "payment_amount": "5.50"},
        {"transaction_number": "ABC123", "transaction_total": "99.99"},
    ],
)
def test_affinity_figures_provided_accepts_any_one_complete_pair(pair: dict[str, Any]) -> None:
    parse_event({"type": "affinity_figures_provided", **pair})


def test_event_id_of_128_characters_is_accepted() -> None:
    assert parse_event({"type": "carm_registered", "event_id": "e" * 128}).event_id == "e" * 128


# --- rejections --------------------------------------------------------------------------------


def test_missing_type_is_rejected() -> None:
    assert "'type' is required" in rejection({}).message
    assert "'type' is required" in rejection({"type": ""}).message
    assert "'type' is required" in rejection(EventEnvelope()).message


def test_unknown_type_is_rejected_listing_the_valid_types() -> None:
    message = rejection({"type": "carm_exploded"}).message
    assert "unknown event type 'carm_exploded'" in message
    for kind in EVENT_TYPES:
        assert kind in message


def test_unknown_extra_field_is_rejected_naming_the_field() -> None:
    message = rejection({"type": "carm_registered", "surprise": 1}).message
    assert "surprise: unknown field" in message


def test_unknown_extra_field_is_rejected_through_the_envelope_too() -> None:
    message = rejection(EventEnvelope.model_validate({"type": "opted_in", "colour": "blue"})).message
    assert "colour: unknown field" in message


def test_missing_required_field_is_rejected_naming_the_field() -> None:
    message = rejection({"type": "business_number_provided"}).message
    assert "business_number: required field is missing" in message


def test_bad_business_number_is_rejected_naming_the_check_digit() -> None:
    message = rejection({"type": "business_number_provided", "business_number": "123456789"}).message
    assert "business_number" in message
    assert "check digit" in message


def test_program_account_on_another_program_is_rejected() -> None:
    message = rejection({"type": "importer_account_provided", "program_account": "RT0001"}).message
    assert "RT program" in message
    assert "RM" in message


def test_own_us_address_without_address_is_rejected() -> None:
    message = rejection({"type": "no_business_number", "return_method": "own_us_address"}).message
    assert "us_address is required" in message


def test_dispose_with_an_address_is_rejected() -> None:
    message = rejection(
        {"type": "no_business_number", "return_method": "dispose", "us_address": ADDRESS}
    ).message
    assert "us_address must not be given" in message


def test_unknown_return_method_is_rejected() -> None:
    message = rejection({"type": "no_business_number", "return_method": "keep"}).message
    assert "return_method" in message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"state": "XX"}, "us_address.state", "USPS two-letter state code"),
        ({"postal_code": "1234"}, "us_address.postal_code", "pattern"),
        ({"postal_code": "12345-12"}, "us_address.postal_code", "pattern"),
        ({"country": "CA"}, "us_address.country", "'US'"),
        ({"name": "  "}, "us_address.name", "at least 1 character"),
        ({"zip": "14201"}, "us_address.zip", "unknown field"),
    ],
)
def test_bad_us_address_is_rejected_naming_the_field(change: dict[str, Any], field: str, words: str) -> None:
    event = {
        "type": "no_business_number",
        "return_method": "own_us_address",
        "us_address": {**ADDRESS, **change},
    }
    message = rejection(event).message
    assert field in message
    assert words in message


def test_poa_denied_with_unknown_reason_is_rejected_listing_the_reasons() -> None:
    message = rejection({"type": "poa_denied", "reason": "grumpy"}).message
    assert "reason" in message
    assert "carm_not_registered" in message
    assert "importer_account_missing" in message


def test_affinity_figures_without_any_pair_are_rejected() -> None:
    message = rejection({"type": "affinity_figures_provided"}).message
    assert "give at least one pair" in message


@pytest.mark.parametrize(
    ("half", "names"),
    [
        ({"statement_month": "2025-03"}, "statement_month and statement_balance"),
        ({"payment_amount": "1.00"}, "payment_month and payment_amount"),
        ({"transaction_number": "T-1"}, "transaction_number and transaction_total"),
    ],
)
def test_affinity_figures_with_half_a_pair_are_rejected(half: dict[str, Any], names: str) -> None:
    message = rejection({"type": "affinity_figures_provided", **half}).message
    assert f"{names} go together" in message


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "March 2025", "2025-3", "25-03"])
def test_affinity_figures_with_bad_month_format_are_rejected(month: str) -> None:
    message = rejection(
        {"type": "affinity_figures_provided", "statement_month": month, "statement_balance": "1"}
    ).message
    assert "statement_month" in message


def test_event_id_of_129_characters_is_rejected() -> None:
    message = rejection({"type": "carm_registered", "event_id": "e" * 129}).message
    assert "event_id" in message
    assert "128" in message


def test_empty_event_id_is_rejected() -> None:
    assert "event_id" in rejection({"type": "carm_registered", "event_id": ""}).message


def test_rejection_message_names_the_event_type() -> None:
    assert rejection({"type": "poa_denied"}).message.startswith("invalid poa_denied event: ")


@pytest.mark.parametrize("kind", [["carm_registered"], {"t": 1}])
def test_non_string_type_in_a_dict_is_rejected_as_invalid_input(kind: str) -> None:
    rejection({"type": kind})


# --- the lenient envelope ----------------------------------------------------------------------


def test_envelope_accepts_arbitrary_extra_fields() -> None:
    envelope = EventEnvelope.model_validate(
        {"type": "carm_registered", "event_id": "e1", "anything": {"nested": [1, 2]}, "n": 3}
    )
    assert envelope.type == "carm_registered"
    assert envelope.fields() == {
        "type": "carm_registered",
        "event_id": "e1",
        "anything": {"nested": [1, 2]},
        "n": 3,
    }


def test_envelope_round_trips_through_json_and_still_parses_to_the_same_event() -> None:
    # As the pydantic data converter sends it: unset event_id comes back as an explicit null.
    envelope = EventEnvelope.model_validate({"type": "poa_denied", "reason": "other", "detail": "x"})
    again = EventEnvelope.model_validate_json(envelope.model_dump_json())
    assert again.fields() == {**envelope.fields(), "event_id": None}
    assert parse_event(again) == parse_event(envelope)


def test_envelope_decodes_an_empty_object() -> None:
    assert EventEnvelope.model_validate({}).fields() == {}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "carm_registered", "event_id": 42}, "event_id"),
        ({"type": 5}, "type"),
        ({"type": None}, "type"),
    ],
)
def test_envelope_decodes_non_string_type_or_event_id_and_parse_event_names_the_problem(
    data: dict[str, Any], field: str
) -> None:
    envelope = EventEnvelope.model_validate(data)
    assert field in rejection(envelope).message


# --- senders -----------------------------------------------------------------------------------


def test_senders_cover_every_event_type() -> None:
    assert set(SENDERS) == set(EVENT_TYPES)
    assert all(SENDERS[kind] for kind in EVENT_TYPES)


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_senders_match_the_contract_table(kind: str) -> None:
    assert set(SENDERS[kind]) == CONTRACT_SENDERS[kind]


def test_a_rejection_carries_its_first_problem_as_a_code_a_field_and_parameters() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_event({"type": "business_number_provided", "business_number": "123456789"})
    assert err.value.detail == {
        "code": "business_number_check_digit",
        "field": "business_number",
        "params": {"value": "123456789"},
    }
    with pytest.raises(InvalidInput) as other:
        parse_event({"type": "importer_account_provided", "program_account": "RT0001"})
    assert (other.value.code, other.value.params["program"]) == ("program_account_other_program", "RT")
    with pytest.raises(InvalidInput) as unknown:
        parse_event({"type": "carm_registered", "importer_account": "RM0001"})
    assert (unknown.value.code, unknown.value.field) == ("unknown_field", "importer_account")
