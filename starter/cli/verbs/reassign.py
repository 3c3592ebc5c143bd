"""``carm reassign SHIPMENT_ID SELLER_ID --reason TEXT``: move a mis-scanned parcel to its seller."""

import argparse

import gateway.holds as holds
from domain.payloads import Reassign
from domain.validation import parse_strict
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.parser import Subparsers, seller_id, shipment_id
from starter.cli.render import render_parcel


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "reassign",
        help="move a parcel to the seller it belongs to (same due date; released at once if cleared)",
    )
    p.add_argument("shipment_id", metavar="SHIPMENT_ID", type=shipment_id)
    p.add_argument("seller_id", metavar="SELLER_ID", type=seller_id, help="the seller it really belongs to")
    p.add_argument("--reason", required=True, metavar="TEXT")
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    move = parse_strict(
        Reassign, {"seller_id": args.seller_id, "reason": args.reason, "actor": args.actor}, "reassignment"
    )
    st = await holds.reassign(await ctx.client(), args.shipment_id, move)
    ctx.line(f"reassigned parcel {args.shipment_id} to seller {args.seller_id}")
    ctx.show(render_parcel, st)
    return ExitCode.OK
