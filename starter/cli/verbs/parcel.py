"""``carm parcel SHIPMENT_ID``: a returned parcel's state, due date and business days left."""

import argparse

import gateway.holds as holds
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.parser import Subparsers, shipment_id
from starter.cli.render import render_parcel


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("parcel", help="a returned parcel's state, due date and business days left")
    p.add_argument("shipment_id", metavar="SHIPMENT_ID", type=shipment_id)
    p.add_argument("--json", action="store_true", help="print the status JSON as the workflow returns it")
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    st = await holds.hold_status(await ctx.client(), args.shipment_id)
    if args.json:
        ctx.line(st.model_dump_json())
    else:
        ctx.show(render_parcel, st)
    return ExitCode.OK
