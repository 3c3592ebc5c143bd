"""The onboarding rules, on their own: every event from every reachable situation.

The oracle below restates the contract's tables in the plainest possible code; the machine in
``domain.onboarding`` must agree with it on every (situation, event) pair, accepted or refused.
"""

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import InvalidInput, NotAllowedNow
from domain.events import EVENT_TYPES
from domain.onboarding import (
    LINK_REQUESTS_PER_HOUR,
    EventContext,
    OnboardingRules,
    SellerRecord,
    apply,
    new_record,
    open_actions,
    status,
    with_required_steps,
)
from domain.steps import COMPLETED_BY, POA_DENIAL_REOPENS, PREREQUISITES, REOPENS, Step

BN = "123456782"
ADDRESS = {"name": "J", "street": "1 Main St", "city": "Blaine", "state": "WA", "postal_code": "98230"}

PAYLOADS: dict[str, dict[str, Any]] = {
    "business_number_provided": {"business_number": BN},
    "no_business_number": {"return_method": "dispose"},
    "importer_account_provided": {"program_account": "RM0001"},
    "poa_denied": {"reason": "other"},
    "affinity_figures_provided": {"statement_month": "2025-01", "statement_balance": "10.00"},
    "language_changed": {"language": "fr"},
    "email_changed": {"email": "new@example.com"},
    "business_number_corrected": {"business_number": "046454286", "reason": "mistyped at sign-up"},
    "seller_offboarded": {"reason": "closed the account"},
    "delivery_retried": {"idempotency_key": "handoff:s1:1"},
    "delivery_abandoned": {"idempotency_key": "handoff:s1:1"},
}

# Events that every seller may send whatever their lifecycle (the situations hold no parcels and
# no failed delivery, so an offboarding may go ahead and no delivery can be retried).
ANY_LIFECYCLE = {
    "language_changed": True,
    "email_changed": True,
    "seller_offboarded": True,
    "checklist_link_requested": True,  # rate-limited only (see the test below)
}
DELIVERIES = ("delivery_retried", "delivery_abandoned")


def event(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, **PAYLOADS.get(kind, {}), **extra}


def closed_sets() -> list[frozenset[Step]]:
    """Every set of completed steps in which each step's prerequisites are complete."""
    found = []
    for bits in itertools.product([False, True], repeat=len(Step)):
        done = frozenset(s for s, b in zip(Step, bits, strict=True) if b)
        if all(PREREQUISITES[s] <= done for s in done):
            found.append(done)
    return found


def situations() -> list[SellerRecord]:
    records = []
    for done in closed_sets():
        for legacy, doa_requested, affinity in itertools.product([False, True], repeat=3):
            if doa_requested and (Step.carm_registration not in done or Step.doa_acceptance in done):
                continue
            if affinity and (Step.importer_account not in done or Step.carm_registration in done):
                continue
            record = new_record("s1", legacy_poa=legacy, completed_steps=sorted(done))
            record.doa_requested = doa_requested
            record.affinity_requested = affinity
            if Step.business_number in done:
                record.business_number = BN
            records.append(record)
        opted = new_record("s1")
        opted.lifecycle = "opted_out"
        opted.return_method = "dispose"
        if not done:
            records.append(opted)
    return records


# The other events, each as the brief and the contract word it (``done``: the completed steps).
OTHER_EVENTS: dict[str, Callable[[SellerRecord, set[Step]], bool]] = {
    "opted_in": lambda record, done: False,  # only after opting out (see oracle)
    "no_business_number": lambda record, done: Step.business_number not in done,
    "poa_denied": lambda record, done: Step.poa_submission in done and Step.poa_approval not in done,
    "doa_requested": lambda record, done: (
        Step.carm_registration in done and Step.doa_acceptance not in done and not record.doa_requested
    ),
    "carm_login_confirmed": lambda record, done: Step.carm_registration in done,
    "registration_requested_by_broker": lambda record, done: record.lifecycle == "legacy",
    "affinity_figures_requested": lambda record, done: (
        Step.importer_account in done and Step.carm_registration not in done and not record.affinity_requested
    ),
    "affinity_figures_provided": lambda record, done: record.affinity_requested,
    "business_number_corrected": lambda record, done: Step.business_number in done,
}


def oracle(record: SellerRecord, kind: str) -> bool:
    """Whether the contract allows ``kind`` now (plain restatement of brief and contract)."""
    done = set(record.completed)
    if kind in ANY_LIFECYCLE:
        return ANY_LIFECYCLE[kind]
    if kind in DELIVERIES:
        return False
    if record.lifecycle == "opted_out":
        return kind == "opted_in"
    if kind in COMPLETED_BY:
        step = COMPLETED_BY[kind]
        return step not in done and PREREQUISITES[step] <= done
    if kind in REOPENS and kind not in OTHER_EVENTS:
        return bool(REOPENS[kind] & done)
    return OTHER_EVENTS[kind](record, done)


