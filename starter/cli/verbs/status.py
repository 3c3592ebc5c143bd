"""``carm status SELLER_ID``: where a seller stands, and what must happen next, in words."""

import argparse

import gateway.onboarding as sellers
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.parser import Subparsers, seller_id
from starter.cli.render import render_seller


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("status", help="a seller's stage, steps, parcels and next actions")
    p.add_argument("seller_id", metavar="SELLER_ID", type=seller_id)
    p.add_argument("--json", action="store_true", help="print the status JSON as the workflow returns it")
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    st = await sellers.seller_status(await ctx.client(), args.seller_id)
    if args.json:
        ctx.line(st.model_dump_json())
    else:
        ctx.show(render_seller, st)
    return ExitCode.OK
