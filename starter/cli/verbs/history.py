"""``carm history SELLER_ID`` / ``carm history --parcel SHIPMENT_ID``: who sent what, when."""

import argparse

import gateway.holds as holds
import gateway.onboarding as sellers
from starter.cli.context import Context
from starter.cli.errors import CliError, ExitCode
from starter.cli.parser import Subparsers, seller_id, shipment_id
from starter.cli.render import render_audit


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("history", help="the accepted events and updates of a seller or a parcel")
    p.add_argument("seller_id", metavar="SELLER_ID", type=seller_id, nargs="?")
    p.add_argument("--parcel", metavar="SHIPMENT_ID", type=shipment_id, help="a parcel's instead")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    if (args.seller_id is None) == (args.parcel is None):
        raise CliError("give a SELLER_ID or --parcel SHIPMENT_ID (one of them)", ExitCode.INVALID)
    client = await ctx.client()
    if args.parcel is not None:
        audit, subject = await holds.hold_audit(client, args.parcel), f"parcel {args.parcel}"
    else:
        audit, subject = await sellers.seller_audit(client, args.seller_id), f"seller {args.seller_id}"
    if args.json:
        ctx.json([entry.model_dump(mode="json", exclude_none=True) for entry in audit])
    else:
        ctx.show(render_audit, subject, audit)
    return ExitCode.OK
