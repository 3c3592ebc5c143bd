"""``carm attention``: everything waiting on operations, the shape of a morning checklist.

Stalled sellers, deliveries given up (of sellers and of parcels), parcels whose seller has no
onboarding workflow, and held parcels due within a few business days. The lists come from
visibility (the ``Stalled`` and ``WaitingOn`` search attributes, which both workflows keep), the
failed deliveries from each listed workflow's status.
"""

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.visibility import parcels_query, parcels_waiting_on_operations, sellers_query
from domain.workflow_ids import seller_id_of, shipment_id_of
from gateway.errors import GatewayError
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.listing import listing
from starter.cli.parser import Subparsers, int_at_least
from starter.cli.verbs.parcels import due_cutoff, is_due_by, parcel_row

# Statuses asked at once: enough to be quick, few enough not to become a burst of their own.
_CONCURRENT_QUERIES = 10


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("attention", help="what operations must look at: stalls, failed deliveries, parcels")
    p.add_argument(
        "--due-within",
        type=int_at_least(0),
        default=2,
        metavar="N",
        help="held parcels disposed within N business days (default 2)",
    )
    p.add_argument("--limit", type=int_at_least(1), default=200, metavar="N", help="at most N per list (200)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=handle)


async def _limited(calls: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(_CONCURRENT_QUERIES)

    async def one(call: Any) -> Any:
        async with gate:
            try:
                return await call
            except GatewayError:  # closed or gone between the listing and the question
                return None

    return await asyncio.gather(*(one(c) for c in calls))


async def _sellers(client: Client, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Stalled sellers, and the deliveries given up on sellers' behalf."""
    ids = [seller_id_of(wf.id) async for wf in listing(client, sellers_query(waiting_on="operations"), limit)]
    statuses = await _limited([sellers.seller_status(client, s) for s in ids])
    stalled, failed = [], []
    for st in statuses:
        if st is None:
            continue
        if st.stalled:
            stalled.append({"seller_id": st.seller_id, "stage": st.stage, "waiting_since": st.waiting_since})
        failed += [{"seller_id": st.seller_id, **f.model_dump(mode="json")} for f in st.failed_deliveries]
    return stalled, failed


async def _parcels(client: Client, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parcels of unknown sellers, and the deliveries given up about parcels."""
    ids = [shipment_id_of(wf.id) async for wf in listing(client, parcels_waiting_on_operations(), limit)]
    statuses = await _limited([holds.hold_status(client, s) for s in ids])
    unknown, failed = [], []
    for st in statuses:
        if st is None:
            continue
        if st.state == "held" and st.seller_known is False:
            unknown.append(
                {"shipment_id": st.shipment_id, "seller_id": st.seller_id, "due_on": st.disposal_due_on}
            )
        failed += [{"shipment_id": st.shipment_id, **f.model_dump(mode="json")} for f in st.failed_deliveries]
    return unknown, failed


async def checklist(ctx: Context, due_within: int, limit: int) -> dict[str, list[dict[str, Any]]]:
    client = await ctx.client()
    now = datetime.now(UTC)
    calendar = ctx.settings.workflow_settings(now.date()).calendar
    _, due_by = due_cutoff(calendar, now, due_within)
    (stalled, seller_failures), (unknown, parcel_failures) = await asyncio.gather(
        _sellers(client, limit), _parcels(client, limit)
    )
    due = [
        parcel_row(wf, calendar, now)
        async for wf in listing(client, parcels_query(due_by=due_by), limit)
        if is_due_by(wf, due_by)
    ]
    due.sort(key=lambda r: (r["disposal_due_at"] or "", r["shipment_id"]))
    return {
        "stalled_sellers": stalled,
        "failed_deliveries": [*seller_failures, *parcel_failures],
        "unknown_seller_parcels": unknown,
        "parcels_due_soon": due,
    }


_TITLES = {
    "stalled_sellers": "Stalled sellers (every reminder unanswered)",
    "failed_deliveries": "Deliveries given up (carm retry-delivery / abandon-delivery)",
    "unknown_seller_parcels": "Parcels of sellers with no onboarding workflow",
    "parcels_due_soon": "Held parcels due soon",
}


def _line(section: str, row: dict[str, Any]) -> str:
    if section == "stalled_sellers":
        return f"{row['seller_id']}: stage {row['stage']}, waiting since {str(row['waiting_since'])[:10]}"
    if section == "failed_deliveries":
        whose = f"seller {row['seller_id']}" if "seller_id" in row else f"parcel {row['shipment_id']}"
        return f"{whose}: {row['kind']} {row['idempotency_key']} — {row['error']}"
    if section == "unknown_seller_parcels":
        return f"{row['shipment_id']} (seller {row['seller_id']}), disposed after {row['due_on']}"
    return f"{row['shipment_id']} (seller {row['seller_id'] or '?'}): due {row['disposal_due_on']}, " + (
        f"{row['business_days_left']} business days left"
    )


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    found = await checklist(ctx, args.due_within, args.limit)
    if args.json:
        ctx.json(found)
        return ExitCode.OK
    for section, rows in found.items():
        title = _TITLES[section] + (
            f" (within {args.due_within} business days)" if section == "parcels_due_soon" else ""
        )
        ctx.line(f"{title}: {len(rows) or 'none'}")
        for row in rows:
            ctx.line(f"  - {_line(section, row)}")
    if not any(found.values()):
        ctx.line("nothing waits on operations")
    return ExitCode.OK
