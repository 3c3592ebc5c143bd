"""The visibility queries of the service: the lists of sellers and parcels, built in one place.

Every value that goes into a query is checked against a whitelist (stages, parties, the id
pattern) before it is quoted, so no caller's text can change a query's meaning.
"""

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from domain.errors import InvalidInput
from domain.identifiers import ID_PATTERN
from domain.steps import Party, Step

STAGES: tuple[str, ...] = (*(s.value for s in Step), "cleared", "opted_out")
PARTIES: tuple[str, ...] = tuple(p.value for p in Party)
STATES: tuple[str, ...] = ("held", "released", "forwarded", "disposed")
"""A parcel's ``ReturnState``."""
_ID_RE = re.compile(ID_PATTERN)

_SELLERS = ("WorkflowType = 'SellerOnboarding'", "ExecutionStatus = 'Running'")
_PARCELS = ("WorkflowType = 'ReturnHold'",)
_OPEN = "ExecutionStatus = 'Running'"


def is_id(value: str) -> bool:
    return bool(_ID_RE.fullmatch(value))


def quoted(value: str, allowed: Callable[[str], bool]) -> str:
    """A query string literal of a value the caller's whitelist accepts."""
    if not allowed(value) or "'" in value or "\\" in value:
        raise InvalidInput(f"{value!r} cannot be used in a filter", code="filter_value", value=value)
    return f"'{value}'"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sellers_query(
    *,
    stage: str | None = None,
    stalled: bool | None = None,
    waiting_on: str | None = None,
    cleared: bool | None = None,
    sellers: Sequence[str] | None = None,
) -> str:
    """Running onboardings, filtered by the contract's search attributes."""
    clauses = list(_SELLERS)
    if stage is not None:
        clauses.append(f"OnboardingStage = {quoted(stage, lambda v: v in STAGES)}")
    if stalled is not None:
        clauses.append(f"Stalled = {'true' if stalled else 'false'}")
    if waiting_on is not None:
        clauses.append(f"WaitingOn = {quoted(waiting_on, lambda v: v in PARTIES)}")
    if cleared is not None:
        clauses.append(f"ClearedForReturns = {'true' if cleared else 'false'}")
    if sellers:
        ids = [quoted(s, is_id) for s in dict.fromkeys(sellers)]
        clauses.append(f"SellerId = {ids[0]}" if len(ids) == 1 else f"SellerId IN ({', '.join(ids)})")
    return " AND ".join(clauses)


def returns_query(
    *, seller: str | None = None, state: str | None = None, due_by: datetime | None = None
) -> str:
    """Parcels of one seller, in one state, disposed by ``due_by``: open ones, unless a final
    ``state`` is asked for (a parcel's workflow closes once it is released, forwarded or disposed,
    so those are found among the closed ones Temporal still keeps)."""
    clauses = list(_PARCELS)
    if state is None or state == "held":
        clauses.append(_OPEN)
    if state is not None:
        clauses.append(f"ReturnState = {quoted(state, lambda v: v in STATES)}")
    if seller is not None:
        clauses.append(f"SellerId = {quoted(seller, is_id)}")
    if due_by is not None:
        # One second of slack: the dev server's SQLite visibility misses a datetime exactly equal
        # to the bound, and every deadline is a midnight. Callers filter exactly.
        clauses.append(f"DisposalDueAt <= '{rfc3339(due_by + timedelta(seconds=1))}'")
    return " AND ".join(clauses)


def parcels_query(*, seller: str | None = None, due_by: datetime | None = None) -> str:
    """Held parcels, of one seller and/or disposed by ``due_by``."""
    return returns_query(seller=seller, state="held", due_by=due_by)


def parcels_waiting_on_operations() -> str:
    """Running parcels operations must act on: an unknown seller, a failed delivery."""
    return " AND ".join(
        ("WorkflowType = 'ReturnHold'", "ExecutionStatus = 'Running'", "WaitingOn = 'operations'")
    )


def held_parcels_of(seller_id: str) -> str:
    """A seller's held parcels: those that arrived before the seller's workflow could hear of them."""
    return parcels_query(seller=seller_id)
