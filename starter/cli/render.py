"""How the command line prints a seller, a parcel and the lists of them.

Renderers draw on a rich console; :meth:`starter.cli.context.Context.show` captures and trims
what they draw. Words for next actions come from :mod:`domain.guidance`, never from here.
"""

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from domain.deliveries import FailedDelivery
from domain.guidance import describe_action, english, guidance
from domain.links import LINKS
from domain.onboarding import NextAction, OnboardingStatus
from domain.payloads import HoldStatus
from domain.state import AuditEntry


def yes_no(value: bool | None) -> str:
    return "yes" if value else "no"


def listed(values: Sequence[object], empty: str = "none") -> str:
    return ", ".join(str(v) for v in values) or empty


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


class Fields:
    """Labelled lines, the labels aligned (plain lines: no table padding at the line ends)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add(self, label: str, value: str) -> None:
        self.rows.append((label, value))

    def print(self, console: Console) -> None:
        width = max((len(label) for label, _ in self.rows), default=0)
        for label, value in self.rows:
            console.print(Text.assemble((label.ljust(width), "bold"), "  ", value))


def render_seller(console: Console, st: OnboardingStatus) -> None:
    console.print(Text.assemble(("Seller ", "bold"), st.seller_id, "  stage: ", (st.stage, "bold")))
    grid = Fields()
    cleared = yes_no(st.cleared_for_returns)
    if st.cleared_for_returns and st.legacy_poa and st.stage != "cleared":
        cleared += " (legacy POA, while CARM is completed)"
    grid.add("Cleared for returns", cleared)
    grid.add("Waiting on", listed(st.waiting_on, "nobody"))
    grid.add("Stalled", "yes (operations alerted)" if st.stalled else "no")
    if st.waiting_since is not None:
        grid.add("Waiting since", st.waiting_since.isoformat(timespec="seconds"))
    grid.add("Completed steps", listed(st.completed_steps))
    grid.add("Pending steps", listed(st.pending_steps))
    grid.add("Held parcels", listed(st.held_shipments))
    if st.return_method:
        grid.add("Return method", st.return_method.replace("_", " "))
    grid.add("Language", st.language)
    _add_failures(grid, st.failed_deliveries)
    grid.print(console)
    actions: list[NextAction] = st.actions or [st.next_action]
    console.print(Text("Next actions:" if len(actions) > 1 else "Next action:", style="bold"))
    for n, action in enumerate(actions, 1):
        _render_action(console, n, action)


def _render_action(console: Console, n: int, action: NextAction) -> None:
    g = guidance(action.code)
    party = str(action.party) if action.party is not None else None
    console.print(f"{n}. {describe_action(action.code, party, action.params)}")
    detail = action.params.get("detail") if action.params else None
    if g.instructions:
        console.print(Padding(english(g.instructions), (0, 0, 0, 3)))
    if detail:
        console.print(Padding(f"Note: {detail}", (0, 0, 0, 3)))
    for key in g.links:
        if key in LINKS:  # CBSA and CRA pages (the company's POA page is a setting of the messages)
            console.print(Padding(LINKS[key].en, (0, 0, 0, 3)), soft_wrap=True)


_SELLER_KNOWN = {
    True: "yes",
    False: "no (no onboarding workflow: operations must follow up)",
    None: "not yet known",
}


def render_parcel(console: Console, st: HoldStatus) -> None:
    console.print(
        Text.assemble(
            ("Parcel ", "bold"), st.shipment_id, " of seller ", st.seller_id, ": ", (st.state, "bold")
        )
    )
    grid = Fields()
    grid.add("Arrived", st.arrived_at.isoformat(timespec="seconds"))
    if st.origin:
        grid.add("Origin", st.origin)
    if st.state == "held":
        _add_deadline(grid, st)
    elif st.outcome_at is not None:
        grid.add("Outcome", f"{st.state} at {st.outcome_at.isoformat(timespec='seconds')}")
    grid.add("Seller known", _SELLER_KNOWN[st.seller_known])
    for n, ext in enumerate(st.extensions, 1):
        grid.add(
            "Extensions" if n == 1 else "",
            f"+{ext.get('business_days')} business days ({ext.get('from')} → {ext.get('to')}): "
            f"{ext.get('reason')}",
        )
    if not st.extensions:
        grid.add("Extensions", "none")
    if st.reassigned_from:
        grid.add("Reassigned from", listed(st.reassigned_from))
    grid.add("Waiting on", listed(st.waiting_on, "nobody"))
    _add_failures(grid, st.failed_deliveries)
    grid.print(console)


def _add_failures(grid: Fields, failures: Sequence[FailedDelivery]) -> None:
    for n, failed in enumerate(failures, 1):
        grid.add(
            "Failed deliveries" if n == 1 else "",
            f"{failed.kind} {failed.idempotency_key} since {failed.since.isoformat(timespec='minutes')}: "
            f"{failed.error} (retry-delivery or abandon-delivery)",
        )


def render_audit(console: Console, subject: str, audit: Sequence[AuditEntry]) -> None:
    """Who sent what, when: a seller's or a parcel's accepted events and updates, oldest first."""
    if not audit:
        console.print(f"no accepted events or updates for {subject} yet")
        return
    console.print(Text.assemble(("History of ", "bold"), subject))
    console.print(
        _table(
            ("When (UTC)", "What", "Party", "Actor", "Event id"),
            [
                (
                    entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    entry.type,
                    entry.party,
                    entry.actor or "",
                    entry.event_id or "",
                )
                for entry in audit
            ],
        )
    )


def _add_deadline(grid: Fields, st: HoldStatus) -> None:
    if st.disposal_due_on is None:
        grid.add("Due", "not set yet")
    else:
        due = st.disposal_due_on
        if st.disposal_due_at is not None:
            due += f" (disposed when the day ends: {st.disposal_due_at.isoformat(timespec='minutes')})"
        grid.add("Due", due)
        grid.add("Business days left", str(st.business_days_left))
    if st.closing:
        grid.add("Closing", f"being {st.closing}")


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def render_sellers(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """The rows of the ``sellers`` verb (``seller_id``, ``stage``, ``waiting_on``, ...)."""
    console.print(
        _table(
            ("Seller", "Stage", "Waiting on", "Stalled", "Cleared"),
            [
                (
                    row["seller_id"],
                    row["stage"] or "(starting)",
                    listed(row["waiting_on"], "nobody"),
                    yes_no(row["stalled"]),
                    yes_no(row["cleared_for_returns"]),
                )
                for row in rows
            ],
        )
    )


def render_parcels(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """The rows of the ``parcels`` verb (``shipment_id``, ``seller_id``, ``disposal_due_on``, ...)."""
    console.print(
        _table(
            ("Shipment", "Seller", "Due on", "Business days left"),
            [
                (
                    row["shipment_id"],
                    row["seller_id"] or "?",
                    row["disposal_due_on"] or "(not set yet)",
                    "?" if row["business_days_left"] is None else str(row["business_days_left"]),
                )
                for row in rows
            ],
        )
    )
