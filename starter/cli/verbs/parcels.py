"""``carm parcels``: held parcels, soonest deadline first, of one seller or due soon."""

import argparse
import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowExecution

import domain.search_attributes as sa
from domain.business_days import BusinessCalendar
from domain.visibility import parcels_query
from domain.workflow_ids import shipment_id_of
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.listing import listing, more_hint
from starter.cli.parser import Subparsers, int_at_least, seller_id
from starter.cli.render import plural, render_parcels


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("parcels", help="held parcels, soonest deadline first")
    p.add_argument("--seller", type=seller_id, metavar="SELLER_ID")
    p.add_argument(
        "--due-within",
        type=int_at_least(0),
        metavar="N",
        help="only parcels disposed by the end of the N-th business day from today",
    )
    p.add_argument("--limit", type=int_at_least(1), default=1000, metavar="N", help="at most N (1000)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=handle)


def due_cutoff(calendar: BusinessCalendar, now: datetime, business_days: int) -> tuple[date, datetime]:
    """The last due date within ``business_days`` business days of today, and when it ends."""
    last_day = calendar.add_business_days(calendar.local_date(now), business_days)
    return last_day, calendar.end_of_day(last_day)


def _due_at(wf: WorkflowExecution) -> datetime | None:
    return wf.typed_search_attributes.get(sa.DISPOSAL_DUE_AT)


def is_due_by(wf: WorkflowExecution, bound: datetime) -> bool:
    due_at = _due_at(wf)
    return due_at is not None and due_at <= bound


def parcel_row(wf: WorkflowExecution, calendar: BusinessCalendar, now: datetime) -> dict[str, Any]:
    due_at = _due_at(wf)
    due_on: date | None = None
    left: int | None = None
    if due_at is not None:
        # DisposalDueAt is the moment the due day ends: local midnight starting the next day.
        due_on = calendar.local_date(due_at) - timedelta(days=1)
        with contextlib.suppress(ValueError):  # a date beyond the loaded calendar years
            left = calendar.business_days_between(calendar.local_date(now), due_on)
    return {
        "shipment_id": shipment_id_of(wf.id),
        "seller_id": wf.typed_search_attributes.get(sa.SELLER_ID),
        "workflow_id": wf.id,
        "disposal_due_at": due_at.isoformat() if due_at else None,
        "disposal_due_on": due_on.isoformat() if due_on else None,
        "business_days_left": left,
    }


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    calendar = ctx.settings.workflow_settings(now.date()).calendar
    due_by: datetime | None = None
    last_day: date | None = None
    if args.due_within is not None:
        last_day, due_by = due_cutoff(calendar, now, args.due_within)
    query = parcels_query(seller=args.seller, due_by=due_by)
    found = [wf async for wf in listing(await ctx.client(), query, args.limit)]
    if due_by is not None:
        # The query has a second of slack (domain.visibility): the exact bound is applied here.
        found = [wf for wf in found if is_due_by(wf, due_by)]
    rows = [parcel_row(wf, calendar, now) for wf in found]
    rows.sort(key=lambda r: (r["disposal_due_at"] is None, r["disposal_due_at"] or "", r["shipment_id"]))
    scope = f" due by the end of {last_day.isoformat()}" if last_day else ""
    if args.json:
        ctx.json(rows)
    elif not rows:
        ctx.line(f"no held parcels{scope}")
    else:
        ctx.show(render_parcels, rows)
        ctx.line(plural(len(rows), "held parcel") + scope + more_hint(len(rows), args.limit))
    return ExitCode.OK
