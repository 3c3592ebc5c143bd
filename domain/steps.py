"""The eight CARM steps and the contract's two tables, kept here as data.

These tables are the single source of truth: the state machine's guards, the status
(``waiting_on``), the README's tables and the diagram are all derived from them.
"""

from enum import StrEnum


class Step(StrEnum):
    """A step of the CARM chain; the declaration order is the guidance order."""

    business_number = "business_number"
    importer_account = "importer_account"
    carm_registration = "carm_registration"
    rpp_enrollment = "rpp_enrollment"
    doa_acceptance = "doa_acceptance"
    poa_submission = "poa_submission"
    poa_approval = "poa_approval"
    program_access = "program_access"


class Party(StrEnum):
    seller = "seller"
    broker = "broker"
    operations = "operations"


GUIDANCE_ORDER: tuple[Step, ...] = tuple(Step)

# "may complete once these are complete"
PREREQUISITES: dict[Step, frozenset[Step]] = {
    Step.business_number: frozenset(),
    Step.importer_account: frozenset({Step.business_number}),
    Step.carm_registration: frozenset({Step.importer_account}),
    Step.rpp_enrollment: frozenset({Step.carm_registration}),
    Step.doa_acceptance: frozenset({Step.carm_registration}),
    Step.poa_submission: frozenset({Step.carm_registration}),
    Step.poa_approval: frozenset({Step.poa_submission}),
    Step.program_access: frozenset({Step.doa_acceptance, Step.poa_approval}),
}

# Who must act for a pending step whose prerequisites are complete. ``doa_acceptance`` is the
# broker's until the broker has requested the relationship, then the seller's (see status rules).
OWNER: dict[Step, Party] = {
    Step.business_number: Party.seller,
    Step.importer_account: Party.seller,
    Step.carm_registration: Party.seller,
    Step.rpp_enrollment: Party.seller,
    Step.doa_acceptance: Party.seller,
    Step.poa_submission: Party.seller,
    Step.poa_approval: Party.broker,
    Step.program_access: Party.broker,
}

# The event that completes each step.
COMPLETED_BY: dict[str, Step] = {
    "business_number_provided": Step.business_number,
    "importer_account_provided": Step.importer_account,
    "carm_registered": Step.carm_registration,
    "rpp_enrolled": Step.rpp_enrollment,
    "doa_accepted": Step.doa_acceptance,
    "poa_submitted": Step.poa_submission,
    "poa_approved": Step.poa_approval,
    "program_access_granted": Step.program_access,
}

# "makes pending again"; ``poa_denied`` adds one step that depends on its reason.
REOPENS: dict[str, frozenset[Step]] = {
    "poa_denied": frozenset({Step.poa_submission, Step.poa_approval}),
    "carm_deactivated": frozenset({Step.carm_registration}),
    "rpp_suspended": frozenset({Step.rpp_enrollment}),
    "poa_revoked": frozenset({Step.poa_submission, Step.poa_approval}),
}
POA_DENIAL_REOPENS: dict[str, frozenset[Step]] = {
    "carm_not_registered": frozenset({Step.carm_registration}),
    "importer_account_missing": frozenset({Step.importer_account}),
    "other": frozenset(),
}

ALL_STEPS: frozenset[Step] = frozenset(Step)


def ordered(steps: "set[Step] | frozenset[Step]") -> list[Step]:
    """Steps in guidance order."""
    return [s for s in GUIDANCE_ORDER if s in steps]
