"""``carm extend SHIPMENT_ID BUSINESS_DAYS --reason TEXT``: operations extend a parcel's hold."""

import argparse

import gateway.holds as holds
from domain.payloads import ExtendHold
from domain.validation import parse_strict
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.parser import Subparsers, int_at_least, shipment_id
from starter.cli.render import render_parcel


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("extend", help="extend a parcel's hold by some business days")
    p.add_argument("shipment_id", metavar="SHIPMENT_ID", type=shipment_id)
    p.add_argument("business_days", metavar="BUSINESS_DAYS", type=int_at_least(1))
    p.add_argument("--reason", required=True, metavar="TEXT")
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    request = parse_strict(
        ExtendHold,
        {"business_days": args.business_days, "reason": args.reason, "actor": args.actor},
        "extension",
    )
    st = await holds.extend_hold(await ctx.client(), args.shipment_id, request)
    ctx.line(f"extended parcel {args.shipment_id} by {request.business_days} business days")
    ctx.show(render_parcel, st)
    return ExitCode.OK