SITUATIONS = situations()


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_event_from_every_situation_matches_the_contract(kind: str) -> None:
    accepted = refused = 0
    for record in SITUATIONS:
        allowed = oracle(record, kind)
        if allowed:
            new, _ = apply(record, event(kind))
            assert new is not record
            accepted += 1
        else:
            with pytest.raises(NotAllowedNow) as info:
                apply(record, event(kind))
            assert info.value.type == "NotAllowedNow" and info.value.message
            refused += 1
    assert accepted + refused == len(SITUATIONS)


def test_completing_a_step_records_it_and_clears_only_when_all_are_done() -> None:
    for record in SITUATIONS:
        if record.lifecycle not in ("onboarding", "legacy"):
            continue
        for kind, step in COMPLETED_BY.items():
            if not oracle(record, kind):
                continue
            new, effects = apply(record, event(kind))
            assert step in new.completed
            everything = set(new.completed) == set(Step)
            assert (new.lifecycle == "cleared") == everything
            assert effects.became_cleared == (everything and record.lifecycle == "onboarding")
            assert effects.broker_handoff == (step is Step.carm_registration)


@pytest.mark.parametrize(
    ("kind", "reason"), [("carm_deactivated", None), ("rpp_suspended", None), ("poa_revoked", None)]
)
def test_regressions_reopen_the_contract_steps_and_cost_clearance(kind: str, reason: str | None) -> None:
    cleared = new_record("s1", completed_steps=list(Step))
    new, effects = apply(cleared, event(kind))
    assert set(Step) - set(new.completed) == REOPENS[kind]
    assert new.lifecycle == "onboarding"
    assert effects.lost_clearance
    assert new.pending[0] == min(REOPENS[kind], key=list(Step).index)


@pytest.mark.parametrize("reason", sorted(POA_DENIAL_REOPENS))
def test_poa_denial_sends_the_seller_back_to_the_step_that_failed(reason: str) -> None:
    record = new_record(
        "s1", completed_steps=[s for s in Step if s not in (Step.poa_approval, Step.program_access)]
    )
    new, effects = apply(record, event("poa_denied", reason=reason, detail="see portal"))
    expected_open = REOPENS["poa_denied"] | POA_DENIAL_REOPENS[reason]
    assert set(Step) - set(new.completed) == expected_open | {Step.poa_approval, Step.program_access}
    assert effects.poa_denied is not None and effects.poa_denied.reason == reason
    codes = [a.code for a in open_actions(new)]
    if reason == "other":
        assert codes == ["resubmit_poa"]
    else:
        # The failed step is the next action; the resubmission follows once its prerequisites hold.
        assert codes[0] in ("provide_importer_account", "register_in_carm")
        assert status(new).next_action.code == codes[0]


def test_handoff_happens_each_time_carm_registration_completes() -> None:
    record = new_record("s1", completed_steps=[Step.business_number, Step.importer_account])
    record.business_number = BN
    record, first = apply(record, event("carm_registered"))
    record, _ = apply(record, event("carm_deactivated"))
    record, second = apply(record, event("carm_registered"))
    assert first.broker_handoff and second.broker_handoff
    assert record.handoffs == 2


def test_legacy_poa_seller_is_cleared_until_the_broker_asks_for_registration() -> None:
    record = new_record("s1", legacy_poa=True)
    assert status(record).cleared_for_returns
    assert status(record).stage == "business_number"
    assert {Step.poa_submission, Step.poa_approval} <= set(record.completed)  # their POA stands
    record, effects = apply(record, event("registration_requested_by_broker"))
    assert not status(record).cleared_for_returns and effects.lost_clearance
    assert {Step.poa_submission, Step.poa_approval} <= set(record.completed)
    for kind, step in COMPLETED_BY.items():
        if step in record.completed:
            continue  # the approved POA: no new one
        if kind == "doa_accepted":
            record, _ = apply(record, event("doa_requested"))
        record, _ = apply(record, event(kind))
    assert record.lifecycle == "cleared"


def test_opting_out_and_back_in() -> None:
    record = new_record("s1")
    record, effects = apply(
        record, event("no_business_number", return_method="own_us_address", us_address=ADDRESS)
    )
    assert effects.opted_out and status(record).stage == "opted_out" and status(record).waiting_on == []
    assert record.us_address is not None and record.us_address.state == "WA"
    record, effects = apply(record, event("opted_in"))
    assert effects.opted_in and status(record).stage == "business_number" and record.us_address is None


