"""``carm arrival SHIPMENT_ID SELLER_ID``: record a returned parcel at the U.S. warehouse."""

import argparse
from datetime import UTC, datetime
from typing import get_args

import gateway.holds as holds
from domain.arrivals import check_arrival_time
from domain.payloads import Arrival, Origin
from domain.validation import parse_strict
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.parser import Subparsers
from starter.cli.render import render_parcel


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("arrival", help="record a returned parcel's arrival at the U.S. warehouse")
    # No argument types on the ids: Arrival names a bad one as the API does ("invalid arrival: ...").
    p.add_argument("shipment_id", metavar="SHIPMENT_ID")
    p.add_argument("seller_id", metavar="SELLER_ID")
    p.add_argument("--arrived-at", metavar="ISO8601", help="with a UTC offset (default: now)")
    p.add_argument("--origin", choices=get_args(Origin))
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    fields = {
        "shipment_id": args.shipment_id,
        "seller_id": args.seller_id,
        "arrived_at": args.arrived_at or now.isoformat(),
        "origin": args.origin,
    }
    arrival = parse_strict(Arrival, {k: v for k, v in fields.items() if v is not None}, "arrival")
    check_arrival_time(arrival.arrived_at, now)
    client = await ctx.client()
    started = await holds.record_arrival(client, arrival, task_queue=ctx.settings.temporal_task_queue)
    if started.created:
        ctx.line(f"recorded: workflow {started.handle.id}")
    else:
        ctx.line(f"already recorded (kept the existing hold): {started.handle.id}")
    ctx.show(render_parcel, await holds.hold_status(client, args.shipment_id))
    return ExitCode.OK