def test_import_takes_completed_steps_without_checks() -> None:
    record = new_record("s1", completed_steps=[Step.program_access, Step.poa_approval])
    assert set(record.completed) == {Step.program_access, Step.poa_approval}
    assert status(record).stage == "business_number"
    cleared = new_record("s2", completed_steps=list(Step))
    assert cleared.lifecycle == "cleared" and status(cleared).cleared_for_returns


def test_rpp_can_be_made_optional() -> None:
    required = [s for s in Step if s is not Step.rpp_enrollment]
    record = new_record("s1", completed_steps=required, required_steps=required)
    assert record.lifecycle == "cleared"
    record, effects = apply(record, event("rpp_enrolled"))
    assert record.lifecycle == "cleared" and not effects.became_cleared
    record, effects = apply(record, event("rpp_suspended"))
    assert record.lifecycle == "cleared" and not effects.lost_clearance
    assert with_required_steps(record, list(Step)).lifecycle == "onboarding"


def test_event_id_is_remembered_by_age_not_by_count() -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    record = new_record("s1", completed_steps=list(Step))
    record, _ = apply(record, event("poa_revoked", event_id="revoke-1"), EventContext(now=start))
    record, _ = apply(record, event("poa_submitted"), EventContext(now=start))
    # Hundreds of other events later, a redelivery of the revocation changes nothing.
    for i in range(600):
        record, _ = apply(record, event("language_changed", event_id=f"id-{i}"), EventContext(now=start))
    six_days = EventContext(now=start + timedelta(days=6, hours=23))
    again, effects = apply(record, event("poa_revoked", event_id="revoke-1"), six_days)
    assert effects.duplicate and again is record
    # Older than the memory (8 days), the id is forgotten and the event judged on its own (the
    # broker webhook's 5-minute signature tolerance refuses so old a replay before it gets here).
    nine_days = EventContext(now=start + timedelta(days=9))
    later, effects = apply(record, event("poa_revoked", event_id="revoke-1"), nine_days)
    assert not effects.duplicate and Step.poa_submission not in later.completed
    assert set(later.applied_events) == {"revoke-1"}


def test_rm_of_another_business_number_is_invalid_input() -> None:
    record, _ = apply(new_record("s1"), event("business_number_provided"))
    with pytest.raises(InvalidInput, match="belongs to business number 046454286"):
        apply(record, event("importer_account_provided", program_account="046454286RM0001"))
    new, _ = apply(record, event("importer_account_provided", program_account=f"{BN}RM0002"))
    assert new.program_account == "RM0002"


def test_waiting_on_follows_the_doa_request_and_affinity_figures() -> None:
    record = new_record("s1", completed_steps=[Step.business_number, Step.importer_account])
    assert status(record).waiting_on == ["seller"]
    record, _ = apply(record, event("affinity_figures_requested"))
    assert status(record).waiting_on == ["broker"]
    record, effects = apply(record, event("affinity_figures_provided"))
    assert effects.affinity_figures == PAYLOADS["affinity_figures_provided"]
    assert "statement_balance" not in record.model_dump_json()  # figures pass through, never kept
    record, _ = apply(record, event("carm_registered"))
    assert status(record).waiting_on == ["broker", "seller"]  # DOA not yet requested: broker's
    record, _ = apply(record, event("doa_requested"))
    assert [a.code for a in open_actions(record)] == ["enrol_in_rpp", "accept_doa", "submit_poa"]
    assert status(record).waiting_on == ["seller"]
    assert status(record, stalled=True).waiting_on == ["operations", "seller"]


def test_the_machine_is_a_python_statemachine_with_every_contract_event() -> None:
    # python-statemachine's metaclass adds ``events`` to the class; its stubs do not declare it.
    names = {e.id for e in OnboardingRules.events}  # type: ignore[attr-defined]
    assert names == set(EVENT_TYPES)


def test_a_corrected_business_number_keeps_the_steps_and_hands_the_broker_the_new_numbers() -> None:
    record = new_record(
        "s1", business_number=BN, program_account="RM0003", completed_steps=[Step.carm_registration]
    )
    assert record.handoffs == 1
    corrected, effects = apply(record, event("business_number_corrected"))
    assert (corrected.business_number, corrected.program_account) == ("046454286", "RM0003")  # RM kept
    assert corrected.completed == record.completed
    assert effects.numbers_corrected and effects.broker_handoff and corrected.handoffs == 2
    with_rm, _ = apply(record, event("business_number_corrected", program_account="046454286RM0009"))
    assert with_rm.program_account == "RM0009"
    with pytest.raises(InvalidInput) as other:
        apply(record, event("business_number_corrected", program_account=f"{BN}RM0009"))
    assert other.value.code == "program_account_other_business_number"
    with pytest.raises(NotAllowedNow) as same:
        apply(record, event("business_number_corrected", business_number=BN))
    assert same.value.code == "nothing_to_correct"
    not_handed = new_record("s2", business_number=BN)
    _, quiet = apply(not_handed, event("business_number_corrected"))
    assert quiet.numbers_corrected and not quiet.broker_handoff


def test_offboarding_waits_for_held_parcels_and_then_ends_the_seller() -> None:
    record = new_record("s1")
    with pytest.raises(NotAllowedNow) as held:
        apply(record, event("seller_offboarded"), EventContext(held_shipments=("P-1", "P-2")))
    assert held.value.code == "parcels_held" and "P-1, P-2" in held.value.message
    gone, effects = apply(record, event("seller_offboarded"))
    assert effects.offboarded and status(gone).stage == "offboarded" and status(gone).waiting_on == []
    with pytest.raises(NotAllowedNow) as after:
        apply(gone, event("language_changed"))
    assert after.value.code == "seller_offboarded"


def test_failed_deliveries_are_retried_or_abandoned_by_their_key_only() -> None:
    record = new_record("s1")
    failed = EventContext(failed_deliveries=("handoff:s1:1",))
    _, retried = apply(record, event("delivery_retried"), failed)
    _, abandoned = apply(record, event("delivery_abandoned"), failed)
    assert (retried.retry_delivery, abandoned.abandon_delivery) == ("handoff:s1:1", "handoff:s1:1")
    with pytest.raises(NotAllowedNow) as unknown:
        apply(record, event("delivery_retried", idempotency_key="nope"), failed)
    assert unknown.value.code == "no_failed_delivery"


def test_language_and_email_changes_are_handed_to_the_workflow() -> None:
    record = new_record("s1")
    _, language = apply(record, event("language_changed"))
    assert language.language == "fr"
    _, email = apply(record, event("email_changed"), EventContext(email="old@example.com"))
    assert email.email == "new@example.com"
    with pytest.raises(NotAllowedNow):
        apply(record, event("email_changed"), EventContext(email="New@Example.com"))
    with pytest.raises(InvalidInput) as two:
        apply(record, event("email_changed", email="a,b@example.com"))
    assert two.value.code == "email_invalid"


def test_the_sender_is_recorded_and_checked() -> None:
    record = new_record("s1")
    _, effects = apply(record, event("business_number_provided", actor="jane", party="operations"))
    assert (effects.party, effects.actor) == ("operations", "jane")
    with pytest.raises(InvalidInput) as broker:
        apply(record, event("business_number_provided", party="broker"))
    assert broker.value.code == "sender_not_allowed"


def test_a_seller_asks_for_a_fresh_link_a_few_times_an_hour_at_most() -> None:
    record = new_record("s1")
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for n in range(LINK_REQUESTS_PER_HOUR):
        record, effects = apply(
            record, event("checklist_link_requested"), EventContext(now=start + timedelta(minutes=n))
        )
        assert effects.checklist_link_requested
    with pytest.raises(NotAllowedNow) as refused:
        apply(record, event("checklist_link_requested"), EventContext(now=start + timedelta(minutes=30)))
    assert refused.value.code == "too_many_link_requests"
    later = EventContext(now=start + timedelta(minutes=61))
    assert apply(record, event("checklist_link_requested"), later)[1].checklist_link_requested


def test_a_deactivated_profile_is_signed_in_again_not_registered_anew() -> None:
    record = new_record("s1", completed_steps=list(Step))
    record, _ = apply(record, event("carm_deactivated"))
    assert [a.code for a in status(record).actions] == ["sign_in_to_carm_again"]
    record, _ = apply(record, event("carm_registered"))
    assert record.lifecycle == "cleared" and not record.carm_deactivated


def test_a_legacy_poa_seller_is_cleared_again_without_a_new_poa() -> None:
    record = new_record("s1", legacy_poa=True)
    record, _ = apply(record, event("registration_requested_by_broker"))
    assert not record.cleared_for_returns
    for kind in ("business_number_provided", "importer_account_provided", "carm_registered"):
        record, _ = apply(record, event(kind))
    record, _ = apply(record, event("rpp_enrolled"))
    record, _ = apply(record, event("doa_requested"))
    record, _ = apply(record, event("doa_accepted"))
    assert [a.code for a in status(record).actions] == ["await_program_access"]
    record, effects = apply(record, event("program_access_granted"))
    assert effects.became_cleared and record.lifecycle == "cleared"
    assert Step.poa_submission in record.completed and Step.poa_approval in record.completed
